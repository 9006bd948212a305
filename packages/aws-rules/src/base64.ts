const BASE64_CHARS = /^[A-Za-z0-9+/]*={0,2}$/;

/** Base64 check in linear time: a backtracking pattern overflows the stack on megabyte strings. */
export function isBase64(value: string): boolean {
  return value.length % 4 === 0 && BASE64_CHARS.test(value) && !/=[^=]/.test(value);
}
