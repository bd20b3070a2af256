/**
 * Change feeds: `watch()` subscribes to the commits the catalog applies and
 * hands the changes that match its keys, prefix or range to one consumer, in
 * commit order. Undelivered changes are buffered up to a bound; a consumer that
 * falls further behind is ended with a WatchOverflowError naming the sequence
 * number to resume after, so a slow reader never makes the writer wait or the
 * process grow without limit.
 * @module
 */

import { WatchOverflowError } from "../base/errors.ts";
import { keyToBytes } from "../base/keys.ts";
import type { Change } from "../base/types.ts";
import type { KeyChange } from "../index/catalog.ts";

/** Changes a watcher may hold undelivered. */
export const WATCH_MAX_CHANGES = 10_000;
/** Value bytes a watcher may hold undelivered. */
export const WATCH_MAX_BYTES = 64 * 1024 * 1024;

/** An async iterator of the changes to the keys `match` accepts. */
export class Watch implements AsyncIterableIterator<Change> {
  #queue: Change[] = [];
  #bytes = 0;
  #delivered: number;
  #waiter?: { resolve: (r: IteratorResult<Change>) => void; reject: (e: unknown) => void };
  #error?: Error;
  #done = false;
  #unsubscribe: () => void;

  /** `subscribe` registers the listener and returns how to unregister it; `from` is the sequence number now. */
  constructor(
    subscribe: (listener: (changes: KeyChange[]) => void) => () => void,
    readonly match: (k: string) => boolean,
    from: number,
    readonly onEnd: (w: Watch) => void,
  ) {
    this.#delivered = from;
    this.#unsubscribe = subscribe((changes) => this.#push(changes));
  }

  #push(changes: KeyChange[]): void {
    if (this.#done || this.#error) return;
    for (const c of changes) {
      if (!this.match(c.k)) continue;
      // A copy: the caller's buffer may change after its write resolved.
      const change = { key: keyToBytes(c.k), value: c.value?.slice(), sequence: c.seq };
      if (this.#waiter) {
        const w = this.#waiter;
        this.#waiter = undefined;
        this.#delivered = c.seq;
        w.resolve({ value: change, done: false });
        continue;
      }
      this.#queue.push(change);
      this.#bytes += change.value?.length ?? 0;
      if (this.#queue.length > WATCH_MAX_CHANGES || this.#bytes > WATCH_MAX_BYTES) {
        this.#fail(new WatchOverflowError(this.#delivered));
        return;
      }
    }
  }

  #fail(e: Error): void {
    this.#error = e;
    this.#queue = [];
    this.#bytes = 0;
    this.#unsubscribe();
    this.onEnd(this);
  }

  /** Ends the feed (the store closed): pending changes are still delivered. */
  end(): void {
    this.#done = true;
    this.#unsubscribe();
    this.onEnd(this);
    this.#waiter?.resolve({ value: undefined, done: true });
    this.#waiter = undefined;
  }

  /** The next change, waiting for one when none is buffered. */
  next(): Promise<IteratorResult<Change>> {
    const c = this.#queue.shift();
    if (c) {
      this.#bytes -= c.value?.length ?? 0;
      this.#delivered = c.sequence;
      return Promise.resolve({ value: c, done: false });
    }
    if (this.#error) return Promise.reject(this.#error);
    if (this.#done) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => this.#waiter = { resolve, reject });
  }

  /** Stops watching. */
  return(): Promise<IteratorResult<Change>> {
    this.#queue = [];
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<Change> {
    return this;
  }
}
