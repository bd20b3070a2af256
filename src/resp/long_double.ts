/**
 * The x87 80-bit "long double" Redis computes INCRBYFLOAT in on x86-64 Linux:
 * a 64-bit significand rounded to nearest (ties to even), subnormals down to
 * 2^-16445, infinity from 2^16384. Values are kept exact, as a sign, a
 * significand and a binary exponent in BigInts, so that parsing (glibc's
 * strtold), a sum and the decimal text (`%.17Lf`, trailing zeros cut) come out
 * digit for digit as Redis' do: 0.1 + 0.2 is "0.3" there, where doubles give
 * 0.30000000000000004.
 * @module
 */

/** sign × m × 2^e, exactly; m < 2^64. `inf` set: an infinity of that sign. */
export interface LongDouble {
  neg: boolean;
  m: bigint;
  e: number;
  inf?: boolean;
}

const P = 64n;
const TOP = 1n << P;
const E_MIN = -16445; // a significand's unit at the smallest subnormal
const E_MAX = 16320; // (2^64 - 1) × 2^16320 is the largest finite value
// Decimal magnitudes past which a value is surely infinite or surely rounds to 0.
const DEC_OVER = 4940;
const DEC_UNDER = -4970;
// The same in binary digits.
const BIN_OVER = 16400;
const BIN_UNDER = -16520;

function bitLength(n: bigint): number {
  return n === 0n ? 0 : n.toString(2).length;
}

// `q`, a quotient rounded down, rounded to nearest instead (ties to even):
// `twice` is twice the remainder, `divisor` what was divided by.
function halfEven(q: bigint, twice: bigint, divisor: bigint): bigint {
  return twice > divisor || (twice === divisor && (q & 1n) === 1n) ? q + 1n : q;
}

/** The long double nearest to num / den × 2^shift (num, den > 0). */
function nearest(neg: boolean, num: bigint, den: bigint, shift: number): LongDouble {
  let e = Math.max(bitLength(num) - bitLength(den) - 64 + shift, E_MIN);
  for (;;) {
    // q = floor(num × 2^(shift - e) / den), with the remainder for rounding.
    const k = shift - e;
    const n = k >= 0 ? num << BigInt(k) : num;
    const d = k >= 0 ? den : den << BigInt(-k);
    let q = n / d;
    if (q >= TOP) {
      e++;
      continue;
    }
    if (q < TOP >> 1n && e > E_MIN) {
      e--;
      continue;
    }
    q = halfEven(q, (n - q * d) * 2n, d);
    if (q === TOP) {
      q >>= 1n;
      e++;
    }
    if (e > E_MAX) return { neg, m: 0n, e: 0, inf: true };
    return { neg, m: q, e };
  }
}

const ZERO: LongDouble = { neg: false, m: 0n, e: 0 };

// A parsed number as strtold leaves it: undefined for a range error, which is
// a finite number too large for a long double, or one that rounds to 0.
function inRange(r: LongDouble): LongDouble | undefined {
  return r.inf || r.m === 0n ? undefined : r;
}

/** The value of decimal `digits` × 10^exp10, rounded; undefined on a range error. */
function fromDecimal(neg: boolean, digits: string, exp10: number): LongDouble | undefined {
  const d = BigInt(digits);
  if (d === 0n) return { ...ZERO, neg };
  const magnitude = digits.replace(/^0+/, "").length + exp10;
  if (magnitude > DEC_OVER || magnitude < DEC_UNDER) return undefined;
  return inRange(
    exp10 >= 0
      ? nearest(neg, d * 10n ** BigInt(exp10), 1n, 0)
      : nearest(neg, d, 10n ** BigInt(-exp10), 0),
  );
}

/** The value of hex `digits` × 2^exp2, rounded; undefined on a range error. */
function fromHex(neg: boolean, digits: string, exp2: number): LongDouble | undefined {
  const h = BigInt(`0x${digits}`);
  if (h === 0n) return { ...ZERO, neg };
  const magnitude = bitLength(h) + exp2;
  if (magnitude > BIN_OVER || magnitude < BIN_UNDER) return undefined;
  return inRange(nearest(neg, h, 1n, exp2));
}

const DECIMAL = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;
const HEX = /^([+-]?)0[xX]([0-9a-fA-F]*)(?:\.([0-9a-fA-F]*))?(?:[pP]([+-]?\d+))?$/;
const INFINITY = /^([+-]?)(inf|infinity)$/i;

/**
 * Parses `text` as Redis' string2ld does with glibc's strtold: decimal or
 * hexadecimal, "inf"/"infinity", the whole text and no leading space; not NaN,
 * and not a finite number too large for a long double or one that rounds to 0.
 * Undefined when Redis would not take it.
 */
export function parseLongDouble(text: string): LongDouble | undefined {
  if (text.length === 0 || text.length >= 5120) return undefined;
  const inf = INFINITY.exec(text);
  if (inf) return { neg: inf[1] === "-", m: 0n, e: 0, inf: true };
  const hex = HEX.exec(text);
  if (hex) {
    const [, sign, int, frac = "", exp = "0"] = hex;
    if (int.length + frac.length === 0) return undefined;
    return fromHex(sign === "-", int + frac, clampExp(exp) - 4 * frac.length);
  }
  const dec = DECIMAL.exec(text);
  if (!dec) return undefined;
  const [, sign, int, frac = "", exp = "0"] = dec;
  if (int.length + frac.length === 0) return undefined;
  return fromDecimal(sign === "-", int + frac, clampExp(exp) - frac.length);
}

// An exponent far past any long double's range, kept small enough to compute with.
function clampExp(text: string): number {
  return Math.max(-1e6, Math.min(1e6, Number(text)));
}

/** a + b, rounded to nearest-even (x + -x is +0); NaN as undefined. */
export function addLongDouble(a: LongDouble, b: LongDouble): LongDouble | undefined {
  if (a.inf || b.inf) {
    if (a.inf && b.inf && a.neg !== b.neg) return undefined;
    return a.inf ? a : b;
  }
  if (a.m === 0n && b.m === 0n) return { ...ZERO, neg: a.neg && b.neg };
  if (a.m === 0n) return b;
  if (b.m === 0n) return a;
  const e = Math.min(a.e, b.e);
  const signed = (x: LongDouble) => (x.neg ? -x.m : x.m) << BigInt(x.e - e);
  const sum = signed(a) + signed(b);
  if (sum === 0n) return ZERO;
  return nearest(sum < 0n, sum < 0n ? -sum : sum, 1n, e);
}

/**
 * Finite `x` as Redis writes INCRBYFLOAT's result: printf's "%.17Lf" (17
 * fraction digits, ties to even), then trailing zeros and a bare point cut,
 * and "-0" as "0".
 */
export function formatLongDouble(x: LongDouble): string {
  const SCALE = 10n ** 17n;
  let q: bigint;
  if (x.e >= 0) q = (x.m << BigInt(x.e)) * SCALE;
  else {
    const f = BigInt(-x.e);
    const n = x.m * SCALE;
    q = n >> f;
    q = halfEven(q, (n - (q << f)) * 2n, 1n << f);
  }
  const frac = (q % SCALE).toString().padStart(17, "0").replace(/0+$/, "");
  const text = `${x.neg ? "-" : ""}${q / SCALE}${frac ? `.${frac}` : ""}`;
  return text === "-0" ? "0" : text;
}
