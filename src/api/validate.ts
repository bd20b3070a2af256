/**
 * Validation of write operations and scan bounds: everything user input must
 * pass before a byte is written. Each failure is an InvalidArgumentError.
 * @module
 */

import { InvalidArgumentError } from "../base/errors.ts";
import { indexKey, keyForms, toBytes } from "../base/keys.ts";
import type { AtomicOptions, BatchOp, ScanOptions, WatchOptions } from "../base/types.ts";
import type { KeyedCheck, KeyedOp } from "../index/catalog.ts";
import type { WatchFilter } from "./watch.ts";

/** Size limits a write must respect. */
export interface Limits {
  maxKeySize: number;
  maxValueSize: number;
}

const EMPTY = new Uint8Array(0);

/** Validates `op` and sizes its record; `now` dates a `ttl`. */
export function prepareOp(
  op: BatchOp,
  limits: Limits,
  now: () => number,
  checkFields = true,
): KeyedOp {
  if (typeof op !== "object" || op === null) {
    throw new InvalidArgumentError("operation must be an object");
  }
  const { k, kb } = keyForms(op.key);
  if (kb.length === 0) throw new InvalidArgumentError("key must not be empty");
  if (kb.length > limits.maxKeySize) {
    throw new InvalidArgumentError(`key is ${kb.length} bytes; maxKeySize is ${limits.maxKeySize}`);
  }
  if (op.type === "delete") {
    if (checkFields) rejectUnknown(op, DELETE_FIELDS, "delete operation field");
    return { k, kb, vb: EMPTY, expireAt: 0, tombstone: true };
  }
  if (op.type !== "set") {
    throw new InvalidArgumentError(
      `unknown operation type ${JSON.stringify((op as BatchOp).type)}`,
    );
  }
  if (checkFields) rejectUnknown(op, SET_FIELDS, "set operation field");
  const vb = toBytes(op.value, "value");
  if (vb.length > limits.maxValueSize) {
    throw new InvalidArgumentError(
      `value is ${vb.length} bytes; maxValueSize is ${limits.maxValueSize}`,
    );
  }
  const expireAt = expiry(op, now);
  return { k, kb, vb, expireAt, tombstone: false };
}

const SET_FIELDS = ["type", "key", "value", "ttl", "expireAt"] as const;
const DELETE_FIELDS = ["type", "key"] as const;
/** The fields `set()`'s options may have. */
export const SET_OPTIONS = ["ttl", "expireAt"] as const;

/**
 * Throws InvalidArgumentError when `o` has a key outside `allowed`: a misspelt
 * option (say `expireIn`) must not be silently ignored.
 */
export function rejectUnknown(o: object, allowed: readonly string[], what: string): void {
  // for-in, not Object.keys: no array per call on the write path.
  for (const k in o) {
    if (Object.hasOwn(o, k) && !allowed.includes(k)) {
      throw new InvalidArgumentError(
        `unknown ${what} ${JSON.stringify(k)}; expected one of ${allowed.join(", ")}`,
      );
    }
  }
}

/** Validates the optional options object of `set()`. */
export function checkSetOptions(o: unknown): void {
  if (o === undefined) return;
  if (typeof o !== "object" || o === null || Array.isArray(o)) {
    throw new InvalidArgumentError(
      `set options must be an object, got ${o === null ? "null" : typeof o}`,
    );
  }
  rejectUnknown(o, SET_OPTIONS, "set option");
}

function expiry(o: { ttl?: number; expireAt?: number }, now: () => number): number {
  if (o.ttl !== undefined && o.expireAt !== undefined) {
    throw new InvalidArgumentError("give ttl or expireAt, not both");
  }
  if (o.ttl !== undefined) {
    if (typeof o.ttl !== "number" || !Number.isFinite(o.ttl) || o.ttl <= 0) {
      throw new InvalidArgumentError(`ttl must be a positive number of milliseconds, got ${o.ttl}`);
    }
    const at = Math.ceil(now() + o.ttl);
    if (!Number.isSafeInteger(at)) {
      throw new InvalidArgumentError(`ttl ${o.ttl} puts the expiry past the largest timestamp`);
    }
    return at;
  }
  if (o.expireAt !== undefined) {
    if (!Number.isSafeInteger(o.expireAt) || o.expireAt <= 0) {
      throw new InvalidArgumentError(
        `expireAt must be a positive integer ms timestamp, got ${o.expireAt}`,
      );
    }
    return o.expireAt;
  }
  return 0;
}

/** The index form of a key to look up; like writes, an empty key is an error. */
export function lookupKey(key: unknown): string {
  const k = indexKey(key);
  if (k === "") throw new InvalidArgumentError("key must not be empty");
  return k;
}

/** Scan bounds in index form; undefined when the range is empty. */
export interface Range {
  start?: string;
  end?: string;
  reverse: boolean;
  limit: number;
}

/** Validates scan options and folds `prefix` into the start/end bounds. */
export function resolveRange(o: ScanOptions): Range | undefined {
  checkObject(o, "scan options");
  let start = o.start === undefined ? undefined : indexKey(o.start);
  let end = o.end === undefined ? undefined : indexKey(o.end);
  if (o.prefix !== undefined) {
    const p = indexKey(o.prefix);
    if (start === undefined || start < p) start = p;
    const after = prefixEnd(p);
    if (after !== undefined && (end === undefined || end > after)) end = after;
  }
  if (o.reverse !== undefined && typeof o.reverse !== "boolean") {
    throw new InvalidArgumentError(`reverse must be a boolean, got ${o.reverse}`);
  }
  const limit = o.limit === undefined ? Infinity : o.limit;
  if (limit !== Infinity && !(Number.isInteger(limit) && limit >= 0)) {
    throw new InvalidArgumentError(`limit must be a non-negative integer, got ${limit}`);
  }
  if (limit === 0 || (start !== undefined && end !== undefined && start >= end)) return undefined;
  return { start, end, reverse: o.reverse === true, limit };
}

