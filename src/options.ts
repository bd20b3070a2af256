/**
 * Open options: their defaults and validation.
 * @module
 */

import { InvalidArgumentError } from "./errors.ts";
import type { RecoveryWarning } from "./recovery.ts";
import type { SyncMode } from "./writer.ts";

/**
 * Options of {@link open}.
 *
 * @example
 * ```ts
 * import { open, type OpenOptions } from "@cask/cask";
 * const options: OpenOptions = {
 *   sync: { intervalMs: 100 },
 *   maxFileSize: 128 << 20,
 *   autoCompact: true,
 *   onWarning: (w) => console.warn(w.kind, w.file, w.offset),
 * };
 * await using db = await open("./data", options);
 * ```
 */
export interface OpenOptions {
  /**
   * Durability of `set`/`delete`/`atomic`:
   * - `"always"` (default): the promise resolves only after the record is fsynced;
   *   concurrent writes share fsyncs (group commit).
   * - `{ intervalMs }`: writes are acknowledged at once and fsynced in the background
   *   every `intervalMs`; a power cut can lose that much acknowledged data.
   * - `"never"`: the OS decides when data reaches the disk; `sync()` and `close()`
   *   still flush and fsync. A crash of the process itself can lose writes of the
   *   last few milliseconds (still in Cask's write buffer).
   */
  sync?: SyncMode;
  /** Size at which the active data file is closed and a new one started. Default 64 MiB. */
  maxFileSize?: number;
  /** Largest key in bytes. Default 64 KiB. */
  maxKeySize?: number;
  /** Largest value in bytes. Default 64 MiB. */
  maxValueSize?: number;
  /**
   * How damage found on open in the middle of the log is handled. `false` (default):
   * the damaged bytes are skipped and reported through `onWarning`, everything
   * else is kept. `true`: open fails with a CorruptionError. A torn tail of the
   * newest file (an interrupted write) is cut off in both modes.
   */
  strict?: boolean;
  /** Receives what recovery found and handled. Default: `console.warn`. */
  onWarning?: (warning: RecoveryWarning) => void;
  /** Milliseconds since the epoch, for timestamps and expiry; injectable for tests. Default `Date.now`. */
  clock?: () => number;
  /**
   * Start a compaction by itself when a data file fills up and the dead bytes
   * exceed both thresholds. Default `false` (compact only when `compact()` is
   * called); `true` uses `{ minDeadRatio: 0.5, minDeadBytes: 64 MiB }`.
   */
  autoCompact?: boolean | AutoCompact;
}

/**
 * Thresholds of automatic compaction; both must be exceeded.
 *
 * @example
 * ```ts
 * import { open } from "@cask/cask";
 * await using db = await open("./data", {
 *   autoCompact: { minDeadRatio: 0.4, minDeadBytes: 256 << 20 },
 * });
 * ```
 */
export interface AutoCompact {
  /** Dead bytes / all bytes of the store. Default 0.5. */
  minDeadRatio?: number;
  /** Dead bytes of the store. Default 64 MiB. */
  minDeadBytes?: number;
}

/** Options with every default filled in. */
export type ResolvedOptions = Required<Omit<OpenOptions, "autoCompact">> & {
  autoCompact: Required<AutoCompact> | false;
};

const MiB = 1024 * 1024;

/** Validates `o` and fills in defaults. */
export function resolveOptions(o: OpenOptions = {}): ResolvedOptions {
  if (typeof o !== "object" || o === null) {
    throw new InvalidArgumentError("options must be an object");
  }
  const r: ResolvedOptions = {
    sync: o.sync ?? "always",
    maxFileSize: o.maxFileSize ?? 64 * MiB,
    maxKeySize: o.maxKeySize ?? 64 * 1024,
    maxValueSize: o.maxValueSize ?? 64 * MiB,
    strict: o.strict ?? false,
    onWarning: o.onWarning ?? ((w) => console.warn(`cask: ${w.message}`)),
    clock: o.clock ?? Date.now,
    autoCompact: resolveAutoCompact(o.autoCompact),
  };
  const s = r.sync;
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
  if (typeof r.strict !== "boolean") throw new InvalidArgumentError("strict must be a boolean");
  if (typeof r.onWarning !== "function") {
    throw new InvalidArgumentError("onWarning must be a function");
  }
  if (typeof r.clock !== "function") throw new InvalidArgumentError("clock must be a function");
  return r;
}

function resolveAutoCompact(a: OpenOptions["autoCompact"]): ResolvedOptions["autoCompact"] {
  if (a === undefined || a === false) return false;
  const o = a === true ? {} : a;
  if (typeof o !== "object" || o === null) {
    throw new InvalidArgumentError(
      "autoCompact must be a boolean or { minDeadRatio, minDeadBytes }",
    );
  }
  const r = { minDeadRatio: o.minDeadRatio ?? 0.5, minDeadBytes: o.minDeadBytes ?? 64 * MiB };
  if (!(typeof r.minDeadRatio === "number" && r.minDeadRatio >= 0 && r.minDeadRatio <= 1)) {
    throw new InvalidArgumentError(
      `autoCompact.minDeadRatio must be in 0..1, got ${r.minDeadRatio}`,
    );
  }
  intOption("autoCompact.minDeadBytes", r.minDeadBytes, 0, Number.MAX_SAFE_INTEGER);
  return r;
}

function isInt(v: unknown, min: number, max: number): v is number {
  return typeof v === "number" && Number.isInteger(v) && v >= min && v <= max;
}

function intOption(name: string, v: unknown, min: number, max: number): void {
  if (!isInt(v, min, max)) {
    throw new InvalidArgumentError(`${name} must be an integer in ${min}..${max}, got ${v}`);
  }
}
