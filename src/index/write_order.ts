/**
 * Call order for writes that overlap a streamed value. A setStream takes its
 * place in the log only when its stream ends, so a write of the same key issued
 * after it would otherwise reach the log first and be overtaken. While a stream
 * is in flight, a later write whose keys or range overlap it waits until it has
 * settled, and writes issued after a waiting one that overlap it wait behind it
 * in turn. Writes that overlap nothing held go at once.
 * @module
 */

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

interface Held extends Claim {
  settled: Promise<unknown>;
}

/** The streams in flight and the writes waiting behind them; see the module doc. */
export class WriteOrder {
  // In call order (a Set iterates in insertion order).
  readonly #held = new Set<Held>();

  /** Whether nothing is held: every write may go at once, with no claim to build. */
  get idle(): boolean {
    return this.#held.size === 0;
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
    const turn = before.then(() => {
      result = write();
    });
    this.#hold(claim, turn);
    return turn.then(() => result);
  }

  /**
   * Holds `claim` until the promise `start` returns settles (a stream's whole
   * life). `start` gets what the write must wait for before it commits: the
   * held writes it overlaps, or undefined.
   */
  hold<T>(claim: Claim, start: (before: Promise<void> | undefined) => Promise<T>): Promise<T> {
    const done = start(this.#overlapping(claim));
    this.#hold(claim, done);
    return done;
  }

  #hold(claim: Claim, settled: Promise<unknown>): void {
    const held = { ...claim, settled };
    this.#held.add(held);
    const release = () => this.#held.delete(held);
    settled.then(release, release);
  }

  // Resolves once every held write that `claim` overlaps has settled (failed
  // ones included); undefined when it overlaps none.
  #overlapping(claim: Claim): Promise<void> | undefined {
    let waits: Promise<unknown>[] | undefined;
    for (const h of this.#held) {
      if (overlaps(h, claim)) (waits ??= []).push(h.settled);
    }
    return waits && Promise.allSettled(waits).then(() => {});
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
  return ranges?.some((r) => k >= r.start && (r.end === undefined || k < r.end)) ?? false;
}
