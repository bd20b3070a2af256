/**
 * The messages between an owning thread and the Workers attached to it. One
 * MessagePort per attachment carries, in order: replies to requests (each with
 * the owner's sequence number once the commits it covers are in the files),
 * watch changes and the notice that the store closed. Reads do not travel: a
 * Worker answers them from its own read-only follower of the files.
 * @module
 */

import type { Change } from "../base/types.ts";
import type { WireError } from "./wire_errors.ts";

/**
 * What `share()` returns: post it to a Worker, transferring `port`, and pass it
 * to `attach()` there.
 *
 * @example
 * ```ts
 * import { open, type SharedCask } from "@cask/cask";
 * await using db = await open("./data");
 * const worker = new Worker(new URL("./worker.ts", import.meta.url).href, { type: "module" });
 * const shared: SharedCask = db.share();
 * worker.postMessage(shared, [shared.port]);
 * ```
 */
export interface SharedCask {
  /** The attachment's channel to the owning thread. */
  readonly port: MessagePort;
  /**
   * Written by the owner only, shared by all its attachments: an Int32 "store
   * closed" flag at {@link CLOSED_FLAG}, and the sequence number of the last
   * commit it applied, a BigInt64 at byte {@link SEQ_OFFSET}.
   */
  readonly state: SharedArrayBuffer;
  /** The store's directory, which the Worker opens read-only. */
  readonly dir: string;
  /** The owner's open options the Worker's read-only open needs. */
  readonly options: ReaderOptions;
}

/** What a Worker's read-only open takes from the owner's options. */
export interface ReaderOptions {
  maxKeySize: number;
  maxValueSize: number;
  maxIndexBytes: number;
  strict: boolean;
}

/** Index of the "store closed" flag (Int32) in `SharedCask.state`. */
export const CLOSED_FLAG = 0;
/** Byte offset of the owner's published sequence number (BigInt64) in `SharedCask.state`. */
export const SEQ_OFFSET = 8;
/** Bytes of `SharedCask.state`. */
export const STATE_BYTES = 16;

/** The calls a Worker sends to the owner. */
export type Op =
  | "set"
  | "delete"
  | "atomic"
  | "sync"
  | "stats"
  | "refresh"
  | "watch"
  | "unwatch"
  | "detach";

/** Worker -> owner. */
export interface Request {
  id: number;
  op: Op;
  args: unknown[];
}

/**
 * Owner -> Worker. A reply's `seq` is the owner's sequence number after the
 * call, posted once every commit up to it is in the files: the Worker's reads
 * wait until its follower has applied it.
 */
export type Message =
  | { kind: "reply"; id: number; seq: number; value?: unknown; error?: WireError }
  | { kind: "watch"; wid: number; change?: Change; end?: true; error?: WireError }
  | { kind: "closed" };
