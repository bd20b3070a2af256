/**
 * Server-side resume points of SCAN iterations. SCAN cursors must be numbers
 * (redis-cli parses them as such), so each one names the key to resume at.
 * @module
 */

// Cursors a client abandoned mid-scan are forgotten oldest first past this many.
const MAX_CURSORS = 10_000;

/** Resume points of SCAN iterations in progress, shared by all clients. */
export class ScanCursors {
  readonly #resumeAt = new Map<number, Uint8Array>();
  #nextId = 1;

  /** Stores the key a later SCAN resumes at and returns its cursor number. */
  save(key: Uint8Array): number {
    const id = this.#nextId++;
    this.#resumeAt.set(id, key);
    if (this.#resumeAt.size > MAX_CURSORS) {
      this.#resumeAt.delete(this.#resumeAt.keys().next().value!);
    }
    return id;
  }

  /** Takes (and forgets) the resume key of cursor `id`; `undefined` when unknown. */
  take(id: number): Uint8Array | undefined {
    const key = this.#resumeAt.get(id);
    this.#resumeAt.delete(id);
    return key;
  }
}
