/**
 * The parts of a commit, validated when they are added (as Deno KV does),
 * and the types users build them from.
 * @module
 */

import type { KvKey } from "./key_codec.ts";
import { isSerdeArray, serdeError, sliceError } from "./serde.ts";
import { encodeMessage, encodeValue } from "./value_codec.ts";
import type { KvU64 } from "./u64.ts";

/**
 * A commit precondition: the key's current versionstamp must equal
 * `versionstamp`, or the key must be absent when it is `null`.
 *
 * @example
 * ```ts
 * import { type KvAtomicCheck, openKv } from "@cask/cask";
 * const kv = await openKv("./kv-data");
 * const seen = await kv.get(["balance"]);
 * const check: KvAtomicCheck = { key: ["balance"], versionstamp: seen.versionstamp };
 * await kv.atomic().check(check).set(["balance"], 10).commit();
 * await kv.close();
 * ```
 */
export interface KvAtomicCheck {
  /** The key to check. */
  key: KvKey;
  /** The versionstamp it must have, or null for "absent". */
  versionstamp: string | null;
}

/**
 * A mutation for `AtomicOperation.mutate`.
 *
 * @example
 * ```ts
 * import { KvU64, type KvMutation, openKv } from "@cask/cask";
 * const kv = await openKv("./kv-data");
 * const m: KvMutation[] = [
 *   { type: "set", key: ["a"], value: 1, expireIn: 60_000 },
 *   { type: "sum", key: ["hits"], value: new KvU64(1n) },
 *   { type: "delete", key: ["b"] },
 * ];
 * await kv.atomic().mutate(...m).commit();
 * await kv.close();
 * ```
 */
export type KvMutation =
  & { key: KvKey }
  & (
    | { type: "set"; value: unknown; expireIn?: number }
    | { type: "delete" }
    | { type: "sum"; value: KvU64 | Deno.KvU64 }
    | { type: "max"; value: KvU64 | Deno.KvU64 }
    | { type: "min"; value: KvU64 | Deno.KvU64 }
  );

/** A mutation with its value encoded. */
export type PendingMutation =
  | { type: "set"; key: KvKey; value: Uint8Array; expireIn?: number; refused?: TypeError }
  | { type: "delete"; key: KvKey }
  | { type: "sum" | "min" | "max"; key: KvKey; value: Uint8Array; refused?: TypeError };

/**
 * Options of an enqueue.
 *
 * @example
 * ```ts
 * import { type EnqueueOptions, openKv } from "@cask/cask";
 * const kv = await openKv("./kv-data");
 * const options: EnqueueOptions = {
 *   delay: 60_000,
 *   backoffSchedule: [1000, 5000],
 *   keysIfUndelivered: [["failed", "welcome-mail"]],
 * };
 * await kv.enqueue({ mail: "welcome", to: "ada" }, options);
 * await kv.close();
 * ```
 */
export interface EnqueueOptions {
  /** Ms before the message is first delivered (at most 30 days). */
  delay?: number;
  /** Keys set to the message when every delivery attempt failed. */
  keysIfUndelivered?: KvKey[];
  /** Ms to wait before each retry (at most 5 entries, each at most 1 hour). */
  backoffSchedule?: number[];
}

/**
 * An enqueue with its message encoded, and the errors Deno KV raises only as
 * its commit reads the delay and the backoff schedule (of a type its integer
 * conversion refuses).
 */
export interface PendingEnqueue {
  payload: Uint8Array;
  delay: number;
  keysIfUndelivered: KvKey[];
  backoffSchedule: number[] | null;
  delayRefused?: TypeError;
  backoffRefused?: TypeError;
}

const MAX_DELAY = 30 * 24 * 60 * 60 * 1000;
const MAX_BACKOFF_INTERVALS = 5;
const MAX_BACKOFF_INTERVAL = 60 * 60 * 1000;

/**
 * Checks `expireIn`; throws TypeError as Deno KV does. One that puts the
 * expiry past the latest Deno KV can date is refused only at commit, when
 * the time it counts from is read (see {@link expiryAt}).
 */
export function checkExpireIn(expireIn: unknown): number | undefined {
  if (expireIn === undefined) return undefined;
  if (typeof expireIn !== "number" || !Number.isInteger(expireIn) || expireIn < 0) {
    throw new TypeError(`expireIn must be a non-negative integer: received ${expireIn}`);
  }
  return expireIn;
}

/** +262143-12-31T23:59:59.999Z, the latest time Deno KV's date type holds. */
const LATEST_EXPIRY = 8_210_266_876_799_999;
const U64_MAX = 2n ** 64n - 1n;

