/**
 * A Worker's end of a `watch()`: the owner runs the watch and posts each change;
 * this iterator hands them to the consumer, under the same bounds as the
 * owner's watches (a consumer too far behind is ended with WatchOverflowError).
 * Unlike the owner's Watch it can also be ended by an error the owner reports
 * (bad options, the owner's own watch failing).
 * @module
 */

import { WatchOverflowError } from "../base/errors.ts";
import type { Change } from "../base/types.ts";
import { WATCH_MAX_BYTES, WATCH_MAX_CHANGES } from "../api/watch.ts";

/** The consumer's side of a watch the owner runs. */
export class RemoteWatch implements AsyncIterableIterator<Change> {
  #queue: Change[] = [];
  #bytes = 0;
  #delivered: number;
  #waiter?: { resolve: (r: IteratorResult<Change>) => void; reject: (e: unknown) => void };
  #error?: Error;
  #done = false;
  readonly #stop: () => void;

  /** `from` is the sequence number now; `stop` asks the owner to end the watch. */
  constructor(from: number, stop: () => void) {
    this.#delivered = from;
    this.#stop = stop;
  }

  /** A change the owner posted. */
  push(c: Change): void {
    if (this.#done || this.#error) return;
    if (this.#waiter) {
      this.#delivered = c.sequence;
      this.#take().resolve({ value: c, done: false });
      return;
    }
    this.#queue.push(c);
    this.#bytes += c.value?.length ?? 0;
    if (this.#queue.length > WATCH_MAX_CHANGES || this.#bytes > WATCH_MAX_BYTES) {
      this.fail(new WatchOverflowError(this.#delivered));
      this.#stop();
    }
  }

  /** Ends the feed with `e` at once: buffered changes are dropped. */
  fail(e: Error): void {
    if (this.#done || this.#error) return;
    this.#error = e;
    this.#queue = [];
    this.#bytes = 0;
    this.#waiter && this.#take().reject(e);
  }

  /** Ends the feed; buffered changes are still delivered. */
  end(): void {
    this.#done = true;
    this.#waiter && this.#take().resolve({ value: undefined, done: true });
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
    if (!this.#done && !this.#error) this.#stop();
    this.#queue = [];
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<Change> {
    return this;
  }

  #take() {
    const w = this.#waiter!;
    this.#waiter = undefined;
    return w;
  }
}
