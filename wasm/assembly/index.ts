// Module exports: everything src/codec/codec.ts calls or reads.

export { crc32 } from "./crc32";
export { encodeHeader, encodeRecord, readHeader, resealRecord } from "./record";
export {
  scan,
  SCAN_CORRUPT,
  SCAN_END,
  SCAN_FULL,
  SCAN_PARTIAL,
  scanEnd,
  scanNeed,
  scanStatus,
} from "./scan";
export {
  DESC_MAX,
  DESC_PTR,
  DESC_SIZE,
  reserveScratch,
  SCRATCH_PTR,
  STAGE_PTR,
  STAGE_SIZE,
} from "./layout";
export { checkRecords, copyRows, ROW_SIZE, sealRecords } from "./merge";
