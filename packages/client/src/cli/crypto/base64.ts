import { type Readable, Transform } from 'node:stream';

/** `--base64`: ciphertext (and keys) as base64 text instead of bytes, for channels that carry text only. */

/** Bytes to one line of base64 (ended by a newline), streamed in whole groups of three bytes. */
export function base64Encoder(): Transform {
  let rest = Buffer.alloc(0);
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      const all = rest.length ? Buffer.concat([rest, chunk]) : chunk;
      const whole = all.length - (all.length % 3);
      rest = Buffer.from(all.subarray(whole));
      done(null, whole ? all.subarray(0, whole).toString('base64') : undefined);
    },
    flush(done) {
      done(null, `${rest.toString('base64')}\n`);
    },
  });
}

const ALPHABET = /^[A-Za-z0-9+/]*={0,2}$/;

/** Base64 text (whitespace ignored) to bytes, streamed; anything not base64 is an error. */
export function base64Decoder(): Transform {
  let rest = '';
  let ended = false;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      const text = rest + chunk.toString('latin1').replace(/\s+/g, '');
      if (ended && text.length > 0) return done(new Error('base64 goes on after its end'));
      if (!ALPHABET.test(text)) return done(new Error('not base64'));
      if (text.includes('=')) ended = true;
      const whole = ended ? text.length : text.length - (text.length % 4);
      rest = text.slice(whole);
      done(null, whole ? Buffer.from(text.slice(0, whole), 'base64') : undefined);
    },
    flush(done) {
      if (rest.length % 4 === 1) return done(new Error('not base64'));
      done(null, rest ? Buffer.from(rest, 'base64') : undefined);
    },
  });
}

/** The stream decoded from base64; an error of the source reaches the decoded stream. */
export function decodedFrom(source: Readable): Readable {
  const decoder = base64Decoder();
  source.on('error', (error) => decoder.destroy(error));
  // Its reader sees the error (the iterator or pipeline reading it); between two reads, with no
  // listener, it would end the process.
  decoder.on('error', () => {});
  return source.pipe(decoder);
}

/** Bytes as a line of base64 text. */
export const base64Line = (bytes: Uint8Array) => Buffer.from(`${Buffer.from(bytes).toString('base64')}\n`);
