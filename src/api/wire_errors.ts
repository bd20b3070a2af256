/**
 * Errors across the thread boundary. Structured cloning keeps only an Error's
 * name and message, so a CaskError travels as its code and fields and is
 * rebuilt on the other side as the same class: callers keep branching with
 * `instanceof` and `code` as they do on the owning thread.
 * @module
 */

import {
  CaskError,
  type CaskErrorCode,
  ClosedError,
  CorruptionError,
  HistoryGoneError,
  IndexFullError,
  InvalidArgumentError,
  IOError,
  LockedError,
  ReadOnlyError,
  WatchOverflowError,
} from "../base/errors.ts";

/** An error as it crosses a MessagePort. */
export interface WireError {
  code?: CaskErrorCode;
  name: string;
  message: string;
  file?: string;
  offset?: number;
  dir?: string;
  resumeFrom?: number;
  oldest?: number;
}

/** The cloneable form of `e`. */
export function toWire(e: unknown): WireError {
  if (!(e instanceof Error)) return { name: "Error", message: String(e) };
  const w: WireError = { name: e.name, message: e.message };
  if (e instanceof CaskError) w.code = e.code;
  if (e instanceof CorruptionError) Object.assign(w, { file: e.file, offset: e.offset });
  if (e instanceof LockedError) w.dir = e.dir;
  if (e instanceof WatchOverflowError) w.resumeFrom = e.resumeFrom;
  if (e instanceof HistoryGoneError) w.oldest = e.oldest;
  return w;
}

// A Record over every code: adding a code to CaskErrorCode fails the type check here.
const REBUILD: Record<CaskErrorCode, (w: WireError) => CaskError> = {
  CORRUPTION: (w) => new CorruptionError(w.message, w.file, w.offset),
  LOCKED: (w) => new LockedError(w.dir ?? ""),
  CLOSED: (w) => new ClosedError(w.message),
  INVALID_ARGUMENT: (w) => new InvalidArgumentError(w.message),
  IO: (w) => new IOError(w.message),
  READ_ONLY: (w) => new ReadOnlyError(w.message),
  WATCH_OVERFLOW: (w) => new WatchOverflowError(w.resumeFrom ?? 0),
  // Its message names a sequence number the class does not keep: carry the message over.
  HISTORY_GONE: (w) =>
    Object.assign(new HistoryGoneError(0, w.oldest ?? 0), { message: w.message }),
  INDEX_FULL: (w) => new IndexFullError(w.message),
};

/** The error `w` describes, as the class it was thrown as (a plain Error for non-Cask errors). */
export function fromWire(w: WireError): Error {
  if (w.code !== undefined && w.code in REBUILD) return REBUILD[w.code](w);
  const e = new Error(w.message);
  e.name = w.name;
  return e;
}
