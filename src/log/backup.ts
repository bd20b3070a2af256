/**
 * Online backup: writing a snapshot of a store's files into another directory.
 * Sealed files never change, so they are hard-linked where the file system
 * allows (same device) and copied otherwise; the file still being appended is
 * copied up to the snapshot point. A target holding an earlier backup keeps
 * the files that are already right and loses those the store no longer has,
 * after everything new is in place, so it only takes what changed. Every file
 * and the directory are fsynced.
 * @module
 */

import { InvalidArgumentError, IOError } from "../base/errors.ts";
import { bytesToKey } from "../base/keys.ts";
import { readHeader } from "../codec/codec.ts";
import { decodeFileHeader } from "../codec/file_header.ts";
import { FILE_HEADER_SIZE, KIND_CHECKPOINT, KIND_DATA, KIND_HINT } from "../codec/format.ts";
import { DataFile } from "./datafile.ts";
import { dataPath, hintPath, LOG_FILE, syncDir, TEMP, writeAll } from "./fsutil.ts";
import { lockWhileWriting } from "./lock.ts";
import { cleanupMerge } from "./merge_files.ts";
import { CHECKPOINT_NAMES, removeCheckpoint, removeCheckpointTemp } from "./checkpoint.ts";
import { replayFile } from "./replay.ts";
import { statOrUndefined } from "./tail.ts";

/** One data file of a snapshot: its first `size` bytes belong to it. */
export interface SnapshotFile {
  file: DataFile;
  size: number;
  /** Whether the file is complete and immutable (else it is copied, up to `size`). */
  sealed: boolean;
}

/** What a backup wrote. */
export interface BackupCounts {
  /** The last sequence number in the file that was still open (0 when none was). */
  openSeq: number;
  files: number;
  filesLinked: number;
  filesKept: number;
  bytesCopied: number;
  filesRemoved: number;
}

const COPY_CHUNK = 4 * 1024 * 1024;

/**
 * Writes the snapshot `files` of the store in `source`, whose id is `storeId`,
 * into `target` (created when missing). A store open there fails it with
 * LockedError (the target's lock is held meanwhile); a target holding files of
 * another store (or files with store-file names that are not Cask files) is
 * refused with InvalidArgumentError before anything in it changes. A file
 * removed from the source meanwhile (by a compaction) makes it throw an error
 * isGone (tail.ts) recognises: the caller takes a new snapshot and calls again.
 * `gone(key)` tells whether the store holds `key` no more (see removeDeadValues).
 */
export async function writeBackup(
  source: string,
  storeId: string,
  target: string,
  files: readonly SnapshotFile[],
  gone: (key: string) => boolean,
): Promise<BackupCounts> {
  const existing = await statOrUndefined(target);
  if (existing && !existing.isDirectory) {
    throw new InvalidArgumentError(`cannot back up into ${target}: not a directory`);
  }
  await Deno.mkdir(target, { recursive: true });
  if ((await Deno.realPath(source)) === (await Deno.realPath(target))) {
    throw new InvalidArgumentError(`cannot back up ${source} into itself`);
  }
  // Held for the whole backup: a store opened in the target, or a second
  // backup into it (of this process or another) linking source files where
  // this one truncates and copies, which would write into the source's files.
  const unlock = await lockWhileWriting(target);
  try {
    await checkTarget(target, storeId, files);
    return await writeFiles(target, files, gone);
  } finally {
    unlock();
  }
}

