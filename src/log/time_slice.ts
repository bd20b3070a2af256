/**
 * Time slices for long work that shares the thread with a store's calls: the
 * work checks in often, and once it has run for its budget it yields to the
 * event loop, so a get or set that arrives meanwhile waits at most about one
 * slice. A compaction runs this way: its longest synchronous stretches, not
 * its total time, are what its neighbours' tail latencies see.
 * @module
 */

// The budget of one slice. A call that arrives while a slice runs waits for
// it, so the slice is about what compaction adds to its neighbours' p99.9
// (0.2-0.7 ms without compaction in the paced YCSB A rows); each yield costs
// about 50 µs, some 10% of the work at this budget.
const SLICE_MS = 0.5;

/** Yields to the event loop whenever the work has run a slice since the last yield. */
export class TimeSlicer {
  #start = performance.now();
  // A message is a task of its own, so a yield lets timers and I/O callbacks run,
  // without the 1 ms or more a setTimeout(0) waits.
  #channel = new MessageChannel();
  #wake?: () => void;

  /** `sliceMs`: the budget of a slice. */
  constructor(readonly sliceMs: number = SLICE_MS) {
    this.#channel.port1.onmessage = () => this.#wake?.();
  }

  /**
   * Whether the current slice is used up. Hot loops test it and await
   * {@link TimeSlicer.yield} only then: an await per step costs a microtask
   * hop even when nothing yields.
   */
  get due(): boolean {
    return performance.now() - this.#start >= this.sliceMs;
  }

  /** Yields to the event loop and starts the next slice. */
  async yield(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.#wake = resolve;
      this.#channel.port2.postMessage(null);
    });
    this.#start = performance.now();
  }

  /** Yields if the current slice is used up; call it between steps of the work. */
  async pause(): Promise<void> {
    if (this.due) await this.yield();
  }

  /** Releases the channel (it would keep the process alive). */
  close(): void {
    this.#channel.port1.close();
  }
}
