/**
 * Reading a dump line too long to be one string. The base64 of a value past
 * about 380 MiB is longer than V8's longest string (about 512 Mi characters),
 * so such a line is walked as bytes: its JSON is read a byte at a time outside
 * strings, short strings are decoded as usual, and each long string is kept as
 * the bytes it is written in and decoded from base64 piece by piece, straight
 * into the bytes it spells.
 * @module
 */

import { DumpFormatError } from "./dump_error.ts";

// Strings longer than this, in bytes as written, are kept as bytes.
const SHORT_STRING = 64 * 1024;

const QUOTE = 0x22, BACKSLASH = 0x5c, COMMA = 0x2c, COLON = 0x3a;
const OPEN_OBJECT = 0x7b, CLOSE_OBJECT = 0x7d, OPEN_ARRAY = 0x5b, CLOSE_ARRAY = 0x5d;
// Only ASCII can be base64, so any one-byte decoding will do for the long strings.
const latin1 = new TextDecoder("latin1");
const utf8 = new TextDecoder();
// Raw control characters are not JSON; the lint rule guards against them by mistake.
// deno-lint-ignore no-control-regex
const CONTROL = /[\x00-\x1f]/;

/** A nested object or array: read past, never needed (no dump field holds one). */
const NESTED: unique symbol = Symbol("nested JSON value");

/** A long string of a dump line, kept as the bytes it is written in (without its quotes). */
export class LongString {
  /** `pieces` hold the string's `length` bytes; `escaped` says whether any `\` escape is among them. */
  constructor(
    readonly pieces: readonly Uint8Array[],
    readonly length: number,
    readonly escaped: boolean,
    readonly line: number,
  ) {}

  /**
   * The bytes the string spells in base64, decoded as `Uint8Array.fromBase64`
   * would decode the whole string.
   * @throws {SyntaxError} the string is not base64.
   * @throws {DumpFormatError} the string is not a valid JSON string.
   */
  base64Bytes(): Uint8Array {
    const out = new Uint8Array(Math.ceil(this.length / 4) * 3);
    let written = 0;
    let carry = ""; // characters short of a group of 4
    let cut = ""; // an escape split between pieces
    let padded = false;
    for (const piece of this.pieces) {
      let text = latin1.decode(piece);
      // Escaped control characters are decoded below.
      if (CONTROL.test(text)) throw notJson(this.line);
      if (this.escaped) [text, cut] = unescape(cut + text, this.line);
      // fromBase64 skips ASCII whitespace; so must the grouping into fours.
      if (/[\t\n\f\r ]/.test(text)) text = text.replace(/[\t\n\f\r ]/g, "");
      text = carry + text;
      const whole = text.length - text.length % 4;
      carry = text.slice(whole);
      if (whole === 0) continue;
      if (padded) throw new SyntaxError("base64 goes on after its padding");
      written += out.subarray(written).setFromBase64(text.slice(0, whole)).written;
      padded = text.charCodeAt(whole - 1) === 0x3d;
    }
    if (cut !== "") throw notJson(this.line);
    if (carry !== "") {
      if (padded) throw new SyntaxError("base64 goes on after its padding");
      written += out.subarray(written).setFromBase64(carry).written;
    }
    return out.subarray(0, written);
  }
}

const SIMPLE_ESCAPES: Record<string, string> = {
  '"': '"',
  "\\": "\\",
  "/": "/",
  b: "\b",
  f: "\f",
  n: "\n",
  r: "\r",
  t: "\t",
};

// Decodes the JSON escapes of `text`; an escape cut short at its end comes back
// undecoded as the second element, to be finished by the next piece.
function unescape(text: string, line: number): [string, string] {
  let out = "";
  let from = 0;
  for (let at = text.indexOf("\\"); at >= 0; at = text.indexOf("\\", from)) {
    out += text.slice(from, at);
    const kind = text[at + 1];
    if (kind === undefined || (kind === "u" && at + 6 > text.length)) {
      return [out, text.slice(at)];
    }
    if (kind === "u") {
      const hex = text.slice(at + 2, at + 6);
      if (!/^[0-9a-fA-F]{4}$/.test(hex)) throw notJson(line);
      out += String.fromCharCode(parseInt(hex, 16));
      from = at + 6;
    } else {
      const plain = SIMPLE_ESCAPES[kind];
      if (plain === undefined) throw notJson(line);
      out += plain;
      from = at + 2;
    }
  }
  return [out + text.slice(from), ""];
}

function notJson(line: number): DumpFormatError {
  return new DumpFormatError(line, "not valid JSON");
}

/**
 * The fields of the JSON object on dump line `line` (given as `pieces` of
 * bytes): strings longer than `shortString` bytes as {@link LongString},
 * nested objects and arrays as {@link NESTED}.
 * @throws {DumpFormatError} the line is not a JSON object.
 */