// Every store file already in `target` must be this store's: a v2 file naming
// it, or a v1 file (which names no store) whose header is that of the source
// file of the same name. Anything else is another store's data, or a user's
// file, which the backup would overwrite or remove.
async function checkTarget(
  target: string,
  storeId: string,
  files: readonly SnapshotFile[],
): Promise<void> {
  const byName = new Map<string, string>();
  for (const s of files) {
    byName.set(`data.${s.file.id}`, s.file.path);
    byName.set(`hint.${s.file.id}`, hintPath(s.file.dir, s.file.id));
  }
  for await (const e of Deno.readDir(target)) {
    const checkpoint = CHECKPOINT_NAMES.includes(e.name);
    if (!LOG_FILE.test(e.name) && !checkpoint) continue;
    const path = `${target}/${e.name}`;
    if (!e.isFile) {
      throw new InvalidArgumentError(
        `${path} is not a file of this store (not a file at all): back up into an empty ` +
          "directory or an earlier backup of this store",
      );
    }
    // An empty file holds nothing to lose: a backup taken just as the source
    // began a new file leaves one (and an open of the copy removes it).
    if ((await Deno.stat(path)).size === 0) continue;
    const kind = checkpoint ? KIND_CHECKPOINT : e.name.startsWith("data") ? KIND_DATA : KIND_HINT;
    const h = decodeFileHeader(await head(path), kind);
    const source = byName.get(e.name);
    const ours = h?.version === 2
      ? h.storeId === storeId
      : !checkpoint && h !== undefined && source !== undefined &&
        await sameHead(source, path).catch(() => false);
    if (!ours) {
      throw new InvalidArgumentError(
        `${path} is not a file of this store: back up into an empty directory or an earlier ` +
          "backup of this store",
      );
    }
  }
}

async function writeFiles(
  target: string,
  files: readonly SnapshotFile[],
  gone: (key: string) => boolean,
): Promise<BackupCounts> {
  const c: BackupCounts = {
    openSeq: 0,
    files: 0,
    filesLinked: 0,
    filesKept: 0,
    bytesCopied: 0,
    filesRemoved: 0,
  };
  // An earlier backup's checkpoint names the files that backup held: kept,
  // an open would take it over the log and report the files it names as short.
  await removeCheckpoint(target);
  await removeCheckpointTemp(target);
  // Files a backup cut short left half-written.
  await cleanupMerge(target);
  await removeDeadValues(target, files, gone, c);
  const wanted = new Set<string>();
  for (const s of files) {
    const to = dataPath(target, s.file.id);
    wanted.add(`data.${s.file.id}`);
    if (s.sealed) {
      await placeSealed(
        s.file.path,
        to,
        s.size,
        c,
        (into) => copyRange(s.file, into, 0, s.size, c),
      );
    } else {
      await placeOpen(s, to, c);
      c.openSeq = await lastSeqOf(s, target);
    }
    c.files++;
    if (!s.sealed) continue;
    const hint = hintPath(s.file.dir, s.file.id);
    const size = (await statOrUndefined(hint))?.size;
    // Hints are optional: a file without one is scanned on open.
    if (size === undefined) continue;
    const hintTo = hintPath(target, s.file.id);
    await placeSealed(hint, hintTo, size, c, async (into) => {
      await Deno.copyFile(hint, into);
      await fsync(into);
      c.bytesCopied += size;
    });
    wanted.add(`hint.${s.file.id}`);
    c.files++;
  }
  // Only now: until every new file is in place, the old ones keep the target a store.
  await syncDir(target);
  // Oldest first, each removal durable before the next, as compaction removes its
  // inputs: a backup cut short here leaves the newest of the old files, never an
  // old file without the ones after it (which recovery takes for a stale copy).
  const unwanted: string[] = [];
  for await (const e of Deno.readDir(target)) {
    if (e.isFile && LOG_FILE.test(e.name) && !wanted.has(e.name)) unwanted.push(e.name);
  }
  const order = (name: string) => Number(name.slice(5)) * 2 + (name.startsWith("hint") ? 0 : 1);
  for (const name of unwanted.sort((a, b) => order(a) - order(b))) {
    await Deno.remove(`${target}/${name}`);
    await syncDir(target);
    c.filesRemoved++;
  }
  return c;
}

