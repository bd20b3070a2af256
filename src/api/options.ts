/**
 * Open options: their defaults and validation.
 * @module
 */

import { InvalidArgumentError, userCall } from "../base/errors.ts";
import type { AutoCompact, OpenOptions } from "../base/types.ts";
import { rejectUnknown } from "./validate.ts";

const OPEN_OPTIONS = [
  "sync",
  "maxFileSize",
  "maxKeySize",
  "maxValueSize",
  "strict",
  "onWarning",
  "onBackgroundError",
  "clock",
  "autoCompact",
  "maxIndexBytes",
  "readOnly",
  "follow",
  "checkpoint",
  "mmap",
  "pointCache",
  "inlineFsync",
] as const;

/** Options with every default filled in. */
export type ResolvedOptions =
  & Required<
    Omit<OpenOptions, "autoCompact" | "follow" | "checkpoint">
  >
  & {
    autoCompact: Required<AutoCompact> | false;
    /** Keys from which close writes a checkpoint; Infinity: never (and none is read). */
    checkpointMinKeys: number;
    /** Milliseconds between refreshes of a following reader; 0 = no following. */
    followMs: number;
  };

const FOLLOW_MS = 100;

const MiB = 1024 * 1024;

/**
 * The longest key a store takes when `open` is given no `maxKeySize`: 64 KiB.
 *
 * @example
 * ```ts
 * import { DEFAULT_MAX_KEY_SIZE } from "@cask/cask";
 * const key = new TextEncoder().encode("user:42");
 * console.log(key.length <= DEFAULT_MAX_KEY_SIZE); // true
 * ```
 */
export const DEFAULT_MAX_KEY_SIZE = 64 * 1024;

/**
 * The largest value `set` takes when `open` is given no `maxValueSize`: 64 MiB
 * (`setStream` has no such bound).
 *
 * @example
 * ```ts
 * import { DEFAULT_MAX_VALUE_SIZE } from "@cask/cask";
 * console.log(DEFAULT_MAX_VALUE_SIZE / (1024 * 1024)); // 64
 * ```
 */
export const DEFAULT_MAX_VALUE_SIZE = 64 * MiB;

/** Validates `o` and fills in defaults. */
export function resolveOptions(o: OpenOptions = {}): ResolvedOptions {
  if (typeof o !== "object" || o === null) {
    throw new InvalidArgumentError("options must be an object");
  }
  rejectUnknown(o, OPEN_OPTIONS, "open option");
  // null is no way to ask for the default (undefined is): it is a mistake.
  for (const name of OPEN_OPTIONS) {
    if ((o as Record<string, unknown>)[name] === null) {
      throw new InvalidArgumentError(`${name} must not be null`);
    }
  }
  const r: ResolvedOptions = {
    sync: o.sync ?? "always",
    maxFileSize: o.maxFileSize ?? 64 * MiB,
    maxKeySize: o.maxKeySize ?? DEFAULT_MAX_KEY_SIZE,
    maxValueSize: o.maxValueSize ?? DEFAULT_MAX_VALUE_SIZE,
    strict: o.strict ?? false,
    onWarning: o.onWarning ?? ((w) => console.warn(`cask: ${w.message}`)),
    onBackgroundError: o.onBackgroundError ??
      ((e) => console.error(`cask: background work failed: ${e.message}`)),
    clock: o.clock ?? Date.now,
    maxIndexBytes: o.maxIndexBytes ?? Infinity,
    autoCompact: resolveAutoCompact(o.autoCompact),
    readOnly: o.readOnly ?? false,
    followMs: resolveFollow(o.follow),
    checkpointMinKeys: resolveCheckpoint(o.checkpoint),
    mmap: o.mmap ?? false,
    pointCache: o.pointCache ?? true,
    inlineFsync: o.inlineFsync ?? false,
  };
  if (typeof r.readOnly !== "boolean") throw new InvalidArgumentError("readOnly must be a boolean");
  if (typeof r.pointCache !== "boolean") {
    throw new InvalidArgumentError("pointCache must be a boolean");
  }
  if (typeof r.inlineFsync !== "boolean") {
    throw new InvalidArgumentError("inlineFsync must be a boolean");
  }
  if (r.followMs > 0 && !r.readOnly) {
    throw new InvalidArgumentError("follow needs readOnly: true (a writer is always current)");
  }
  const s = r.sync;
  if (typeof s === "object" && s !== null) rejectUnknown(s, ["intervalMs"], "sync option");
  if (
    s !== "always" && s !== "never" &&
    !(typeof s === "object" && s !== null && isInt(s.intervalMs, 1, 3_600_000))
  ) {
    throw new InvalidArgumentError(
      `sync must be "always", "never" or { intervalMs: 1..3600000 }, got ${JSON.stringify(s)}`,
    );
  }
  intOption("maxFileSize", r.maxFileSize, 1024, 2 ** 32);
  intOption("maxKeySize", r.maxKeySize, 1, 16 * MiB);
  intOption("maxValueSize", r.maxValueSize, 0, 1024 * MiB);
  if (r.maxIndexBytes !== Infinity) {
    intOption("maxIndexBytes", r.maxIndexBytes, 0, Number.MAX_SAFE_INTEGER);
  }
  if (typeof r.mmap !== "boolean") throw new InvalidArgumentError("mmap must be a boolean");
  if (r.mmap && r.readOnly) {
    throw new InvalidArgumentError(
      "mmap needs a writable store (a reader's files may be cut back)",
    );
  }
  if (typeof r.strict !== "boolean") throw new InvalidArgumentError("strict must be a boolean");
  if (typeof r.onWarning !== "function") {
    throw new InvalidArgumentError("onWarning must be a function");
  }
  if (typeof r.onBackgroundError !== "function") {
    throw new InvalidArgumentError("onBackgroundError must be a function");
  }
  if (typeof r.clock !== "function") throw new InvalidArgumentError("clock must be a function");
  if (r.clock !== Date.now) r.clock = checkedClock(r.clock);
  return r;
}

