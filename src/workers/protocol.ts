/**
 * The messages between an owning thread and the Workers attached to it. One
 * MessagePort per attachment carries, in order: replies to requests, the keys
 * each commit changed (so a Worker's read cache drops them), watch changes and
 * the notice that the store closed. MessagePort delivery is FIFO, and the owner
 * posts a commit's keys before any reply it sends after that commit: a Worker
 * that handles a reply has already dropped everything the reply could outdate.
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
  /** Int32 flags the owner sets without a message: [0] = 1 once the store closes. */
  readonly state: SharedArrayBuffer;
}

/** Index of the "store closed" flag in `SharedCask.state`. */
export const CLOSED_FLAG = 0;

/** The calls a Worker can make. */
export type Op =
  | "hello"
  | "getEntry"
  | "getMany"
  | "has"
  | "ttl"
  | "set"
  | "delete"
  | "atomic"
  | "count"
  | "scan"
  | "keys"
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

/** Owner -> Worker. `seq` is the owner's sequence number when it posted the message. */
export type Message =
  | { kind: "reply"; id: number; seq: number; value?: unknown; error?: WireError }
  | { kind: "changed"; seq: number; keys: string[] }
  | { kind: "watch"; wid: number; change?: Change; end?: true; error?: WireError }
  | { kind: "closed" };

/** Entries per page of a forwarded scan. */
export const SCAN_PAGE = 256;
