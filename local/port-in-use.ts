/**
 * A busy port at start-up, named by the setting that chooses it: `npm start` then says which
 * variable to change rather than Node's bare `listen EADDRINUSE`.
 */
export class PortInUseError extends Error {
  constructor(
    readonly setting: string,
    readonly host: string,
    readonly port: number,
    options?: ErrorOptions,
  ) {
    super(
      `Port ${port} on ${host} is already in use (${setting}): another program, or another local stack, ` +
        `listens there. Stop it, or choose a free port, e.g. ${setting}=${port + 1} npm start.`,
      options,
    );
    this.name = 'PortInUseError';
  }
}

/** Runs `start`, which listens on `port`; a busy port becomes a PortInUseError naming `setting`. */
export async function portInUse<T>(setting: string, host: string, port: number, start: () => Promise<T>) {
  try {
    return await start();
  } catch (error) {
    if ((error as NodeJS.ErrnoException)?.code === 'EADDRINUSE')
      throw new PortInUseError(setting, host, port, { cause: error });
    throw error;
  }
}
