/**
 * SCAN cursors. A Redis cursor is a position that any client may send any
 * number of times; Cask's keyspace is ordered, so its position is the key to
 * resume at, which is too long for the unsigned 64-bit number a cursor must
 * be (redis-cli parses it as one). The server remembers which key each
 * cursor names, and a resumed cursor stays known, so a repeated call
 * repeats its page.
 * @module
 */

import { sameBytes } from "./words.ts";

// The resume keys kept take at most about this much memory; past it the
// oldest cursors are forgotten (never the newest: a key may be this long).
const MAX_BYTES = 16 * 1024 * 1024;
// What an entry costs beyond its key's bytes (map slot, array object): an estimate.
const ENTRY_BYTES = 100;
const MAX_CURSOR = BigInt(Number.MAX_SAFE_INTEGER);

/** Resume points of SCAN iterations, shared by all clients. */
export class ScanCursors {
  // Oldest first. Cursors handed out and not yet sent back are forgotten
  // last: those are the iterations in progress; the ones sent back are only
  // kept for a client that repeats a call.
  readonly #pending = new Map<number, Uint8Array>();
  readonly #resumed = new Map<number, Uint8Array>();
  #bytes = 0;

  /**
   * The cursor naming `key` as the point to resume at. It depends on the key
   * alone (unless taken by another key), so the same page gives the same
   * cursor, as in Redis; never 0, which ends an iteration.
   */
  save(key: Uint8Array): number {
    let cursor = cursorOf(key);
    for (;;) {
      const held = this.#held(cursor);
      if (held === undefined || sameBytes(held, key)) break;
      cursor = cursor % Number.MAX_SAFE_INTEGER + 1;
    }
    if (this.#forget(cursor) === undefined) this.#bytes += key.length + ENTRY_BYTES;
    this.#pending.set(cursor, key);
    while (this.#bytes > MAX_BYTES && this.#resumed.size + this.#pending.size > 1) {
      const oldest = this.#resumed.size > 0 ? this.#resumed : this.#pending;
      const id: number = oldest.keys().next().value!;
      this.#bytes -= oldest.get(id)!.length + ENTRY_BYTES;
      oldest.delete(id);
    }
    return cursor;
  }

  /** The key cursor `cursor` resumes at; undefined when it names none (unknown or forgotten). */
  resume(cursor: bigint): Uint8Array | undefined {
    if (cursor > MAX_CURSOR) return undefined;
    const id = Number(cursor);
    const key = this.#forget(id);
    if (key !== undefined) this.#resumed.set(id, key);
    return key;
  }

  #held(id: number): Uint8Array | undefined {
    return this.#pending.get(id) ?? this.#resumed.get(id);
  }

  // Takes `id` out of both lists (to put it back as the newest of one).
  #forget(id: number): Uint8Array | undefined {
    const key = this.#held(id);
    this.#pending.delete(id);
    this.#resumed.delete(id);
    return key;
  }
}

// FNV-1a in two lanes with different primes, 21 + 32 bits: a safe integer.
function cursorOf(key: Uint8Array): number {
  let a = 0x811c9dc5;
  let b = 0x050c5d1f;
  for (let i = 0; i < key.length; i++) {
    a = Math.imul(a ^ key[i], 0x01000193);
    b = Math.imul(b ^ key[i], 0x5bd1e995);
  }
  return (a >>> 11) * 2 ** 32 + (b >>> 0) || 1;
}
