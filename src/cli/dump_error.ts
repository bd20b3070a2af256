/**
 * The error for a dump line `cask load` cannot read.
 * @module
 */

/** A dump line could not be read; `line` is 1-based. */
export class DumpFormatError extends Error {
  /** Builds the error for input line `line`. */
  constructor(readonly line: number, message: string) {
    super(`dump line ${line}: ${message}`);
    this.name = "DumpFormatError";
  }
}
