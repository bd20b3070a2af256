// Table-driven CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320) using
// slicing-by-16: sixteen 256-entry tables let one step consume 16 bytes with
// independent lookups instead of a 16-deep chain of byte steps.

const POLY: u32 = 0xedb88320;

// Table k maps a byte to its CRC contribution when k zero bytes follow it.
const TABLES: usize = memory.data(16 << 10, 64);

function buildTables(): void {
  for (let i: u32 = 0; i < 256; i++) {
    let c = i;
    for (let bit = 0; bit < 8; bit++) c = (c >>> 1) ^ (POLY & (0 - (c & 1)));
    store<u32>(TABLES + (i << 2), c);
  }
  for (let i: u32 = 0; i < 256; i++) {
    let c = load<u32>(TABLES + (i << 2));
    for (let k: usize = 1; k < 16; k++) {
      c = (c >>> 8) ^ load<u32>(TABLES + ((c & 255) << 2));
      store<u32>(TABLES + (k << 10) + (i << 2), c);
    }
  }
}
buildTables();

/**
 * Advances the raw (not inverted) CRC register `c` over [p, p + len).
 * Indexes are pre-scaled byte masks ((w >>> (8j - 2)) & 0x3fc) and each table
 * base is a constant load offset, so a lookup is a shift, a mask and a load:
 * instruction count, not latency, is what bounds this loop.
 */
export function crcSlice16(c: u32, p: usize, len: usize): u32 {
  const end = p + len;
  while (end - p >= 16) {
    const a = load<u32>(p) ^ c;
    const b = load<u32>(p, 4);
    const d = load<u32>(p, 8);
    const e = load<u32>(p, 12);
    c = load<u32>((a << 2) & 0x3fc, TABLES + (15 << 10)) ^
      load<u32>((a >>> 6) & 0x3fc, TABLES + (14 << 10)) ^
      load<u32>((a >>> 14) & 0x3fc, TABLES + (13 << 10)) ^
      load<u32>((a >>> 22) & 0x3fc, TABLES + (12 << 10)) ^
      load<u32>((b << 2) & 0x3fc, TABLES + (11 << 10)) ^
      load<u32>((b >>> 6) & 0x3fc, TABLES + (10 << 10)) ^
      load<u32>((b >>> 14) & 0x3fc, TABLES + (9 << 10)) ^
      load<u32>((b >>> 22) & 0x3fc, TABLES + (8 << 10)) ^
      load<u32>((d << 2) & 0x3fc, TABLES + (7 << 10)) ^
      load<u32>((d >>> 6) & 0x3fc, TABLES + (6 << 10)) ^
      load<u32>((d >>> 14) & 0x3fc, TABLES + (5 << 10)) ^
      load<u32>((d >>> 22) & 0x3fc, TABLES + (4 << 10)) ^
      load<u32>((e << 2) & 0x3fc, TABLES + (3 << 10)) ^
      load<u32>((e >>> 6) & 0x3fc, TABLES + (2 << 10)) ^
      load<u32>((e >>> 14) & 0x3fc, TABLES + (1 << 10)) ^
      load<u32>((e >>> 22) & 0x3fc, TABLES);
    p += 16;
  }
  // Short inputs (headers, small records) spend most of their time here, so
  // the remainder still goes 8 and 4 bytes at a time before single bytes.
  if (end - p >= 8) {
    const a = load<u32>(p) ^ c;
    const b = load<u32>(p, 4);
    c = load<u32>((a << 2) & 0x3fc, TABLES + (7 << 10)) ^
      load<u32>((a >>> 6) & 0x3fc, TABLES + (6 << 10)) ^
      load<u32>((a >>> 14) & 0x3fc, TABLES + (5 << 10)) ^
      load<u32>((a >>> 22) & 0x3fc, TABLES + (4 << 10)) ^
      load<u32>((b << 2) & 0x3fc, TABLES + (3 << 10)) ^
      load<u32>((b >>> 6) & 0x3fc, TABLES + (2 << 10)) ^
      load<u32>((b >>> 14) & 0x3fc, TABLES + (1 << 10)) ^
      load<u32>((b >>> 22) & 0x3fc, TABLES);
    p += 8;
  }
  if (end - p >= 4) {
    const a = load<u32>(p) ^ c;
    c = load<u32>((a << 2) & 0x3fc, TABLES + (3 << 10)) ^
      load<u32>((a >>> 6) & 0x3fc, TABLES + (2 << 10)) ^
      load<u32>((a >>> 14) & 0x3fc, TABLES + (1 << 10)) ^
      load<u32>((a >>> 22) & 0x3fc, TABLES);
    p += 4;
  }
  while (p < end) {
    c = (c >>> 8) ^ load<u32>(((c ^ <u32> load<u8>(p)) & 255) << 2, TABLES);
    p++;
  }
  return c;
}
