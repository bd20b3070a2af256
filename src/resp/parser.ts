/**
 * Incremental RESP2 request parser. Bytes arrive in arbitrary TCP-sized pieces
 * (a frame may be split at any byte); {@link RespParser.next} hands out each
 * command once it is complete. Work is linear in the input: finished arguments
 * are never re-parsed, and a full buffer is replaced by one at least twice
 * the size of what it still holds.
 *
 * Arguments are views into the buffer, not copies (one allocation per
 * argument was the parser's main cost): bytes once handed out are never
 * written again, since the buffer only grows at its end and a full one is
 * replaced rather than compacted. A view keeps its buffer alive, so
 * whoever keeps arguments longer than a command (MULTI, WATCH) copies them.
 * @module
 */

import { ARGUMENT_OVERHEAD } from "./argument_cost.ts";
import { splitInline } from "./inline.ts";

/** A client broke the protocol; the connection cannot be resynchronised. */
export class ProtocolError extends Error {
  /** Builds the error; `message` becomes the text after `-ERR Protocol error: `. */
  constructor(message: string) {
    super(message);
    this.name = "ProtocolError";
  }
}

/** Bounds that keep one client from exhausting the server's memory. */
export interface RespLimits {
  /** Largest `$<n>` bulk argument accepted. */
  maxBulkLength: number;
  /** Largest `*<n>` argument count accepted. */
  maxMultibulkLength: number;
  /** Longest line (inline command or frame header) accepted. */
  maxLineLength: number;
}

/** Redis' own limits: 512 MiB bulks, 64 KiB inline commands. */
export const DEFAULT_LIMITS: RespLimits = {
  maxBulkLength: 512 * 1024 * 1024,
  maxMultibulkLength: 1024 * 1024,
  maxLineLength: 64 * 1024,
};

// Redis 7.0's bounds before AUTH, when a password is set: a stranger may not
// make the server hold more than a few small arguments.
const UNAUTHENTICATED_MULTIBULK = 10;
const UNAUTHENTICATED_BULK = 16 * 1024;
// Redis' own bounds (INT_MAX arguments, proto-max-bulk-len's default of 512 MB),
// which it checks before a stranger's.
const REDIS_MAX_MULTIBULK = 2 ** 31 - 1;
const REDIS_MAX_BULK = 512 * 1024 * 1024;

const CR = 0x0d;
const LF = 0x0a;
const NUL = 0x00;
const STAR = 0x2a;
const DOLLAR = 0x24;
const INITIAL_CAPACITY = 16 * 1024;
// A buffer that grew for one big request is given back once drained, so idle
// connections do not each pin the largest frame they ever saw.
const SHRINK_ABOVE = 1024 * 1024;

/** One parsed command: its name and arguments, as sent. */
export type RespCommand = Uint8Array[];

/** Turns a byte stream into commands; one instance per connection. */
export class RespParser {
  readonly #limits: RespLimits;
  readonly #authenticated: () => boolean;
  #buf = new Uint8Array(INITIAL_CAPACITY);
  #start = 0;
  #end = 0;
  // Bytes after #start already searched for a line feed, so a long line that
  // trickles in is scanned once, not once per read.
  #scanned = 0;
  // A NUL byte met before the line's end: Redis looks for the end with C's
  // strchr(), which stops there, so that line never ends (until it is too long).
  #nul = false;
  // Where the line #line() found last starts.
  #lineStart = 0;
  // Multibulk in progress: arguments so far and their cost, how many are
  // still due, and the length of the bulk whose header was read but whose
  // body has not arrived.
  #args: Uint8Array[] | undefined;
  #argCost = 0;
  #remaining = 0;
  #bulkLength = -1;

  /**
   * Builds a parser enforcing `limits`, and Redis' tighter ones while
   * `authenticated` answers false.
   */
  constructor(limits: RespLimits = DEFAULT_LIMITS, authenticated: () => boolean = () => true) {
    this.#limits = limits;
    this.#authenticated = authenticated;
  }

