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

/**
 * The seed s for which crc32(data, s) === `crc`, given crc0 = crc32(data, 0)
 * and len = |data|: crc32(data, s) is crc0 xor s times x^(8 len), a linear
 * map of s that has an inverse, solved here over GF(2). A record's header
 * checksum so tells the salt of the file it was written in.
 */
export function crc32Seed(crc: number, crc0: number, len: number): number {
  // Column i of the map: where it takes bit i (crc32Combine(s, 0, len) is s times x^(8 len)).
  const cols = Array.from({ length: 32 }, (_, i) => crc32Combine((1 << i) >>> 0, 0, len));
  // Rows of the augmented system, bit j of each column, and the target's bit j.
  const rows = Array.from({ length: 32 }, (_, j) => {
    let row = 0;
    for (let i = 0; i < 32; i++) row |= ((cols[i] >>> j) & 1) << i;
    return { row: row >>> 0, rhs: ((crc ^ crc0) >>> j) & 1 };
  });
  for (let i = 0; i < 32; i++) {
    const p = rows.findIndex((r, k) => k >= i && ((r.row >>> i) & 1) === 1);
    [rows[i], rows[p]] = [rows[p], rows[i]];
    for (let k = 0; k < 32; k++) {
      if (k !== i && ((rows[k].row >>> i) & 1) === 1) {
        rows[k].row = (rows[k].row ^ rows[i].row) >>> 0;
        rows[k].rhs ^= rows[i].rhs;
      }
    }
  }
  let s = 0;
  for (let i = 0; i < 32; i++) s |= rows[i].rhs << i;
  return s >>> 0;
}
