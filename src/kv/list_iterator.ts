/**
 * The iterator `list()` returns: it reads the range in batches, each batch
 * resuming from the cursor of the entry before, as Deno KV's does.
 * @module
 */

import type { CloseGate } from "./close_gate.ts";
import { checkConsistency, type KvConsistencyLevel } from "./consistency.ts";
import type { EngineScanEntry, KvEngine } from "./engine.ts";
import { syncSteps } from "../base/sync_steps.ts";
import { checkReadBound, type KvLimits } from "./limits.ts";
import { entryOf, type KvEntry } from "./entry.ts";
import { serdeError } from "./serde.ts";
import {
  type ByteRange,
  byteRange,
  encodeCursor,
  encodeParts,
  resumeRange,
  type SelectorParts,
} from "./selector.ts";

/** What the iterator needs to read its batches. */
export interface ListPlan {
  engine: KvEngine;
  gate: CloseGate;
  limits: KvLimits;
  parts: SelectorParts;
  consistency?: KvConsistencyLevel;
  limit?: number;
  cursor?: string;
  reverse: boolean;
  batchSize: number;
  /** The commits called so far, while some wait behind a read-modify-write (Committer.issued). */
  issued(): Promise<void> | undefined;
}

/** Makes the iterator of `plan`; for `Kv.list()`. */
export let newListIterator: <T>(plan: ListPlan) => KvListIterator<T>;

/**
 * An async iterator of the entries of a `list()` call. Its `cursor` names the
 * last entry returned; pass it as `cursor` to a new `list()` to resume after it.
 * It is the empty string once the range is exhausted. Once the store is closed,
 * reading another batch rejects with ClosedError.
 *
 * @example
 * ```ts
 * import { openKv } from "@cask/cask";
 * const kv = await openKv("./kv-data");
 * const page = kv.list({ prefix: ["users"] }, { limit: 10 });
 * for await (const entry of page) console.log(entry.key);
 * const next = kv.list({ prefix: ["users"] }, { limit: 10, cursor: page.cursor });
 * await kv.close();
 * ```
 */
export class KvListIterator<T> implements AsyncIterableIterator<KvEntry<T>> {
  #plan: ListPlan;
  // Encoded lazily, so invalid selector keys reject the first next() as in Deno KV.
  #range: ByteRange | undefined;
  #buffer: { entry: KvEntry<T>; key: Uint8Array }[] = [];
  #cursor: string | undefined;
  /** Encoded key of the last entry returned; its cursor is built only when asked for. */
  #lastKey: Uint8Array | undefined;
  #lastBatch = false;
  #done = false;
  #count = 0;

  static {
    newListIterator = <T>(plan: ListPlan) => new KvListIterator<T>(plan);
  }

  /** @ignore Use `Kv.list()`. */
  private constructor(plan: ListPlan) {
    this.#plan = plan;
    this.#cursor = plan.cursor || undefined;
  }

  /** The cursor after the last entry returned; throws before the first `next()`. */
  get cursor(): string {
    if (this.#lastKey !== undefined) {
      this.#cursor = encodeCursor(this.#range!, this.#lastKey);
      this.#lastKey = undefined;
    }
    if (this.#cursor === undefined) throw new Error("Cannot get cursor before first iteration");
    return this.#cursor;
  }

  /** The next entry in key order (descending with `reverse`). */
  async next(): Promise<IteratorResult<KvEntry<T>, undefined>> {
    const plan = this.#plan;
    if (this.#done || (plan.limit !== undefined && this.#count >= plan.limit)) {
      return { done: true, value: undefined };
    }
    if (this.#buffer.length === 0 && !this.#lastBatch) {
      this.#buffer = await this.#pull(this.#cursorOrUndefined());
      this.#lastBatch = this.#buffer.length < plan.batchSize;
    }
    const next = this.#buffer.shift();
    if (next === undefined) {
      this.#done = true;
      this.#cursor = "";
      this.#lastKey = undefined;
      return { done: true, value: undefined };
    }
    this.#lastKey = next.key;
    this.#count++;
    return { done: false, value: next.entry };
  }

  #cursorOrUndefined(): string | undefined {
    return this.#lastKey === undefined && this.#cursor === undefined ? undefined : this.cursor;
  }

  async #pull(cursor: string | undefined): Promise<{ entry: KvEntry<T>; key: Uint8Array }[]> {
    const { engine, gate, reverse, batchSize } = this.#plan;
    // Deno KV reads the arguments first: their type errors come before a
    // closed store's error, the checks of their values after it.
    const parts = this.#range ? undefined : encodeParts(this.#plan.parts);
    if (cursor !== undefined && typeof cursor !== "string") throw serdeError("string", cursor);
    checkConsistency(this.#plan.consistency);
    gate.check();
    // The bounds of the range read are checked as Deno KV checks them: the
    // selector's, and again once a cursor moves one of them.
    const checked = (r: ByteRange) => {
      checkReadBound(this.#plan.limits, r.start.length);
      checkReadBound(this.#plan.limits, r.end.length);
      return r;
    };
    this.#range ??= checked(byteRange(parts!));
    const range = cursor === undefined
      ? this.#range
      : checked(resumeRange(this.#range, cursor, reverse));
    // A batch is read when it is pulled, and sees the writes called before
    // that, as a get does.
    const held = this.#plan.issued();
    if (held) await held;
    const scan = engine.scanEntries({
      start: range.start,
      end: range.end,
      reverse,
      limit: batchSize,
    });
    const batch: { entry: KvEntry<T>; key: Uint8Array }[] = [];
    const add = (e: EngineScanEntry) => batch.push({ entry: entryOf<T>(e.key, e), key: e.key });
    // The store's scan steps synchronously: the batch is read at one point, as
    // Deno KV reads one, with no write called after the pull let in between two
    // steps (an awaited step lets the commits queued behind a sum through).
    const steps = syncSteps(scan);
    if (steps) { for (const e of steps) add(e); }
    else for await (const e of scan) add(e);
    return batch;
  }

  /** The iterator itself. */
  [Symbol.asyncIterator](): AsyncIterableIterator<KvEntry<T>> {
    return this;
  }
}
