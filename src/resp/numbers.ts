/**
 * Redis' number rules for string values and arguments: 64-bit signed
 * integers with overflow checks (INCR and friends), and INCRBYFLOAT's floats.
 * @module
 */

import { CommandError } from "./command_error.ts";
import { type LongDouble, parseLongDouble } from "./long_double.ts";
import { byteString } from "./words.ts";

/** Redis' reply when an integer argument or value does not parse. */
export const NOT_INTEGER = "ERR value is not an integer or out of range";
// Redis' reply when a float argument or value does not parse.
const NOT_FLOAT = "ERR value is not a valid float";

/** The range of Redis' integers. */
export const INT64_MIN = -(2n ** 63n);
/** The range of Redis' integers. */
export const INT64_MAX = 2n ** 63n - 1n;
const ascii = new TextEncoder();
// Redis' string2ll: no sign but '-', no spaces, no leading zeros.
const INTEGER = /^(0|-?[1-9]\d{0,19})$/;

// Up to 15 digits: within 64 bits, and exact as a double.
const SMALL_DIGITS = 15;
const SMALL = 10 ** SMALL_DIGITS;
const MINUS = 0x2d;
const ZERO = 0x30;

/** Parses a signed 64-bit integer; anything else fails with `error`. */
export function parseInt64(arg: Uint8Array, error = NOT_INTEGER): bigint {
  const small = smallInteger(arg);
  if (small !== undefined) return BigInt(small);
  const text = byteString(arg);
  if (!INTEGER.test(text)) throw new CommandError(error);
  const n = BigInt(text);
  if (n < INT64_MIN || n > INT64_MAX) throw new CommandError(error);
  return n;
}

// A short integer read straight from its bytes by the rules of INTEGER, or
// undefined for anything else, which parseInt64's general path judges (a
// decoder call, a regular expression and a BigInt parse were a tenth of an
// INCR's server CPU).
function smallInteger(b: Uint8Array): number | undefined {
  const neg = b[0] === MINUS ? 1 : 0;
  const digits = b.length - neg;
  if (digits < 1 || digits > SMALL_DIGITS) return undefined;
  // A leading zero is "0" itself, never "-0" or "07".
  if (b[neg] === ZERO && (digits > 1 || neg === 1)) return undefined;
  let n = 0;
  for (let i = neg; i < b.length; i++) {
    const d = b[i] - ZERO;
    if (d < 0 || d > 9) return undefined;
    n = n * 10 + d;
  }
  return neg === 1 ? -n : n;
}

/** The decimal digits of `n`, as Redis stores an integer. */
export function int64Bytes(n: bigint): Uint8Array {
  // Compared as a double: a comparison of a BigInt with a number is slow.
  let x = Number(n);
  if (!(x > -SMALL && x < SMALL)) return ascii.encode(n.toString());
  const neg = x < 0;
  if (neg) x = -x;
  let len = neg ? 2 : 1;
  for (let t = x; t >= 10; t = Math.floor(t / 10)) len++;
  const out = new Uint8Array(len);
  for (let i = len - 1; i >= (neg ? 1 : 0); i--) {
    out[i] = ZERO + x % 10;
    x = Math.floor(x / 10);
  }
  if (neg) out[0] = MINUS;
  return out;
}

/** `value + delta` within 64 bits, or Redis' overflow error. */
export function addInt64(value: bigint, delta: bigint): bigint {
  const sum = value + delta;
  if (sum < INT64_MIN || sum > INT64_MAX) {
    throw new CommandError("ERR increment or decrement would overflow");
  }
  return sum;
}

/** Parses a float as Redis does (see long_double.ts); anything else fails with {@link NOT_FLOAT}. */
export function parseFloatArg(arg: Uint8Array): LongDouble {
  const n = parseLongDouble(byteString(arg));
  if (n === undefined) throw new CommandError(NOT_FLOAT);
  return n;
}
