/**
 * A Worker's end of a `watch()`: the owner runs the watch and posts each change;
 * this iterator hands them to the consumer, under the same bounds as the
 * owner's watches (a consumer too far behind is ended with WatchOverflowError).
 * Unlike the owner's Watch it can also be ended by an error the owner reports
 * (bad options, the owner's own watch failing).
 * @module
 */

import type { Change } from "../base/types.ts";
import { ChangeQueue } from "../api/change_queue.ts";
import { WatchOverflowError } from "../base/errors.ts";

/** The consumer's side of a watch the owner runs. */
export class RemoteWatch implements AsyncIterableIterator<Change> {
  readonly #queue: ChangeQueue;
  readonly #stop: () => void;

  /** `from`: the sequence number the consumer has every change up to; `stop` asks the owner to end the watch. */
  constructor(from: number, stop: () => void) {
    this.#queue = new ChangeQueue(from, false);
    this.#stop = stop;
  }

  /** A change the owner posted. */
  push(c: Change): void {
    if (!this.#queue.push(c)) this.#stop();
  }

  /**
   * Ends the feed with `e` at once: buffered changes are dropped. An overflow
   * of the owner's feed counts what it posted here; the consumer resumes from
   * what it read, so the error it gets names that.
   */
  fail(e: Error): void {
    const q = this.#queue;
    q.fail(e instanceof WatchOverflowError ? new WatchOverflowError(q.resumePoint) : e);
  }

  /** Ends the feed; buffered changes are still delivered. */
  end(): void {
    this.#queue.end();
  }

  /** The next change, waiting for one when none is buffered. */
  next(): Promise<IteratorResult<Change>> {
    return this.#queue.next();
  }

  /** Stops watching. */
  return(): Promise<IteratorResult<Change>> {
    if (!this.#queue.ended) this.#stop();
    this.#queue.clear();
    this.#queue.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<Change> {
    return this;
  }
}
