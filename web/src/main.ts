import { AccountSession, isCallback } from './account.js';
import { EaasApi, type KeySummary } from './api.js';
import { loadPageConfig, type PageConfig } from './config.js';
import { plainWords } from './messages.js';
import { type Credentials, fixedCredentials, SignedApi } from './signed-api.js';
import { ContextFields } from './ui/context-fields.js';
import { DocumentsView } from './ui/documents-view.js';
import { byId, h } from './ui/dom.js';
import { UploadsView } from './ui/uploads-view.js';
import { FileUpload } from './uploader.js';

/**
 * The upload page. State lives in this module's memory only: the credentials, the API client and
 * the files in flight. Nothing goes to localStorage, sessionStorage, cookies or the console, but
 * the PKCE record of a sign-in with an account between the redirect and the callback (account.ts).
 */

let config: PageConfig | undefined;
let api: EaasApi | undefined;
/** The account a person signed in with; undefined for an operator's access keys. */
let account: AccountSession | undefined;
let keys: KeySummary[] = [];
let chosen: File[] = [];

const notice = byId('notice', HTMLDivElement);
const announceRegion = byId('announce', HTMLParagraphElement);
const signInSection = byId('sign-in', HTMLElement);
const signInForm = byId('sign-in-form', HTMLFormElement);
const session = byId('session', HTMLDivElement);
const uploadSection = byId('upload', HTMLElement);
const documentsSection = byId('documents', HTMLElement);
const keySelect = byId('key-select', HTMLSelectElement);
const keyHelp = byId('key-help', HTMLParagraphElement);
const keyOther = byId('key-other', HTMLInputElement);
const accessKeys = byId('access-keys', HTMLDetailsElement);
const fileInput = byId('file-input', HTMLInputElement);
const dropZone = byId('drop-zone', HTMLDivElement);

const announce = (message: string) => {
  announceRegion.textContent = message;
};
const showNotice = (message: string) => {
  notice.textContent = message;
};

const contextFields = new ContextFields(
  byId('context-rows', HTMLDivElement),
  byId('add-context', HTMLButtonElement),
);
const uploadsView = new UploadsView(
  byId('upload-list', HTMLUListElement),
  {
    box: byId('overall', HTMLDivElement),
    bar: byId('overall-progress', HTMLProgressElement),
    text: byId('overall-text', HTMLSpanElement),
  },
  announce,
);

/** The alias people know a key by, else its id; nothing for people, who do not pick keys. */
function keyName(arn: string | undefined): string {
  if (!arn || account) return '';
  const key = keys.find((k) => k.arn === arn || k.keyId === arn);
  return key?.aliases?.[0] ?? arn.split('/').pop() ?? arn;
}

const documentsView = new DocumentsView(() => api, keyName, announce);

/** An operator signs in with access keys typed into the form. */
async function signIn(event: SubmitEvent): Promise<void> {
  event.preventDefault();
  showNotice('');
  const field = (name: string) => (signInForm.elements.namedItem(name) as HTMLInputElement).value.trim();
  const credentials: Credentials = {
    accessKeyId: field('accessKeyId'),
    secretAccessKey: field('secretAccessKey'),
    sessionToken: field('sessionToken') || undefined,
  };
  const button = byId('sign-in-button', HTMLButtonElement);
  button.disabled = true;
  try {
    config ??= await loadPageConfig();
    const candidate = new EaasApi(
      new SignedApi(config.apiEndpoint, config.region, fixedCredentials(credentials)),
    );
    const me = await candidate.whoami();
    api = candidate;
    // The secret is now only inside the signer; the form forgets it.
    signInForm.reset();
    await enterSession(me.principal);
  } catch (error) {
    showNotice(plainWords(error, 'sign-in'));
  } finally {
    button.disabled = false;
  }
}

/** Shows the upload and documents screens to whoever just signed in. */
async function enterSession(who: string): Promise<void> {
  byId('principal', HTMLElement).textContent = who;
  signInSection.hidden = true;
  session.hidden = false;
  uploadSection.hidden = false;
  documentsSection.hidden = false;
  // People encrypt with the page's key; only operators pick one.
  byId('key-field', HTMLDivElement).hidden = account !== undefined;
  byId('other-key', HTMLDetailsElement).hidden = account !== undefined;
  announce(`Signed in as ${who}.`);
  if (!account) await loadKeys();
  await documentsView.refresh();
  byId('upload-title', HTMLHeadingElement).focus();
}

/** The page's first screen: with `signIn` in config.json, "Sign in" with an account; else the access-key form. */
async function boot(): Promise<void> {
  try {
    config = await loadPageConfig();
  } catch (error) {
    showNotice(plainWords(error, 'sign-in'));
    return;
  }
  const signInConfig = config.signIn;
  if (!signInConfig) return;
  byId('account-sign-in', HTMLDivElement).hidden = false;
  byId('access-keys-summary', HTMLElement).hidden = false;
  accessKeys.open = false;
  const current = new AccountSession(signInConfig, config.region, () =>
    showNotice('Your session could not be renewed. If this goes on, sign out and sign in again.'),
  );
  const start = byId('account-sign-in-button', HTMLButtonElement);
  start.addEventListener('click', () => {
    start.disabled = true;
    current.start().catch((error: unknown) => {
      start.disabled = false;
      showNotice(plainWords(error, 'sign-in'));
    });
  });
  if (!isCallback(location.href)) return;
  try {
    account = current;
    const who = await current.complete();
    api = new EaasApi(new SignedApi(config.apiEndpoint, config.region, current.credentials.provider));
    await enterSession(who);
  } catch (error) {
    account = undefined;
    api = undefined;
    current.credentials.clear();
    await current.manager.removeUser();
    showNotice(plainWords(error, 'sign-in'));
  }
}

