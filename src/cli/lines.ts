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

/** The total length of `pieces`. */
export function byteLength(pieces: readonly Uint8Array[]): number {
  let n = 0;
  for (const p of pieces) n += p.length;
  return n;
}
