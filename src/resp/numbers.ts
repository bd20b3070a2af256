/**
 * Redis' number rules for string values and arguments: 64-bit signed
 * integers with overflow checks (INCR and friends), and doubles written the
 * way INCRBYFLOAT answers them.
 * @module
 */

import { CommandError } from "./command_error.ts";

/** Redis' reply when an integer argument or value does not parse. */
export const NOT_INTEGER = "ERR value is not an integer or out of range";
// Redis' reply when a float argument or value does not parse.
const NOT_FLOAT = "ERR value is not a valid float";

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const latin1 = new TextDecoder("latin1");
// Redis' string2ll: no sign but '-', no spaces, no leading zeros.
const INTEGER = /^(0|-?[1-9]\d{0,19})$/;
const FLOAT = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** Parses a signed 64-bit integer; anything else fails with `error`. */
export function parseInt64(arg: Uint8Array, error = NOT_INTEGER): bigint {
  const text = latin1.decode(arg);
  if (!INTEGER.test(text)) throw new CommandError(error);
  const n = BigInt(text);
  if (n < INT64_MIN || n > INT64_MAX) throw new CommandError(error);
  return n;
}

/** `value + delta` within 64 bits, or Redis' overflow error. */
export function addInt64(value: bigint, delta: bigint): bigint {
  const sum = value + delta;
  if (sum < INT64_MIN || sum > INT64_MAX) {
    throw new CommandError("ERR increment or decrement would overflow");
  }
  return sum;
}

/** Parses a finite double; anything else fails with {@link NOT_FLOAT}. */
export function parseFloat64(arg: Uint8Array): number {
  const text = latin1.decode(arg);
  const n = FLOAT.test(text) ? Number(text) : NaN;
  if (!Number.isFinite(n)) throw new CommandError(NOT_FLOAT);
  return n;
}

/** A double in plain decimal, never in exponent form, as Redis prints it. */
export function formatFloat(n: number): string {
  const text = String(n);
  if (!text.includes("e")) return text;
  if (Number.isInteger(n)) return BigInt(n).toString();
  // Tiny magnitudes: enough fraction digits for the 17 significant ones.
  const digits = Math.min(100, 17 - Math.floor(Math.log10(Math.abs(n))));
  return n.toFixed(digits).replace(/\.?0+$/, "");
}
