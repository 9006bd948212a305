import { plainWords } from '../messages.js';
import type { FileUpload, Phase } from '../uploader.js';
import { formatBytes, h, percent } from './dom.js';

const PHASE_WORDS: Record<Phase, string> = {
  waiting: 'Waiting',
  uploading: 'Uploading',
  sealing: 'Encrypting',
  sealed: 'Sealed: encrypted and stored',
  failed: 'Failed',
  cancelled: 'Cancelled',
};

interface Row {
  item: HTMLLIElement;
  bar: HTMLProgressElement;
  text: HTMLSpanElement;
  state: HTMLSpanElement;
  detail: HTMLParagraphElement;
  cancel: HTMLButtonElement;
}

/**
 * The list of uploads with a progress bar for each file and one for all of them. Each row says
 * its phase in words; the phase is also the row's `data-state`, for styling and tests.
 */
export class UploadsView {
  private readonly rows = new Map<FileUpload, Row>();
  private counter = 0;

  constructor(
    private readonly list: HTMLUListElement,
    private readonly overall: { box: HTMLElement; bar: HTMLProgressElement; text: HTMLElement },
    private readonly announce: (message: string) => void,
  ) {}

  add(upload: FileUpload): void {
    const n = ++this.counter;
    const name = upload.file.name;
    const bar = h('progress', {
      id: `upload-progress-${n}`,
      max: String(Math.max(upload.total, 1)),
      value: '0',
    });
    const text = h('span', { class: 'percent' }, '0 %');
    const state = h('span', { class: 'state' }, PHASE_WORDS[upload.phase]);
    const detail = h('p', { class: 'detail' });
    const cancel = h('button', { type: 'button', 'aria-label': `Cancel the upload of ${name}` }, 'Cancel');
    cancel.addEventListener('click', () => {
      void upload.cancel();
    });
    const item = h(
      'li',
      { 'data-file': name, 'data-state': upload.phase },
      h('div', { class: 'name' }, name),
      h('div', { class: 'meta' }, formatBytes(upload.total), ' · ', state),
      h(
        'div',
        { class: 'upload-progress' },
        h('label', { for: bar.id, class: 'visually-hidden' }, `Progress of ${name}`),
        bar,
        text,
      ),
      detail,
      h('div', { class: 'row-actions' }, cancel),
    );
    this.rows.set(upload, { item, bar, text, state, detail, cancel });
    this.list.prepend(item);
    this.overall.box.hidden = false;
    this.update(upload);
  }

  /** Cancels whatever is still in flight and forgets every row (on sign-out: the next person sees none). */
  clear(): void {
    for (const upload of this.rows.keys()) void upload.cancel();
    this.rows.clear();
    this.list.replaceChildren();
    this.overall.box.hidden = true;
    this.overall.bar.value = 0;
    this.overall.text.textContent = '0 %';
  }

  update(upload: FileUpload): void {
    const row = this.rows.get(upload);
    if (!row) return;
    const done = upload.phase === 'sealing' || upload.phase === 'sealed';
    const sent = done ? upload.total : upload.sent;
    row.bar.value = upload.total === 0 ? (done ? 1 : 0) : sent;
    const pct = percent(sent, upload.total);
    row.text.textContent = `${pct} %`;
    if (row.item.dataset.state !== upload.phase) {
      row.item.dataset.state = upload.phase;
      row.item.className = `state-${upload.phase}`;
      row.state.textContent = PHASE_WORDS[upload.phase];
      if (upload.phase === 'sealed') this.announce(`${upload.file.name} is encrypted and stored.`);
      if (upload.phase === 'failed') this.announce(`${upload.file.name} failed.`);
    }
    row.cancel.hidden = !(upload.phase === 'uploading' || upload.phase === 'waiting');
    const retried =
      upload.retries > 0 ? `${upload.retries} part${upload.retries > 1 ? 's' : ''} sent again. ` : '';
    if (upload.phase === 'failed' || upload.phase === 'cancelled') {
      row.detail.className = 'detail error';
      row.detail.textContent = retried + plainWords(upload.error, 'upload');
    } else {
      row.detail.textContent = retried;
    }
    this.updateOverall();
  }

  private updateOverall(): void {
    let sent = 0;
    let total = 0;
    let counted = 0;
    for (const upload of this.rows.keys()) {
      if (upload.phase === 'failed' || upload.phase === 'cancelled') continue;
      const done = upload.phase === 'sealing' || upload.phase === 'sealed';
      sent += done ? upload.total : upload.sent;
      total += upload.total;
      counted++;
    }
    const pct = counted === 0 ? 0 : percent(sent, total);
    this.overall.bar.value = pct;
    this.overall.text.textContent = `${pct} %`;
  }
}
