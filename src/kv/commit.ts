/**
 * Turns a built atomic operation into one engine commit. Plain sets and
 * deletes go straight to the engine with the user's checks. sum/min/max read
 * their keys first, so their commit also checks that those keys are still
 * as read, and retries while only their own read checks fail. Commits reach
 * the engine in call order, as Deno KV applies them: one called after such a
 * read-modify-write waits until it is done (so read-modify-writes do not keep
 * failing each other either), and one called after a waiting commit waits
 * until that one is issued.
 * @module
 */

import { bytesId } from "./bytes.ts";
import type { CloseGate } from "./close_gate.ts";
import type { EngineCheck, EngineEntry, EngineOp, KvEngine } from "./engine.ts";
import type { KvCommitError, KvCommitResult } from "./entry.ts";
import { BIG_UINT, checkKeyShape, encodeKey, encodeWriteKey, type KvKey } from "./key_codec.ts";
import { checkQueueRecord, checkValue, checkWriteKey, type KvLimits } from "./limits.ts";
import {
  expiryAt,
  type KvAtomicCheck,
  type PendingEnqueue,
  type PendingMutation,
} from "./mutation.ts";
import { isSerdeArray, serdeError } from "./serde.ts";
import { DEFAULT_BACKOFF, queueWrite } from "./queue_record.ts";
import { applyU64 } from "./u64.ts";
import { plainSum } from "./plain_sum.ts";
import { decodeValue, encodeU64, storedU64 } from "./value_codec.ts";
import { sequenceOf, versionstampOf } from "./versionstamp.ts";

/** Everything one `commit()` applies. */
export interface CommitPlan {
  checks: KvAtomicCheck[];
  mutations: PendingMutation[];
  enqueues: PendingEnqueue[];
}

/** Whether a check names a sequence the store can test (undefined: a stamp Cask never issued). */
function holdable(c: { key: Uint8Array; sequence: number | null | undefined }): c is EngineCheck {
  return c.sequence !== undefined;
}

/** A mutation with its encoded key and, for a set with `expireIn`, its expiry. */
interface Keyed {
  m: PendingMutation;
  key: Uint8Array;
  expireAt: number | undefined;
}

/** Commits plans against one engine. */
export class Committer {
  readonly #engine: KvEngine;
  readonly #gate: CloseGate;
  readonly #limits: KvLimits;
  readonly #clock: () => number;
  readonly #onEnqueue: () => void;
  // Resolves once the commit called last has reached the engine in its final
  // form (a read-modify-write: once it is done, as it may read and retry).
  #issued: Promise<void> = Promise.resolve();
  // Commits called but not yet issued: while any is, later ones queue too.
  #queued = 0;

  /**
   * `onEnqueue` runs after each commit that queued messages; `gate` refuses
   * commits after close; `limits` are the store's, checked before it sees a write;
   * `clock` is the store's, which dates expiries and queue delays.
   */
  constructor(
    engine: KvEngine,
    gate: CloseGate,
    limits: KvLimits,
    clock: () => number,
    onEnqueue: () => void,
  ) {
    this.#engine = engine;
    this.#gate = gate;
    this.#limits = limits;
    this.#clock = clock;
    this.#onEnqueue = onEnqueue;
  }

  /**
   * Resolves once every commit called so far has reached the store; undefined
   * when each has already (only a read-modify-write in flight holds later
   * ones back). A read that waits for it sees the writes called before it,
   * as in Deno KV, where they would otherwise wait behind the read-modify-write.
   */
  issued(): Promise<void> | undefined {
    return this.#queued > 0 ? this.#issued : undefined;
  }

