/**
 * File headers: the first bytes of every data and hint file. A version-2 header
 * says which store the file belongs to, which file it is, what it follows in the
 * log and the salt its checksums start from (layout in format.ts); recovery uses
 * that to notice missing, foreign and stale files. Version-1 headers (16 bytes)
 * are still read.
 * @module
 */

import { crc32, FORMAT_V1, formatV2, type RecordFormat } from "./codec.ts";
import { FILE_HEADER_SIZE, FILE_HEADER_SIZE_V1, FILE_MAGIC, FORMAT_VERSION } from "./format.ts";

/** The decoded fields of a file header. */
export interface FileHeader {
  /** Format version of the file. */
  version: 1 | 2;
  /** KIND_DATA or KIND_HINT. */
  kind: number;
  /** FILE_FLAG_* bits. */
  flags: number;
  /** Seed of every checksum in the file (0 in version 1). */
  salt: number;
  /** Random id shared by every file of one store, as 16 hex digits ("" in version 1). */
  storeId: string;
  /** The id in the file's name, as written (-1 in version 1). */
  fileId: number;
  /** Id of the log file this one continues; -1 for the first (and in version 1). */
  follows: number;
  /** Last sequence number committed before this file, or covered by a merge output. */
  baseSeq: number;
  /** A merge output's 1-based place among its merge's `parts` outputs; 0 otherwise. */
  part: number;
  /** How many outputs the merge of this file wrote; 0 for a log file. */
  parts: number;
}

/** Bytes of a header of `version`. */
export function fileHeaderSize(version: 1 | 2): number {
  return version === 1 ? FILE_HEADER_SIZE_V1 : FILE_HEADER_SIZE;
}

/** The record format of the file a header starts. */
export function recordFormat(h: FileHeader): RecordFormat {
  return h.version === 1 ? FORMAT_V1 : formatV2(h.salt);
}

/** A new random salt, never 0 (0 is version 1's unsalted seed). */
export function newSalt(): number {
  const b = new Uint32Array(1);
  do crypto.getRandomValues(b); while (b[0] === 0);
  return b[0];
}

/** A new random store id. */
export function newStoreId(): string {
  const b = new Uint8Array(8);
  crypto.getRandomValues(b);
  return hex(b);
}

/** The bytes of a version-2 header. */
export function encodeFileHeader(h: Omit<FileHeader, "version">): Uint8Array {
  const b = new Uint8Array(FILE_HEADER_SIZE);
  const v = new DataView(b.buffer);
  v.setUint32(0, FILE_MAGIC, true);
  v.setUint16(4, FORMAT_VERSION, true);
  v.setUint16(6, h.kind, true);
  v.setUint32(8, h.flags, true);
  v.setUint32(12, h.salt, true);
  for (let i = 0; i < 8; i++) b[16 + i] = parseInt(h.storeId.slice(2 * i, 2 * i + 2), 16);
  setU64(v, 24, h.fileId);
  setU64(v, 32, h.follows + 1);
  setU64(v, 40, h.baseSeq);
  v.setUint32(48, h.part, true);
  v.setUint32(52, h.parts, true);
  v.setUint32(60, crc32(b.subarray(0, 60)), true);
  return b;
}

/**
 * The header of kind `kind` at the start of `b` (at least its first bytes of
 * the file), or undefined when there is no valid one.
 */
export function decodeFileHeader(b: Uint8Array, kind: number): FileHeader | undefined {
  if (b.length < FILE_HEADER_SIZE_V1) return undefined;
  const v = new DataView(b.buffer, b.byteOffset, b.length);
  if (v.getUint32(0, true) !== FILE_MAGIC || v.getUint16(6, true) !== kind) return undefined;
  const version = v.getUint16(4, true);
  if (version === 1) {
    if (v.getUint32(12, true) !== crc32(b.subarray(0, 12))) return undefined;
    return {
      version: 1,
      kind,
      flags: v.getUint32(8, true),
      salt: 0,
      storeId: "",
      fileId: -1,
      follows: -1,
      baseSeq: 0,
      part: 0,
      parts: 0,
    };
  }
  if (version !== 2 || b.length < FILE_HEADER_SIZE) return undefined;
  if (v.getUint32(60, true) !== crc32(b.subarray(0, 60))) return undefined;
  return {
    version: 2,
    kind,
    flags: v.getUint32(8, true),
    salt: v.getUint32(12, true),
    storeId: hex(b.subarray(16, 24)),
    fileId: getU64(v, 24),
    follows: getU64(v, 32) - 1,
    baseSeq: getU64(v, 40),
    part: v.getUint32(48, true),
    parts: v.getUint32(52, true),
  };
}

/** What a damaged version-2 header still says, unchecked: see {@link fieldsOfDamaged}. */
export interface DamagedFields {
  salt: number;
  storeId: string;
  fileId: number;
}

/**
 * The salt, store id and file id fields of a version-2 header whose checksum
 * fails: a damaged header may still hold them right, and records that validate
 * with the salt prove the salt (not the ids: a copy of another file validates
 * with its own salt too).
 */
export function fieldsOfDamaged(b: Uint8Array): DamagedFields | undefined {
  if (b.length < FILE_HEADER_SIZE) return undefined;
  const v = new DataView(b.buffer, b.byteOffset, b.length);
  const salt = v.getUint32(12, true);
  if (salt === 0) return undefined;
  return { salt, storeId: hex(b.subarray(16, 24)), fileId: getU64(v, 24) };
}

function hex(b: Uint8Array): string {
  return [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
}

// u64 fields hold integers below 2^53; two u32 halves avoid BigInt.
/** Writes the integer `x` (< 2^53) as a little-endian u64 at `at`. */
export function setU64(v: DataView, at: number, x: number): void {
  v.setUint32(at, x >>> 0, true);
  v.setUint32(at + 4, Math.floor(x / 0x1_0000_0000), true);
}

/** Reads a little-endian u64 at `at` as a number (exact below 2^53). */
export function getU64(v: DataView, at: number): number {
  return v.getUint32(at, true) + v.getUint32(at + 4, true) * 0x1_0000_0000;
}
