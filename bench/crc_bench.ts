/**
 * CRC-32 and record codec speed. `deno bench -A bench/crc_bench.ts`.
 * The 16 MiB group is the acceptance bar: the codec's CRC must be at least as
 * fast as hash-wasm's (the baseline).
 * @module
 */

import { createCRC32 } from "hash-wasm";
import {
  crc32,
  encodeRecord,
  formatV2,
  readHeader,
  recordSize,
  scanRecords,
  scratch,
  verifyRecord,
} from "../src/codec/codec.ts";

// A version-2 record format with a fixed salt.
const F = formatV2(0x5eed_cafe);

const hasher = await createCRC32();

function filled(size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = Math.imul(i, 2654435761) >>> 24;
  return out;
}

for (const [label, size] of [["16 MiB", 16 << 20], ["4 KiB", 4 << 10]] as const) {
  const data = filled(size);
  const group = `crc32 ${label}`;
  Deno.bench(`hash-wasm ${label}`, { group, baseline: true }, () => {
    hasher.init().update(data).digest();
  });
  Deno.bench(`cask ${label}`, { group }, () => {
    crc32(data);
  });
  // Read in place, as after a file read into scratch(); the contents do not matter.
  Deno.bench(`cask ${label}, in wasm memory`, { group }, () => {
    crc32(scratch(size));
  });
}

// A typical `set`: 16-byte key, 100-byte value, 152 bytes on disk.
const key = filled(16);
const value = filled(100);
const record = new Uint8Array(recordSize(F, key.length, value.length));
const now = 1_700_000_000_000;
encodeRecord(F, record, 0, 0, now, 0, 7, key, value);
const header = readHeader(F, record, 0)!;

Deno.bench("encodeRecord 152 B", { group: "record" }, () => {
  encodeRecord(F, record, 0, 0, now, 0, 7, key, value);
});
Deno.bench("readHeader 152 B", { group: "record" }, () => {
  readHeader(F, record, 0, header);
});
Deno.bench("verifyRecord 152 B", { group: "record" }, () => {
  verifyRecord(F, record, 0, header);
});
Deno.bench("encode + verify 152 B", { group: "record", baseline: true }, () => {
  encodeRecord(F, record, 0, 0, now, 0, 7, key, value);
  verifyRecord(F, record, 0, header);
});
// The same with the record in wasm memory (how `get` reads): no copies.
Deno.bench("encode + verify 152 B, in wasm memory", { group: "record" }, () => {
  const buf = scratch(record.length);
  encodeRecord(F, buf, 0, 0, now, 0, 7, key, value);
  verifyRecord(F, buf, 0, header);
});

// Recovery's inner loop: 4 MiB of such records, validated in bulk.
const log = new Uint8Array(record.length * Math.floor((4 << 20) / record.length));
for (let at = 0; at < log.length;) at = encodeRecord(F, log, at, 0, now, 0, 7, key, value);
let visited = 0;
Deno.bench("scanRecords 4 MiB of 152 B records, in wasm memory", { group: "scan" }, () => {
  const buf = scratch(log.length);
  buf.set(log);
  scanRecords(F, buf, 0, () => visited++);
});
