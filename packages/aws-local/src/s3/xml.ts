/**
 * The little XML S3 needs: answers built from plain objects, and a strict parser for the few
 * request bodies (CompleteMultipartUpload, CORSConfiguration, Delete). The parser accepts no
 * DOCTYPE or entity declarations, so no external entity or expansion bomb can reach it.
 */

export const S3_NAMESPACE = 'http://s3.amazonaws.com/doc/2006-03-01/';

/** An element's content: text, child elements by name (an array repeats the element), or nothing. */
export type XmlContent = string | number | boolean | undefined | XmlFields | readonly XmlContent[];
export interface XmlFields {
  readonly [name: string]: XmlContent;
}

/**
 * Escapes text for element content; control characters (CR too, which XML readers would
 * normalise away) become character references, as S3 writes them.
 */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"'\r]|[^\t\n\x20-\uffff]/g, (c) => {
    switch (c) {
      case '&':
        return '&amp;';
      case '<':
        return '&lt;';
      case '>':
        return '&gt;';
      case '"':
        return '&quot;';
      case "'":
        return '&apos;';
      default:
        return `&#x${c.charCodeAt(0).toString(16).toUpperCase()};`;
    }
  });
}

function render(name: string, content: XmlContent, out: string[]): void {
  if (content === undefined) return;
  if (Array.isArray(content)) {
    for (const item of content) render(name, item as XmlContent, out);
    return;
  }
  if (typeof content === 'object') {
    out.push(`<${name}>`);
    for (const [child, value] of Object.entries(content)) render(child, value as XmlContent, out);
    out.push(`</${name}>`);
    return;
  }
  out.push(`<${name}>${escapeXml(String(content))}</${name}>`);
}

/**
 * A whole XML document with one root element in S3's namespace (errors carry no namespace), or
 * in the namespace given (S3 Control's).
 */
export function xmlDocument(
  root: string,
  fields: XmlFields,
  namespace: boolean | string = root !== 'Error',
): string {
  const out: string[] = ['<?xml version="1.0" encoding="UTF-8"?>\n'];
  const ns = namespace === true ? S3_NAMESPACE : namespace;
  out.push(ns ? `<${root} xmlns="${ns}">` : `<${root}>`);
  for (const [child, value] of Object.entries(fields)) render(child, value, out);
  out.push(`</${root}>`);
  return out.join('');
}

export interface XmlElement {
  /** Local name, without a namespace prefix. */
  name: string;
  children: XmlElement[];
  /** The element's own text, entities decoded. */
  text: string;
}

export class XmlSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'XmlSyntaxError';
  }
}

const ENTITIES: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
const MAX_DEPTH = 32;

function decodeEntities(text: string): string {
  return text.replace(/&([^;]{1,10});/g, (whole, ref: string) => {
    if (ref.startsWith('#')) {
      const code = ref.startsWith('#x')
        ? Number.parseInt(ref.slice(2), 16)
        : Number.parseInt(ref.slice(1), 10);
      if (!Number.isInteger(code) || code < 1 || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff))
        throw new XmlSyntaxError(`bad character reference ${whole}`);
      return String.fromCodePoint(code);
    }
    const named = ENTITIES[ref];
    if (named === undefined) throw new XmlSyntaxError(`unknown entity ${whole}`);
    return named;
  });
}

/** Parses a document into its root element; throws XmlSyntaxError on anything not well-formed. */
export function parseXml(source: string): XmlElement {
  let i = source.charCodeAt(0) === 0xfeff ? 1 : 0;
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  const fail = (what: string): never => {
    throw new XmlSyntaxError(`${what} at offset ${i}`);
  };
  while (i < source.length) {
    const lt = source.indexOf('<', i);
    const text = source.slice(i, lt < 0 ? source.length : lt);
    const top = stack[stack.length - 1];
    if (top) top.text += decodeEntities(text);
    else if (text.trim() !== '') fail('text outside the root element');
    if (lt < 0) break;
    i = lt;
    if (source.startsWith('<?', i)) {
      const end = source.indexOf('?>', i);
      if (end < 0 || stack.length > 0) fail('bad processing instruction');
      i = end + 2;
    } else if (source.startsWith('<!--', i)) {
      const end = source.indexOf('-->', i);
      if (end < 0) fail('unterminated comment');
      i = end + 3;
    } else if (source.startsWith('<![CDATA[', i)) {
      const end = source.indexOf(']]>', i);
      if (end < 0 || !top) fail('bad CDATA section');
      (top as XmlElement).text += source.slice(i + 9, end);
      i = end + 3;
    } else if (source.startsWith('<!', i)) {
      fail('declarations are not accepted');
    } else if (source.startsWith('</', i)) {
      const end = source.indexOf('>', i);
      const name = source.slice(i + 2, end).trim();
      const open = stack.pop();
      if (end < 0 || !open || localName(name) !== open.name) fail('mismatched end tag');
      i = end + 1;
    } else {
      const end = source.indexOf('>', i);
      if (end < 0) fail('unterminated tag');
      const selfClosing = source[end - 1] === '/';
      const inner = source.slice(i + 1, selfClosing ? end - 1 : end);
      const match = /^([A-Za-z_][\w.:-]*)(\s+[\w.:-]+\s*=\s*("[^"<]*"|'[^'<]*'))*\s*$/.exec(inner);
      if (!match?.[1]) fail('malformed start tag');
      if (!top && root) fail('a second root element');
      const element: XmlElement = { name: localName(match?.[1] ?? ''), children: [], text: '' };
      if (top) top.children.push(element);
      else root = element;
      if (!selfClosing) stack.push(element);
      if (stack.length > MAX_DEPTH) fail('elements nested too deep');
      i = end + 1;
    }
  }
  if (!root || stack.length > 0) throw new XmlSyntaxError('incomplete document');
  return root;
}

function localName(qualified: string): string {
  const colon = qualified.indexOf(':');
  return colon < 0 ? qualified : qualified.slice(colon + 1);
}

/** The child elements with a name. */
export function childrenNamed(element: XmlElement, name: string): XmlElement[] {
  return element.children.filter((c) => c.name === name);
}

/** The text of the only child with a name (untrimmed: a key may end in a space), or undefined; two is an error. */
export function childText(element: XmlElement, name: string): string | undefined {
  const found = childrenNamed(element, name);
  if (found.length > 1) throw new XmlSyntaxError(`more than one ${name}`);
  return found[0]?.text;
}
