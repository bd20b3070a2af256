/**
 * Crash recovery: rebuilds the index from the data files on open.
 *
 * Each file is scanned in large chunks by the wasm bulk scanner. Damage is told
 * apart from a torn tail by looking for any valid record after it: when none
 * follows in the newest file, the bytes are a write the crash cut short and are
 * truncated away; otherwise they are damage in the middle of the log, which is
 * skipped (and reported) or, in strict mode, fails the open.
 * @module
 */

import {
  readHeader,
  type RecordHeader,
  recordSize,
  scanRecords,
  scratch,
  verifyRecord,
} from "./codec.ts";
import { type DataFile, isFileHeader } from "./datafile.ts";
import { CorruptionError, IOError } from "./errors.ts";
import { FILE_HEADER_SIZE, FLAG_BATCH, FLAG_COMMIT, HEADER_SIZE, KIND_DATA } from "./format.ts";
import { readFullAt } from "./fsutil.ts";
import { bytesToKey } from "./keys.ts";

/** Something recovery found and handled, reported through the `onWarning` option. */
export interface RecoveryWarning {
  /** What was found. */
  kind: "torn-tail" | "damaged" | "incomplete-batch" | "bad-file-header";
  /** Path of the file. */
  file: string;
  /** Byte offset where the problem starts. */
  offset: number;
  /** Bytes cut off or skipped. */
  bytes: number;
  /** Human-readable description. */
  message: string;
}

/** Receives the records recovery finds, in log order. */
export interface RecoverySink {
  /** A record that counts (batches only once committed): a value, or a tombstone by its flags. */
  record(key: string, fileId: number, offset: number, h: RecordHeader): void;
}

/** Recovery options. */
export interface RecoveryOptions {
  strict: boolean;
  onWarning: (w: RecoveryWarning) => void;
}

const CHUNK = 4 * 1024 * 1024;

interface Pending {
  key: string;
  offset: number;
  h: RecordHeader;
}

/**
 * Replays data file `file` into `sink`. For the newest file (`last`) a torn tail
 * or an unfinished batch is truncated off the file; `file.size` ends as the size
 * of the valid log.
 */
export async function recoverFile(
  file: DataFile,
  last: boolean,
  sink: RecoverySink,
  opts: RecoveryOptions,
): Promise<void> {
  let fh: Deno.FsFile;
  try {
    fh = await Deno.open(file.path, { read: true, write: last });
  } catch (e) {
    throw new IOError(`cannot open ${file.path}`, { cause: e });
  }
  try {
    await replay(fh, file, last, sink, opts);
  } finally {
    fh.close();
  }
}

