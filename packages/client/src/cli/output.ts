import type { Writable } from 'node:stream';

/** How answers are printed: JSON for scripts, text (tables and `name: value` lines) for people. */
export type OutputFormat = 'json' | 'text';

/** The format asked for, else text on a terminal and JSON otherwise. */
export function outputFormatOf(asked: string | undefined, stdoutIsTty: boolean): OutputFormat {
  if (asked === 'json' || asked === 'text') return asked;
  return stdoutIsTty ? 'text' : 'json';
}

/**
 * Control characters (C0, DEL, C1), line and paragraph separators and bidirectional overrides,
 * which a terminal would act on rather than show.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is its purpose
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const ESCAPES: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * Text as a terminal shows it safely: what the API answers can hold names and descriptions that
 * others chose (a key's description, a document's name), and an escape sequence in them must not
 * rewrite the screen, the window title or the clipboard. They are written escaped, as JSON does.
 */
export function printable(text: string): string {
  return text.replace(
    UNPRINTABLE,
    (c) => ESCAPES[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

const cell = (value: unknown): string => {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return printable(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return printable(JSON.stringify(value));
};

/** Rows as an aligned table with a header; the columns are the given ones, or every key seen. */
export function table(rows: readonly Record<string, unknown>[], columns?: readonly string[]): string {
  const cols = columns ?? [...new Set(rows.flatMap((r) => Object.keys(r)))];
  if (rows.length === 0) return '';
  const cells = rows.map((r) => cols.map((c) => cell(r[c])));
  const widths = cols.map((c, i) => Math.max(c.length, ...cells.map((row) => (row[i] ?? '').length)));
  const line = (values: readonly string[]) =>
    values
      .map((v, i) => (i === values.length - 1 ? v : v.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return `${[line(cols.map((c) => c.toUpperCase())), ...cells.map(line)].join('\n')}\n`;
}

/** An object as `name: value` lines, nested objects as JSON. */
export function fields(value: Record<string, unknown>): string {
  const entries = Object.entries(value).filter(([, v]) => v !== undefined);
  const width = Math.max(0, ...entries.map(([k]) => k.length));
  return entries.map(([k, v]) => `${`${k}:`.padEnd(width + 1)} ${cell(v)}\n`).join('');
}

/** Prints one answer in the run's format. Text: a table for `rows`, else the object's fields. */
export class Printer {
  constructor(
    readonly format: OutputFormat,
    private readonly out: Writable,
  ) {}

  /** A JSON value (scripts), or its text form. */
  value(value: unknown, text?: () => string): void {
    if (this.format === 'json') {
      this.out.write(`${JSON.stringify(value, null, 2)}\n`);
      return;
    }
    if (text) this.out.write(text());
    else if (value !== null && typeof value === 'object' && !Array.isArray(value))
      this.out.write(fields(value as Record<string, unknown>));
    else if (Array.isArray(value)) this.out.write(table(value as Record<string, unknown>[]));
    else this.out.write(`${cell(value)}\n`);
  }

  /** A listing: JSON as given (`{items, nextToken}` or the like), text as a table of `rows`. */
  rows(value: unknown, rows: readonly Record<string, unknown>[], columns?: readonly string[]): void {
    this.value(value, () => table(rows, columns));
  }
}
