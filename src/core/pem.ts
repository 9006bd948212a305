/** A DER SubjectPublicKeyInfo as PEM (RFC 7468 `PUBLIC KEY`, 64 characters a line), as OpenSSL reads it. */
export function publicKeyPem(der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN PUBLIC KEY-----\n${lines.join('\n')}\n-----END PUBLIC KEY-----\n`;
}
