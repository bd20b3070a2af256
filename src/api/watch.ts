/**
 * Change feeds: `watch()` subscribes to the commits the catalog applies and
 * hands the changes that match its keys, prefix or range to one consumer, in
 * commit order. Undelivered changes are buffered up to a bound; a consumer that
 * falls further behind is ended with a WatchOverflowError naming the sequence
 * number to resume after, so a slow reader never makes the writer wait or the
 * process grow without limit.
 * @module
 */

import { keyToBytes } from "../base/keys.ts";
import type { Change } from "../base/types.ts";
import type { KeyChange } from "../index/catalog.ts";
import { ChangeQueue, expiries } from "./change_queue.ts";

/**
 * A change replayed from the log: a key's change, or a range delete from `k`
 * to `rangeEnd`; `commitEnd` when it is the last change of its commit.
 */
export type LoggedKeyChange = KeyChange & {
  rangeEnd?: string;
  isRange?: boolean;
  commitEnd: boolean;
};

/** Which changes a watch delivers. */
export interface WatchFilter {
  /** Whether changes of key `k` are delivered. */
  match(k: string): boolean;
  /** Whether a range delete of [start, end) can touch a watched key. */
  overlaps(start: string, end: string | undefined): boolean;
}

/** An async iterator of the changes to the keys `match` accepts. */
export class Watch implements AsyncIterableIterator<Change> {
  readonly #queue: ChangeQueue;
  #unsubscribe: () => void;
  #history?: AsyncIterator<LoggedKeyChange>;
  // The last next() call's answer, and how many calls are still to be
  // answered in that chain: a replay answers one call at a time, or a call made
  // during another's walk past unwanted changes would overtake it; calls made
  // after the replay ended go on through the chain until it has drained.
  #turn: Promise<unknown> = Promise.resolve();
  #chained = 0;

  /**
   * `subscribe` registers the listener and returns how to unregister it; `from`
   * is the sequence number now. `history`, when resuming from `since`, yields
   * the changes after `since` up to `from` from the log; they come first.
   */
  constructor(
    subscribe: (listener: (changes: KeyChange[]) => void) => () => void,
    readonly filter: WatchFilter,
    from: number,
    readonly onEnd: (w: Watch) => void,
    history?: (upTo: number) => AsyncIterator<LoggedKeyChange>,
    since?: number,
  ) {
    // An overflow before the replay delivered anything resumes from `since`.
    this.#queue = new ChangeQueue(since ?? from);
    this.#unsubscribe = subscribe((changes) => this.#push(changes));
    this.#history = history?.(from);
  }

  #push(changes: KeyChange[]): void {
    if (this.#queue.ended) return;
    for (const c of changes) {
      if (!this.filter.match(c.k)) continue;
      // A copy: the caller's buffer may change after its write resolved.
      const change = { key: keyToBytes(c.k), value: c.value?.slice(), sequence: c.seq };
      if (c.expired) expiries.add(change);
      if (!this.#queue.push(change)) return this.#stop();
    }
  }

  #stop(): void {
    this.#unsubscribe();
    this.onEnd(this);
  }

  /** Ends the feed (the store closed): pending changes are still delivered. */
  end(): void {
    this.#queue.end();
    this.#stop();
  }

  /** The next change, waiting for one when none is buffered. */
  next(): Promise<IteratorResult<Change>> {
    if (!this.#history && this.#chained === 0) return this.#queue.next();
    const answer = this.#turn.then(() => this.#history ? this.#fromHistory() : this.#queue.next());
    this.#chained++;
    const answered = () => void this.#chained--;
    this.#turn = answer.then(answered, answered);
    return answer;
  }

  // Delivers the next replayed change that the filter takes; once history is
  // exhausted, carries on with the live queue.
  async #fromHistory(): Promise<IteratorResult<Change>> {
    if (this.#queue.ended) {
      // Ended (the store closed) before the replay reached the live changes:
      // handing those out would skip the rest of the replay. The consumer
      // resumes after what it got.
      this.#history!.return?.();
      this.#history = undefined;
      this.#queue.clear();
      return this.#queue.next();
    }
    try {
      for (;;) {
        const r = await this.#history!.next();
        if (r.done) break;
        const c = r.value;
        const wanted = c.isRange ? this.filter.overlaps(c.k, c.rangeEnd) : this.filter.match(c.k);
        // The consumer has a commit in full once its last change is handed out or passed over.
        if (c.commitEnd) this.#queue.delivered(c.seq);
        if (!wanted) continue;
        const change: Change = { key: keyToBytes(c.k), value: c.value, sequence: c.seq };
        if (c.isRange) {
          change.range = { end: c.rangeEnd === undefined ? undefined : keyToBytes(c.rangeEnd) };
        }
        return { value: change, done: false };
      }
    } catch (e) {
      this.#queue.fail(e as Error);
      this.#stop();
    }
    this.#history = undefined;
    return this.#queue.next();
  }

  /** Stops watching. */
  return(): Promise<IteratorResult<Change>> {
    this.#queue.clear();
    this.#history?.return?.();
    this.#history = undefined;
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<Change> {
    return this;
  }
}
