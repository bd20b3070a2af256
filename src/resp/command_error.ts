/**
 * The error a command handler throws for a client's mistake.
 * @module
 */

/** A command's reply is a usage mistake of the client (`-ERR ...`); the connection goes on. */
export class CommandError extends Error {
  /** The reply's error code, its first word: `ERR`, `WRONGTYPE`, ... */
  readonly code: string;
  /** Builds the error; `message` is sent after `-`, so it starts with a code like `ERR`. */
  constructor(message: string) {
    super(message);
    this.name = "CommandError";
    this.code = message.split(" ", 1)[0];
  }
}
