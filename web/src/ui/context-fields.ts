import type { Context } from '../api.js';
import { h } from './dom.js';

/**
 * The optional encryption-context entries: rows of a name and a value, each with its own labels
 * and a remove button, added with a button so the form stays usable by keyboard.
 */
export class ContextFields {
  private count = 0;

  constructor(
    private readonly rows: HTMLElement,
    addButton: HTMLButtonElement,
  ) {
    addButton.addEventListener('click', () => this.add());
  }

  add(name = '', value = ''): void {
    const n = ++this.count;
    const nameInput = h('input', { id: `context-name-${n}`, class: 'context-name', spellcheck: 'false' });
    const valueInput = h('input', { id: `context-value-${n}`, class: 'context-value', spellcheck: 'false' });
    nameInput.value = name;
    valueInput.value = value;
    const remove = h('button', { type: 'button', 'aria-label': `Remove context entry ${n}` }, 'Remove');
    const row = h(
      'div',
      { class: 'context-row' },
      h('div', { class: 'field' }, h('label', { for: nameInput.id }, `Name ${n}`), nameInput),
      h('div', { class: 'field' }, h('label', { for: valueInput.id }, `Value ${n}`), valueInput),
      remove,
    );
    remove.addEventListener('click', () => {
      row.remove();
      this.rows.querySelector<HTMLInputElement>('input')?.focus();
    });
    this.rows.append(row);
    nameInput.focus();
  }

  clear(): void {
    this.rows.replaceChildren();
  }

  /** The entries, or a problem in words when one is half filled or repeated. */
  read(): { context: Context } | { problem: string } {
    const context: Context = {};
    for (const row of this.rows.querySelectorAll('.context-row')) {
      const name = row.querySelector<HTMLInputElement>('.context-name')?.value.trim() ?? '';
      const value = row.querySelector<HTMLInputElement>('.context-value')?.value.trim() ?? '';
      if (name === '' && value === '') continue;
      if (name === '' || value === '')
        return { problem: 'Each context entry needs both a name and a value.' };
      if (Object.hasOwn(context, name)) return { problem: `The context name “${name}” is given twice.` };
      context[name] = value;
    }
    return { context };
  }
}