// The smallest key greater than every key starting with `p`, or undefined if none exists.
function prefixEnd(p: string): string | undefined {
  let i = p.length;
  while (i > 0 && p.charCodeAt(i - 1) === 0xff) i--;
  if (i === 0) return undefined;
  return p.slice(0, i - 1) + String.fromCharCode(p.charCodeAt(i - 1) + 1);
}

/** Validates the options of `atomic()`; returns its checks in index form. */
export function prepareChecks(o: AtomicOptions | undefined): KeyedCheck[] {
  if (o === undefined) return [];
  if (typeof o !== "object" || o === null) {
    throw new InvalidArgumentError("atomic options must be an object");
  }
  rejectUnknown(o, ["checks"], "atomic option");
  if (o.checks === undefined) return [];
  if (!Array.isArray(o.checks)) throw new InvalidArgumentError("checks must be an array");
  return Array.from(o.checks, (c) => {
    if (typeof c !== "object" || c === null) {
      throw new InvalidArgumentError("a check must be an object");
    }
    rejectUnknown(c, ["key", "sequence"], "check field");
    const seq = c.sequence;
    if (seq !== null && !(Number.isSafeInteger(seq) && seq >= 0)) {
      throw new InvalidArgumentError(
        `a check's sequence must be a sequence number or null, got ${seq}`,
      );
    }
    return { k: lookupKey(c.key), seq };
  });
}

/** Rejects range options other than start, end and prefix. */
export function checkRangeOnly(o: object): void {
  checkObject(o, "range options");
  rejectUnknown(o, ["start", "end", "prefix"], "range option");
}

/** Rejects scan options other than a range's, reverse and limit. */
export function checkScanOptions(o: object): void {
  checkObject(o, "scan options");
  rejectUnknown(o, ["start", "end", "prefix", "reverse", "limit"], "scan option");
}

/** Validates the optional options of `setStream()`: set()'s, and `size`. */
export function checkStreamOptions(o: unknown): void {
  if (o === undefined) return;
  checkObject(o, "setStream options");
  rejectUnknown(o as object, [...SET_OPTIONS, "size"], "setStream option");
  const size = (o as { size?: unknown }).size;
  if (size !== undefined && !(Number.isSafeInteger(size) && (size as number) >= 0)) {
    throw new InvalidArgumentError(`size must be a byte count, got ${size}`);
  }
}

/** Validates the optional options object of `compact()`. */
export function checkCompactOptions(o: unknown): void {
  if (o === undefined) return;
  checkObject(o, "compact options");
  rejectUnknown(o as object, ["onProgress"], "compact option");
  const onProgress = (o as { onProgress?: unknown }).onProgress;
  if (onProgress !== undefined && typeof onProgress !== "function") {
    throw new InvalidArgumentError("onProgress must be a function");
  }
}

function checkObject(o: unknown, what: string): void {
  if (typeof o !== "object" || o === null || Array.isArray(o)) {
    throw new InvalidArgumentError(`${what} must be an object`);
  }
}

/**
 * Whether `o` names a whole range: a prefix alone, or both a start and an end.
 * A bound that is present but undefined counts as missing: a variable that
 * happened to be undefined must not widen a deleteRange or a watch to
 * everything.
 */
export function isWholeRange(o: { prefix?: unknown; start?: unknown; end?: unknown }): boolean {
  return o.prefix !== undefined
    ? o.start === undefined && o.end === undefined
    : o.start !== undefined && o.end !== undefined;
}

/** Validates `watch()` options; returns which changes it follows and where it resumes. */
export function watchFilter(o: WatchOptions): { filter: WatchFilter; since?: number } {
  if (typeof o !== "object" || o === null) {
    throw new InvalidArgumentError("watch options must be an object");
  }
  const since = o.since;
  if (since !== undefined && !(Number.isSafeInteger(since) && since >= 0)) {
    throw new InvalidArgumentError(`since must be a sequence number, got ${since}`);
  }
  if ("keys" in o) {
    rejectUnknown(o, ["keys", "since"], "watch option");
    if (!Array.isArray(o.keys)) throw new InvalidArgumentError("keys must be an array");
    // Array.from visits holes too, which map() would skip unchecked.
    const keys = new Set(Array.from(o.keys, lookupKey));
    return {
      since,
      filter: {
        match: (k) => keys.has(k),
        overlaps: (a, b) => [...keys].some((k) => k >= a && (b === undefined || k < b)),
      },
    };
  }
  rejectUnknown(o, ["prefix", "start", "end", "since"], "watch option");
  if (!isWholeRange(o)) {
    throw new InvalidArgumentError("watch takes { keys }, { prefix } or { start, end }");
  }
  const r = resolveRange(o as ScanOptions);
  const lo = r?.start, hi = r?.end;
  return {
    since,
    filter: {
      match: (k) =>
        r !== undefined && (lo === undefined || k >= lo) && (hi === undefined || k < hi),
      overlaps: (a, b) =>
        r !== undefined && (hi === undefined || a < hi) &&
        (b === undefined || lo === undefined || b > lo),
    },
  };
}