export function readLongLine(
  pieces: readonly Uint8Array[],
  line: number,
  shortString = SHORT_STRING,
): Record<string, unknown> {
  const c = new Cursor(pieces, line);
  // A null prototype, so a field named __proto__ is a field, as from JSON.parse.
  const fields: Record<string, unknown> = Object.create(null);
  c.skipSpace();
  if (c.next() !== OPEN_OBJECT) throw new DumpFormatError(line, "expected a JSON object");
  c.skipSpace();
  if (c.peek() === CLOSE_OBJECT) c.next();
  else {
    for (let sep = COMMA; sep === COMMA; sep = c.next()) {
      c.skipSpace();
      if (c.next() !== QUOTE) throw notJson(line);
      // Names are no dump's long strings; `shortString` is for values.
      const name = c.string(SHORT_STRING);
      if (typeof name !== "string") {
        throw new DumpFormatError(line, `unknown field of ${name.length} bytes`);
      }
      c.skipSpace();
      if (c.next() !== COLON) throw notJson(line);
      c.skipSpace();
      fields[name] = c.value(shortString);
      c.skipSpace();
      if (c.peek() === CLOSE_OBJECT) {
        c.next();
        break;
      }
      if (c.peek() !== COMMA) throw notJson(line);
    }
  }
  c.skipSpace();
  if (c.peek() >= 0) throw notJson(line);
  return fields;
}

// A read position in a line held as pieces of bytes.
class Cursor {
  #pieces: readonly Uint8Array[];
  #piece = 0;
  #at = 0;

  constructor(pieces: readonly Uint8Array[], readonly line: number) {
    this.#pieces = pieces;
  }

  /** The next byte, or -1 at the end of the line. */
  peek(): number {
    // `#at` may point past its piece after a skipped escape: move on.
    while (this.#piece < this.#pieces.length && this.#at >= this.#pieces[this.#piece].length) {
      this.#at -= this.#pieces[this.#piece].length;
      this.#piece++;
    }
    return this.#piece < this.#pieces.length ? this.#pieces[this.#piece][this.#at] : -1;
  }

  next(): number {
    const b = this.peek();
    if (b >= 0) this.#at++;
    return b;
  }

  skipSpace(): void {
    for (
      let b = this.peek();
      b === 0x20 || b === 0x09 || b === 0x0d || b === 0x0a;
      b = this.peek()
    ) {
      this.#at++;
    }
  }

  /** A JSON value, its first byte next; objects and arrays are read past as {@link NESTED}. */
  value(shortString: number): unknown {
    const b = this.peek();
    if (b === QUOTE) {
      this.next();
      return this.string(shortString);
    }
    if (b === OPEN_OBJECT || b === OPEN_ARRAY) return this.#nested();
    // Numbers and literals: their characters, checked by JSON.parse.
    let word = "";
    for (
      let c = this.peek();
      c >= 0 && /[-+.0-9a-zA-Z]/.test(String.fromCharCode(c));
      c = this.peek()
    ) {
      word += String.fromCharCode(this.next());
    }
    try {
      return JSON.parse(word);
    } catch {
      throw notJson(this.line);
    }
  }

  /** A string, its opening quote read: decoded when short, else a {@link LongString}. */
  string(shortString: number): string | LongString {
    const startPiece = this.#piece, startAt = this.#at;
    const escaped = this.#skipString();
    // The closing quote was the last byte read.
    const pieces: Uint8Array[] = [];
    for (let i = startPiece; i <= this.#piece; i++) {
      const p = this.#pieces[i];
      const from = i === startPiece ? startAt : 0;
      const to = i === this.#piece ? this.#at - 1 : p.length;
      if (to > from) pieces.push(p.subarray(from, to));
    }
    let length = 0;
    for (const p of pieces) length += p.length;
    if (length > shortString) return new LongString(pieces, length, escaped, this.line);
    const bytes = new Uint8Array(length);
    let at = 0;
    for (const p of pieces) {
      bytes.set(p, at);
      at += p.length;
    }
    try {
      return JSON.parse(`"${utf8.decode(bytes)}"`);
    } catch {
      throw notJson(this.line);
    }
  }

  // Moves past a string's closing quote; returns whether it holds an escape.
  // indexOf does the scanning, so a long string costs little JavaScript.
  #skipString(): boolean {
    let escaped = false;
    // The next quote in piece `quotePiece`, found once per piece, not once per escape.
    let quote = -1, quotePiece = -1;
    for (;;) {
      if (this.peek() < 0) throw notJson(this.line);
      const p = this.#pieces[this.#piece];
      // (No quote in the piece, -1, stays the answer for the rest of it.)
      if ((quote >= 0 && quote < this.#at) || quotePiece !== this.#piece) {
        quote = p.indexOf(QUOTE, this.#at);
        quotePiece = this.#piece;
      }
      const end = quote < 0 ? p.length : quote;
      const slash = p.indexOf(BACKSLASH, this.#at);
      if (slash >= 0 && slash < end) {
        // The escaped byte may be the first of the next piece: peek() moves on.
        escaped = true;
        this.#at = slash + 2;
      } else if (quote < 0) {
        this.#at = p.length;
      } else {
        this.#at = quote + 1;
        return escaped;
      }
    }
  }

  #nested(): typeof NESTED {
    let depth = 0;
    do {
      const b = this.next();
      if (b < 0) throw notJson(this.line);
      if (b === QUOTE) this.#skipString();
      else if (b === OPEN_OBJECT || b === OPEN_ARRAY) depth++;
      else if (b === CLOSE_OBJECT || b === CLOSE_ARRAY) depth--;
    } while (depth > 0);
    return NESTED;
  }
}
