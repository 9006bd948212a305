import type { DocumentView, EaasApi } from '../api.js';
import { openDocument, saveBlob } from '../download.js';
import { plainWords } from '../messages.js';
import { byId, formatBytes, formatTime, h } from './dom.js';

/**
 * The caller's documents: name, size, key alias and time, each with Download (decrypted in the
 * page) and Delete (after a confirmation dialog).
 */
export class DocumentsView {
  private readonly list = byId('document-list', HTMLUListElement);
  private readonly status = byId('documents-status', HTMLParagraphElement);
  private readonly dialog = byId('confirm-delete', HTMLDialogElement);
  private readonly dialogText = byId('confirm-text', HTMLParagraphElement);
  private pendingDelete: { key: string; opener: HTMLButtonElement } | undefined;

  constructor(
    private readonly api: () => EaasApi | undefined,
    /** The alias (or key id) to show for a key ARN. */
    private readonly keyName: (arn: string | undefined) => string,
    private readonly announce: (message: string) => void,
  ) {
    byId('refresh', HTMLButtonElement).addEventListener('click', () => void this.refresh());
    byId('confirm-keep', HTMLButtonElement).addEventListener('click', () => this.closeDialog());
    byId('confirm-yes', HTMLButtonElement).addEventListener('click', () => void this.confirmDelete());
    this.dialog.addEventListener('close', () => {
      this.pendingDelete?.opener.focus();
      this.pendingDelete = undefined;
    });
  }

  async refresh(): Promise<void> {
    const api = this.api();
    if (!api) return;
    this.status.textContent = 'Loading…';
    try {
      const documents = await api.documents();
      documents.sort((a, b) => (b.createdAt ?? b.lastModified).localeCompare(a.createdAt ?? a.lastModified));
      this.list.replaceChildren(...documents.map((d) => this.row(d)));
      this.status.textContent =
        documents.length === 0
          ? 'No documents yet, or none you may read.'
          : `${documents.length} document${documents.length === 1 ? '' : 's'}.`;
    } catch (error) {
      this.status.textContent = plainWords(error, 'list');
    }
  }

  clear(): void {
    this.list.replaceChildren();
    this.status.textContent = '';
  }

  private row(doc: DocumentView): HTMLLIElement {
    const download = h('button', { type: 'button', 'aria-label': `Download ${doc.key}` }, 'Download');
    const remove = h(
      'button',
      { type: 'button', class: 'danger', 'aria-label': `Delete ${doc.key}` },
      'Delete',
    );
    const result = h('p', { class: 'detail', role: 'status' });
    // `eaas:space` is the service's binding of a person's document to their space, not theirs to read.
    const context = Object.entries(doc.context ?? {})
      .filter(([k]) => k !== 'eaas:space')
      .map(([k, v]) => `${k}=${v}`)
      .join(', ');
    const item = h(
      'li',
      { 'data-key': doc.key },
      h('div', { class: 'name' }, doc.key),
      h(
        'div',
        { class: 'meta' },
        [formatBytes(doc.size), this.keyName(doc.keyId), formatTime(doc.createdAt ?? doc.lastModified)]
          .filter(Boolean)
          .join(' · '),
      ),
      ...(context ? [h('div', { class: 'meta' }, `Context: ${context}`)] : []),
      h('div', { class: 'row-actions' }, download, remove),
      result,
    );
    download.addEventListener('click', () => void this.download(doc, download, result));
    remove.addEventListener('click', () => this.askDelete(doc.key, remove));
    return item;
  }

  private async download(doc: DocumentView, button: HTMLButtonElement, result: HTMLElement): Promise<void> {
    const api = this.api();
    if (!api) return;
    button.disabled = true;
    result.className = 'detail';
    result.textContent = 'Downloading and decrypting…';
    try {
      const opened = await openDocument(api, doc.key);
      saveBlob(opened.blob, doc.key);
      result.replaceChildren(
        'Decrypted and saved. SHA-256 ',
        h('span', { class: 'digest', 'data-sha256': opened.sha256 }, opened.sha256),
      );
    } catch (error) {
      result.className = 'detail error';
      result.textContent = plainWords(error, 'download');
    } finally {
      button.disabled = false;
    }
  }

  private askDelete(key: string, opener: HTMLButtonElement): void {
    this.pendingDelete = { key, opener };
    this.dialogText.textContent = `“${key}” will be deleted for good. This cannot be undone.`;
    this.dialog.showModal();
    byId('confirm-keep', HTMLButtonElement).focus();
  }

  private closeDialog(): void {
    this.dialog.close();
  }

  private async confirmDelete(): Promise<void> {
    const api = this.api();
    const pending = this.pendingDelete;
    if (!api || !pending) return;
    this.pendingDelete = undefined;
    this.dialog.close();
    try {
      await api.deleteDocument(pending.key);
      this.announce(`${pending.key} deleted.`);
      await this.refresh();
      this.list.querySelector<HTMLButtonElement>('button')?.focus();
    } catch (error) {
      this.status.textContent = plainWords(error, 'delete');
    }
  }
}
