/**
 * RESP2 reply encoder. Replies to a pipeline accumulate in one growable
 * buffer so they reach the socket in a single write.
 * @module
 */

const CRLF = [0x0d, 0x0a];
const INITIAL_CAPACITY = 16 * 1024;
const SHRINK_ABOVE = 1024 * 1024;
const encoder = new TextEncoder();

/** Accumulates encoded replies until the connection writes them out. */
export class ReplyBuffer {
  #buf = new Uint8Array(INITIAL_CAPACITY);
  #length = 0;

  /** Bytes waiting to be written. */
  get length(): number {
    return this.#length;
  }

  /** `+OK`-style status line; CR/LF in `text` would end the frame, so they become spaces. */
  simple(text: string): void {
    this.#byte(0x2b);
    this.#text(oneLine(text));
    this.#crlf();
  }

  /** `-ERR ...` line; `message` should start with an error code such as `ERR`. */
  error(message: string): void {
    this.#byte(0x2d);
    this.#text(oneLine(message));
    this.#crlf();
  }

  /** `:<n>` integer. */
  integer(n: number): void {
    this.#byte(0x3a);
    this.#text(String(n));
    this.#crlf();
  }

  /** `$<len>` bulk string, or the null bulk `$-1` for `undefined`. */
  bulk(value: Uint8Array | string | undefined): void {
    if (value === undefined) {
      this.#text("$-1");
      this.#crlf();
      return;
    }
    const bytes = typeof value === "string" ? encoder.encode(value) : value;
    this.#byte(0x24);
    this.#text(String(bytes.length));
    this.#crlf();
    this.#bytes(bytes);
    this.#crlf();
  }

  /** `*<n>` header; the caller then encodes `n` elements. */
  array(n: number): void {
    this.#byte(0x2a);
    this.#text(String(n));
    this.#crlf();
  }

  /**
   * Returns the encoded bytes and empties the buffer. The view aliases the
   * internal storage: write it out before encoding the next reply.
   */
  drain(): Uint8Array {
    const out = this.#buf.subarray(0, this.#length);
    this.#length = 0;
    // Hand a big buffer over to the caller instead of keeping it for every
    // later small reply of this connection.
    if (this.#buf.length > SHRINK_ABOVE) this.#buf = new Uint8Array(INITIAL_CAPACITY);
    return out;
  }

  #reserve(extra: number): void {
    if (this.#length + extra <= this.#buf.length) return;
    const next = new Uint8Array(Math.max(this.#buf.length * 2, this.#length + extra));
    next.set(this.#buf.subarray(0, this.#length));
    this.#buf = next;
  }

  #byte(b: number): void {
    this.#reserve(1);
    this.#buf[this.#length++] = b;
  }

  #crlf(): void {
    this.#reserve(2);
    this.#buf.set(CRLF, this.#length);
    this.#length += 2;
  }

  #bytes(bytes: Uint8Array): void {
    this.#reserve(bytes.length);
    this.#buf.set(bytes, this.#length);
    this.#length += bytes.length;
  }

  #text(text: string): void {
    // UTF-8 never needs more than 3 bytes per UTF-16 code unit.
    this.#reserve(text.length * 3);
    this.#length += encoder.encodeInto(text, this.#buf.subarray(this.#length)).written;
  }
}

function oneLine(text: string): string {
  return text.replace(/[\r\n]+/g, " ");
}
