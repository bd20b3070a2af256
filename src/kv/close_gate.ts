/**
 * Whether a `Kv` was closed, shared by everything that serves its calls. The
 * store's files close only after queue outcomes are written, so without this
 * flag a call made right after `close()` would still reach the store.
 * @module
 */

import { ClosedError } from "../base/errors.ts";
import { Signal } from "../base/signal.ts";

/** Set once by `Kv.close()`; checked at the start of each call. */
export class CloseGate {
  /** Fires when the gate closes (ends watch streams). */
  readonly closed: Signal = new Signal();

  /** Whether `close()` was called. */
  get isClosed(): boolean {
    return this.closed.fired;
  }

  /** Refuses every later call. */
  close(): void {
    this.closed.fire();
  }

  /** Throws ClosedError (the class Cask documents for closed stores) once closed. */
  check(): void {
    if (this.closed.fired) throw new ClosedError();
  }
}
