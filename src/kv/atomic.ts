/**
 * The builder `Kv.atomic()` returns.
 * @module
 */

import type { CommitPlan, Committer } from "./commit.ts";
import type { KvCommitError, KvCommitResult } from "./entry.ts";
import type { KvKey } from "./key_codec.ts";
import {
  type EnqueueOptions,
  type KvAtomicCheck,
  type KvMutation,
  pendingEnqueue,
  pendingMutation,
  pendingSet,
} from "./mutation.ts";
import { KvU64 } from "./u64.ts";
import { encodeValue } from "./value_codec.ts";

/** Makes an operation that commits through `committer`; for `Kv.atomic()`. */
export let newAtomicOperation: (committer: Committer) => AtomicOperation;

/**
 * Checks and mutations applied all together or not at all. Every mutation of
 * one commit gets the same versionstamp. When a check fails, `commit()`
 * resolves `{ ok: false }` and writes nothing.
 *
 * @example
 * ```ts
 * import { openKv } from "@cask/cask";
 * const kv = await openKv("./kv-data");
 * const from = await kv.get<number>(["acct", "a"]);
 * const to = await kv.get<number>(["acct", "b"]);
 * const r = await kv.atomic()
 *   .check(from, to)
 *   .set(["acct", "a"], (from.value ?? 0) - 10)
 *   .set(["acct", "b"], (to.value ?? 0) + 10)
 *   .sum(["transfers"], 1n)
 *   .commit();
 * console.log(r.ok);
 * await kv.close();
 * ```
 */
export class AtomicOperation {
  readonly #committer: Committer;
  readonly #plan: CommitPlan = { checks: [], mutations: [], enqueues: [] };

  static {
    newAtomicOperation = (committer) => new AtomicOperation(committer);
  }

  /** @ignore Use `Kv.atomic()`. */
  private constructor(committer: Committer) {
    this.#committer = committer;
  }

  /** Requires each key to have the given versionstamp (null: to be absent) at commit. */
  check(...checks: KvAtomicCheck[]): this {
    for (const c of checks) {
      // Deno KV reads a check without a versionstamp as one for an absent key.
      this.#plan.checks.push({ key: c.key, versionstamp: c.versionstamp ?? null });
    }
    return this;
  }

  /** Adds mutations in their object form. */
  mutate(...mutations: KvMutation[]): this {
    for (const m of mutations) this.#plan.mutations.push(pendingMutation(m));
    return this;
  }

  /** Adds `n` to the KvU64 at `key` (absent: stores `n`), wrapping modulo 2^64. */
  sum(key: KvKey, n: bigint): this {
    return this.#u64("sum", key, n);
  }

  /** Stores the smaller of `n` and the KvU64 at `key` (absent: stores `n`). */
  min(key: KvKey, n: bigint): this {
    return this.#u64("min", key, n);
  }

  /** Stores the larger of `n` and the KvU64 at `key` (absent: stores `n`). */
  max(key: KvKey, n: bigint): this {
    return this.#u64("max", key, n);
  }

  /** Stores `value` at `key`, optionally expiring `expireIn` ms after the commit. */
  set(key: KvKey, value: unknown, options?: { expireIn?: number }): this {
    this.#plan.mutations.push(pendingSet(key, value, options?.expireIn));
    return this;
  }

  /** Removes `key`. */
  delete(key: KvKey): this {
    this.#plan.mutations.push({ type: "delete", key });
    return this;
  }

  /** Queues `value` for `listenQueue` handlers, as part of this commit. */
  enqueue(value: unknown, options?: EnqueueOptions): this {
    this.#plan.enqueues.push(pendingEnqueue(value, options));
    return this;
  }

  /** Applies the operation: `{ ok: true, versionstamp }`, or `{ ok: false }` when a check failed. */
  commit(): Promise<KvCommitResult | KvCommitError> {
    return this.#committer.commit(this.#plan);
  }

  /** Throws: an operation is not a promise (catches a forgotten `commit()`). */
  then(): never {
    throw new TypeError(
      // Deno KV's exact words, so code matching on them keeps working.
      "'Deno.AtomicOperation' is not a promise: did you forget to call 'commit()'",
    );
  }

  #u64(type: "sum" | "min" | "max", key: KvKey, n: bigint): this {
    this.#plan.mutations.push({ type, key, value: encodeValue(new KvU64(n)) });
    return this;
  }
}
