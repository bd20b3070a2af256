/**
 * WATCH bookkeeping. Every write of the server passes through it, so a
 * per-key modification counter tells EXEC whether a watched key changed since
 * WATCH. Counters exist only for keys some client watches, so memory follows
 * the watches, not the keyspace.
 * @module
 */

import { byteString } from "./words.ts";

interface Watched {
  version: number;
  watchers: number;
}

/** Modification counters of the watched keys, shared by all clients. */
export class Watches {
  readonly #keys = new Map<string, Watched>();

  /** Starts watching `key` for one client; returns the version to compare at EXEC. */
  watch(id: string): number {
    let w = this.#keys.get(id);
    if (w === undefined) this.#keys.set(id, w = { version: 0, watchers: 0 });
    w.watchers++;
    return w.version;
  }

  /** Ends one client's watch of `id`. */
  unwatch(id: string): void {
    const w = this.#keys.get(id);
    if (w !== undefined && --w.watchers === 0) this.#keys.delete(id);
  }

  /** The current version of watched key `id`. */
  version(id: string): number | undefined {
    return this.#keys.get(id)?.version;
  }

  /** Records a write to each of `keys`. */
  touch(keys: readonly Uint8Array[]): void {
    if (this.#keys.size === 0) return;
    for (const key of keys) {
      const w = this.#keys.get(byteString(key));
      if (w !== undefined) w.version++;
    }
  }
}
