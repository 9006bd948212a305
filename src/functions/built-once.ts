/**
 * A Lambda entry point whose handler (and the services under it, from configuration) is built on
 * the first invocation, once per cold start: importing the module builds nothing, so a bundle
 * loads without configuration and a bad setting fails the invocation with its message.
 */
export function builtOnFirstCall<A extends unknown[], R>(build: () => (...args: A) => R): (...args: A) => R {
  let built: ((...args: A) => R) | undefined;
  return (...args: A) => {
    built ??= build();
    return built(...args);
  };
}