  /** Applies `plan` atomically; `{ ok: false }` when a check fails. */
  async commit(plan: CommitPlan): Promise<KvCommitResult | KvCommitError> {
    readArguments(plan);
    // After the arguments, as Deno KV finds a closed store only once it has read them.
    this.#gate.check();
    const limits = this.#limits;
    const writeKey = (part: "check" | "mutation" | "enqueue", key: KvKey): Uint8Array => {
      const bytes = encodeFor(
        part,
        () => part === "enqueue" ? encodeKey(key) : encodeWriteKey(key),
      );
      checkWriteKey(limits, bytes);
      return bytes;
    };
    // Then, as Deno KV goes on: a malformed stamp, a too-large expireIn, the
    // keys' encoding and sizes.
    const sequences = plan.checks.map((c) =>
      c.versionstamp === null ? null : sequenceOf(c.versionstamp)
    );
    // One reading of the store's clock dates every expiry and delay of the commit.
    const now = this.#clock();
    const expiries = plan.mutations.map((m) =>
      m.type === "set" && m.expireIn !== undefined ? expiryAt(m.expireIn, now) : undefined
    );
    const checks = plan.checks.map((c, i) => ({
      key: writeKey("check", c.key),
      sequence: sequences[i],
    }));
    const keyed = plan.mutations.map((m, i) => {
      if (m.type !== "delete") checkValue(limits, m.value);
      return { m, key: writeKey("mutation", m.key), expireAt: expiries[i] };
    });
    const enqueueOps = plan.enqueues.map((e) => {
      const op = queueWrite({
        payload: e.payload,
        // Deno KV accepts the empty key here; no write can store it, so it is left out.
        // The others are checked now: a dead letter the store refuses would be a message
        // that can never leave the queue.
        keysIfUndelivered: e.keysIfUndelivered.map((k) => writeKey("enqueue", k))
          .filter((k) => k.length > 0),
        backoff: e.backoffSchedule ?? [...DEFAULT_BACKOFF],
        failures: 0,
      }, now + e.delay);
      checkQueueRecord(limits, op.value, e.payload);
      return op;
    });
    // A stamp Cask never issued is no key's, and the store refuses it: fail without asking.
    if (!checks.every(holdable)) return { ok: false };
    const needsRead = keyed.some(({ m }) => m.type !== "set" && m.type !== "delete");
    const direct = () =>
      this.#engine.atomic([...this.#writes(keyed, new Map()), ...enqueueOps], { checks });
    const result = !needsRead && this.#queued === 0 ? await direct() : await this.#inTurn(
      needsRead ? () => this.#commitReading(keyed, checks, enqueueOps) : direct,
      needsRead,
    );
    if (!result.ok) return { ok: false };
    if (enqueueOps.length > 0) this.#onEnqueue();
    return { ok: true, versionstamp: versionstampOf(result.sequence) };
  }

  // Runs `issue` once every commit called before it has been issued; the
  // commits called after it wait for its issue, or with `whole` (a
  // read-modify-write), for all of it.
  async #inTurn<T>(issue: () => Promise<T>, whole: boolean): Promise<T> {
    const before = this.#issued;
    const turn = Promise.withResolvers<void>();
    this.#issued = turn.promise;
    this.#queued++;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.#queued--;
      turn.resolve();
    };
    try {
      await before;
      const result = issue();
      if (!whole) release();
      return await result;
    } finally {
      release();
    }
  }

  async #commitReading(
    keyed: Keyed[],
    checks: EngineCheck[],
    enqueueOps: EngineOp[],
  ): Promise<{ ok: true; sequence: number } | { ok: false }> {
    const readKeys = new Map<string, Uint8Array>();
    for (const { m, key } of keyed) {
      if (m.type !== "set" && m.type !== "delete") readKeys.set(bytesId(key), key);
    }
    for (;;) {
      const read = new Map<string, EngineEntry | undefined>();
      for (const [id, key] of readKeys) read.set(id, await this.#engine.getEntry(key));
      const readChecks = [...readKeys].map(([id, key]) => ({
        key,
        sequence: read.get(id)?.sequence ?? null,
      }));
      const current = new Map([...read].map(([id, e]) => [id, e?.value]));
      let ops: EngineOp[];
      try {
        ops = [...this.#writes(keyed, current), ...enqueueOps];
      } catch (e) {
        // Deno KV evaluates checks first: a failed check wins over a mutation error.
        if (!(await this.#holds(checks))) return { ok: false };
        throw e;
      }
      const result = await this.#engine.atomic(ops, { checks: [...checks, ...readChecks] });
      if (result.ok || !(await this.#holds(checks))) return result;
      // Only a key we read changed since: read again.
    }
  }

  async #holds(checks: EngineCheck[]): Promise<boolean> {
    for (const c of checks) {
      const e = await this.#engine.getEntry(c.key);
      if ((e?.sequence ?? null) !== c.sequence) return false;
    }
    return true;
  }

  /**
   * The engine ops of the mutations, in order (the engine applies a commit's ops in order,
   * so a key written twice ends with its last write). `current` holds the values of the
   * keys sum/min/max read; it follows the writes to them, so later ones see earlier ones.
   */
  #writes(
    keyed: Keyed[],
    current: Map<string, Uint8Array | undefined>,
  ): EngineOp[] {
    return keyed.map(({ m, key, expireAt }): EngineOp => {
      const id = current.size > 0 ? bytesId(key) : "";
      if (m.type === "delete") {
        if (current.has(id)) current.set(id, undefined);
        return { type: "delete", key };
      }
      let value = m.value;
      if (m.type !== "set") {
        const operand = storedU64(m.value);
        const stored = current.get(id);
        if (operand === undefined && m.type === "sum") {
          const plain = decodeValue(m.value);
          if (typeof plain !== "number" && typeof plain !== "bigint") {
            // Deno KV's words for such an operand.
            throw new TypeError("Some of the parameters are not valid V8 values");
          }
          value = plainSum(stored, plain);
          if (current.has(id)) current.set(id, value);
          return { type: "set", key, value };
        }
        if (operand === undefined) {
          throw new TypeError(`Failed to perform '${m.type}' mutation on a non-U64 operand`);
        }
        let next = operand;
        if (stored !== undefined) {
          const n = storedU64(stored);
          if (n === undefined) {
            throw new TypeError(
              `Failed to perform '${m.type}' mutation on a non-U64 value in the database`,
            );
          }
          next = applyU64(m.type, n, operand);
        }
        value = encodeU64(next);
      }
      if (current.has(id)) current.set(id, value);
      return { type: "set", key, value, expireAt };
    });
  }
}

/**
 * Throws the first error Deno KV raises before its commit runs: of its
 * JavaScript side (a missing mutation key), then of reading the arguments in
 * order (each check's key, then its stamp's type; each mutation's key, then
 * its value's bytes; each enqueue's delay, dead-letter keys and backoff
 * schedule).
 */
function readArguments(plan: CommitPlan): void {
  for (const m of plan.mutations) {
    // Deno KV's words: it reads the key's length (for a versionstamp suffix) first.
    if (m.key === null || m.key === undefined) {
      throw new TypeError(`Cannot read properties of ${m.key} (reading 'length')`);
    }
  }
  for (const c of plan.checks) {
    checkKeyShape(c.key);
    const stamp: unknown = c.versionstamp;
    if (stamp !== null && typeof stamp !== "string") throw serdeError("string", stamp);
  }
  for (const m of plan.mutations) {
    checkKeyShape(m.key);
    if (m.type !== "delete" && m.refused) throw m.refused;
  }
  for (const e of plan.enqueues) {
    if (e.delayRefused) throw e.delayRefused;
    if (!isSerdeArray(e.keysIfUndelivered)) throw serdeError("array", e.keysIfUndelivered);
    for (const k of e.keysIfUndelivered) checkKeyShape(k);
    if (e.backoffRefused) throw e.backoffRefused;
  }
}

// A key a commit cannot encode: Deno KV names the part of the commit it was in
// when a bigint part is too long.
function encodeFor(part: "check" | "mutation" | "enqueue", encode: () => Uint8Array): Uint8Array {
  try {
    return encode();
  } catch (e) {
    if (!(e instanceof TypeError && e.message === BIG_UINT)) throw e;
    const message = part === "mutation" ? `Invalid mutation: ${BIG_UINT}` : `Invalid ${part}`;
    throw Object.assign(new TypeError(message), { code: "EINVAL" });
  }
}
