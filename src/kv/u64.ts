/**
 * The unsigned 64-bit integer value type of sum/min/max mutations.
 * @module
 */

/** The largest KvU64. */
export const MAX_U64 = 0xffff_ffff_ffff_ffffn;

/**
 * An unsigned 64-bit integer stored in its own 8-byte encoding, the only value
 * type `sum`, `min` and `max` mutations work on. Same checks as `Deno.KvU64`;
 * a `Deno.KvU64` is accepted wherever this class is.
 *
 * @example
 * ```ts
 * import { KvU64, openKv } from "@cask/cask";
 * const kv = await openKv("./kv-data");
 * await kv.set(["visits"], new KvU64(0n));
 * await kv.atomic().sum(["visits"], 1n).commit();
 * const visits = (await kv.get<KvU64>(["visits"])).value?.value; // 1n
 * await kv.close();
 * ```
 */
export class KvU64 {
  /** The integer, in [0, 2^64 - 1]. */
  readonly value: bigint;

  /** Wraps `value`; throws TypeError for a non-bigint and RangeError outside [0, 2^64 - 1]. */
  constructor(value: bigint) {
    if (typeof value !== "bigint") {
      throw new TypeError(`Value must be a bigint: received ${typeof value}`);
    }
    if (value < 0n) throw new RangeError(`Value must be a positive bigint: received ${value}`);
    if (value > MAX_U64) throw new RangeError("Value must fit in a 64-bit unsigned integer");
    this.value = value;
    Object.freeze(this);
  }

  /** The bigint, so `+`, `<` and friends work on it. */
  valueOf(): bigint {
    return this.value;
  }

  /** The decimal digits of the value. */
  toString(): string {
    return this.value.toString();
  }

  /** Shows as `KvU64` in `Object.prototype.toString`. */
  get [Symbol.toStringTag](): string {
    return "KvU64";
  }
}

/** `Deno.KvU64` where the runtime has it (Deno with `--unstable-kv`). */
const denoKvU64 = (globalThis as { Deno?: { KvU64?: new (v: bigint) => { value: bigint } } })
  .Deno?.KvU64;

/** Whether `x` is a {@link KvU64} or a `Deno.KvU64`. */
export function isKvU64(x: unknown): x is { readonly value: bigint } {
  return x instanceof KvU64 || (denoKvU64 !== undefined && x instanceof denoKvU64);
}

/** Arithmetic of sum (wrapping modulo 2^64, as Deno KV does), min and max. */
export function applyU64(type: "sum" | "min" | "max", current: bigint, operand: bigint): bigint {
  if (type === "sum") return (current + operand) & MAX_U64;
  if (type === "min") return operand < current ? operand : current;
  return operand > current ? operand : current;
}
