/**
 * On-disk format constants of records and file headers. Version 2 is written;
 * version 1 is still read. The layout is documented in the README; what reads
 * or writes records and file headers takes its numbers from here (the wasm
 * codec included). Hint entries and the index checkpoint keep their layouts in
 * their own modules (src/log/hint.ts, src/log/checkpoint.ts).
 * @module
 */

/** Bytes in a record header of format version 2. */
export const HEADER_SIZE = 44;
/** Bytes in a record header of format version 1. */
export const HEADER_SIZE_V1 = 36;

// Record header layout, little-endian:
//   0  u32 crc       CRC-32 (IEEE) of bytes [4, headerSize + keyLen + valueLen)
//   4  u32 hcrc      CRC-32 of header bytes [8, headerSize): lets a reader trust the
//                    lengths before it reads the body, so a damaged length is never followed
//   8  u8  flags     FLAG_* bits; all others must be zero
//   9  u8[3]         reserved, zero
//   12 u32 keyLen
//   16 u32 valueLen
//   20 u64 timestamp ms since the Unix epoch when the record was written
//   28 u64 expireAt  ms since the Unix epoch, 0 = never expires
//   36 u64 seq       (v2 only) the store-wide sequence number of the record's commit
// In version 2 both CRCs start from the file's random salt instead of 0, so bytes
// copied from another file, or stored inside a value, never validate as a record
// of this file. Version 1 has no seq field and unsalted CRCs.
export const OFF_CRC = 0;
export const OFF_HCRC = 4;
export const OFF_FLAGS = 8;
export const OFF_KEY_LEN = 12;
export const OFF_VALUE_LEN = 16;
export const OFF_TIMESTAMP = 20;
export const OFF_EXPIRE_AT = 28;
export const OFF_SEQ = 36;

/** The record deletes its key; its value is empty. */
export const FLAG_TOMBSTONE = 1;
/** The record belongs to an atomic batch and counts only once the batch's commit record follows. */
export const FLAG_BATCH = 2;
/** Commit record closing a batch: empty key, value = u32 count of the batch's records. */
export const FLAG_COMMIT = 4;
/**
 * (v2) The record deletes every key in a range: its key is the first key of
 * the range, its value the first key past it (empty: no end).
 */
export const FLAG_RANGE = 8;
/** Every flag bit a valid record may carry. */
export const FLAG_MASK = FLAG_TOMBSTONE | FLAG_BATCH | FLAG_COMMIT | FLAG_RANGE;

/** Bytes in a file header of format version 1: magic "CASK", u16 version, u16 kind, u32 file flags, u32 CRC of [0, 12). */
export const FILE_HEADER_SIZE_V1 = 16;

/**
 * Bytes in a file header of format version 2, little-endian:
 *   0  u32 magic "CASK"   4 u16 version   6 u16 kind   8 u32 file flags
 *   12 u32 salt           seeds every checksum in the file
 *   16 u8[8] store id     random, the same in every file of one store
 *   24 u64 file id        the N of its name, so a copy under another name is seen
 *   32 u64 follows        1 + id of the log file this one continues; 0 for the first
 *   40 u64 base seq       the last sequence number committed before this file (a log
 *                         file), or the last one a merge output covers
 *   48 u32 part, 52 u32 parts   a merge output's place among its merge's outputs
 *   56 u32 reserved       60 u32 CRC-32 of [0, 60)
 */
export const FILE_HEADER_SIZE = 64;
/**
 * File flag of a data file written by compaction: every record in it is
 * committed, so batch flags copied along with the records are ignored.
 */
export const FILE_FLAG_COMPACTED = 1;
/**
 * File flag of a data file holding one streamed value: it stays in place
 * through compactions while its record is live, so a huge value is never
 * copied (or held in memory) by a merge.
 */
export const FILE_FLAG_BLOB = 2;
/**
 * File flag of a log file an open began, not a rotation: the file before it
 * was whole by then, so a base sequence past that file's last record is a
 * loss the open reported (kept on record for later opens), never the torn
 * end a crash leaves behind a rotation.
 */
export const FILE_FLAG_OPENED = 4;
/** ASCII "CASK". */
export const FILE_MAGIC = 0x4b534143;
/** Current on-disk format version. */
export const FORMAT_VERSION = 2;
/** File kinds stored in the file header. */
export const KIND_DATA = 1;
export const KIND_HINT = 2;
export const KIND_CHECKPOINT = 3;
