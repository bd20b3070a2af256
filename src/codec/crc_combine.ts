/**
 * CRC-32 of a concatenation from the CRCs of its parts: crc32Combine(crc(A),
 * crc32(B), |B|) === crc(A ++ B). A streamed value's CRC is computed as its
 * bytes arrive, before the header that precedes it in the record is known;
 * this joins the two. It multiplies by x^(8 |B|) modulo the CRC polynomial,
 * by repeated squaring of the one-zero-bit operator over GF(2) (zlib's method).
 * @module
 */

const POLY = 0xedb88320;

function times(mat: Uint32Array, vec: number): number {
  let sum = 0;
  for (let i = 0; vec !== 0; i++, vec >>>= 1) if (vec & 1) sum ^= mat[i];
  return sum >>> 0;
}

function square(out: Uint32Array, mat: Uint32Array): void {
  for (let n = 0; n < 32; n++) out[n] = times(mat, mat[n]);
}

/** The CRC-32 of A ++ B, given crc1 = CRC of A (from any seed) and crc2 = crc32(B) from 0. */
export function crc32Combine(crc1: number, crc2: number, len2: number): number {
  if (len2 <= 0) return crc1 >>> 0;
  const even = new Uint32Array(32);
  const odd = new Uint32Array(32);
  odd[0] = POLY;
  for (let n = 1, row = 1; n < 32; n++, row <<= 1) odd[n] = row;
  square(even, odd); // two zero bits
  square(odd, even); // four zero bits
  let crc = crc1 >>> 0;
  // Each pass squares the operator: one zero byte, two, four, ...
  for (let len = len2; len > 0;) {
    square(even, odd);
    if (len % 2) crc = times(even, crc);
    len = Math.floor(len / 2);
    if (len === 0) break;
    square(odd, even);
    if (len % 2) crc = times(odd, crc);
    len = Math.floor(len / 2);
  }
  return (crc ^ crc2) >>> 0;
}