// Removes the target's files of streamed values that the snapshot lacks and
// whose keys the store no longer holds, before any new file is placed. Their
// deletes are in the target's old log files, or were merged away: once the new
// merge outputs are in place, those old files are skipped as stale copies,
// and a streamed value's file cannot be told from one a merge kept (see
// recovery.ts), so a backup cut short from there on brought the value back.
// Gone now, its key is one the store deleted, before or after the earlier
// backup: a later state of it either way. A value overwritten instead stays
// until the end, as the files holding the new value may not be placed yet.
async function removeDeadValues(
  target: string,
  files: readonly SnapshotFile[],
  gone: (key: string) => boolean,
  c: BackupCounts,
): Promise<void> {
  const kept = new Set(files.map((s) => s.file.id));
  const dead: number[] = [];
  for await (const e of Deno.readDir(target)) {
    const id = Number(/^data\.(\d+)$/.exec(e.name)?.[1]);
    if (!e.isFile || Number.isNaN(id) || kept.has(id)) continue;
    const key = await valueFileKey(target, id);
    if (key !== undefined && gone(key)) dead.push(id);
  }
  for (const id of dead) {
    // Its hint first, as every removal here goes: a hint never outlives its file.
    const hint = hintPath(target, id);
    if (await statOrUndefined(hint)) {
      await Deno.remove(hint);
      c.filesRemoved++;
    }
    await Deno.remove(dataPath(target, id));
    c.filesRemoved++;
  }
  if (dead.length > 0) await syncDir(target);
}

// The key of the record in data file `id` of `dir` when it is a streamed
// value's file (one record after the header) that reads whole enough to say.
async function valueFileKey(dir: string, id: number): Promise<string | undefined> {
  using f = await Deno.open(dataPath(dir, id), { read: true });
  const header = decodeFileHeader(await readAt(f, 0, FILE_HEADER_SIZE), KIND_DATA);
  if (header?.version !== 2) return undefined;
  const file = new DataFile(dir, id, 0, header);
  if (!file.blob) return undefined;
  const h = readHeader(file.fmt, await readAt(f, file.headerSize, file.fmt.headerSize), 0);
  if (h === undefined) return undefined;
  const key = await readAt(f, file.headerSize + file.fmt.headerSize, h.keyLen);
  return key.length === h.keyLen ? bytesToKey(key) : undefined;
}

// Up to `n` bytes of `f` from `offset` (fewer where the file ends).
async function readAt(f: Deno.FsFile, offset: number, n: number): Promise<Uint8Array> {
  await f.seek(offset, Deno.SeekMode.Start);
  const buf = new Uint8Array(n);
  return buf.subarray(0, await readFull(f, buf));
}

// A sealed file: kept when the target has it already (the same inode, or the
// same bytes: a store opened in the target since may have appended its own
// records to a copy, up to the very size), else linked, else copied (`copy`
// writes the file at the path it is given, and fsyncs it). A new file is made
// under a temporary name and renamed over the target's copy: a backup cut
// short keeps the earlier backup's file until its replacement is whole.
async function placeSealed(
  from: string,
  to: string,
  size: number,
  c: BackupCounts,
  copy: (into: string) => Promise<void>,
): Promise<void> {
  const [src, dst] = [await statOrUndefined(from), await statOrUndefined(to)];
  // A source a compaction just unlinked cannot be compared by name: copy it
  // from the descriptor held for it instead.
  const same = dst && (dst.ino === src?.ino ||
    (dst.size === size && await sameBytes(from, to, size).catch(() => false)));
  if (same) {
    c.filesKept++;
    return;
  }
  const tmp = to + TEMP;
  let linked = true;
  await Deno.link(from, tmp).catch(() => {
    // Another file system (EXDEV), links not allowed, or the file unlinked by
    // a compaction (a reader still holds it open): copy instead.
    linked = false;
  });
  if (linked) {
    c.filesLinked++;
    await fsync(tmp);
  } else await copy(tmp);
  await Deno.rename(tmp, to);
}

