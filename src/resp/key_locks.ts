/**
 * Per-key mutual exclusion for the server's writes. Redis runs each command
 * atomically; here a command awaits the store between its steps, so
 * read-modify-write commands (SET NX/XX, DEL and its count) would otherwise
 * interleave with another write to the same key.
 * @module
 */

import { byteString } from "./words.ts";

/** Runs write commands so that two never touch the same key at once. */
export class KeyLocks {
  // Per key, the release of the last command that queued for it.
  readonly #tails = new Map<string, Promise<void>>();

  /**
   * Runs `fn` holding every key of `keys`. A command queues on all its keys
   * the moment it is called, so each key is granted in call order (a
   * pipeline's writes to one key apply in the order sent), and since every
   * command waits only for commands queued before it, none can deadlock.
   * With no key taken, `fn` starts synchronously, before `run` returns.
   */
  async run<T>(keys: readonly Uint8Array[], fn: () => Promise<T>): Promise<T> {
    const ids = new Set(keys.map(byteString));
    const { promise, resolve } = Promise.withResolvers<void>();
    const earlier: Promise<void>[] = [];
    for (const id of ids) {
      const tail = this.#tails.get(id);
      if (tail !== undefined) earlier.push(tail);
      this.#tails.set(id, promise);
    }
    try {
      if (earlier.length > 0) await Promise.all(earlier);
      return await fn();
    } finally {
      for (const id of ids) if (this.#tails.get(id) === promise) this.#tails.delete(id);
      resolve();
    }
  }
}
