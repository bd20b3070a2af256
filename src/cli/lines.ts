/**
 * Splits a byte stream into lines without re-scanning or re-joining earlier
 * input, so one huge line (a 64 MiB value in a dump) costs linear time. Lines
 * stay bytes: a dump line of a value past about 380 MiB is longer than the
 * longest string V8 can make.
 * @module
 */

/** Yields each line of `stream` as the pieces of bytes it arrived in, without its `\n`. */
export async function* readLines(stream: ReadableStream<Uint8Array>): AsyncGenerator<Uint8Array[]> {
  let pieces: Uint8Array[] = [];
  for await (const chunk of stream) {
    let from = 0;
    for (let nl = chunk.indexOf(0x0a); nl >= 0; nl = chunk.indexOf(0x0a, from)) {
      if (nl > from) pieces.push(chunk.subarray(from, nl));
      yield pieces;
      pieces = [];
      from = nl + 1;
    }
    if (from < chunk.length) pieces.push(chunk.subarray(from));
  }
  if (pieces.length > 0) yield pieces;
}

const BOM = [0xef, 0xbb, 0xbf];

/** `line` (a dump's first) without a UTF-8 byte order mark at its start, as text files may begin. */
export function withoutBom(line: Uint8Array[]): Uint8Array[] {
  const head = line.slice(0, 3).flatMap((p) => [...p.subarray(0, 3)]);
  return BOM.every((b, i) => head[i] === b) ? dropBytes(line, 3) : line;
}

// `pieces` without their first `n` bytes.
function dropBytes(pieces: Uint8Array[], n: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const p of pieces) {
    const cut = Math.min(n, p.length);
    n -= cut;
    if (cut < p.length) out.push(p.subarray(cut));
  }
  return out;
}

/** The total length of `pieces`. */
export function byteLength(pieces: readonly Uint8Array[]): number {
  let n = 0;
  for (const p of pieces) n += p.length;
  return n;
}