// The file still being appended: the target's copy is extended when it is a
// shorter copy of it (the log only grows), else written afresh. Its bytes are
// compared, all of them: a store opened in the target since appends records of
// its own to the same file, under the same header, and they may end as the
// source's do.
async function placeOpen(s: SnapshotFile, to: string, c: BackupCounts): Promise<void> {
  const dst = await statOrUndefined(to);
  const prefix = dst !== undefined && dst.size <= s.size && dst.nlink === 1 &&
    await sameBytes(s.file.path, to, dst.size).catch(() => false);
  if (prefix && dst.size === s.size) {
    c.filesKept++;
    return;
  }
  if (prefix) return await copyRange(s.file, to, dst.size, s.size, c, dst.ino);
  // Written afresh beside the old copy, which it replaces once whole (as placeSealed does).
  await copyRange(s.file, to + TEMP, 0, s.size, c);
  await Deno.rename(to + TEMP, to);
}

// Copies bytes [from, size) of `file`, read through its held descriptor (which
// still reads a file a compaction has unlinked), to the same place in `to`: a
// new file from 0, else the file `to` was, inode `ino`, a copy of its own. It
// never writes into a file it did not check: `to` may be a hard link to a
// source file, and writing there would change the store being backed up.
async function copyRange(
  file: DataFile,
  to: string,
  from: number,
  size: number,
  c: BackupCounts,
  ino?: number | null,
): Promise<void> {
  using out = await Deno.open(to, from === 0 ? { write: true, createNew: true } : { write: true });
  if (from > 0) {
    const now = await out.stat();
    if (now.ino !== ino || now.nlink !== 1) {
      throw new IOError(`${to} changed while it was backed up into (another backup?)`);
    }
  }
  await out.truncate(from);
  await out.seek(from, Deno.SeekMode.Start);
  const buf = new Uint8Array(Math.min(COPY_CHUNK, Math.max(size - from, 0)));
  for (let at = from; at < size;) {
    const n = Math.min(buf.length, size - at);
    file.read(at, buf.subarray(0, n));
    await writeAll(out, buf.subarray(0, n));
    at += n;
    c.bytesCopied += n;
  }
  await out.syncData();
}

// The last sequence number in the copy `to` of the open file: what the backup
// holds the store at (every other file of the snapshot is older).
async function lastSeqOf(s: SnapshotFile, target: string): Promise<number> {
  const copy = new DataFile(target, s.file.id, s.size, s.file.header);
  try {
    return await replayFile(
      copy,
      copy.hold(),
      s.size,
      true,
      { record: () => {}, range: () => {} },
      {
        strict: false,
        readOnly: true,
        liveTail: true,
        onWarning: () => {},
      },
    );
  } finally {
    copy.close();
  }
}

async function sameHead(a: string, b: string): Promise<boolean> {
  const [x, y] = await Promise.all([head(a), head(b)]);
  return equalBytes(x, y);
}

// Whether the files at `a` and `b` both hold the same `size` bytes.
async function sameBytes(a: string, b: string, size: number): Promise<boolean> {
  using x = await Deno.open(a, { read: true });
  using y = await Deno.open(b, { read: true });
  const bx = new Uint8Array(Math.min(COPY_CHUNK, size)), by = new Uint8Array(bx.length);
  for (let at = 0; at < size; at += bx.length) {
    const n = Math.min(bx.length, size - at);
    const [gx, gy] = await Promise.all([
      readFull(x, bx.subarray(0, n)),
      readFull(y, by.subarray(0, n)),
    ]);
    if (gx !== n || gy !== n || !equalBytes(bx.subarray(0, n), by.subarray(0, n))) return false;
  }
  return true;
}

function equalBytes(x: Uint8Array, y: Uint8Array): boolean {
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

async function head(path: string): Promise<Uint8Array> {
  using f = await Deno.open(path, { read: true });
  return await readAt(f, 0, FILE_HEADER_SIZE);
}

// Reads into `buf` from the file's position until it is full or the file ends; returns the bytes read.
async function readFull(f: Deno.FsFile, buf: Uint8Array): Promise<number> {
  let got = 0;
  while (got < buf.length) {
    const n = await f.read(buf.subarray(got));
    if (n === null) break;
    got += n;
  }
  return got;
}

async function fsync(path: string): Promise<void> {
  using f = await Deno.open(path, { read: true });
  await f.syncData();
}
