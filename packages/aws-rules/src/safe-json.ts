/**
 * JSON parsing that refuses the member name `__proto__` anywhere: JavaScript objects treat it
 * specially, so a context key of that name would be silently dropped by some code and kept by
 * other code, and a ciphertext would not be bound to what the caller sent.
 */
export class ReservedMemberError extends Error {
  constructor() {
    super('The member name __proto__ is not accepted.');
    this.name = 'ReservedMemberError';
  }
}

/** JSON.parse, throwing SyntaxError for bad JSON and ReservedMemberError for a `__proto__` member. */
export function parseJsonStrict(text: string): unknown {
  return JSON.parse(text, function reject(this: unknown, key: string, value: unknown) {
    if (key === '__proto__') throw new ReservedMemberError();
    return value;
  });
}
