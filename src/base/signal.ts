/**
 * A one-shot event that lives as long as a store (its close) and that many
 * short waits race against: each chunk of a streamed value, each write queued
 * behind a stream, each wait of a watch stream for its next change.
 * `Promise.race([p, longLived])` leaves a reaction on `longLived` per call,
 * holding what `p` gave, until `longLived` settles: a store kept every chunk
 * streamed into it, and every change a watch saw, until it closed. Here a wait
 * registers a listener that is removed as soon as it is over, so the event
 * holds only the waits still pending.
 * @module
 */

/** See the module doc. */
export class Signal {
  #fired = false;
  readonly #listeners = new Set<() => void>();

  /** Whether {@link fire} was called. */
  get fired(): boolean {
    return this.#fired;
  }

  /** Fires the event: every pending {@link race} resolves now. */
  fire(): void {
    if (this.#fired) return;
    this.#fired = true;
    for (const listener of this.#listeners) listener();
    this.#listeners.clear();
  }

  /**
   * Settles as `p` does, or resolves to `ifFired` once the event fires first
   * (at once when it already has).
   */
  race<T, U>(p: Promise<T>, ifFired: U): Promise<T | U> {
    return new Promise<T | U>((resolve, reject) => {
      const listener = () => resolve(ifFired);
      if (this.#fired) listener();
      else this.#listeners.add(listener);
      const forget = () => this.#listeners.delete(listener);
      p.then((v) => {
        forget();
        resolve(v);
      }, (e) => {
        forget();
        reject(e);
      });
    });
  }
}
