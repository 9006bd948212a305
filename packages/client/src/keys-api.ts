import type { Requester } from './types.js';

/** The key routes (`/v1/keys...`, `/v1/aliases...`): one typed method per route. */
export class KeysApi {
  constructor(private readonly client: Requester) {}
}
