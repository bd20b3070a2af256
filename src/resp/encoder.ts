/**
 * RESP2 replies: a plain-data {@link Reply} that command handlers return, and
 * the encoder that turns a pipeline's replies into one buffer for one write.
 * @module
 */

/**
 * A reply: a number is an integer, a string or bytes a bulk string, `null`
 * the null bulk, an array a multi-bulk; the objects are the one-line status
 * (`+OK`) and error (`-ERR ...`) replies, an integer too big for a double,
 * a map (a flat array in RESP2), the null array (EXEC's "aborted") and a
 * reply in the given protocol whatever the connection's (in EXEC's reply,
 * those of the commands before a HELLO that changed it).
 */
export type Reply =
  | number
  | string
  | Uint8Array
  | null
  | readonly Reply[]
  | { readonly status: string }
  | { readonly error: string }
  | { readonly integer: string }
  | { readonly map: readonly (readonly [Reply, Reply])[] }
  | { readonly nullArray: true }
  | { readonly protocol: 2 | 3; readonly reply: Reply };

/** The `+OK` reply. */
export const OK: Reply = { status: "OK" };
/** The null array (`*-1`), EXEC's reply when a watched key changed. */
export const NULL_ARRAY: Reply = { nullArray: true };

// Values up to this many bytes are copied in a loop rather than with set().
const SHORT_COPY = 32;
const OK_BYTES = new TextEncoder().encode("+OK\r\n");
const INITIAL_CAPACITY = 16 * 1024;
// Type byte, 16 digits (any safe integer) and CRLF.
const MAX_HEADER = 1 + 16 + 2;
const SHRINK_ABOVE = 1024 * 1024;
const encoder = new TextEncoder();

/** Accumulates encoded replies until the connection writes them out. */
export class ReplyBuffer {
  #buf = new Uint8Array(INITIAL_CAPACITY);
  // The buffer drained last, which a write may still be reading: the next
  // replies go into the other one (see drain).
  #spare = new Uint8Array(INITIAL_CAPACITY);
  #length = 0;
  /** RESP version the client chose with HELLO; 3 adds maps and a distinct null. */
  protocol: 2 | 3 = 2;

  /** Bytes waiting to be written. */
  get length(): number {
    return this.#length;
  }

  /** Appends the encoding of `reply`. */
  reply(reply: Reply): void {
    if (typeof reply === "number") {
      if (Number.isSafeInteger(reply) && reply >= 0) this.#header(0x3a, reply);
      else this.#line(0x3a, String(reply));
    } else if (typeof reply === "string") {
      this.#bulk(encoder.encode(reply));
    } else if (reply instanceof Uint8Array) {
      this.#bulk(reply);
    } else if (reply === null) {
      if (this.protocol === 3) this.#line(0x5f, "");
      else this.#line(0x24, "-1");
    } else if (Array.isArray(reply)) {
      this.#header(0x2a, reply.length);
      for (const item of reply) this.reply(item);
    } else if (reply === OK) {
      // The most frequent reply, copied rather than encoded.
      this.#reserve(OK_BYTES.length);
      this.#buf.set(OK_BYTES, this.#length);
      this.#length += OK_BYTES.length;
    } else if ("status" in reply) {
      this.#line(0x2b, oneLine(reply.status));
    } else if ("error" in reply) {
      this.#line(0x2d, oneLine(reply.error));
    } else if ("integer" in reply) {
      this.#line(0x3a, reply.integer);
    } else if ("map" in reply) {
      const pairs = (reply as { map: readonly (readonly [Reply, Reply])[] }).map;
      if (this.protocol === 3) this.#line(0x25, String(pairs.length));
      else this.#line(0x2a, String(pairs.length * 2));
      for (const [key, value] of pairs) {
        this.reply(key);
        this.reply(value);
      }
    } else if ("protocol" in reply) {
      const connection = this.protocol;
      this.protocol = reply.protocol;
      this.reply(reply.reply);
      this.protocol = connection;
    } else {
      if (this.protocol === 3) this.#line(0x5f, "");
      else this.#line(0x2a, "-1");
    }
  }

