// CRC-32 entry point. Short inputs go straight to slicing-by-16; long ones are
// first folded with 128-bit vector XORs, which do about a sixth of the work per
// byte of any table method.
//
// Why the fold is exact: Q(x) = x^300 + x^155 + x^117 + x^89 + 1 is a multiple
// of the CRC-32 polynomial (found by a meet-in-the-middle search over low-weight
// multiples; codec_test checks the result against hash-wasm). Adding any
// multiple of Q to the message leaves its CRC unchanged. In the reflected byte
// stream an earlier byte is a higher power of x, so adding Q times a 16-byte
// block B (aligned to B's position) cancels B and XORs copies of it 145, 183,
// 211 and 300 bytes further on. Cancelling every block followed by at least 300
// more bytes leaves a tail of 300..315 bytes with the same CRC as the whole
// input. Each block, instead of pushing copies forward, pulls what earlier
// blocks pushed into it:
//   V[q] = data[q] ^ V[q-145] ^ V[q-183] ^ V[q-211] ^ V[q-300]
// so a 16-byte step is five loads, four XORs and a store.

import { crcSlice16 } from "./slice16";

// Degree of Q, and the byte distances of its other terms counted from V[q-300].
const SPAN: usize = 300;
const TAP_211: usize = SPAN - 211;
const TAP_183: usize = SPAN - 183;
const TAP_145: usize = SPAN - 145;

// Below this the fold's fixed cost (a 300..315-byte tail through the tables)
// outweighs what it saves: timed both ways, they cross near 370 bytes.
const FOLD_MIN: usize = 384;

// V is kept in a window: HISTORY_PAD bytes of older values, then room for
// HISTORY_ROOM new ones; when it fills, the newest HISTORY_PAD bytes move to the
// front. The last HISTORY_PAD bytes give room to zero V past the folded part.
const HISTORY_PAD: usize = 304;
const HISTORY_ROOM: usize = 16 << 10;
const HISTORY: usize = memory.data(<i32> (HISTORY_ROOM + 2 * HISTORY_PAD), 16);
const HISTORY_FULL: usize = HISTORY + HISTORY_PAD + HISTORY_ROOM;
const REST: usize = memory.data(320, 16);

// data[src..src+16) ^ the four earlier values, where h points at V[q-300].
function pull(src: usize, h: usize): v128 {
  return v128.xor(
    v128.xor(v128.load(src), v128.load(h)),
    v128.xor(v128.xor(v128.load(h, TAP_211), v128.load(h, TAP_183)), v128.load(h, TAP_145)),
  );
}

/** CRC-32 of [p, p + len) continuing from a previous result `seed` (0 to start). */
export function crc32(p: usize, len: usize, seed: u32): u32 {
  const c = ~seed;
  if (len < FOLD_MIN) return ~crcSlice16(c, p, len);
  const folded = ((len - SPAN) >> 4) << 4;
  // The register's effect equals XOR-ing it into the first four message bytes;
  // planting it at V[-300] makes the first block pull it in.
  memory.fill(HISTORY, 0, HISTORY_PAD);
  let h = HISTORY + HISTORY_PAD - SPAN;
  store<u32>(h, c);
  for (let q: usize = 0; q < folded; q += 16) {
    if (h + SPAN == HISTORY_FULL) {
      memory.copy(HISTORY, HISTORY_FULL - HISTORY_PAD, HISTORY_PAD);
      h = HISTORY + HISTORY_PAD - SPAN;
    }
    v128.store(h, pull(p + q, h), SPAN);
    h += 16;
  }
  // Blocks past the folded part receive pushes but push nothing themselves.
  memory.fill(h + SPAN, 0, HISTORY_PAD);
  const rest = len - folded;
  memory.copy(REST, p + folded, rest);
  for (let r = REST; r < REST + rest; r += 16) {
    v128.store(r, pull(r, h));
    h += 16;
  }
  return ~crcSlice16(0, REST, rest);
}
