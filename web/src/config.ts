/**
 * Where the page finds the API: `config.json` beside `index.html`. The local stack serves it from
 * its own settings; a deployment writes it next to the static files.
 */
export interface PageConfig {
  /** Base URL of the API (an API Gateway stage URL); the page's own origin when absent. */
  apiEndpoint: string;
  /** Region of the API, for the SigV4 scope. */
  region: string;
}

export async function loadPageConfig(): Promise<PageConfig> {
  const res = await fetch('config.json', { cache: 'no-store', credentials: 'omit' });
  if (!res.ok) throw new Error(`config.json answered ${res.status}`);
  const raw = (await res.json()) as Partial<PageConfig>;
  if (typeof raw.region !== 'string' || !/^[a-z]{2}(-[a-z]+)+-\d$/.test(raw.region)) {
    throw new Error('config.json has no valid region');
  }
  const apiEndpoint =
    typeof raw.apiEndpoint === 'string' && raw.apiEndpoint ? raw.apiEndpoint : location.origin;
  return { apiEndpoint, region: raw.region };
}
