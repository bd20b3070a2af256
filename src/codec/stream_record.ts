/**
 * A record whose value is streamed: its bytes are written (and their CRC
 * computed) before the header that precedes them can be sealed, since only the
 * end of the stream gives the length. The header and key are sealed afterwards
 * from the value's CRC (see crc_combine.ts); readers check such a record like
 * any other, or chunk by chunk with {@link RecordCrc}.
 * @module
 */

import { InvalidArgumentError } from "../base/errors.ts";
import { crc32, encodeRecord, type RecordFormat } from "./codec.ts";
import { crc32Combine } from "./crc_combine.ts";
import { OFF_CRC, OFF_FLAGS, OFF_HCRC, OFF_VALUE_LEN } from "./format.ts";

/** Largest value a record can hold (its length is a u32). */
export const MAX_STREAMED_VALUE = 0xffff_ffff;

/**
 * The header and key of a record of `fmt` whose value of `valueLen` bytes has
 * CRC-32 `valueCrc` (from 0): the bytes that go in front of the value.
 */
export function sealStreamedHead(
  fmt: RecordFormat,
  flags: number,
  timestamp: number,
  expireAt: number,
  seq: number,
  key: Uint8Array,
  valueLen: number,
  valueCrc: number,
): Uint8Array {
  if (!(Number.isSafeInteger(valueLen) && valueLen >= 0 && valueLen <= MAX_STREAMED_VALUE)) {
    throw new InvalidArgumentError(`a value of ${valueLen} bytes does not fit a record`);
  }
  const head = new Uint8Array(fmt.headerSize + key.length);
  // Encode with an empty value, then fix the lengths' CRCs for the real value.
  encodeRecord(fmt, head, 0, flags, timestamp, expireAt, seq, key, new Uint8Array(0));
  const v = new DataView(head.buffer);
  v.setUint32(OFF_VALUE_LEN, valueLen, true);
  // hcrc covers the header from its flags on; the record CRC from hcrc on.
  v.setUint32(OFF_HCRC, crc32(head.subarray(OFF_FLAGS, fmt.headerSize), fmt.salt), true);
  const headCrc = crc32(head.subarray(OFF_HCRC), fmt.salt);
  v.setUint32(OFF_CRC, crc32Combine(headCrc, valueCrc, valueLen), true);
  return head;
}

/** A record's CRC computed as its bytes are read: the head, then the value in chunks. */
export class RecordCrc {
  #crc: number;
  /** `head`: the record's header and key. */
  constructor(readonly fmt: RecordFormat, readonly head: Uint8Array) {
    this.#crc = crc32(head.subarray(OFF_HCRC), fmt.salt);
  }

  /** Adds the next chunk of the value. */
  update(chunk: Uint8Array): void {
    this.#crc = crc32(chunk, this.#crc);
  }

  /** Whether the record's stored CRC matches what was read. */
  matches(): boolean {
    return new DataView(this.head.buffer, this.head.byteOffset).getUint32(OFF_CRC, true) ===
      this.#crc;
  }
}