// The user's clock, read through checks where it is read: whole milliseconds
// (one with fractions, like performance.timeOrigin + performance.now(), is
// rounded down), and a value that is no time at all is refused by name rather
// than found out later by the record encoder.
function checkedClock(clock: () => number): () => number {
  return () => {
    const t = userCall(clock);
    const ms = typeof t === "number" ? Math.floor(t) : NaN;
    if (!(ms >= 0 && ms <= Number.MAX_SAFE_INTEGER)) {
      throw new InvalidArgumentError(
        `clock() returned ${String(t)}: it must return milliseconds since the Unix epoch, ` +
          `from 0 to 2^53 - 1`,
      );
    }
    return ms;
  };
}

function resolveAutoCompact(a: OpenOptions["autoCompact"]): ResolvedOptions["autoCompact"] {
  if (a === undefined || a === false) return false;
  const o = a === true ? {} : a;
  if (typeof o !== "object" || o === null) {
    throw new InvalidArgumentError(
      "autoCompact must be a boolean or { minDeadRatio, minDeadBytes }",
    );
  }
  rejectUnknown(o, ["minDeadRatio", "minDeadBytes"], "autoCompact option");
  const r = { minDeadRatio: o.minDeadRatio ?? 0.5, minDeadBytes: o.minDeadBytes ?? 64 * MiB };
  if (!(typeof r.minDeadRatio === "number" && r.minDeadRatio >= 0 && r.minDeadRatio <= 1)) {
    throw new InvalidArgumentError(
      `autoCompact.minDeadRatio must be in 0..1, got ${r.minDeadRatio}`,
    );
  }
  intOption("autoCompact.minDeadBytes", r.minDeadBytes, 0, Number.MAX_SAFE_INTEGER);
  return r;
}

function resolveCheckpoint(c: OpenOptions["checkpoint"]): number {
  if (c === false) return Infinity;
  const o = c === undefined || c === true ? {} : c;
  if (typeof o !== "object" || o === null) {
    throw new InvalidArgumentError("checkpoint must be a boolean or { minKeys }");
  }
  rejectUnknown(o, ["minKeys"], "checkpoint option");
  const minKeys = o.minKeys ?? 65_536;
  intOption("checkpoint.minKeys", minKeys, 0, Number.MAX_SAFE_INTEGER);
  return minKeys;
}

function resolveFollow(f: OpenOptions["follow"]): number {
  if (f === undefined || f === false) return 0;
  if (f === true) return FOLLOW_MS;
  if (typeof f === "object" && f !== null) rejectUnknown(f, ["intervalMs"], "follow option");
  if (typeof f === "object" && f !== null && isInt(f.intervalMs, 1, 3_600_000)) return f.intervalMs;
  throw new InvalidArgumentError(
    `follow must be a boolean or { intervalMs: 1..3600000 }, got ${JSON.stringify(f)}`,
  );
}

function isInt(v: unknown, min: number, max: number): v is number {
  return typeof v === "number" && Number.isInteger(v) && v >= min && v <= max;
}

function intOption(name: string, v: unknown, min: number, max: number): void {
  if (!isInt(v, min, max)) {
    throw new InvalidArgumentError(`${name} must be an integer in ${min}..${max}, got ${v}`);
  }
}
