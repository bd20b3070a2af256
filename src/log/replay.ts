/**
 * Replays the records of one data file into a sink, in log order. Batches count
 * only once their commit record follows. Damage is told apart from a torn tail
 * by looking for a record after it that the file can prove is its own (its
 * salted checksums hold and, in a log file, its sequence number continues the
 * log): when none follows in the newest file, the bytes are a write a crash cut
 * short, and they are truncated away; otherwise they are damage in the middle
 * of the log, skipped and reported, or in strict mode fatal.
 * @module
 */

import {
  closeSync,
  fdatasyncSync,
  fstatSync,
  ftruncateSync,
  openSync,
  renameSync,
  writeSync,
} from "node:fs";
import { CorruptionError, IOError } from "../base/errors.ts";
import { count } from "../base/human.ts";
import { bytesToKey } from "../base/keys.ts";
import type { ProblemKind, RecoveryWarning } from "../base/types.ts";
import { type RecordHeader, recordSize } from "../codec/codec.ts";
import { FLAG_BATCH, FLAG_COMMIT, FLAG_RANGE, FLAG_TOMBSTONE } from "../codec/format.ts";
import { commitCount } from "../codec/framing.ts";
import type { DataFile } from "./datafile.ts";
import { readFullAt, syncDir, TEMP } from "./fsutil.ts";
import { walkLog } from "./logscan.ts";

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
    seq: number,
  ): void;
  /** A range delete of commit `seq`: every key in [start, end) is gone (`end` undefined: no end). */
  range(start: string, end: string | undefined, seq: number): void;
}

/** How recovery treats damage and where it reports it. */
export interface RecoveryOptions {
  strict: boolean;
  onWarning: (w: RecoveryWarning) => void;
  /**
   * Change nothing on disk: a torn tail is left in place (the file ends, for the
   * reader, where its valid records end) and nothing is removed. For readers
   * and `verify`.
   */
  readOnly?: boolean;
  /** Whether hint files may stand in for scans of their data files (default true). */
  useHints?: boolean;
  /**
   * The newest file is being written by a live writer (a reader follows it):
   * its unfinished tail, a record or batch still being appended, is not yet
   * written rather than damaged, so it is left unread without a warning.
   */
  liveTail?: boolean;
  /**
   * Read the index checkpoint even without a use for its entries, for the
   * files it names that are gone (see namedMissing): for `verify`.
   */
  checkpointEvidence?: boolean;
  /**
   * Strict opens: the changes recovery makes on disk (a torn tail cut, a file
   * that holds nothing acknowledged removed) are queued here instead of made,
   * and made once the whole recovery succeeded, so an open that fails leaves
   * the files as it found them. Recovery reads on as if they were made.
   */
  fixes?: (() => Promise<void>)[];
}

/** Where a replay resumes inside a file: an offset at a record boundary, and the last sequence number before it. */
export interface ResumePoint {
  offset: number;
  seq: number;
}

/** Passes the record with header `h` of file `fileId` to `sink`. */
export function emit(
  sink: RecoverySink,
  fileId: number,
  fmtHeaderSize: number,
  key: string,
  offset: number,
  h: RecordHeader,
): void {
  const size = fmtHeaderSize + h.keyLen + h.valueLen;
  const tombstone = (h.flags & FLAG_TOMBSTONE) !== 0;
  sink.record(key, fileId, offset, size, tombstone, h.timestamp, h.expireAt, h.seq);
}

interface Pending {
  key: string;
  offset: number;
  h: RecordHeader;
}

/**
 * Replays `file` (open as `fd`, `size` bytes) into `sink`; returns the highest
 * sequence number it counted (the file's base sequence number when none). For
 * the newest file (`last`) a torn tail or an unfinished batch is truncated off;
 * `file.size` ends as the size of the valid log. `from` resumes an earlier
 * replay of the same file (a reader following it) instead of starting at the
 * first record. `maxSeq`: where the log file continuing this one starts, past
 * which no record of this one can be (one is a copy from another history).
 */
export async function replayFile(
  file: DataFile,
  fd: number,
  size: number,
  last: boolean,
  sink: RecoverySink,
  opts: RecoveryOptions,
  from?: ResumePoint,
  maxSeq = Infinity,
): Promise<number> {
  const r = new Replay(file, size, last, sink, opts, from?.seq);
  const log = file.header?.version === 2 && !file.compacted;
  await walkLog(
    {
      fd,
      size,
      fmt: file.fmt,
      start: from?.offset ?? file.headerSize,
      // In a log file sequence numbers only grow (a batch's records share one,
      // which counts once its commit record does): an older one is a copy of an
      // earlier record (put back by hand, or met inside a value past damage),
      // not the log going on.
      owns: log ? (h) => h.seq > r.lastSeq && h.seq <= maxSeq : undefined,
    },
    (offset, h, buf, at) => r.visit(offset, h, buf, at),
    (offset, next) => r.damage(offset, next),
  );
  const cut = r.finish();
  if (cut < 0) file.size = size;
  else if (opts.liveTail && last) file.size = cut;
  else if (opts.readOnly) {
    r.warn("torn-tail", cut, size - cut, `${size - cut} bytes of torn tail at ${cut}`);
    file.size = cut;
  } else {
    const cutTail = async (fd: number) => {
      r.warn("torn-tail", cut, size - cut, `cut ${size - cut} bytes of torn tail at ${cut}`);
      if (fstatSync(fd).nlink > 1) await unshare(fd, file, cut);
      else truncate(fd, file, cut);
    };
    if (opts.fixes) {
      file.size = cut;
      // The descriptor is closed by then: the fix opens the file again.
      opts.fixes.push(() => withFile(file, cutTail));
    } else await cutTail(fd);
  }
  return r.lastSeq;
}

