/**
 * Small helpers on byte strings (encoded keys).
 * @module
 */

/** Unsigned byte-wise comparison, the order of encoded keys. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

/** Whether `b` starts with `prefix`. */
export function startsWith(b: Uint8Array, prefix: Uint8Array): boolean {
  return b.length >= prefix.length && prefix.every((x, i) => b[i] === x);
}

/** The parts one after another. */
export function concatBytes(...parts: (Uint8Array | number[])[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) out.set(p, at), at += p.length;
  return out;
}

// windows-1252 (the "latin1" label) maps the 256 byte values to 256 distinct characters,
// so distinct byte strings decode to distinct strings.
const singleByte = new TextDecoder("latin1");

/** A string standing for `b`, for Map and Set keys. */
export function bytesId(b: Uint8Array): string {
  return singleByte.decode(b);
}
