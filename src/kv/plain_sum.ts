/**
 * A `sum` mutation whose operand is a plain number or bigint, as Deno KV 2
 * applies it: numbers add as numbers and bigints as bigints, an absent key
 * takes the operand, and a bigint that fits in 64 bits adds to a KvU64 as a
 * KvU64 sum does. Other pairs are refused with Deno KV's errors.
 * @module
 */

import { applyU64, MAX_U64 } from "./u64.ts";
import { decodeValue, encodeU64, encodeValue, storedU64 } from "./value_codec.ts";

/** The stored value after adding `operand` to `stored` (undefined: absent). */
export function plainSum(stored: Uint8Array | undefined, operand: number | bigint): Uint8Array {
  if (stored === undefined) return encodeValue(operand);
  const u64 = storedU64(stored);
  if (u64 !== undefined) {
    if (typeof operand === "bigint" && operand >= 0n && operand <= MAX_U64) {
      return encodeU64(applyU64("sum", u64, operand));
    }
    throw new TypeError(`Cannot sum KvU64 with ${typeName(operand)}`);
  }
  const current = decodeValue(stored);
  if (typeof current === "number" && typeof operand === "number") {
    return encodeValue(current + operand);
  }
  if (typeof current === "bigint" && typeof operand === "bigint") {
    return encodeValue(current + operand);
  }
  if (typeof current === "number" || typeof current === "bigint") {
    throw new TypeError(`Cannot sum ${typeName(current)} with ${typeName(operand)}`);
  }
  throw new TypeError("unsupported value type");
}

function typeName(x: number | bigint): string {
  return typeof x === "number" ? "Number" : "BigInt";
}
