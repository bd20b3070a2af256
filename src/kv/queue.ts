/**
 * Delivery of queued messages to `listenQueue` handlers: at least once.
 * A message stays stored until its handler succeeded (or every retry failed),
 * so messages in flight at a crash or close are delivered again after reopen.
 * @module
 */

import { setImmediate } from "node:timers";
import { bytesId } from "./bytes.ts";
import type { EngineOp, KvEngine } from "./engine.ts";
import {
  QUEUE_END,
  QUEUE_PREFIX,
  type QueueRecord,
  queueWrite,
  readQueueRecord,
  readyAtOf,
} from "./queue_record.ts";
import { decodeValue } from "./value_codec.ts";

/** Messages looked at per scan of the queue range. */
const SCAN_BATCH = 64;
/** How long a message whose outcome could not be written waits, first and at most. */
const UNRECORDED_HOLD_MS = 1000;
const UNRECORDED_HOLD_MAX_MS = 60_000;

/** Wakes sleepers when messages are queued or the store closes. */
export class Wakeup {
  #waiters: (() => void)[] = [];
  // A wake that came while nobody slept: the delivery loop was scanning, and
  // may have passed the message that woke it.
  #missed = false;

  /**
   * Resolves at the next `wake()` or after `ms`, whichever comes first; at
   * once when a wake came since the last sleep ended.
   */
  sleep(ms: number): Promise<void> {
    if (this.#missed) {
      this.#missed = false;
      // Through the event loop even so: a handler that queues a message for
      // each one it gets, under a sync mode whose commits need no I/O, would
      // otherwise run the loop in microtasks alone, and no timer, socket or
      // interval fsync would run again.
      return new Promise((resolve) => setImmediate(resolve));
    }
    return new Promise((resolve) => {
      const timer = setTimeout(done, Math.min(ms, 2 ** 31 - 1));
      const waiters = this.#waiters;
      function done() {
        clearTimeout(timer);
        const i = waiters.indexOf(done);
        if (i >= 0) waiters.splice(i, 1);
        resolve();
      }
      waiters.push(done);
    });
  }

