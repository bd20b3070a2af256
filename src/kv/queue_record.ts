/**
 * How queued messages are stored: under keys starting with 0xff, a first
 * byte no encoded KvKey has (tags are 0x01..0x27), so `list()` never shows
 * them and no user write can touch them. The key orders messages by the time
 * they become deliverable.
 * @module
 */

import { deserialize, serialize } from "node:v8";
import type { EngineOp } from "./engine.ts";

/** First bytes of every queue key. */
export const QUEUE_PREFIX: Uint8Array = new Uint8Array([0xff, 0x71]);
/** First key past the queue range. */
export const QUEUE_END: Uint8Array = new Uint8Array([0xff, 0x72]);

/** Deno KV's retry delays when `backoffSchedule` is not given. */
export const DEFAULT_BACKOFF: readonly number[] = [100, 1000, 5000, 30000, 60000];

/** A stored message. */
export interface QueueRecord {
  /** The message, in the value encoding. */
  payload: Uint8Array;
  /** Encoded keys that receive the message when delivery gives up. */
  keysIfUndelivered: Uint8Array[];
  /** Delays before each retry, in ms. */
  backoff: number[];
  /** Failed deliveries so far. */
  failures: number;
}

let counter = 0;
const RUN_ID = (Math.random() * 2 ** 32) >>> 0;

/** A queue key deliverable at `readyAt` (ms since the epoch), unique within and across runs. */
function queueKey(readyAt: number): Uint8Array {
  const key = new Uint8Array(QUEUE_PREFIX.length + 16);
  key.set(QUEUE_PREFIX);
  const view = new DataView(key.buffer);
  view.setBigUint64(2, BigInt(Math.max(0, Math.floor(readyAt))));
  // The counter keeps one run's messages of the same millisecond in send order; the run's
  // random id keeps them apart from another run's.
  view.setUint32(10, counter = (counter + 1) >>> 0);
  view.setUint32(14, RUN_ID);
  return key;
}

/** When the message under `key` becomes deliverable. */
export function readyAtOf(key: Uint8Array): number {
  return Number(new DataView(key.buffer, key.byteOffset).getBigUint64(2));
}

/** The write that stores `record`, deliverable at `readyAt`. */
export function queueWrite(
  record: QueueRecord,
  readyAt: number,
): Extract<EngineOp, { type: "set" }> {
  return { type: "set", key: queueKey(readyAt), value: serialize(record) };
}

/** The record stored in `value`. */
export function readQueueRecord(value: Uint8Array): QueueRecord {
  return deserialize(value) as QueueRecord;
}
