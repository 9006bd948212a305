/**
 * A Lambda entry point whose handler (and the services under it, from configuration) is built on
 * the first invocation, once per cold start: importing the module builds nothing, so a bundle
 * loads without configuration and a bad setting fails the invocation with its message. The build
 * may be asynchronous (the Tracer is loaded on demand); a failed build is tried again next time.
 */
export function builtOnFirstCall<A extends unknown[], R>(
  build: () => ((...args: A) => Promise<R>) | Promise<(...args: A) => Promise<R>>,
): (...args: A) => Promise<R> {
  let built: Promise<(...args: A) => Promise<R>> | undefined;
  return async (...args: A) => {
    built ??= Promise.resolve()
      .then(build)
      .catch((error: unknown) => {
        built = undefined;
        throw error;
      });
    return (await built)(...args);
  };
}