  /** Ends every pending sleep, or the next one when none is pending. */
  wake(): void {
    if (this.#waiters.length === 0) this.#missed = true;
    for (const w of this.#waiters.splice(0)) w();
  }
}

// deno-lint-ignore no-explicit-any -- the handler's argument type is the caller's business, as in Deno KV
type QueueHandler = (value: any) => Promise<void> | void;

/** Runs handlers over the stored messages of one engine. */
export class QueueDispatcher {
  readonly #engine: KvEngine;
  readonly #wakeup: Wakeup;
  readonly #isClosed: () => boolean;
  readonly #clock: () => number;
  /** Ids of messages handed to a handler and not yet finished (or held back). */
  readonly #inFlight = new Set<string>();
  /** Outcome writes that failed in a row, per message id. */
  readonly #unrecorded = new Map<string, number>();
  /** Deliveries whose handler returned and whose outcome is being written. */
  readonly #recording = new Set<Promise<unknown>>();
  /** The handlers, which take turns with the messages, as Deno KV's do. */
  readonly #handlers: QueueHandler[] = [];
  #turn = 0;
  /** The one delivery loop, started by the first handler. */
  #loop?: Promise<void>;

  /**
   * `isClosed` tells the loop to stop; `clock` is the store's, which says when
   * a message is due (a sleep runs on real time, so each wake reads it again).
   */
  constructor(engine: KvEngine, wakeup: Wakeup, isClosed: () => boolean, clock: () => number) {
    this.#engine = engine;
    this.#wakeup = wakeup;
    this.#isClosed = isClosed;
    this.#clock = clock;
  }

  /**
   * Delivers messages to `handler`, in turn with the handlers added before
   * it, until the store closes: each due message as soon as it is due,
   * however many handlers are still running. Resolves at the close, without
   * waiting for them (their messages stay stored until they succeed, so one
   * cut short is delivered again after a reopen).
   */
  listen(handler: QueueHandler): Promise<void> {
    this.#handlers.push(handler);
    return this.#loop ??= this.#run();
  }

  async #run(): Promise<void> {
    while (!this.#isClosed()) {
      let nextReady: number;
      try {
        nextReady = await this.#deliverDue();
      } catch (e) {
        if (this.#isClosed()) break;
        throw e;
      }
      if (this.#isClosed()) break;
      await this.#wakeup.sleep(Math.max(0, nextReady - this.#clock()));
    }
  }

  // Hands every due message not already with a handler to the handlers in
  // turn, a page of the queue at a time (pages of messages in flight are
  // passed over); returns when the first message not yet due is (Infinity:
  // none).
  async #deliverDue(): Promise<number> {
    const now = this.#clock();
    let start = QUEUE_PREFIX;
    for (;;) {
      let seen = 0, last = start;
      for await (
        const e of this.#engine.scanEntries({ start, end: QUEUE_END, limit: SCAN_BATCH })
      ) {
        seen++;
        last = e.key;
        const id = bytesId(e.key);
        if (this.#inFlight.has(id)) continue;
        // Keys order by the time a message is due, so none after this one is due yet.
        const readyAt = readyAtOf(e.key);
        if (readyAt > now) return readyAt;
        this.#inFlight.add(id);
        const handler = this.#handlers[this.#turn++ % this.#handlers.length];
        let again = true;
        void this.#deliver(handler, id, e.key, e.value).then((a) => again = a).finally(() => {
          this.#inFlight.delete(id);
          // Only a message put back can be due sooner than the loop's next
          // look: a look after every finished delivery read every message
          // still in flight again (2,000 at once blocked the event loop 7 s).
          if (again) this.#wakeup.wake();
        });
      }
      if (seen < SCAN_BATCH) return Infinity;
      // The smallest key after `last`.
      start = new Uint8Array(last.length + 1);
      start.set(last);
      // A page at a time, with the event loop let run between pages: a
      // backlog of 10,000 messages handed out in one go held it 0.8 s, and
      // every timer and socket of the process waited.
      await new Promise((resolve) => setImmediate(resolve));
      if (this.#isClosed()) return Infinity;
    }
  }

  // Resolves to whether the message was put back: its retry written, or its
  // outcome not written and the message held back (then due again).
  async #deliver(
    handler: QueueHandler,
    id: string,
    key: Uint8Array,
    value: Uint8Array,
  ): Promise<boolean> {
    const record = readQueueRecord(value);
    let ok = false;
    try {
      await handler(decodeValue(record.payload));
      ok = true;
    } catch (e) {
      // A throwing handler means "not delivered": the message is retried
      // below. Logged in Deno KV's words, as Deno KV logs it.
      console.error("Exception in queue handler", e);
    }
    const recorded = this.#record(ok, key, record);
    this.#recording.add(recorded);
    const error = await recorded;
    this.#recording.delete(recorded);
    if (error === undefined) {
      this.#unrecorded.delete(id);
      return !ok && record.failures < record.backoff.length;
    }
    // After close the store refuses every write; the message waits for a reopen.
    if (this.#isClosed()) return false;
    await this.#holdBack(id, error);
    return true;
  }

  // The outcome was not written, so the message is still stored and due: it
  // is delivered again (at least once), but only after a pause that doubles
  // while the writes keep failing. Handing it back at once would redeliver it
  // in a loop that starves the event loop (a dead letter the store refuses
  // fails every time).
  async #holdBack(id: string, error: unknown): Promise<void> {
    const failures = (this.#unrecorded.get(id) ?? 0) + 1;
    this.#unrecorded.set(id, failures);
    const ms = Math.min(UNRECORDED_HOLD_MS * 2 ** (failures - 1), UNRECORDED_HOLD_MAX_MS);
    console.error(
      `cask: the outcome of a queue delivery could not be written; delivering it again in ${ms} ms:`,
      error,
    );
    await new Promise<void>((resolve) => {
      // Unreferenced: a held message must not keep the process alive after close.
      Deno.unrefTimer(setTimeout(resolve, ms));
    });
  }

  /**
   * Waits for the outcomes of handlers that already returned to be written,
   * so closing right after a handler finished does not deliver it again.
   * Handlers still running are not waited for: their messages stay stored.
   */
  async settle(): Promise<void> {
    // Lets handlers that just returned reach #record first.
    await new Promise((r) => setTimeout(r, 0));
    await Promise.allSettled([...this.#recording]);
  }

  /** Writes a delivery's outcome; resolves with the error when the store refused it. */
  async #record(ok: boolean, key: Uint8Array, record: QueueRecord): Promise<unknown> {
    const ops: EngineOp[] = [{ type: "delete", key }];
    if (!ok && record.failures < record.backoff.length) {
      const delay = record.backoff[record.failures];
      ops.push(queueWrite({ ...record, failures: record.failures + 1 }, this.#clock() + delay));
    } else if (!ok) {
      for (const k of record.keysIfUndelivered) {
        ops.push({ type: "set", key: k, value: record.payload });
      }
    }
    try {
      await this.#engine.atomic(ops);
    } catch (e) {
      return e;
    }
  }
}
