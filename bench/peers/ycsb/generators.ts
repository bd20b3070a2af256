// YCSB's request generators (site.ycsb.generator), ported so every engine sees the
// same skew as in published YCSB numbers: ZipfianGenerator (Gray et al., "Quickly
// Generating Billion-Record Synthetic Databases", SIGMOD 1994), its scrambled form that
// the core workloads use for `requestdistribution=zipfian`, and SkewedLatestGenerator
// for `latest` (workload D).

/** YCSB's default zipfian constant. */
export const ZIPFIAN_CONSTANT = 0.99;
// ScrambledZipfianGenerator draws from a fixed 10-billion-item zipfian whose zeta YCSB
// hard-codes, then hashes the draw onto the key space.
const SCRAMBLE_ITEMS = 10_000_000_000;
const SCRAMBLE_ZETAN = 26.46902820178302;

const TWO_32 = 2 ** 32;

/**
 * YCSB's Utils.fnvhash64 of a non-negative integer below 2^53: FNV-1a over its eight
 * little-endian bytes, as a signed 64-bit value made non-negative with Math.abs.
 * Returned as [high, low] unsigned 32-bit halves, computed without BigInt so hashing
 * a million keys stays cheap.
 */
export function fnvhash64(v: number): [number, number] {
  let hi = 0xcbf29ce4;
  let lo = 0x84222325;
  let vlo = v >>> 0;
  let vhi = Math.floor(v / TWO_32) >>> 0;
  for (let i = 0; i < 8; i++) {
    lo = (lo ^ (vlo & 0xff)) >>> 0;
    vlo = ((vlo >>> 8) | ((vhi & 0xff) << 24)) >>> 0;
    vhi >>>= 8;
    // × 1099511628211 = 2^40 + 0x1b3, modulo 2^64.
    const low = lo * 0x1b3;
    hi = (Math.imul(hi, 0x1b3) + Math.floor(low / TWO_32) + (lo << 8)) >>> 0;
    lo = low >>> 0;
  }
  if (hi & 0x8000_0000) {
    // Math.abs of a negative long: two's complement negation.
    lo = (~lo + 1) >>> 0;
    hi = (~hi + (lo === 0 ? 1 : 0)) >>> 0;
  }
  return [hi, lo];
}

/** fnvhash64(v) % m for m below 2^21, exact in doubles. */
export function fnvMod(v: number, m: number): number {
  const [hi, lo] = fnvhash64(v);
  return ((((hi % m) * 0x10000) % m) * 0x10000 % m + lo) % m;
}

function zetaRange(from: number, to: number, theta: number, initial: number): number {
  let sum = initial;
  for (let i = from; i < to; i++) sum += 1 / Math.pow(i + 1, theta);
  return sum;
}

/** site.ycsb.generator.ZipfianGenerator: values in [min, max], 0-ish most popular. */
export class Zipfian {
  readonly #base: number;
  readonly #items: number;
  readonly #theta: number;
  readonly #alpha: number;
  readonly #zeta2theta: number;
  #zetan: number;
  #eta: number;
  #countForZeta: number;

  constructor(min: number, max: number, theta = ZIPFIAN_CONSTANT, zetan?: number) {
    this.#base = min;
    this.#items = max - min + 1;
    this.#theta = theta;
    this.#alpha = 1 / (1 - theta);
    this.#zeta2theta = zetaRange(0, 2, theta, 0);
    this.#zetan = zetan ?? zetaRange(0, this.#items, theta, 0);
    this.#countForZeta = this.#items;
    this.#eta = this.#etaFor();
  }

  // YCSB recomputes eta with the constructor's item count even after the count grew.
  #etaFor(): number {
    return (1 - Math.pow(2 / this.#items, 1 - this.#theta)) / (1 - this.#zeta2theta / this.#zetan);
  }

  /** The next value, drawn over `itemCount` items (which may only grow, as in YCSB). */
  next(u: number, itemCount = this.#items): number {
    if (itemCount > this.#countForZeta) {
      this.#zetan = zetaRange(this.#countForZeta, itemCount, this.#theta, this.#zetan);
      this.#countForZeta = itemCount;
      this.#eta = this.#etaFor();
    }
    const uz = u * this.#zetan;
    if (uz < 1) return this.#base;
    if (uz < 1 + Math.pow(0.5, this.#theta)) return this.#base + 1;
    return this.#base +
      Math.floor(itemCount * Math.pow(this.#eta * u - this.#eta + 1, this.#alpha));
  }
}

/** site.ycsb.generator.ScrambledZipfianGenerator: zipfian popularity, spread over [min, max]. */
export class ScrambledZipfian {
  readonly #gen = new Zipfian(0, SCRAMBLE_ITEMS, ZIPFIAN_CONSTANT, SCRAMBLE_ZETAN);
  readonly #count: number;

  constructor(readonly min: number, max: number) {
    this.#count = max - min + 1;
  }

  next(u: number): number {
    return this.min + fnvMod(this.#gen.next(u), this.#count);
  }
}

/** site.ycsb.generator.SkewedLatestGenerator: the most recently inserted keys are hottest. */
export class SkewedLatest {
  readonly #gen: Zipfian;

  constructor(initialCount: number) {
    this.#gen = new Zipfian(0, initialCount - 1);
  }

  /** A key number in [0, last], skewed towards `last` (the newest key). */
  next(u: number, last: number): number {
    return last - this.#gen.next(u, last);
  }
}
