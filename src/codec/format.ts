/**
 * On-disk format constants (format version 1). The layout is documented in the
 * README; everything that reads or writes files takes its numbers from here.
 * @module
 */

/** Bytes in a record header. */
export const HEADER_SIZE = 36;

// Record header layout, little-endian:
//   0  u32 crc       CRC-32 (IEEE) of bytes [4, 36 + keyLen + valueLen)
//   4  u32 hcrc      CRC-32 of header bytes [8, 36): lets a reader trust the lengths
//                    before it reads the body, so a damaged length is never followed
//   8  u8  flags     FLAG_* bits; all others must be zero
//   9  u8[3]         reserved, zero
//   12 u32 keyLen
//   16 u32 valueLen
//   20 u64 timestamp ms since the Unix epoch when the record was written
//   28 u64 expireAt  ms since the Unix epoch, 0 = never expires
export const OFF_CRC = 0;
export const OFF_HCRC = 4;
export const OFF_FLAGS = 8;
export const OFF_KEY_LEN = 12;
export const OFF_VALUE_LEN = 16;
export const OFF_TIMESTAMP = 20;
export const OFF_EXPIRE_AT = 28;

/** The record deletes its key; its value is empty. */
export const FLAG_TOMBSTONE = 1;
/** The record belongs to an atomic batch and counts only once the batch's commit record follows. */
export const FLAG_BATCH = 2;
/** Commit record closing a batch: empty key, value = u32 count of the batch's records. */
export const FLAG_COMMIT = 4;
/** Every flag bit a valid record may carry. */
export const FLAG_MASK = FLAG_TOMBSTONE | FLAG_BATCH | FLAG_COMMIT;

/** Bytes in a file header: magic "CASK", u16 version, u16 kind, u32 file flags, u32 CRC of [0, 12). */
export const FILE_HEADER_SIZE = 16;
/**
 * File flag of a data file written by compaction: every record in it is
 * committed, so batch flags copied along with the records are ignored.
 */
export const FILE_FLAG_COMPACTED = 1;
/** ASCII "CASK". */
export const FILE_MAGIC = 0x4b534143;
/** Current on-disk format version. */
export const FORMAT_VERSION = 1;
/** File kinds stored in the file header. */
export const KIND_DATA = 1;
export const KIND_HINT = 2;