function signOut(): void {
  api = undefined;
  keys = [];
  keySelect.replaceChildren();
  documentsView.clear();
  // Nothing of this person's session stays for the next one: uploads in flight stop, and the
  // file names, context values and rows go.
  uploadsView.clear();
  contextFields.clear();
  byId('upload-form', HTMLFormElement).reset();
  setChosen([]);
  showNotice('');
  session.hidden = true;
  uploadSection.hidden = true;
  documentsSection.hidden = true;
  const leaving = account;
  account = undefined;
  if (leaving) {
    // Revokes the refresh token, forgets the tokens and credentials, then leaves for the managed
    // login's sign-out, which sends the browser back to a fresh page.
    announce('Signing out…');
    leaving.signOut().catch(() => undefined);
    return;
  }
  signInSection.hidden = false;
  announce('Signed out. The credentials are forgotten.');
  // An operator goes back to the form they used.
  accessKeys.open = true;
  byId('access-key-id', HTMLInputElement).focus();
}

/** Fills the key picker with the keys the caller may encrypt with, by alias. */
async function loadKeys(): Promise<void> {
  if (!api) return;
  keySelect.replaceChildren();
  try {
    keys = await api.keys();
  } catch (error) {
    keyHelp.textContent = plainWords(error, 'keys');
    return;
  }
  const usable = keys.filter((k) => k.access?.use && (k.state === undefined || k.state === 'Enabled'));
  for (const key of usable) {
    const label = key.aliases?.length ? key.aliases.join(', ') : key.keyId;
    keySelect.append(h('option', { value: key.aliases?.[0] ?? key.arn }, label));
  }
  if (usable.length > 0) {
    keySelect.disabled = false;
    keyHelp.className = 'help';
    keyHelp.textContent =
      'The keys you may encrypt with. Documents are encrypted under a fresh data key wrapped by it.';
    return;
  }
  keySelect.disabled = true;
  keySelect.append(h('option', { value: '' }, 'No key you may encrypt with'));
  const administered = keys.filter((k) => k.access?.administer).length;
  keyHelp.className = 'help error';
  keyHelp.textContent =
    administered > 0
      ? `You administer ${administered} key${administered > 1 ? 's' : ''} but are not a user of any, so you cannot upload: administrators manage keys and never encrypt with them. Ask an administrator to add you as a key user.`
      : 'You may not encrypt with any key. Ask a key administrator to add you as a key user.';
}

function setChosen(files: Iterable<File>): void {
  chosen = [...files];
  byId('file-help', HTMLParagraphElement).textContent =
    chosen.length === 0
      ? 'Files go straight to storage and are encrypted as soon as they arrive.'
      : `${chosen.length} file${chosen.length > 1 ? 's' : ''} chosen: ${chosen.map((f) => f.name).join(', ')}.`;
}

async function startUploads(event: SubmitEvent): Promise<void> {
  event.preventDefault();
  showNotice('');
  if (!api) return;
  const keyId = account ? (config?.pageKey ?? '') : keyOther.value.trim() || keySelect.value;
  if (!keyId) {
    showNotice('Pick a key to encrypt with first.');
    return;
  }
  const read = contextFields.read();
  if ('problem' in read) {
    showNotice(read.problem);
    return;
  }
  if (chosen.length === 0) {
    showNotice('Choose one or more files first.');
    fileInput.focus();
    return;
  }
  const overwrite = byId('overwrite', HTMLInputElement).checked;
  const files = chosen;
  setChosen([]);
  fileInput.value = '';
  const uploads = files.map(
    (file) =>
      new FileUpload(api as EaasApi, file, { keyId, context: read.context, overwrite }, (u) =>
        uploadsView.update(u),
      ),
  );
  for (const upload of uploads) uploadsView.add(upload);
  // Files one after another, each with its parts in parallel: the link stays busy and
  // a file's presigned URLs are not left waiting to expire behind others.
  for (const upload of uploads) await upload.run();
  const failed = uploads.filter((u) => u.phase === 'failed');
  if (failed.length > 0)
    showNotice(failed.map((u) => `${u.file.name}: ${plainWords(u.error, 'upload')}`).join('\n'));
  await documentsView.refresh();
}

signInForm.addEventListener('submit', (e) => void signIn(e));
void boot();
byId('sign-out', HTMLButtonElement).addEventListener('click', signOut);
byId('upload-form', HTMLFormElement).addEventListener('submit', (e) => void startUploads(e));
fileInput.addEventListener('change', () => setChosen(fileInput.files ?? []));
dropZone.addEventListener('dragover', (e) => {
  e.preventDefault();
  dropZone.classList.add('over');
});
dropZone.addEventListener('dragleave', () => dropZone.classList.remove('over'));
dropZone.addEventListener('drop', (e) => {
  e.preventDefault();
  dropZone.classList.remove('over');
  if (e.dataTransfer?.files.length) setChosen(e.dataTransfer.files);
});
