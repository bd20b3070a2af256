/**
 * Redis' number rules for string values and arguments: 64-bit signed
 * integers with overflow checks (INCR and friends), and INCRBYFLOAT's floats.
 * @module
 */

import { CommandError } from "./command_error.ts";
import { type LongDouble, parseLongDouble } from "./long_double.ts";

/** Redis' reply when an integer argument or value does not parse. */
export const NOT_INTEGER = "ERR value is not an integer or out of range";
// Redis' reply when a float argument or value does not parse.
const NOT_FLOAT = "ERR value is not a valid float";

/** The range of Redis' integers. */
export const INT64_MIN = -(2n ** 63n);
/** The range of Redis' integers. */
export const INT64_MAX = 2n ** 63n - 1n;
const latin1 = new TextDecoder("latin1");
// Redis' string2ll: no sign but '-', no spaces, no leading zeros.
const INTEGER = /^(0|-?[1-9]\d{0,19})$/;

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

/** Parses a float as Redis does (see long_double.ts); anything else fails with {@link NOT_FLOAT}. */
export function parseFloatArg(arg: Uint8Array): LongDouble {
  const n = parseLongDouble(latin1.decode(arg));
  if (n === undefined) throw new CommandError(NOT_FLOAT);
  return n;
}
