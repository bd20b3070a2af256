/**
 * Messages to one port, posted together once per microtask: a postMessage costs
 * far more than the little it carries (tens of microseconds between threads
 * here), so calls and replies made in the same turn share one. Order is kept:
 * the receiver handles each array in order, and arrays arrive in order.
 * @module
 */

/** See the module doc. */
export class Outbox<T> {
  readonly #port: MessagePort;
  readonly #unsendable: (m: T, e: unknown) => void;
  #queue: T[] = [];

  /** `unsendable` hears of a message the structured clone refused (say, holding a function). */
  constructor(port: MessagePort, unsendable: (m: T, e: unknown) => void) {
    this.#port = port;
    this.#unsendable = unsendable;
  }

  /** Queues `m`; it is posted at the end of the current turn at the latest. */
  push(m: T): void {
    if (this.#queue.length === 0) queueMicrotask(() => this.flush());
    this.#queue.push(m);
  }

  /** Posts what is queued now. */
  flush(): void {
    if (this.#queue.length === 0) return;
    const batch = this.#queue;
    this.#queue = [];
    try {
      this.#port.postMessage(batch);
    } catch {
      // One bad message must not sink the others: send them one by one.
      for (const m of batch) {
        try {
          this.#port.postMessage([m]);
        } catch (e) {
          this.#unsendable(m, e);
        }
      }
    }
  }
}