  /**
   * Request bytes this parser holds: received but not yet handed out, the
   * finished arguments of a command still arriving included, each with its
   * {@link ARGUMENT_OVERHEAD}.
   */
  get buffered(): number {
    return this.#end - this.#start + this.#argCost;
  }

  /**
   * Appends received bytes; `chunk` may be reused by the caller afterwards.
   * The arguments of commands handed out before are views that this may
   * overwrite: use them up (or copy them) first.
   */
  push(chunk: Uint8Array): void {
    // Everything handed out is used up by now: the buffer is reused from its
    // start, so a connection's reads keep landing in the same few cache lines
    // instead of streaming through the buffer and a fresh one after it.
    if (this.#start === this.#end && this.#args === undefined) this.#start = this.#end = 0;
    this.#reserve(chunk.length);
    this.#buf.set(chunk, this.#end);
    this.#end += chunk.length;
  }

  /**
   * Returns the next complete command, or `undefined` when more bytes are
   * needed. Throws {@link ProtocolError} on malformed input; the parser is then
   * unusable, as Redis closes such connections.
   */
  next(): RespCommand | undefined {
    for (;;) {
      if (this.#args === undefined) {
        if (this.#start === this.#end) {
          // Views handed out keep the big buffer alive only while they are used.
          if (this.#buf.length > SHRINK_ABOVE) {
            this.#buf = new Uint8Array(INITIAL_CAPACITY);
            this.#start = this.#end = 0;
          }
          return undefined;
        }
        if (this.#buf[this.#start] !== STAR) {
          const inline = this.#inline();
          if (inline === undefined) return undefined;
          if (inline.length === 0) continue; // blank lines are keep-alives
          return inline;
        }
        const end = this.#line("mbulk count string");
        if (end < 0) return undefined;
        const count = parseLength(this.#buf, this.#lineStart + 1, end);
        // Redis' own bound first, then the stranger's, then ours (Redis has
        // none lower), so each request gets the error Redis gives it.
        if (count === undefined || count > REDIS_MAX_MULTIBULK) {
          throw new ProtocolError("invalid multibulk length");
        }
        if (count > UNAUTHENTICATED_MULTIBULK && !this.#authenticated()) {
          throw new ProtocolError("unauthenticated multibulk length");
        }
        if (count > this.#limits.maxMultibulkLength) {
          throw new ProtocolError("invalid multibulk length");
        }
        if (count <= 0) continue; // `*0` and `*-1` are ignored, as Redis does
        this.#args = [];
        this.#remaining = count;
      }
      const done = this.#bulks();
      if (done === undefined) return undefined;
      this.#args = undefined;
      this.#argCost = 0;
      return done;
    }
  }

  #bulks(): RespCommand | undefined {
    const args = this.#args!;
    while (this.#remaining > 0) {
      if (this.#bulkLength < 0) {
        // Redis looks at the '$' once the header's line has ended, and names
        // the byte as it is (a CR or LF as a space, as every error line).
        const end = this.#line("bulk count string");
        if (end < 0) return undefined;
        const first = this.#buf[this.#lineStart];
        if (first !== DOLLAR) {
          throw new ProtocolError(`expected '$', got '${String.fromCharCode(first)}'`);
        }
        const length = parseLength(this.#buf, this.#lineStart + 1, end);
        const max = this.#limits.maxBulkLength;
        // In Redis' order, as for the count above.
        if (length === undefined || length < 0 || length > Math.max(REDIS_MAX_BULK, max)) {
          throw new ProtocolError("invalid bulk length");
        }
        if (length > UNAUTHENTICATED_BULK && !this.#authenticated()) {
          throw new ProtocolError("unauthenticated bulk length");
        }
        if (length > max) throw new ProtocolError("invalid bulk length");
        this.#bulkLength = length;
      }
      const length = this.#bulkLength;
      if (this.#end - this.#start < length + 2) return undefined;
      // The two bytes after the data are skipped unread, as Redis skips them:
      // a stricter check would answer differently from Redis, and a proxy
      // that frames requests as Redis does would then see a different stream.
      const at = this.#start + length;
      args.push(this.#buf.subarray(this.#start, at));
      this.#argCost += length + ARGUMENT_OVERHEAD;
      this.#bulkLength = -1;
      this.#consume(length + 2);
      this.#remaining--;
    }
    return args;
  }

  #inline(): RespCommand | undefined {
    const end = this.#line(undefined);
    if (end < 0) return undefined;
    const args = splitInline(this.#buf.subarray(this.#lineStart, end));
    if (args === undefined) throw new ProtocolError("unbalanced quotes in request");
    return args;
  }

  /**
   * Finds the next line and consumes it, returning where it ends without the
   * terminator (it starts at #lineStart); -1 when it has not fully arrived.
   * `header` names a frame header (Redis' words for one too long), which ends
   * as Redis ends one: at its first CR, the byte after which is skipped
   * unread, whatever it is. Undefined means an inline command, which ends at
   * its first LF (a CR before it is dropped).
   */
  #line(header: string | undefined): number {
    const from = this.#start + this.#scanned;
    const stop = header === undefined ? LF : CR;
    // A plain loop: lines are short, and indexOf() would either allocate a
    // view per call or search the whole free tail of a buffer a big value grew.
    // Redis searches with C's strchr(), which a NUL byte stops: see #nul.
    const buf = this.#buf;
    const limit = this.#end;
    let at = from;
    while (at < limit && buf[at] !== stop && buf[at] !== NUL) at++;
    if (at < limit && buf[at] === NUL) this.#nul = true;
    if (at === limit || this.#nul) {
      this.#scanned = this.#end - this.#start;
      if (this.#scanned > this.#limits.maxLineLength) throw tooBig(header);
      return -1;
    }
    // A header's CR must have the byte it skips after it.
    if (header !== undefined && at + 1 === limit) {
      this.#scanned = at - this.#start;
      return -1;
    }
    const start = this.#start;
    let end = at;
    if (header === undefined && end > start && buf[end - 1] === CR) end--;
    // A line that ended is not too big, however long: Redis checks the
    // limit only while the end has not come.
    this.#consume(at + (header === undefined ? 1 : 2) - start);
    this.#lineStart = start;
    return end;
  }

  #consume(n: number): void {
    this.#start += n;
    this.#scanned = 0;
  }

  // Makes room for `extra` more bytes after #end. A new buffer has at least
  // twice the room the unconsumed bytes need, so each byte is moved a bounded
  // number of times however the input is split.
  #reserve(extra: number): void {
    if (this.#end + extra <= this.#buf.length) return;
    const live = this.#end - this.#start;
    const next = new Uint8Array(Math.max(INITIAL_CAPACITY, 2 * (live + extra)));
    next.set(this.#buf.subarray(this.#start, this.#end));
    this.#buf = next;
    this.#start = 0;
    this.#end = live;
  }
}

/** Parses a signed decimal in buf[from, to); `undefined` when it is not one. */
function parseLength(buf: Uint8Array, from: number, to: number): number | undefined {
  let i = from;
  const negative = buf[i] === 0x2d;
  if (negative) i++;
  // 15 digits stay exact in a double and exceed every limit we enforce.
  if (i === to || to - i > 15) return undefined;
  // As Redis reads it: no leading zero, and no "-0".
  if (buf[i] === 0x30 && (to - i > 1 || negative)) return undefined;
  let n = 0;
  for (; i < to; i++) {
    const digit = buf[i] - 0x30;
    if (digit < 0 || digit > 9) return undefined;
    n = n * 10 + digit;
  }
  return negative ? -n : n;
}

// Redis' words for a line past the limit: an inline request, or the header named.
function tooBig(header: string | undefined): ProtocolError {
  return new ProtocolError(header === undefined ? "too big inline request" : `too big ${header}`);
}
