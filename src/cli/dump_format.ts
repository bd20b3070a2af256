/**
 * The portable dump format: JSON lines, one object per key,
 * `{"key":"<base64>","value":"<base64>","expireAt":<ms since epoch>}` with
 * `expireAt` present only for keys that expire. It depends on nothing of the
 * on-disk format, so dumps move between versions and machines.
 * @module
 */

import { DumpFormatError } from "./dump_error.ts";
import { base64Pieces } from "./encoding.ts";
import { byteLength } from "./lines.ts";
import { LongString, readLongLine } from "./long_line.ts";

// Lines longer than this are read as bytes (long_line.ts) rather than as one
// string: past about 512 Mi characters there is no string to hold them.
const LONG_LINE = 16 * 1024 * 1024;
// A byte order mark is taken off the dump's start only (see withoutBom), never a line's.
const utf8 = new TextDecoder("utf-8", { ignoreBOM: true });

/** One key as dumped. */
export interface DumpRecord {
  /** The key's bytes. */
  key: Uint8Array;
  /** The value's bytes. */
  value: Uint8Array;
  /** Expiry time in ms since the Unix epoch; absent when the key never expires. */
  expireAt?: number;
}

const FIELDS = new Set(["key", "value", "expireAt"]);

/**
 * Encodes `record` as one dump line, without the line feed, in pieces that
 * join into the line: the value's base64 comes `pieceBytes` value bytes (a
 * multiple of 3) at a time, since a value of a few hundred MiB spelled whole
 * would be a string past V8's limit.
 */
export function* formatDumpLine(record: DumpRecord, pieceBytes?: number): Generator<string> {
  // Base64 needs no JSON escaping, so the pieces are the JSON text as it is.
  yield `{"key":"${record.key.toBase64()}","value":"`;
  yield* base64Pieces(record.value, pieceBytes);
  yield record.expireAt === undefined ? '"}' : `","expireAt":${record.expireAt}}`;
}

/**
 * Decodes dump line number `lineNumber`, given as the `pieces` of bytes it was
 * read in; `undefined` for a blank line. Lines past `longLine` bytes are read
 * without ever being one string, their strings past `shortString` bytes
 * decoded piece by piece (see long_line.ts).
 * @throws {DumpFormatError} the line is not a dump record.
 */
export function readDumpLine(
  pieces: readonly Uint8Array[],
  lineNumber: number,
  longLine = LONG_LINE,
  shortString?: number,
): DumpRecord | undefined {
  if (byteLength(pieces) > longLine) {
    return recordOf(readLongLine(pieces, lineNumber, shortString), lineNumber);
  }
  const text = pieces.length === 1
    ? utf8.decode(pieces[0])
    : pieces.map((p) => utf8.decode(p, { stream: true })).join("") + utf8.decode();
  return text.trim() === "" ? undefined : parseDumpLine(text, lineNumber);
}

/** Decodes dump line number `lineNumber`; throws {@link DumpFormatError}. */
export function parseDumpLine(text: string, lineNumber: number): DumpRecord {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new DumpFormatError(lineNumber, "not valid JSON");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new DumpFormatError(lineNumber, "expected a JSON object");
  }
  return recordOf(parsed as Record<string, unknown>, lineNumber);
}

function recordOf(fields: Record<string, unknown>, lineNumber: number): DumpRecord {
  // Unknown fields are refused rather than dropped: a newer dump whose extra
  // meaning we would lose must not load half-understood.
  const unknown = Object.keys(fields).find((name) => !FIELDS.has(name));
  if (unknown !== undefined) throw new DumpFormatError(lineNumber, `unknown field '${unknown}'`);
  const record: DumpRecord = {
    key: base64Field(fields, "key", lineNumber),
    value: base64Field(fields, "value", lineNumber),
  };
  // The store refuses it too, but a whole batch at once, without the line.
  if (record.key.length === 0) throw new DumpFormatError(lineNumber, "key must not be empty");
  if (fields.expireAt !== undefined) {
    const expireAt = fields.expireAt;
    if (typeof expireAt !== "number" || !Number.isSafeInteger(expireAt) || expireAt <= 0) {
      throw new DumpFormatError(
        lineNumber,
        "expireAt must be a positive integer up to 2^53 - 1 (ms since epoch)",
      );
    }
    record.expireAt = expireAt;
  }
  return record;
}

function base64Field(fields: Record<string, unknown>, name: string, line: number): Uint8Array {
  const text = fields[name];
  if (typeof text !== "string" && !(text instanceof LongString)) {
    throw new DumpFormatError(line, `missing base64 string '${name}'`);
  }
  try {
    return typeof text === "string" ? Uint8Array.fromBase64(text) : text.base64Bytes();
  } catch (e) {
    if (e instanceof DumpFormatError) throw e;
    throw new DumpFormatError(line, `'${name}' is not valid base64`);
  }
}
