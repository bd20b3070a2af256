/**
 * Time slices for long work that shares the thread with a store's calls: the
 * work checks in often, and once it has run for its budget it yields to the
 * event loop, so a get or set that arrives meanwhile waits at most about one
 * slice. A compaction runs this way: its longest synchronous stretches, not
 * its total time, are what its neighbours' tail latencies see.
 * @module
 */

import { setImmediate } from "node:timers";

// The budget of one slice. A call that arrives while a slice runs waits for
// it, so the slice bounds what compaction adds to its neighbours' tail
// latency. In workload A paced at 5,000 ops/s during a compaction of 1M
// records of 1 KiB, 0.1 ms slices gave p99 about 300 us and p99.9 about
// 520 us, against 515 and 720 us with 0.5 ms slices (the rest of the tail is
// single steps longer than a slice: block reads, 1 MiB writes); compaction
// took as long (7.1-7.3 s against 7.4 s, and compact_bench 9.4-9.8x against
// 9.3-9.6x slower than a sequential write for 100-byte values): a yield
// costs little.
const SLICE_MS = 0.1;
// The longest slice a nudge starts, however long the work waited.
const NUDGED_MAX_MS = 5;

/** Yields to the event loop whenever the work has run a slice since the last yield. */
export class TimeSlicer {
  #start = performance.now();
  // The pending yield's resolve, and when that yield began.
  #wake?: () => void;
  #waitingSince = 0;
  // The budget of the current slice, and the share of its wait a nudged
  // slice gets (0: not nudged).
  #budget: number;
  #share = 0;
  // After a yield the next slice starts at the first check, once the work runs
  // again: a yield's continuation can wait behind its caller's microtasks (a
  // nudged one behind the writes that nudged it), and a slice started before
  // that was used up before the work ran.
  #resumed = false;

  /** `sliceMs`: the budget of a slice. */
  constructor(readonly sliceMs: number = SLICE_MS) {
    this.#budget = sliceMs;
  }

  /**
   * Whether the current slice is used up. Hot loops test it and await
   * {@link TimeSlicer.yield} only then: an await per step costs a microtask
   * hop even when nothing yields.
   */
  get due(): boolean {
    if (this.#resumed) {
      this.#resumed = false;
      this.#start = performance.now();
      const owed = this.#share * (this.#start - this.#waitingSince);
      this.#budget = Math.min(NUDGED_MAX_MS, Math.max(this.sliceMs, owed));
      return false;
    }
    return performance.now() - this.#start >= this.#budget;
  }

  /**
   * Yields to the event loop; the next slice starts at the next check of
   * {@link TimeSlicer.due}, when the work runs again. An immediate runs after
   * the loop's due timers and finished I/O, at about 1 us a yield. A
   * MessageChannel message, used before, cost 2-3 us but let Deno run timers and
   * I/O callbacks only after about 130 yields: a compaction of 1M keys held a
   * 1 ms interval for up to 42 ms and a file read loop for up to 72 ms.
   */
  async yield(): Promise<void> {
    this.#share = 0;
    await new Promise<void>((resolve) => {
      this.#wake = resolve;
      this.#waitingSince = performance.now();
      setImmediate(resolve);
    });
    this.#wake = undefined;
    this.#resumed = true;
  }

  /**
   * Ends a yield that has waited `afterMs` or more for the event loop; the
   * slice it starts lasts `share` of the time the work waited (at least a
   * slice, at most 5 ms). For work that must also advance beside a caller that
   * never lets the event loop run (a loop awaiting only promises settled in
   * microtasks, as writes under sync "never" are): that caller's own steps
   * call this, and the work gets about that share of the thread. A caller
   * that awaits each call resumes the work soon after the nudge, so the slice
   * stays short; one that issues many calls before it awaits them resumes it
   * only after them, so the slice grows with the wait.
   */
  nudge(afterMs: number, share = 0): void {
    if (this.#wake && performance.now() - this.#waitingSince >= afterMs) {
      this.#share = share;
      this.#wake();
    }
  }

  /** Yields if the current slice is used up; call it between steps of the work. */
  async pause(): Promise<void> {
    if (this.due) await this.yield();
  }
}
