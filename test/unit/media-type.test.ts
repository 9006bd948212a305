import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/core/errors.js';
import { attachmentOf, checkMediaType, isMediaType, servedMediaType } from '../../src/core/media-type.js';

describe('media types of stored documents (issue 12, finding 9)', () => {
  it('takes type/subtype with token or quoted parameters', () => {
    for (const ok of [
      'text/html',
      'application/pdf',
      'text/plain; charset=utf-8',
      'text/plain;charset="utf-8"',
      'multipart/mixed; boundary="a b"',
      'application/vnd.api+json',
    ])
      expect(isMediaType(ok), ok).toBe(true);
  });

  it('refuses markup, line breaks, non-ASCII, quoted pairs and anything over 256 characters', () => {
    for (const bad of [
      '',
      'text',
      'text/html; <script>',
      'text/html;',
      'text/plain;\r\nX-Injected: 1',
      'text/plain;\n charset=utf-8',
      'text/plain; charset=é',
      'text/plain; a="\\"',
      `text/${'a'.repeat(256)}`,
    ])
      expect(isMediaType(bad), JSON.stringify(bad)).toBe(false);
    expect(() => checkMediaType('text/html; <script>', 'Content-Type')).toThrow(ValidationError);
    expect(() => checkMediaType(undefined, 'Content-Type')).not.toThrow();
  });

  it('serves a stored type only when it passes, else application/octet-stream', () => {
    expect(servedMediaType('text/html')).toBe('text/html');
    expect(servedMediaType('text/html; <script>')).toBe('application/octet-stream');
    expect(servedMediaType(undefined)).toBe('application/octet-stream');
  });
});

describe('Content-Disposition of a served document', () => {
  it("is attachment, with the key's last segment as an RFC 8187 file name", () => {
    expect(attachmentOf('reports/q3.txt')).toBe("attachment; filename*=UTF-8''q3.txt");
    expect(attachmentOf('a/ré sumé;"x".pdf')).toBe(
      "attachment; filename*=UTF-8''r%C3%A9%20sum%C3%A9%3B%22x%22.pdf",
    );
    expect(attachmentOf('dir/')).toBe('attachment');
  });
});
