/**
 * Splits a byte stream into text lines without re-scanning or re-joining
 * earlier input, so one huge line (a 64 MiB value in a dump) costs linear time.
 * @module
 */

/** Yields each line of `stream` (UTF-8), without its `\n` or `\r\n`. */
export async function* readLines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let pieces: string[] = [];
  for await (const text of stream.pipeThrough(new TextDecoderStream())) {
    let from = 0;
    for (let nl = text.indexOf("\n"); nl >= 0; nl = text.indexOf("\n", from)) {
      pieces.push(text.slice(from, nl));
      yield stripCr(pieces.join(""));
      pieces = [];
      from = nl + 1;
    }
    if (from < text.length) pieces.push(text.slice(from));
  }
  if (pieces.length > 0) yield stripCr(pieces.join(""));
}

function stripCr(line: string): string {
  return line.endsWith("\r") ? line.slice(0, -1) : line;
}
