/**
 * An error of an AWS JSON 1.1 protocol emulator (KMS, CloudWatch Logs, the Cognito pools), as the
 * protocol carries it: `{"__type": name, "message": text}` with the HTTP status the service gives
 * that name. Each emulator keeps its own table of names and statuses and subclasses this.
 */
export class JsonProtocolError<T extends string> extends Error {
  constructor(
    readonly type: T,
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = type;
  }

  toJSON(): { __type: string; message: string } {
    return { __type: this.type, message: this.message };
  }
}
