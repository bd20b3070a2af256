/**
 * The messages between an owning thread and the Workers attached to it. One
 * MessagePort per attachment carries, in order: replies to requests (each with
 * the owner's sequence number), watch changes and the notice that the store closed. Reads do not travel: a
 * Worker answers them from its own read-only follower of the files.
 * @module
 */

import type { Change, OpenOptions } from "../base/types.ts";
import type { WireError } from "./wire_errors.ts";

/**
 * What `share()` returns: post it to a Worker, transferring `port`, and pass it
 * to `attach()` there.
 *
 * @example
 * ```ts
 * import { open, type SharedCask } from "@cask/cask";
 * // Not `await using`: the store must stay open while the Worker uses it.
 * const db = await open("./data");
 * const worker = new Worker(new URL("./worker.ts", import.meta.url).href, { type: "module" });
 * const shared: SharedCask = db.share();
 * worker.postMessage(shared, [shared.port]);
 * ```
 */
export interface SharedCask {
  /** The attachment's channel to the owning thread. */
  readonly port: MessagePort;
  /**
   * Int32s written by the owner only, shared by all its attachments: the
   * "store closed" flag at {@link CLOSED_FLAG}, and at {@link SEQ_LOW} the low
   * 32 bits of the sequence number of the last commit it applied.
   */
  readonly state: SharedArrayBuffer;
  /** The store's directory, which the Worker opens read-only. */
  readonly dir: string;
  /** The owner's open options the Worker's read-only open needs. */
  readonly options: Required<
    Pick<OpenOptions, "maxKeySize" | "maxValueSize" | "maxIndexBytes" | "strict">
  >;
}

/** What a Worker's read-only open takes from the owner's options. */
export type ReaderOptions = SharedCask["options"];

/** Index of the "store closed" flag in `SharedCask.state`'s Int32s. */
export const CLOSED_FLAG = 0;
/**
 * Index of the owner's sequence number's low 32 bits in `SharedCask.state`'s
 * Int32s (a BigInt64 would cost a Worker an allocation per read). Compared as
 * a wrapping difference, which holds while a Worker is less than 2^31 commits
 * behind.
 */
export const SEQ_LOW = 1;
/** Int32s in `SharedCask.state`. */
export const STATE_INTS = 2;

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
 * call: the Worker's reads wait until its follower has applied it. Under sync
 * "never" or an interval the commits up to it may still be in the owner's
 * write buffer; the reply to "refresh" comes once they are in the files.
 */
export type Message =
  | { kind: "reply"; id: number; seq: number; value?: unknown; error?: WireError }
  | {
    kind: "watch";
    wid: number;
    change?: Change;
    /** The change reports an expiry noticed (see resumePoint in change_queue.ts). */
    expired?: true;
    end?: true;
    error?: WireError;
  }
  | { kind: "closed" };
