/**
 * The consumer's end of a change feed: changes wait in a bounded queue until
 * `next()` takes them, and a feed whose consumer falls too far behind ends with
 * a WatchOverflowError naming the last sequence number it delivered. Shared by
 * the owner's watches and a Worker's.
 * @module
 */

import { WatchOverflowError } from "../base/errors.ts";
import type { Change } from "../base/types.ts";

/** Changes a watcher may hold undelivered. */
export const WATCH_MAX_CHANGES = 10_000;
/** Value bytes a watcher may hold undelivered. */
export const WATCH_MAX_BYTES = 64 * 1024 * 1024;

type Waiter = { resolve: (r: IteratorResult<Change>) => void; reject: (e: unknown) => void };

/** Changes that report an expiry noticed (see KeyChange.expired), for resumePoint. */
export const expiries: WeakSet<Change> = new WeakSet();

/** A bounded queue of changes with one consumer; see the module doc. */
export class ChangeQueue {
  #queue: Change[] = [];
  #bytes = 0;
  // A change handed to a waiting consumer counts against the bound until the
  // consumer asks for the next one: else a commit of WATCH_MAX_CHANGES + 1
  // changes would fit (one handed over, the rest queued), though no consumer
  // reads any of them before the commit's last is pushed.
  #handed?: Change;
  #delivered: number;
  // Consumers waiting, oldest first: a next() called before an earlier one
  // settled is answered after it, as an async generator answers.
  #waiters: Waiter[] = [];
  // Held while a consumer waits: a feed waiting for a change keeps the process
  // alive, as a pending read of a socket does (a top-level `for await` over it
  // would end the program otherwise). It never fires in practice.
  #alive?: ReturnType<typeof setTimeout>;
  #error?: Error;
  #done = false;

  /**
   * `from`: the sequence number the consumer has every change up to;
   * `keepAlive`: whether a waiting consumer holds the process alive (not for a
   * Worker's feed, whose owner may go without telling it).
   */
  constructor(from: number, readonly keepAlive = true) {
    this.#delivered = from;
  }

  /**
   * Where the consumer resumes with no gap: the last sequence number whose
   * changes it got in full. An atomic batch's changes share one number, and
   * a feed may end after handing out part of one: the rest is then still
   * queued, and the whole batch comes again after the resume.
   */
  get resumePoint(): number {
    // An expiry carries the last commit's number: it is no part of a batch.
    const next = this.#queue.find((c) => !expiries.has(c));
    return next !== undefined && next.sequence === this.#delivered
      ? this.#delivered - 1
      : this.#delivered;
  }

  /** Whether the feed has ended, by `end()` or `fail()`. */
  get ended(): boolean {
    return this.#done || this.#error !== undefined;
  }

  /** Records that the consumer got every change up to `seq` another way (a replay from the log). */
  delivered(seq: number): void {
    this.#delivered = seq;
  }

  /**
   * Hands `c` to a waiting consumer or queues it; false when the queue passed
   * its bound, which ends the feed with a WatchOverflowError.
   */
  push(c: Change): boolean {
    if (this.ended) return true;
    const waiter = this.#take();
    if (waiter) {
      this.#delivered = c.sequence;
      this.#handed = c;
      waiter.resolve({ value: c, done: false });
      return true;
    }
    this.#queue.push(c);
    this.#bytes += c.value?.length ?? 0;
    if (
      this.#queue.length + (this.#handed ? 1 : 0) <= WATCH_MAX_CHANGES &&
      this.#bytes + (this.#handed?.value?.length ?? 0) <= WATCH_MAX_BYTES
    ) return true;
    this.fail(new WatchOverflowError(this.resumePoint));
    return false;
  }

  /** Ends the feed with `e` at once: buffered changes are dropped. */
  fail(e: Error): void {
    if (this.ended) return;
    this.#error = e;
    this.clear();
    for (let w = this.#take(); w; w = this.#take()) w.reject(e);
  }

  /** Ends the feed; buffered changes are still delivered. */
  end(): void {
    this.#done = true;
    for (let w = this.#take(); w; w = this.#take()) w.resolve({ value: undefined, done: true });
  }

  /** Drops the buffered changes. */
  clear(): void {
    this.#queue = [];
    this.#bytes = 0;
  }

  /** The next change, waiting for one when none is buffered. */
  next(): Promise<IteratorResult<Change>> {
    this.#handed = undefined;
    const c = this.#queue.shift();
    if (c) {
      this.#bytes -= c.value?.length ?? 0;
      this.#delivered = c.sequence;
      return Promise.resolve({ value: c, done: false });
    }
    if (this.#error) return Promise.reject(this.#error);
    if (this.#done) return Promise.resolve({ value: undefined, done: true });
    if (this.keepAlive) this.#alive ??= setTimeout(() => this.#alive = undefined, 2 ** 31 - 1);
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  // The oldest waiting consumer, if any; the process is let go once none waits.
  #take(): Waiter | undefined {
    const w = this.#waiters.shift();
    if (this.#waiters.length === 0 && this.#alive !== undefined) {
      clearTimeout(this.#alive);
      this.#alive = undefined;
    }
    return w;
  }
}
