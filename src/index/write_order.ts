/**
 * Call order for writes that overlap a streamed value. A setStream takes its
 * place in the log only when its stream ends, so a write of the same key issued
 * after it would otherwise reach the log first and be overtaken. While a stream
 * is in flight, a later write whose keys or range overlap it waits until it has
 * settled, and writes issued after a waiting one that overlap it wait behind it
 * in turn. Writes that overlap nothing held go at once.
 * @module
 */

import { Signal } from "../base/signal.ts";

/** Keys [start, end) (`end` undefined: no end). */
export interface KeyRange {
  start: string;
  end: string | undefined;
}

/** The keys and ranges one write touches (an atomic batch's checked keys included). */
export interface Claim {
  keys: readonly string[];
  ranges?: readonly KeyRange[];
}

interface Ranged extends Claim {
  settled: Promise<unknown>;
}

const nothing = (): void => {};

/** The streams in flight and the writes waiting behind them; see the module doc. */
export class WriteOrder {
  // Per key, a promise that settles once every held write of it has: a new
  // write of the key waits for that one promise, never for a list that grows
  // with the queue (20,000 writes queued behind a stream ran out of memory).
  readonly #byKey = new Map<string, Promise<unknown>>();
  // Per key, how many held writes of it have not settled yet.
  readonly #unsettled = new Map<string, number>();
  // Held writes with ranges (range deletes), which keys alone cannot find.
  readonly #ranged = new Set<Ranged>();
  // The writes waiting (not the streams), and the gate close() opens for them.
  readonly #waiting = new Set<Promise<unknown>>();
  readonly #closing = new Signal();

  /** Whether nothing is held: every write may go at once, with no claim to build. */
  get idle(): boolean {
    return this.#byKey.size === 0 && this.#ranged.size === 0;
  }

  /**
   * Runs `write` once every held write that `claim` overlaps has settled; at
   * once, synchronously, when it overlaps none. A write that waits is held
   * until it has run (appended: later appends come after it in the log).
   */
  after<T>(claim: Claim, write: () => Promise<T>): Promise<T> {
    const before = this.#overlapping(claim);
    if (before === undefined) return write();
    let result!: Promise<T>;
    const turn = this.#closing.race(before, undefined).then(() => {
      result = write();
    });
    this.#hold(claim, turn);
    this.#waiting.add(turn);
    const forget = () => this.#waiting.delete(turn);
    turn.then(forget, forget);
    return turn.then(() => result);
  }

  /**
   * Holds `claim` until the promise `start` returns settles (a stream's whole
   * life). `start` gets what the write must wait for before it commits: the
   * held writes it overlaps, or undefined.
   */
  hold<T>(claim: Claim, start: (before: Promise<void> | undefined) => Promise<T>): Promise<T> {
    // A close ends the wait too: the stream then fails, it does not commit.
    const before = this.#overlapping(claim);
    const done = start(before && this.#closing.race(before, undefined));
    this.#hold(claim, done);
    return done;
  }

  /** Fires once {@link release} is called (the store closes). */
  get closing(): Signal {
    return this.#closing;
  }

  /**
   * Lets every waiting write go now, in call order, and resolves once each
   * has been issued: a store that closes writes what was called before it,
   * and a stream that never ends must not hold those writes up.
   */
  async release(): Promise<void> {
    this.#closing.fire();
    await Promise.allSettled([...this.#waiting]);
  }

  // A key is let go in the same reaction as its last held write settles,
  // which was the first to wait on that write: before its caller resumes, so a
  // write the caller then makes of the key goes at once, in call order with
  // its writes of other keys.
  #hold(claim: Claim, settled: Promise<unknown>): void {
    for (const k of claim.keys) {
      const earlier = this.#byKey.get(k);
      this.#byKey.set(k, earlier ? Promise.allSettled([earlier, settled]) : settled);
      this.#unsettled.set(k, (this.#unsettled.get(k) ?? 0) + 1);
      const drop = () => {
        const left = this.#unsettled.get(k)! - 1;
        if (left > 0) this.#unsettled.set(k, left);
        else {
          this.#unsettled.delete(k);
          this.#byKey.delete(k);
        }
      };
      settled.then(drop, drop);
    }
    if (claim.ranges?.length) {
      const held = { ...claim, settled };
      this.#ranged.add(held);
      const drop = () => this.#ranged.delete(held);
      settled.then(drop, drop);
    }
  }

  // Resolves once every held write that `claim` overlaps has settled (failed
  // ones included); undefined when it overlaps none.
  #overlapping(claim: Claim): Promise<void> | undefined {
    const waits: Promise<unknown>[] = [];
    for (const k of claim.keys) {
      const p = this.#byKey.get(k);
      if (p) waits.push(p);
    }
    for (const h of this.#ranged) if (overlaps(h, claim)) waits.push(h.settled);
    if (claim.ranges?.length) {
      for (const [k, p] of this.#byKey) if (inRanges(k, claim.ranges)) waits.push(p);
    }
    return waits.length === 0 ? undefined : Promise.allSettled(waits).then(nothing);
  }
}

function overlaps(a: Claim, b: Claim): boolean {
  for (const k of a.keys) if (b.keys.includes(k) || inRanges(k, b.ranges)) return true;
  for (const k of b.keys) if (inRanges(k, a.ranges)) return true;
  for (const r of a.ranges ?? []) {
    for (const s of b.ranges ?? []) {
      if ((s.end === undefined || r.start < s.end) && (r.end === undefined || s.start < r.end)) {
        return true;
      }
    }
  }
  return false;
}

function inRanges(k: string, ranges: readonly KeyRange[] | undefined): boolean {
  return ranges?.some((r) => inRange(k, r)) ?? false;
}

/** Whether `k` lies in [r.start, r.end) (`end` undefined: no end). */
export function inRange(k: string, r: KeyRange): boolean {
  return k >= r.start && (r.end === undefined || k < r.end);
}
