/**
 * Typed errors. Every error Cask throws on purpose is a {@link CaskError} with a
 * stable machine-readable `code`, so callers can branch without parsing messages.
 * @module
 */

/**
 * Machine-readable error codes.
 *
 * @example
 * ```ts
 * import { CaskError, type CaskErrorCode, open } from "@cask/cask";
 * const retryable: CaskErrorCode[] = ["LOCKED"];
 * try {
 *   await open("./data");
 * } catch (e) {
 *   if (e instanceof CaskError && retryable.includes(e.code)) console.log("try again later");
 * }
 * ```
 */
export type CaskErrorCode =
  | "CORRUPTION"
  | "LOCKED"
  | "CLOSED"
  | "INVALID_ARGUMENT"
  | "IO"
  | "READ_ONLY"
  | "WATCH_OVERFLOW"
  | "HISTORY_GONE"
  | "INDEX_FULL";

/**
 * Base class of every error thrown by Cask.
 *
 * @example
 * ```ts
 * import { CaskError, open } from "@cask/cask";
 * try {
 *   await open("./data");
 * } catch (e) {
 *   if (e instanceof CaskError) console.error(e.code, e.message);
 * }
 * ```
 */
export class CaskError extends Error {
  /** Stable code naming the kind of failure. */
  readonly code: CaskErrorCode;
  /** Builds an error with a code, a message and an optional underlying cause. */
  constructor(code: CaskErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/**
 * Stored bytes failed their checksum or structure checks.
 *
 * @example
 * ```ts
 * import { CorruptionError, open } from "@cask/cask";
 * const db = await open("./data");
 * try {
 *   await db.get("k");
 * } catch (e) {
 *   if (e instanceof CorruptionError) console.error(e.file, e.offset);
 * }
 * await db.close();
 * ```
 */
export class CorruptionError extends CaskError {
  /** The file holding the damaged bytes, when known. */
  readonly file?: string;
  /** Byte offset of the damaged record in that file, when known. */
  readonly offset?: number;
  /** Builds the error; `file` and `offset` locate the damage. */
  constructor(message: string, file?: string, offset?: number, options?: ErrorOptions) {
    super("CORRUPTION", message, options);
    this.file = file;
    this.offset = offset;
  }
}

/**
 * Another store (in this process or another one) holds the directory's lock.
 *
 * @example
 * ```ts
 * import { LockedError, open } from "@cask/cask";
 * const a = await open("./data");
 * try {
 *   await open("./data");
 * } catch (e) {
 *   console.log(e instanceof LockedError); // true
 * }
 * await a.close();
 * ```
 */
export class LockedError extends CaskError {
  /** Builds the error for the locked directory `dir`. */
  constructor(readonly dir: string, options?: ErrorOptions) {
    super("LOCKED", `cask directory is locked by another writer: ${dir}`, options);
  }
}

/**
 * The store was closed; no further calls are accepted.
 *
 * @example
 * ```ts
 * import { ClosedError, open } from "@cask/cask";
 * const db = await open("./data");
 * await db.close();
 * await db.get("k").catch((e) => console.log(e instanceof ClosedError)); // true
 * ```
 */
export class ClosedError extends CaskError {
  /** Builds the error. */
  constructor(message = "cask store is closed", options?: ErrorOptions) {
    super("CLOSED", message, options);
  }
}

/**
 * An argument had the wrong type, size or value. Nothing was written.
 *
 * @example
 * ```ts
 * import { InvalidArgumentError, open } from "@cask/cask";
 * const db = await open("./data");
 * await db.set("", "v").catch((e) => console.log(e instanceof InvalidArgumentError)); // true
 * await db.close();
 * ```
 */
export class InvalidArgumentError extends CaskError {
  /** Builds the error. */
  constructor(message: string, options?: ErrorOptions) {
    super("INVALID_ARGUMENT", message, options);
  }
}

/**
 * A file-system operation failed (disk full, permission denied, fsync failure...).
 * The operation that hit it was not acknowledged.
 *
 * @example
 * ```ts
 * import { IOError, open } from "@cask/cask";
 * const db = await open("./data");
 * await db.set("k", "v").catch((e) => {
 *   if (e instanceof IOError) console.error("disk trouble", e.cause);
 * });
 * await db.close();
 * ```
 */
export class IOError extends CaskError {
  /** Builds the error; `cause` is the underlying file-system error. */
  constructor(message: string, options?: ErrorOptions) {
    super("IO", message, options);
  }
}

/**
 * `e` as a CaskError: itself when it already is one, else an IOError saying
 * what was being done (file-system calls throw the runtime's own error types).
 */
export function asCaskError(e: unknown, doing: string): CaskError {
  if (e instanceof CaskError) return e;
  return new IOError(`${doing}: ${(e as Error)?.message ?? e}`, { cause: e });
}

// What the user's own callbacks (a clock, an onProgress) threw: passed back as
// it is, never dressed up as an I/O failure.
const thrownByUser = new WeakSet<object>();

/** Calls the user's callback `fn`; what it throws is marked for {@link userErrorOr}. */
export function userCall<A extends unknown[], R>(fn: (...args: A) => R, ...args: A): R {
  try {
    return fn(...args);
  } catch (e) {
    if (typeof e === "object" && e !== null) thrownByUser.add(e);
    throw e;
  }
}

/** `e` itself when a user callback threw it (see {@link userCall}), else asCaskError(e, doing). */
export function userErrorOr(e: unknown, doing: string): unknown {
  return typeof e === "object" && e !== null && thrownByUser.has(e) ? e : asCaskError(e, doing);
}

/**
 * A write was attempted on a store opened with `readOnly: true`.
 *
 * @example
 * ```ts
 * import { open, ReadOnlyError } from "@cask/cask";
 * await using db = await open("./data", { readOnly: true });
 * await db.set("k", "v").catch((e) => console.log(e instanceof ReadOnlyError)); // true
 * ```
 */
export class ReadOnlyError extends CaskError {
  /** Builds the error. */
  constructor(message = "the store is open read-only", options?: ErrorOptions) {
    super("READ_ONLY", message, options);
  }
}

/**
 * A `watch()` consumer fell too far behind: its buffer of undelivered changes
 * is bounded, so it is ended with this error rather than let memory grow.
 * Resume with `watch({ ..., since: error.resumeFrom })`.
 *
 * @example
 * ```ts
 * import { open, WatchOverflowError } from "@cask/cask";
 * await using db = await open("./data", { sync: "never" });
 * const feed = db.watch({ prefix: "" });
 * // More changes than a feed buffers, made before it is read.
 * await Promise.all(Array.from({ length: 10_001 }, (_, i) => db.set(`k${i}`, "v")));
 * try {
 *   for await (const _change of feed);
 * } catch (e) {
 *   if (e instanceof WatchOverflowError) console.log("resume after", e.resumeFrom);
 * }
 * ```
 */
export class WatchOverflowError extends CaskError {
  /** The last sequence number whose changes were delivered in full: resume after it. */
  readonly resumeFrom: number;
  /** Builds the error. */
  constructor(resumeFrom: number, options?: ErrorOptions) {
    super(
      "WATCH_OVERFLOW",
      `the watcher fell too far behind; resume with since: ${resumeFrom}`,
      options,
    );
    this.resumeFrom = resumeFrom;
  }
}

/**
 * A write of a new key was refused because the index has reached the
 * `maxIndexBytes` budget of `open()`. Overwrites and deletes still work.
 *
 * @example
 * ```ts
 * import { IndexFullError, open } from "@cask/cask";
 * await using db = await open("./data", { maxIndexBytes: 64 << 20 });
 * await db.set("k", "v").catch((e) => {
 *   if (e instanceof IndexFullError) console.log("index budget reached");
 * });
 * ```
 */
export class IndexFullError extends CaskError {
  /** Builds the error. */
  constructor(message: string, options?: ErrorOptions) {
    super("INDEX_FULL", message, options);
  }
}

/**
 * A `watch({ since })` asked for history the log no longer holds: a compaction
 * merged commits after `since`. `oldest` is the earliest resume point left.
 *
 * @example
 * ```ts
 * import { HistoryGoneError, open } from "@cask/cask";
 * await using db = await open("./data");
 * try {
 *   for await (const c of db.watch({ prefix: "", since: 0 })) break;
 * } catch (e) {
 *   if (e instanceof HistoryGoneError) console.log("resync from a scan; oldest", e.oldest);
 * }
 * ```
 */
export class HistoryGoneError extends CaskError {
  /** The smallest `since` the log can still serve. */
  readonly oldest: number;
  /** Builds the error. */
  constructor(since: number, oldest: number, options?: ErrorOptions) {
    super(
      "HISTORY_GONE",
      `the log no longer holds the changes after sequence ${since}; the oldest resume point is ${oldest}`,
      options,
    );
    this.oldest = oldest;
  }
}
