/** Releases a response body that will not be read to its end (its socket with it). */
export function destroyQuietly(body: NodeJS.ReadableStream): void {
  const stream = body as NodeJS.ReadableStream & { destroy?: () => void; readableEnded?: boolean };
  if (!stream.readableEnded) stream.destroy?.();
}