async function replay(
  fh: Deno.FsFile,
  file: DataFile,
  last: boolean,
  sink: RecoverySink,
  opts: RecoveryOptions,
): Promise<void> {
  const size = (await fh.stat()).size;
  const warn = (kind: RecoveryWarning["kind"], offset: number, bytes: number, message: string) =>
    opts.onWarning({ kind, file: file.path, offset, bytes, message });

  const head = new Uint8Array(FILE_HEADER_SIZE);
  readFullAt(fh, 0, head);
  if (!isFileHeader(head, KIND_DATA)) {
    if (opts.strict && size > FILE_HEADER_SIZE) {
      throw new CorruptionError(`${file.path} has no valid file header`, file.path, 0);
    }
    warn("bad-file-header", 0, FILE_HEADER_SIZE, `${file.path}: file header is damaged`);
  }

  let pending: Pending[] = [];
  let batchStart = -1;
  const dropBatch = (why: string) => {
    if (pending.length === 0) return;
    const end = pending[pending.length - 1];
    const bytes = end.offset + recordSize(end.h.keyLen, end.h.valueLen) - batchStart;
    warn(
      "incomplete-batch",
      batchStart,
      bytes,
      `${file.path}: dropped a batch of ${pending.length} records (${why})`,
    );
    pending = [];
    batchStart = -1;
  };

  let pos = FILE_HEADER_SIZE;
  let want = CHUNK;
  while (pos < size) {
    const len = Math.min(want, size - pos);
    const buf = len <= CHUNK ? scratch(len).subarray(0, len) : new Uint8Array(len);
    readFullAt(fh, pos, buf);
    const base = pos;
    const res = scanRecords(buf, 0, (at, h) => {
      const offset = base + at;
      const key = bytesToKey(buf, at + HEADER_SIZE, at + HEADER_SIZE + h.keyLen);
      if (h.flags & FLAG_COMMIT) {
        const count = new DataView(buf.buffer, buf.byteOffset + at + HEADER_SIZE + h.keyLen, 4)
          .getUint32(0, true);
        if (count === pending.length) {
          for (const p of pending) sink.record(p.key, file.id, p.offset, p.h);
          pending = [];
          batchStart = -1;
        } else dropBatch(`commit says ${count} records`);
      } else if (h.flags & FLAG_BATCH) {
        if (pending.length === 0) batchStart = offset;
        pending.push({ key, offset, h: { ...h } });
      } else {
        dropBatch("no commit record");
        sink.record(key, file.id, offset, h);
      }
    });
    pos = base + res.end;
    want = CHUNK;
    if (res.status === "end") continue;
    if (res.status === "partial" && pos + res.need <= size) {
      // The record is whole on disk but did not fit this read: read it alone.
      want = Math.max(res.need, CHUNK);
      continue;
    }
    const next = findNextRecord(fh, pos + 1, size);
    if (next < 0) {
      if (last) {
        const cut = batchStart >= 0 ? batchStart : pos;
        dropBatch("cut off by a crash");
        warn(
          "torn-tail",
          cut,
          size - cut,
          `${file.path}: cut ${size - cut} bytes of torn tail at ${cut}`,
        );
        await truncate(fh, file, cut);
        return;
      }
      if (opts.strict) {
        throw new CorruptionError(`${file.path}: damaged records at ${pos}`, file.path, pos);
      }
      dropBatch("damaged tail");
      warn(
        "damaged",
        pos,
        size - pos,
        `${file.path}: skipped ${size - pos} damaged bytes at ${pos}`,
      );
      pos = size;
      break;
    }
    if (opts.strict) {
      throw new CorruptionError(`${file.path}: damaged records at ${pos}`, file.path, pos);
    }
    warn("damaged", pos, next - pos, `${file.path}: skipped ${next - pos} damaged bytes at ${pos}`);
    pos = next;
  }
  if (pending.length > 0) {
    if (last) {
      const cut = batchStart;
      dropBatch("cut off by a crash");
      await truncate(fh, file, cut);
      return;
    }
    dropBatch("no commit record");
  }
  file.size = pos;
}

async function truncate(fh: Deno.FsFile, file: DataFile, at: number): Promise<void> {
  try {
    await fh.truncate(at);
    await fh.syncData();
  } catch (e) {
    throw new IOError(`cannot truncate the torn tail of ${file.path}`, { cause: e });
  }
  file.size = at;
}

// Returns the offset of the first valid record at or after `from`, or -1.
function findNextRecord(fh: Deno.FsFile, from: number, size: number): number {
  const h: RecordHeader = { flags: 0, keyLen: 0, valueLen: 0, timestamp: 0, expireAt: 0 };
  for (let base = from; base < size; base += CHUNK) {
    const buf = new Uint8Array(Math.min(CHUNK + HEADER_SIZE, size - base));
    readFullAt(fh, base, buf);
    const stop = Math.min(CHUNK, buf.length);
    for (let at = 0; at < stop; at++) {
      if (!readHeader(buf, at, h)) continue;
      const n = recordSize(h.keyLen, h.valueLen);
      if (base + at + n > size) continue;
      const rec = new Uint8Array(n);
      readFullAt(fh, base + at, rec);
      if (verifyRecord(rec, 0, h)) return base + at;
    }
  }
  return -1;
}
