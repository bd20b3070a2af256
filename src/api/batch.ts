/**
 * The batch builder returned by `batch()`.
 * @module
 */

import type { Bytes } from "../base/keys.ts";
import type { AtomicResult, BatchOp, SetOptions } from "../base/types.ts";
import { checkSetOptions } from "./validate.ts";

/**
 * Operations collected for one atomic commit. Get one from `batch()`.
 *
 * @example
 * ```ts
 * import { open } from "@cask/cask";
 * await using db = await open("./data");
 * const b = db.batch();
 * b.set("a", "1");
 * b.delete("b");
 * await b.commit();
 * ```
 */
export class Batch {
  readonly #ops: BatchOp[] = [];
  readonly #apply: (ops: readonly BatchOp[]) => Promise<AtomicResult>;
  // The first invalid set options, which reject the commit as atomic() would.
  #invalid?: unknown;

  /** @ignore Use `batch()` of a store. */
  constructor(apply: (ops: readonly BatchOp[]) => Promise<AtomicResult>) {
    this.#apply = apply;
  }

  /** Adds a set; returns the batch for chaining. Invalid options reject the commit. */
  set(key: Bytes, value: Bytes, options?: SetOptions): this {
    try {
      checkSetOptions(options);
    } catch (e) {
      this.#invalid ??= e;
    }
    // The options go first: fields of theirs must not replace the key or value.
    this.#ops.push({ ...options, type: "set", key, value });
    return this;
  }

  /** Adds a delete; returns the batch for chaining. */
  delete(key: Bytes): this {
    this.#ops.push({ type: "delete", key });
    return this;
  }

  /** Number of operations collected. */
  get length(): number {
    return this.#ops.length;
  }

  /** Applies the operations atomically, like `atomic()`. */
  commit(): Promise<AtomicResult> {
    if (this.#invalid !== undefined) return Promise.reject(this.#invalid);
    return this.#apply(this.#ops);
  }
}
