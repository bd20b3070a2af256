/**
 * Large byte buffers kept for the next user instead of freed. A buffer that is
 * freed goes back to the system, and every page of a fresh one costs a page
 * fault at its first write: on the 2-core VM the benchmarks run on, about
 * 4 ms per MiB (a fresh 4 MiB array written once took 16 ms, the same array
 * written again 0.1 ms). A compaction of 100k small records, whose buffers were
 * all fresh, took 12,000 faults and most of its 240 ms in them. Work that runs
 * again and again with big scratch buffers (compaction) takes them here and
 * gives them back when no write reads them any more.
 * @module
 */

// What the process keeps at most, in all: a compaction of a million keys takes
// about 44 MiB of them (its lists of records and moves, its output and hint
// buffers).
const SPARE_BYTES = 64 * 1024 * 1024;

const spare: Uint8Array[] = [];
let spareBytes = 0;

/** A buffer of at least `bytes` bytes: the smallest one kept that is large enough, or a new one. */
export function takeBuffer(bytes: number): Uint8Array {
  let best = -1;
  for (let i = 0; i < spare.length; i++) {
    if (spare[i].length >= bytes && (best < 0 || spare[i].length < spare[best].length)) best = i;
  }
  if (best < 0) return new Uint8Array(bytes);
  const [buf] = spare.splice(best, 1);
  spareBytes -= buf.length;
  return buf;
}

type ArrayOf<T> = {
  new (buf: ArrayBuffer, at: number, length: number): T;
  BYTES_PER_ELEMENT: number;
};

/** A typed array of `length` elements over a buffer from {@link takeBuffer}: its contents are left over, not zeroed. */
export function takeArray<T>(type: ArrayOf<T>, length: number): T {
  return new type(takeBuffer(length * type.BYTES_PER_ELEMENT).buffer as ArrayBuffer, 0, length);
}

/**
 * Keeps `buf` for a later {@link takeBuffer}, while the kept buffers stay under
 * the cap. The caller must hold no view of it and have no read of it pending.
 */
export function giveBack(buf: Uint8Array): void {
  // Only whole buffers: a view's other bytes may belong to someone else.
  if (buf.byteOffset !== 0 || buf.byteLength !== buf.buffer.byteLength) return;
  if (spareBytes + buf.length > SPARE_BYTES || spare.some((b) => b.buffer === buf.buffer)) return;
  spare.push(buf);
  spareBytes += buf.length;
}

/** Gives back the whole buffer under each of `arrays` (from {@link takeArray}); see {@link giveBack}. */
export function giveBackArrays(...arrays: ArrayBufferView[]): void {
  for (const a of arrays) giveBack(new Uint8Array(a.buffer as ArrayBuffer));
}
