import type { KeyDetails } from '../../key-types.js';
import { fields, type Printer } from '../output.js';

/** How keys print as text: one key as fields, many as a table. */

export const KEY_COLUMNS = ['keyId', 'state', 'keySpec', 'keyUsage', 'aliases', 'description'] as const;

export const keyRow = (key: KeyDetails): Record<string, unknown> => ({
  ...key,
  aliases: key.aliases?.join(','),
});

/** A key answer (`{ key, ... }`): JSON as the API answers, text as the key's fields. */
export function printKey(printer: Printer, answer: { key: KeyDetails }): void {
  printer.value(answer, () => {
    const { key, ...rest } = answer as { key: KeyDetails } & Record<string, unknown>;
    const extra = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined));
    return fields({ ...keyRow(key), ...extra });
  });
}