/** The expiry `expireIn` ms after `now`; TypeError, in Deno KV's words, past the latest it can date. */
export function expiryAt(expireIn: number, now: number): number {
  const at = now + expireIn;
  if (at > LATEST_EXPIRY) {
    // Deno KV's number is capped at a u64's largest.
    const shown = BigInt(expireIn) < U64_MAX ? BigInt(expireIn) : U64_MAX;
    throw new TypeError(`Invalid mutation: expireIn is too large: ${shown}`);
  }
  return at;
}

/** Validates and encodes a `mutate()` argument; throws TypeError as Deno KV does. */
export function pendingMutation(m: KvMutation): PendingMutation {
  // A property read, not destructuring: Deno KV's words for a null mutation.
  const key = m.key;
  switch (m.type) {
    case "delete":
      if ((m as { value?: unknown }).value) {
        throw new TypeError("Invalid mutation 'delete' with value");
      }
      return { type: "delete", key };
    case "set":
    case "sum":
    case "min":
    case "max":
      if (!Object.hasOwn(m, "value")) {
        throw new TypeError(`Invalid mutation '${m.type}' without value`);
      }
      if (m.type === "set") {
        return pendingSet(key, m.value, typeof m.expireIn === "number" ? m.expireIn : undefined);
      }
      return { type: m.type, key, value: encodeValue(m.value), refused: refusal(m.value) };
  }
  throw new TypeError("Invalid mutation type");
}

/**
 * Validates and encodes an enqueue; throws TypeError as Deno KV does, or hands
 * `atCommit` the error Deno KV raises only at commit (a delay or interval of a
 * type its integer conversion refuses).
 */
export function pendingEnqueue(
  message: unknown,
  options: EnqueueOptions | undefined,
): PendingEnqueue {
  const delay = options?.delay ?? 0;
  // Deno KV's checks, comparisons that coerce what they are given included.
  if (delay < 0) throw new TypeError(`Delay must be >= 0: received ${delay}`);
  if (delay > MAX_DELAY) {
    throw new TypeError(`Delay cannot be greater than 30 days: received ${delay}`);
  }
  if (Number.isNaN(delay)) throw new TypeError("Delay cannot be NaN");
  const schedule = options?.backoffSchedule;
  if (schedule !== undefined) {
    if (schedule.length > MAX_BACKOFF_INTERVALS) {
      throw new TypeError(
        `Invalid backoffSchedule, max ${MAX_BACKOFF_INTERVALS} intervals allowed`,
      );
    }
    // Indexes, not forEach: a hole is an interval too (refused at commit).
    for (let i = 0; i < schedule.length; i++) {
      const ms = schedule[i];
      if (ms < 0 || ms > MAX_BACKOFF_INTERVAL || Number.isNaN(ms)) {
        throw new TypeError(`Invalid backoffSchedule, interval at index ${i} is invalid`);
      }
    }
  }
  let refused: TypeError | undefined;
  const integer = (v: unknown): number => {
    if (typeof v === "number") return v;
    if (typeof v === "bigint") return Number(v);
    refused ??= serdeError("integer", v);
    return 0;
  };
  const payload = encodeMessage(message);
  // In the order Deno KV converts them, so the first wrong one is the one reported.
  const delayMs = integer(delay);
  const delayRefused = refused;
  refused = undefined;
  let backoffSchedule: number[] | null = null;
  if (schedule !== undefined) {
    // A number or object passed the checks above (its length is not a number): refused here.
    if (isSerdeArray(schedule)) backoffSchedule = Array.from(schedule, integer);
    else refused = serdeError("array", schedule);
  }
  return {
    payload,
    delay: delayMs,
    keysIfUndelivered: options?.keysIfUndelivered ?? [],
    backoffSchedule,
    delayRefused,
    backoffRefused: refused,
  };
}

/** A set of `key` to `value`, its `expireIn` checked; for `atomic().set()` and `mutate()`. */
export function pendingSet(key: KvKey, value: unknown, expireIn: unknown): PendingMutation {
  // The expiry first: Deno KV refuses a bad one before it clones the value.
  const checked = checkExpireIn(expireIn);
  return {
    type: "set",
    key,
    value: encodeValue(value),
    expireIn: checked,
    refused: refusal(value),
  };
}

// The error Deno KV raises as its commit reads `value`: bytes it takes no slice of.
function refusal(value: unknown): TypeError | undefined {
  return value instanceof Uint8Array ? sliceError(value) : undefined;
}