  /**
   * Returns a copy of the encoded bytes and empties the buffer, which stays
   * this one's: for a connection with writes still in flight, whose second
   * buffer {@link drain} would hand back while a write still reads it.
   */
  take(): Uint8Array {
    const out = this.#buf.slice(0, this.#length);
    this.#length = 0;
    return out;
  }

  /**
   * Returns the encoded bytes and empties the buffer. The view stays intact
   * until the drain after the next one, as replies encoded meanwhile go to a
   * second buffer: a connection that awaits each write before it starts the
   * next (at most one in flight) can encode while that one is still being
   * sent. A socket write reads the bytes as the socket takes them, not when
   * it is called.
   */
  drain(): Uint8Array {
    const out = this.#buf.subarray(0, this.#length);
    this.#length = 0;
    // A big buffer is handed over to the caller instead of being kept for
    // every later small reply of this connection.
    const drained = this.#buf.length > SHRINK_ABOVE ? new Uint8Array(INITIAL_CAPACITY) : this.#buf;
    this.#buf = this.#spare;
    this.#spare = drained;
    return out;
  }

  #reserve(extra: number): void {
    if (this.#length + extra <= this.#buf.length) return;
    const next = new Uint8Array(Math.max(this.#buf.length * 2, this.#length + extra));
    next.set(this.#buf.subarray(0, this.#length));
    this.#buf = next;
  }

  // `<type><text>\r\n`. The text is ASCII, except for arguments quoted in an
  // error, which are byte strings (one char per byte, see words.ts) and go out
  // as the bytes the client sent, as Redis quotes them. Anything else (a char
  // past 0xff) is written as UTF-8.
  #line(type: number, text: string): void {
    // UTF-8 never needs more than 3 bytes per UTF-16 code unit.
    this.#reserve(1 + text.length * 3 + 2);
    const buf = this.#buf, start = this.#length;
    buf[start] = type;
    let at = start + 1;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c > 0xff) {
        at = start + 1 + encoder.encodeInto(text, buf.subarray(start + 1)).written;
        break;
      }
      buf[at++] = c;
    }
    buf[at++] = 0x0d;
    buf[at++] = 0x0a;
    this.#length = at;
  }

  // `<type><n>\r\n` for a safe integer n >= 0, digits written in place: the
  // header of every bulk reply, where String() and encodeInto() showed up in
  // profiles of pipelined GETs.
  #header(type: number, n: number): void {
    this.#reserve(MAX_HEADER);
    const buf = this.#buf;
    buf[this.#length] = type;
    let digits = 1;
    for (let rest = n; rest >= 10; rest = Math.floor(rest / 10)) digits++;
    let at = this.#length + digits;
    for (let rest = n; at > this.#length; rest = Math.floor(rest / 10)) {
      buf[at--] = 0x30 + rest % 10;
    }
    at = this.#length + 1 + digits;
    buf[at] = 0x0d;
    buf[at + 1] = 0x0a;
    this.#length = at + 2;
  }

  #bulk(bytes: Uint8Array): void {
    this.#header(0x24, bytes.length);
    const n = bytes.length;
    this.#reserve(n + 2);
    const buf = this.#buf;
    let at = this.#length;
    // A short value is copied byte by byte: set() costs a call into the
    // runtime, which dominated for the few bytes of a typical GET reply.
    if (n <= SHORT_COPY) { for (let i = 0; i < n; i++) buf[at++] = bytes[i]; }
    else {
      buf.set(bytes, at);
      at += n;
    }
    buf[at] = 0x0d;
    buf[at + 1] = 0x0a;
    this.#length = at + 2;
  }
}

// CR or LF inside a one-line reply would end the frame early: as Redis does,
// those at either end go and each one inside becomes a space.
function oneLine(text: string): string {
  return text.replace(/^[\r\n]+|[\r\n]+$/g, "").replace(/[\r\n]/g, " ");
}
