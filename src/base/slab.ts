/**
 * Small byte arrays handed out as views of shared slabs. Allocating an
 * ArrayBuffer costs about 2 us here, more than a pread (measured: ~470k
 * slices/s against ~3.9M subarrays/s of 152 bytes), and a get or a scan step is
 * a few us in all, so values up to 4 KiB and the keys a scan yields are copied
 * into a 64 KiB slab instead, the way Node's `Buffer.allocUnsafe` pool does it.
 * The price: one kept array keeps its slab (64 KiB) alive, and its `.buffer`
 * is the slab, so transferring that buffer to a Worker would detach other
 * arrays too (copy one with slice() first).
 * @module
 */

const SLAB = 64 * 1024;
const SLAB_MAX = 4 * 1024;
let slab = new Uint8Array(SLAB);
let slabUsed = 0;

// `n` bytes of the slab no other array shares, starting on an 8-byte boundary
// (for typed-array views a caller may make).
function take(n: number): Uint8Array {
  if (slabUsed + n > SLAB) {
    slab = new Uint8Array(SLAB);
    slabUsed = 0;
  }
  const out = slab.subarray(slabUsed, slabUsed + n);
  slabUsed += (n + 7) & ~7;
  return out;
}

/** A copy of `src` the caller owns: a slab view up to 4 KiB, an array of its own beyond. */
export function copyOut(src: Uint8Array): Uint8Array {
  if (src.length > SLAB_MAX) return src.slice();
  const out = take(src.length);
  out.set(src);
  return out;
}

/** The bytes of binary string `k` (see keys.ts), as {@link copyOut} hands them out. */
export function keyOut(k: string): Uint8Array {
  const n = k.length;
  const out = n > SLAB_MAX ? new Uint8Array(n) : take(n);
  for (let i = 0; i < n; i++) out[i] = k.charCodeAt(i);
  return out;
}
