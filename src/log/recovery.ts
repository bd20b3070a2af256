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

import { closeSync, fdatasyncSync, fstatSync, ftruncateSync, openSync } from "node:fs";
import { type RecordHeader, recordSize } from "../codec/codec.ts";
import { commitCount } from "../codec/framing.ts";
import { type DataFile, readFileHeader } from "./datafile.ts";
import { CorruptionError, IOError } from "../base/errors.ts";
import {
  FILE_FLAG_COMPACTED,
  FILE_HEADER_SIZE,
  FLAG_BATCH,
  FLAG_COMMIT,
  FLAG_TOMBSTONE,
  HEADER_SIZE,
  KIND_DATA,
} from "../codec/format.ts";
import { hintPath, readFullAt } from "./fsutil.ts";
import { readHint } from "./hint.ts";
import { walkLog } from "./logscan.ts";
import { bytesToKey } from "../base/keys.ts";
import type { RecoveryWarning } from "../base/types.ts";

/** Receives the records recovery finds, in log order. */
export interface RecoverySink {
  /** A record that counts (batches only once committed): a value, or a tombstone. */
  record(
    key: string,
    fileId: number,
    offset: number,
    size: number,
    tombstone: boolean,
    timestamp: number,
    expireAt: number,
  ): void;
}

function emit(sink: RecoverySink, key: string, fileId: number, offset: number, h: RecordHeader) {
  const size = recordSize(h.keyLen, h.valueLen);
  sink.record(key, fileId, offset, size, (h.flags & FLAG_TOMBSTONE) !== 0, h.timestamp, h.expireAt);
}

/** Recovery options. */
export interface RecoveryOptions {
  strict: boolean;
  onWarning: (w: RecoveryWarning) => void;
}

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
  let fd: number;
  try {
    fd = openSync(file.path, last ? "r+" : "r");
  } catch (e) {
    throw new IOError(`cannot open ${file.path}`, { cause: e });
  }
  try {
    const size = fstatSync(fd).size;
    // Only compaction writes hints, and never for the newest file.
    const hinted = !last &&
      await readHint(
        hintPath(file.dir, file.id),
        size,
        (key, offset, h) => emit(sink, key, file.id, offset, h),
      );
    if (hinted) file.size = size;
    else await replay(fd, size, file, last, sink, opts);
  } finally {
    closeSync(fd);
  }
}

async function replay(
  fd: number,
  size: number,
  file: DataFile,
  last: boolean,
  sink: RecoverySink,
  opts: RecoveryOptions,
): Promise<void> {
  const warn = (kind: RecoveryWarning["kind"], offset: number, bytes: number, message: string) =>
    opts.onWarning({ kind, file: file.path, offset, bytes, message: `${file.path}: ${message}` });

  const head = new Uint8Array(FILE_HEADER_SIZE);
  readFullAt(fd, 0, head);
  const fileFlags = readFileHeader(head, KIND_DATA);
  // A crash right after the file was created: nothing in it was ever acknowledged.
  // The file is short or, where unwritten blocks read as zeros, has neither a
  // valid header nor a valid record.
  if (size < FILE_HEADER_SIZE || (last && fileFlags < 0 && !(await hasRecords(fd, size)))) {
    if (!last) {
      if (opts.strict) {
        throw new CorruptionError(`${file.path} is shorter than its header`, file.path, 0);
      }
      warn("damaged", 0, size, `skipped a file shorter than its header`);
      file.size = size;
      return;
    }
    warn("torn-tail", 0, size, `removed a data file cut short at creation`);
    file.size = 0;
    await Deno.remove(file.path);
    return;
  }
  const compacted = fileFlags >= 0 && (fileFlags & FILE_FLAG_COMPACTED) !== 0;
  if (fileFlags < 0) {
    if (opts.strict) {
      throw new CorruptionError(`${file.path} has no valid file header`, file.path, 0);
    }
    warn("bad-file-header", 0, FILE_HEADER_SIZE, `file header is damaged`);
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
      `dropped a batch of ${pending.length} records (${why})`,
    );
    pending = [];
    batchStart = -1;
  };

  const visit = (offset: number, h: RecordHeader, buf: Uint8Array, at: number) => {
    const key = bytesToKey(buf, at + HEADER_SIZE, at + HEADER_SIZE + h.keyLen);
    if (h.flags & FLAG_COMMIT) {
      const count = commitCount(buf, at, h);
      if (count === pending.length) {
        for (const p of pending) emit(sink, p.key, file.id, p.offset, p.h);
        pending = [];
        batchStart = -1;
      } else dropBatch(`its commit record counts ${count}`);
    } else if (h.flags & FLAG_BATCH && !compacted) {
      if (pending.length === 0) batchStart = offset;
      pending.push({ key, offset, h: { ...h } });
    } else {
      dropBatch("no commit record");
      emit(sink, key, file.id, offset, h);
    }
  };

  let cut = -1;
  const onDamage = (offset: number, next: number) => {
    if (next < 0 && last) {
      // Nothing valid follows: the tail of an interrupted write, never acknowledged.
      cut = offset;
      return false;
    }
    if (opts.strict) {
      throw new CorruptionError(`${file.path}: damaged records at ${offset}`, file.path, offset);
    }
    const bytes = (next < 0 ? size : next) - offset;
    warn("damaged", offset, bytes, `skipped ${bytes} damaged bytes at ${offset}`);
    // A batch open at the damage lost a record or its commit: it is void, and
    // must not absorb the records of an intact batch after the damage.
    dropBatch("damaged");
    return true;
  };

  await walkLog(fd, size, visit, onDamage);
  if (pending.length > 0 && last) cut = batchStart;
  dropBatch(last ? "cut off by a crash" : "no commit record");
  if (cut >= 0) {
    warn("torn-tail", cut, size - cut, `cut ${size - cut} bytes of torn tail at ${cut}`);
    truncate(fd, file, cut);
  } else file.size = size;
}

// Whether the log in `fd` holds any valid record after its file header.
async function hasRecords(fd: number, size: number): Promise<boolean> {
  let found = false;
  await walkLog(fd, size, () => {
    found = true;
  }, (_, next) => {
    found ||= next >= 0;
    return false;
  });
  return found;
}

function truncate(fd: number, file: DataFile, at: number): void {
  try {
    ftruncateSync(fd, at);
    fdatasyncSync(fd);
  } catch (e) {
    throw new IOError(`cannot truncate the torn tail of ${file.path}`, { cause: e });
  }
  file.size = at;
}
