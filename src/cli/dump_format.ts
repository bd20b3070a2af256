/**
 * The portable dump format: JSON lines, one object per key,
 * `{"key":"<base64>","value":"<base64>","expireAt":<ms since epoch>}` with
 * `expireAt` present only for keys that expire. It depends on nothing of the
 * on-disk format, so dumps move between versions and machines.
 * @module
 */

/** One key as dumped. */
export interface DumpRecord {
  /** The key's bytes. */
  key: Uint8Array;
  /** The value's bytes. */
  value: Uint8Array;
  /** Expiry time in ms since the Unix epoch; absent when the key never expires. */
  expireAt?: number;
}

/** A dump line could not be read; `line` is 1-based. */
export class DumpFormatError extends Error {
  /** Builds the error for input line `line`. */
  constructor(readonly line: number, message: string) {
    super(`dump line ${line}: ${message}`);
    this.name = "DumpFormatError";
  }
}

import { base64Pieces } from "./encoding.ts";

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
  const fields = parsed as Record<string, unknown>;
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
      throw new DumpFormatError(lineNumber, "expireAt must be a positive integer (ms since epoch)");
    }
    record.expireAt = expireAt;
  }
  return record;
}

function base64Field(fields: Record<string, unknown>, name: string, line: number): Uint8Array {
  const text = fields[name];
  if (typeof text !== "string") throw new DumpFormatError(line, `missing base64 string '${name}'`);
  try {
    return Uint8Array.fromBase64(text);
  } catch {
    throw new DumpFormatError(line, `'${name}' is not valid base64`);
  }
}