async function withFile(file: DataFile, fn: (fd: number) => Promise<void>): Promise<void> {
  let fd: number;
  try {
    fd = openSync(file.path, "r+");
  } catch (e) {
    throw new IOError(`cannot truncate the torn tail of ${file.path}`, { cause: e });
  }
  try {
    await fn(fd);
  } finally {
    closeSync(fd);
  }
}

class Replay {
  lastSeq: number;
  #pending: Pending[] = [];
  #batchStart = -1;
  #cut = -1;

  constructor(
    readonly file: DataFile,
    readonly size: number,
    readonly last: boolean,
    readonly sink: RecoverySink,
    readonly opts: RecoveryOptions,
    seq?: number,
  ) {
    this.lastSeq = seq ?? file.header?.baseSeq ?? 0;
  }

  warn(kind: ProblemKind, offset: number, bytes: number, message: string): void {
    const file = this.file.path;
    this.opts.onWarning({ kind, file, offset, bytes, message: `${file}: ${message}` });
  }

  visit(offset: number, h: RecordHeader, buf: Uint8Array, at: number): void {
    const fmt = this.file.fmt;
    const key = bytesToKey(buf, at + fmt.headerSize, at + fmt.headerSize + h.keyLen);
    if (h.flags & FLAG_COMMIT) {
      const count = commitCount(fmt, buf, at, h);
      if (count === this.#pending.length) {
        for (const p of this.#pending) this.#count(p.key, p.offset, p.h);
        this.#pending = [];
        this.#batchStart = -1;
        if (h.seq > this.lastSeq) this.lastSeq = h.seq;
      } else this.#dropBatch(`its commit record counts ${count}`);
    } else if (h.flags & FLAG_BATCH && !this.file.compacted) {
      if (this.#pending.length === 0) this.#batchStart = offset;
      this.#pending.push({ key, offset, h: { ...h } });
    } else {
      this.#dropBatch("no commit record");
      const v = at + fmt.headerSize + h.keyLen;
      this.#count(key, offset, h, h.flags & FLAG_RANGE ? bytesToKey(buf, v, v + h.valueLen) : "");
    }
  }

  // Returns whether the walk goes on past the damage.
  damage(offset: number, next: number): boolean {
    if (next < 0 && this.last) {
      // Nothing of the file's own follows: the tail of an interrupted write, never acknowledged.
      this.#cut = offset;
      return false;
    }
    const bytes = (next < 0 ? this.size : next) - offset;
    if (this.opts.strict) {
      throw new CorruptionError(
        `${this.file.path}: ${bytes} damaged bytes at ${offset}`,
        this.file.path,
        offset,
      );
    }
    this.warn("damaged", offset, bytes, `skipped ${bytes} damaged bytes at ${offset}`);
    // A batch open at the damage lost a record or its commit: it is void, and
    // must not absorb the records of an intact batch after the damage.
    this.#dropBatch("damaged");
    return true;
  }

  // Ends the replay; returns where to truncate the newest file, or -1.
  finish(): number {
    if (this.#pending.length > 0 && this.last) {
      this.#cut = this.#batchStart;
      // A batch whose commit record the writer has not appended yet.
      if (this.opts.liveTail) this.#pending = [];
    }
    this.#dropBatch(this.last ? "cut off by a crash" : "no commit record");
    return this.#cut;
  }

  #count(key: string, offset: number, h: RecordHeader, end?: string): void {
    if (h.flags & FLAG_RANGE) this.sink.range(key, end === "" ? undefined : end, h.seq);
    else emit(this.sink, this.file.id, this.file.fmt.headerSize, key, offset, h);
    if (h.seq > this.lastSeq) this.lastSeq = h.seq;
  }

  #dropBatch(why: string): void {
    const pending = this.#pending;
    if (pending.length === 0) return;
    const end = pending[pending.length - 1];
    const bytes = end.offset + recordSize(this.file.fmt, end.h.keyLen, end.h.valueLen) -
      this.#batchStart;
    const n = pending.length;
    this.warn(
      "incomplete-batch",
      this.#batchStart,
      bytes,
      `dropped a batch of ${count(n, "record")} (${why})`,
    );
    this.#pending = [];
    this.#batchStart = -1;
  }
}

// A file with another name (a hard link: a backup's, or that of a store a
// backup was taken from) is not cut, which would cut the other store's file
// too: this store gets a copy of the file's valid bytes under its name, and
// the other name keeps the file as it was.
async function unshare(fd: number, file: DataFile, at: number): Promise<void> {
  const tmp = file.path + TEMP;
  try {
    const out = openSync(tmp, "w");
    try {
      const buf = new Uint8Array(Math.min(at, COPY_CHUNK));
      for (let pos = 0; pos < at;) {
        const n = readFullAt(fd, pos, buf.subarray(0, Math.min(buf.length, at - pos)));
        if (n === 0) throw new Error(`${file.path} ends at ${pos}, before ${at}`);
        for (let done = 0; done < n;) done += writeSync(out, buf, done, n - done);
        pos += n;
      }
      fdatasyncSync(out);
    } finally {
      closeSync(out);
    }
    renameSync(tmp, file.path);
  } catch (e) {
    throw new IOError(`cannot cut the torn tail of ${file.path}`, { cause: e });
  }
  await syncDir(file.dir);
  // Its reads go to the copy from now on.
  file.close();
  file.size = at;
}

const COPY_CHUNK = 1024 * 1024;

function truncate(fd: number, file: DataFile, at: number): void {
  try {
    ftruncateSync(fd, at);
    fdatasyncSync(fd);
  } catch (e) {
    throw new IOError(`cannot truncate the torn tail of ${file.path}`, { cause: e });
  }
  file.size = at;
}
