/**
 * Crash recovery: finds the store's files in a directory and replays them.
 *
 * Before a byte is replayed, each file's header says whether the file is this
 * store's own: same store id, the id its name says (a copy under another name
 * is stale), a salt its records validate with. Files that are not are skipped
 * and reported. After the replay the chain of headers tells whether a file is
 * missing (see chain.ts). In strict mode any of this fails the open with a
 * CorruptionError; otherwise it is reported through `onWarning` and the rest of
 * the store opens.
 * @module
 */

import { closeSync, fstatSync, openSync } from "node:fs";
import { CorruptionError, IOError } from "../base/errors.ts";
import type { ProblemKind } from "../base/types.ts";
import { crc32, FORMAT_V1, formatV2, readHeader, type RecordFormat } from "../codec/codec.ts";
import { crc32Seed } from "../codec/crc_combine.ts";
import {
  decodeFileHeader,
  fieldsOfDamaged,
  type FileHeader,
  fileHeaderSize,
  newStoreId,
} from "../codec/file_header.ts";
import {
  FILE_FLAG_BLOB,
  FILE_FLAG_COMPACTED,
  FILE_HEADER_SIZE,
  FILE_MAGIC,
  HEADER_SIZE,
  KIND_DATA,
  OFF_FLAGS,
  OFF_HCRC,
} from "../codec/format.ts";
import { checkChain } from "./chain.ts";
import {
  type Checkpoint,
  type CheckpointFile,
  endsShort,
  type EntryVisitor,
  loadCheckpoint,
  matchesFiles,
  namedMissing,
  readCheckpoint,
} from "./checkpoint.ts";
import { DataFile } from "./datafile.ts";
import { type CheckedEntry, EntrySample, holdsEntry } from "./entry_sample.ts";
import { dataPath, hintPath, listIds, readFullAt, syncDir } from "./fsutil.ts";
import { lockedStoreId } from "./lock.ts";
import { isGone, statOrUndefined } from "./tail.ts";
import { readHint } from "./hint.ts";
import { walkLog } from "./logscan.ts";
import {
  emit,
  type RecoveryOptions,
  type RecoverySink,
  replayFile,
  type ResumePoint,
} from "./replay.ts";

export type { RecoveryOptions, RecoverySink } from "./replay.ts";

// The most sequence numbers one data file can hold: its largest size (2^32
// bytes, maxFileSize's cap) in records of a header and a byte of key.
const MAX_RECORDS_PER_FILE = Math.floor(2 ** 32 / (HEADER_SIZE + 1));

/** What recovery leaves for the writer and the catalog. */
export interface RecoveredLog {
  /** The trusted data files, ascending, with their sizes. */
  files: DataFile[];
  /** The store's id (new for a store without version-2 files). */
  storeId: string;
  /** The last sequence number in the log. */
  seq: number;
  /** The newest log file when appends can go on in it. */
  append?: DataFile;
  /** An id above every data-file name in the directory. */
  nextId: number;
  /** Id of the newest log file, which a new file continues; -1 for none. */
  follows: number;
  /**
   * Whether sequence numbers were found lost (`seq` is past them): the new
   * file's header then keeps the loss on record, and no evidence of it may go
   * before that header is durable.
   */
  lost: boolean;
  /**
   * The index checkpoint the replay started from, if one was used.
   * "contradicted": one was loaded, but its entries did not hold up, or the
   * log then cut a file it covers shorter; what went to the sink is wrong, and
   * the caller must remove the checkpoint and recover again.
   */
  checkpoint?: Checkpoint | "contradicted";
}

/**
 * Where a checkpoint's entries go: `entry` gets them, keys ascending, then
 * `done` is called once. The log after the checkpoint goes to the sink after
 * them when it is long; when it is short (at most a quarter of the bytes the
 * checkpoint covers) it goes to `tail` before them instead, so the target can
 * merge it into the entries as they load.
 */
export interface CheckpointTarget {
  entry: EntryVisitor;
  done(): void;
  tail: RecoverySink;
}

interface Probe {
  id: number;
  fd: number;
  size: number;
  head: Uint8Array;
  header?: FileHeader;
}

/** Finds, checks and replays the data files in `dir` into `sink`. */
export async function recoverLog(
  dir: string,
  sink: RecoverySink,
  opts: RecoveryOptions,
  checkpoint?: CheckpointTarget,
): Promise<RecoveredLog> {
  const report = (kind: ProblemKind, file: string, bytes: number, message: string, offset = 0) => {
    if (opts.strict) throw new CorruptionError(`${file}: ${message}`, file, offset);
    opts.onWarning({ kind, file, offset, bytes, message: `${file}: ${message}` });
  };
  const listed = await listIds(dir, "data");
  for (const name of listed.strays) {
    report("foreign-file", `${dir}/${name}`, 0, "not a data file id");
  }
  const probes: Probe[] = [];
  try {
    const ids = await probeAll(dir, listed.ids, opts.readOnly === true, probes);
    const storeId = pickStoreId(probes, dir);
    const files: DataFile[] = [];
    // This store's newest file under its own name. One of its files under
    // another's name, numbered past it (the newest files swapped, say), holds
    // the newest of the log, lost to this open; one numbered below is a copy,
    // or leaves a gap the header chain reports.
    const topOwn = Math.max(
      -1,
      ...probes.filter((p) => p.header?.storeId === storeId && p.header.fileId === p.id)
        .map((p) => p.id),
    );
    // The highest sequence number in the files numbered past it: none of
    // those numbers is handed out again.
    let misplaced = 0;
    // Their own numbers: new files must not take them (a file put back under
    // its number would meet a new one).
    const misplacedIds: number[] = [];
    for (let i = 0; i < probes.length; i++) {
      const p = probes[i];
      const path = dataPath(dir, p.id);
      const h = p.header;
      if (h?.version === 2 && (h.storeId !== storeId || h.fileId !== p.id)) {
        if (h.storeId === storeId && h.fileId > topOwn) {
          misplaced = Math.max(misplaced, h.baseSeq, await highestSeq(p, h));
          misplacedIds.push(h.fileId);
          report(
            "missing-file",
            path,
            p.size,
            `skipped: its header says it is data.${h.fileId}, this store's newest file under ` +
              `another name: its records are not applied (put it back as data.${h.fileId})`,
          );
          continue;
        }
        const whose = h.storeId !== storeId ? `store ${h.storeId}` : `data.${h.fileId}`;
        report("foreign-file", path, p.size, `skipped: its header says it is ${whose}`);
        continue;
      }
      if (h) {
        files.push(new DataFile(dir, p.id, p.size, h));
        continue;
      }
      const newest = i === probes.length - 1;
      if (newest && cutAtCreation(p)) {
        // A crash right after the file was created: nothing in it was ever
        // acknowledged. Beside a live writer, a file it is creating right now.
        await dropUnwritten(dir, p, "a data file cut short at creation", opts);
        continue;
      }
      const fmt = await formatOfDamaged(p, storeId);
      if ("why" in fmt) {
        report(fmt.kind, path, p.size, `skipped: ${fmt.why}`);
        continue;
      }
      report("bad-file-header", path, FILE_HEADER_SIZE, "file header is damaged");
      const f = new DataFile(dir, p.id, p.size);
      f.fmt = fmt;
      files.push(f);
    }
    const { stale, through } = staleCopies(files);
    for (const f of stale) {
      report(
        "foreign-file",
        f.path,
        f.size,
        `skipped: a stale copy (a compaction through data.${through} merged it, and the ` +
          `files after it up to data.${through} are not all there)`,
      );
      files.splice(files.indexOf(f), 1);
    }
    const ck = (checkpoint || opts.checkpointEvidence) && readCheckpoint(dir, storeId);
    // Sequence numbers the lost files held are never handed out again.
    let lost = misplaced;
    // Its file table is checked only with the whole checkpoint: a damaged one
    // must not report files missing, nor number new files past its ids, so it
    // is checked first, when it would.
    const claimed = ck ? namedMissing(ck, files) : [];
    // Whether the whole checkpoint holds (its CRC): one read of it, made only
    // when a finding rests on its file table.
    let whole: boolean | undefined;
    const trusted = () => whole ??= !!ck && loadCheckpoint(ck, () => {});
    const missing = claimed.length > 0 && trusted() ? claimed : [];
    // The last sequence number before lost file `gone`.
    const named = ck ? [...ck.files].sort((a, b) => a.id - b.id) : [];
    const before = (gone: CheckpointFile) =>
      named.filter((n) => n.id < gone.id).at(-1)?.lastSeq ?? 0;
    // A lost file that held no record lost nothing, unless the log resumes
    // in it: the writes after the checkpoint went there, how many nothing
    // tells. (A log file with records but no number past the file before it
    // lost them all the same; a merge output's loss is the chain's to report.)
    const resumedIn = (gone: CheckpointFile) => ck && gone.id === ck.fileId;
    const logRecords = (gone: CheckpointFile) =>
      gone.size > FILE_HEADER_SIZE && (gone.flags & FILE_FLAG_COMPACTED) === 0;
    const lostRecords = missing.filter((gone) =>
      gone.lastSeq > before(gone) || logRecords(gone) || resumedIn(gone)
    );
    if (ck && lostRecords.length > 0) {
      for (const gone of lostRecords) {
        const path = dataPath(dir, gone.id);
        // Beside a live writer (verify), the checkpoint may be newer than the
        // listing: a file it names that has its size now was created meanwhile
        // (one still short of it, cut at creation say, lost what it named). One
        // listed already was there, and was skipped (another store's, say).
        const listedAlready = probes.some((p) => p.id === gone.id);
        if (
          opts.readOnly && !listedAlready &&
          ((await statOrUndefined(path))?.size ?? -1) >= gone.size
        ) continue;
        // Past every number the resume file can have held since: so many
        // records (of at least a header and a byte of key) fill the largest file.
        lost = Math.max(lost, gone.lastSeq + (resumedIn(gone) ? MAX_RECORDS_PER_FILE : 0));
        const held = (gone.flags & FILE_FLAG_BLOB) !== 0
          ? `a streamed value's file with sequence ${gone.lastSeq}, which is lost`
          : gone.lastSeq > before(gone)
          ? `with sequences ${before(gone) + 1}..${gone.lastSeq}, which are lost`
          : logRecords(gone)
          ? `with records up to sequence ${gone.lastSeq}, which are lost`
          : "with no record then";
        const after = resumedIn(gone)
          ? `; the log went on in it, and every write after sequence ${gone.lastSeq} is lost ` +
            `too (how many, nothing tells; no number up to ${lost} is handed out again)`
          : "";
        report(
          "missing-file",
          path,
          gone.size,
          `data.${gone.id} is missing: the index checkpoint names it, ${held}${after}`,
        );
      }
    }
    // A merge output it names that ends short of the size it had: no later
    // header names what an output holds, so nothing else tells (the newest
    // file is judged after its replay, below; a sealed log file by the chain).
    const cut = ck
      ? files.flatMap((f) => {
        const row = f.compacted ? endsShort(ck, f) : undefined;
        return row ? [{ f, want: row.size }] : [];
      })
      : [];
    if (cut.length > 0 && trusted()) {
      for (const { f, want } of cut) {
        report(
          "missing-file",
          f.path,
          want - f.size,
          `the index checkpoint names it, a compaction's output, with ${want} bytes, but it ends ` +
            `at ${f.size}: the records past that are lost`,
          f.size,
        );
      }
    }
    const used = checkpoint && ck && matchesFiles(ck, files) && resumesAtRecord(ck, files, probes)
      ? ck
      : undefined;
    const load = () => {
      const sample = new EntrySample(used!.count);
      const visit: EntryVisitor = (key, fileId, offset, size, timestamp, expireAt) => {
        sample.add(key, fileId, offset, size, timestamp, expireAt);
        checkpoint!.entry(key, fileId, offset, size, timestamp, expireAt);
      };
      if (!loadCheckpoint(used!, visit)) return false;
      if (!sample.entries().every((e) => logHolds(e, files, probes))) return false;
      checkpoint!.done();
      return true;
    };
    // Records after the checkpoint are held until it loads: only a quarter as
    // many bytes as it covers, so (at records of like size) a quarter as many
    // records as it holds entries.
    const covered = used?.files.reduce((n, f) => n + f.size, 0) ?? 0;
    const merge = used !== undefined && tailBytes(used, files) <= covered / 4;
    if (used && !merge && !load()) return { ...empty(storeId), checkpoint: "contradicted" };
    const replayInto = merge ? checkpoint!.tail : sink;
    const links = [];
    let seq = used?.seq ?? 0;
    // The highest sequence number in the files before the one at hand.
    let held = 0;
    for (let i = 0; i < files.length; i++) {
      const f = files[i];
      const named = used?.files.find((n) => n.id === f.id);
      let lastSeq: number;
      // Files before the resume point are in the checkpoint; the log from it on is replayed.
      if (named && f.id < used!.fileId) lastSeq = named.lastSeq;
      else if (forked(f, held)) {
        // Every file before a log file holds only numbers up to the one it
        // continues from (a merge's outputs, numbered after it, only older
        // ones): this one was written by a fork of the store's history (a
        // backup opened and written to, say) and would undo newer writes.
        report(
          "foreign-file",
          f.path,
          f.size,
          `skipped: it continues from sequence ${f.header!.baseSeq}, but the files before it ` +
            `hold sequences up to ${held}: a file from a fork of this store's history`,
        );
        files.splice(i--, 1);
        continue;
      } else {
        const p = probes.find((x) => x.id === f.id)!;
        const last = endsLog(files, i, opts.liveTail === true);
        const from = f.id === used?.fileId ? { offset: used.resume, seq: used.seq } : undefined;
        // A log file holds no number past where the file continuing it starts.
        const next = files.find((g) => !g.compacted && g.header?.follows === f.id);
        lastSeq = await replayOne(f, p, last, replayInto, opts, from, next?.header?.baseSeq);
        // The log cut off part of what the checkpoint covers: its entries may point there.
        if (named && f.size < named.size) return { ...empty(storeId), checkpoint: "contradicted" };
        const short = last && ck ? endsShort(ck, f) : undefined;
        if (short && trusted()) {
          lost = Math.max(lost, short.lastSeq);
          report(
            "missing-file",
            f.path,
            short.size - f.size,
            `the index checkpoint names it with ${short.size} bytes, through sequence ` +
              `${short.lastSeq}, but it ends at ${f.size}: sequences ${lastSeq + 1}..` +
              `${short.lastSeq} are lost`,
            f.size,
          );
        }
        // Files rotations began after writes a crash cut short (endsLog lets only
        // those follow a last file) name sequence numbers no record holds.
        if (last && files.slice(i + 1).some((g) => g.header!.baseSeq > lastSeq)) {
          for (const g of files.splice(i + 1)) {
            const why = `a data file begun after writes to data.${f.id} a crash cut short`;
            await dropUnwritten(dir, probes.find((x) => x.id === g.id)!, why, opts);
          }
        }
      }
      if (!f.compacted) f.lastSeq = lastSeq;
      links.push({ id: f.id, header: f.header, lastSeq, compacted: f.compacted });
      seq = Math.max(seq, lastSeq, f.header?.baseSeq ?? 0);
      held = Math.max(held, lastSeq);
    }
    if (merge && !load()) return { ...empty(storeId), checkpoint: "contradicted" };
    const breaks = checkChain(links);
    for (const b of breaks) {
      const path = dataPath(dir, b.id);
      if (opts.strict) throw new CorruptionError(`${path}: ${b.message}`, path, 0);
      opts.onWarning({ kind: "missing-file", file: path, offset: 0, bytes: 0, message: b.message });
    }
    const logs = files.filter((f) => !f.compacted);
    const newest = logs[logs.length - 1];
    const top = ids[ids.length - 1];
    // After lost files a new file starts: its header's base sequence keeps the gap on record.
    // So it does after a file with another name (a hard link: a backup cut short
    // before it copied the file being appended leaves links to the source's
    // sealed files), which an append would write into the other store.
    const appendable = newest && newest.header?.version === 2 && newest.id === top &&
      !newest.blob && lost === 0 && (Deno.statSync(newest.path).nlink ?? 1) === 1;
    if (appendable) newest.lastSeq = undefined;
    return {
      files,
      storeId,
      seq: Math.max(seq, lost),
      append: appendable ? newest : undefined,
      // Past a lost file's number too (one the checkpoint names, or a merge's
      // missing output): a copy of it restored later must not meet a new file,
      // and a new file under its number would hide the loss from later opens.
      nextId: Math.max(
        top ?? -1,
        ...missing.map((g) => g.id),
        ...breaks.map((b) => b.id),
        ...misplacedIds,
      ) + 1,
      // With no log file left, the new one follows the newest lost file: its
      // header then keeps the gap on record (one following -1 starts a log).
      follows: newest?.id ?? Math.max(-1, ...lostRecords.map((g) => g.id), ...misplacedIds),
      lost: lost > 0,
      checkpoint: used,
    };
  } finally {
    for (const p of probes) if (p.fd >= 0) closeSync(p.fd);
  }
}

// Whether the log holds the record checkpoint entry `e` points at.
function logHolds(e: CheckedEntry, files: DataFile[], probes: Probe[]): boolean {
  const file = files.find((f) => f.id === e.fileId);
  const probe = probes.find((p) => p.id === e.fileId);
  return file !== undefined && probe !== undefined &&
    holdsEntry(e, file.fmt, probe.size, (at, into) => readFullAt(probe.fd, at, into));
}

// Whether file `i` of `files` ends the log as a crash can leave it: the newest
// file, or the one a plain rotation left before newer files that hold only
// their headers. The writer begins the next file before the fsync of the file
// it leaves completes, so a power cut can tear that file's last writes (none of
// them acknowledged) and keep the new file's header. Only a rotation does that:
// a compaction's seal (an id gap), a streamed value's file, a file an open
// began (after a loss, say), or a version-1 file an upgrade left were all
// durable before the next file began, and damage in them is damage. Beside a
// live writer such files are being written, and are not.
function endsLog(files: DataFile[], i: number, liveTail: boolean): boolean {
  const f = files[i];
  if (f.compacted) return false;
  if (i === files.length - 1) return true;
  const rotated = (g: DataFile, from: DataFile) =>
    g.header?.version === 2 && !g.compacted && !g.blob && !g.opened && g.size === g.headerSize &&
    g.id === from.id + 1 && g.header.follows === from.id;
  return !liveTail && !f.blob && f.header?.version === 2 &&
    files.slice(i + 1).every((g, j) => rotated(g, files[i + j]));
}

// Drops data file `p`, which holds nothing ever acknowledged (`why` says what
// it is): reported as a torn tail, and removed unless read only. Beside a live
// writer it is a file being created: no report.
async function dropUnwritten(
  dir: string,
  p: Probe,
  why: string,
  opts: RecoveryOptions,
): Promise<void> {
  const path = dataPath(dir, p.id);
  const report = () => {
    if (opts.liveTail) return;
    const message = `${path}: ${opts.readOnly ? why : `removed ${why}`}`;
    opts.onWarning({ kind: "torn-tail", file: path, offset: 0, bytes: p.size, message });
  };
  if (opts.readOnly) return report();
  closeSync(p.fd);
  p.fd = -1;
  const remove = async () => {
    await Deno.remove(path);
    await syncDir(dir);
    report();
  };
  if (opts.fixes) opts.fixes.push(remove);
  else await remove();
}

// Whether the checkpoint's resume point is the end of its file or the start
// of a record there that commits after it. The point lies outside the header's
// checksum, and the checkpoint's own checksum is checked only once its entries
// are loaded, after the log from that point was replayed: a damaged point
// would have that replay take record bytes for damage and cut them off.
function resumesAtRecord(ck: Checkpoint, files: DataFile[], probes: Probe[]): boolean {
  const file = files.find((f) => f.id === ck.fileId);
  const probe = probes.find((p) => p.id === ck.fileId);
  if (!file || !probe || ck.resume > probe.size) return false;
  if (ck.resume === probe.size) return true;
  const head = new Uint8Array(Math.min(file.fmt.headerSize, probe.size - ck.resume));
  readFullAt(probe.fd, ck.resume, head);
  const h = readHeader(file.fmt, head, 0);
  return h !== undefined && h.seq > ck.seq;
}

// How many times a reader lists the directory again before a file that
// vanished between the listing and its open counts as an error.
const RELISTS = 100;

// Opens the data files `ids` into `probes`, in order, and returns the ids it
// opened. A reader's listing can go stale before it opens a file: the writer's
// compaction removed it. It then lists again and opens only what it does not
// hold yet (ids are never reused), closing what is no longer listed, until one
// listing opens whole; starting the whole load over lost that race again and
// again beside a writer compacting a store of thousands of files in a loop.
async function probeAll(
  dir: string,
  first: number[],
  readOnly: boolean,
  probes: Probe[],
): Promise<number[]> {
  let ids = first;
  for (let pass = 1;; pass++) {
    const held = new Map(probes.map((p) => [p.id, p]));
    let gone = false;
    try {
      for (const id of ids) {
        if (held.has(id)) continue;
        try {
          held.set(id, probe(dir, id, readOnly));
        } catch (e) {
          if (!readOnly || !isGone(e) || pass === RELISTS) throw e;
          gone = true;
          break;
        }
      }
    } finally {
      // Whatever was opened is the caller's to close, even on a throw.
      probes.splice(0, probes.length, ...held.values());
    }
    if (!gone) break;
    ids = (await listIds(dir, "data")).ids;
    const listed = new Set(ids);
    for (const p of probes) if (!listed.has(p.id)) closeSync(p.fd);
    probes.splice(0, probes.length, ...probes.filter((p) => listed.has(p.id)));
  }
  probes.sort((a, b) => a.id - b.id);
  return ids;
}

// Opens data file `id`, read-write unless `readOnly` (a torn tail may be cut),
// and reads its header.
function probe(dir: string, id: number, readOnly: boolean): Probe {
  const path = dataPath(dir, id);
  let fd: number;
  try {
    fd = openSync(path, readOnly ? "r" : "r+");
  } catch (e) {
    throw new IOError(`cannot open ${path}`, { cause: e });
  }
  const size = fstatSync(fd).size;
  const head = new Uint8Array(Math.min(FILE_HEADER_SIZE, size));
  readFullAt(fd, 0, head);
  return { id, fd, size, head, header: decodeFileHeader(head, KIND_DATA) };
}

// The store's id, from the version-2 files that sit under their own name (a
// new one for a store without any). Files of another store can sit beside the
// store's own (a backup restored over the wrong directory, say), and even
// outnumber them, so with more than one id the store is, in this order: the
// one the lock file names (its last writer wrote it there); the one whose
// intact index checkpoint names its files (only the store's own writer writes
// one); the one with fewer files that continue a file it does not
// have (a store's own log is whole unless files went missing, where files
// copied in from another store continue files left behind); the one with more
// files; the oldest file's. With no intact header at all, a damaged one under
// its own name says it, as far as its records then prove it (formatOfDamaged).
function pickStoreId(probes: Probe[], dir: string): string {
  const stores = new Map<string, FileHeader[]>();
  for (const p of probes) {
    const h = p.header;
    if (h?.version === 2 && h.fileId === p.id) {
      stores.set(h.storeId, [...(stores.get(h.storeId) ?? []), h]);
    }
  }
  if (stores.size === 0) {
    const named = probes.map((p) => fieldsOfDamaged(p.head)).find((f, i) =>
      f?.fileId === probes[i].id
    );
    // With no data file left at all, the lock file still names the store: its
    // checkpoint then says which files are lost. With the lock file gone too,
    // the checkpoint is the only trace of the store, and says so itself.
    return named?.storeId ?? lockedStoreId(dir) ?? readCheckpoint(dir)?.storeId ?? newStoreId();
  }
  const locked = lockedStoreId(dir);
  if (stores.size === 1) {
    const only = stores.keys().next().value!;
    if (locked === only) return only;
    // Every data file is another store's while the lock file (or, with none,
    // the checkpoint) names a store whose checkpoint holds keys: that store's
    // files were all replaced (a backup of another store copied over them).
    // It stays the store, so its lost files are reported and the copies skipped.
    const ck = readCheckpoint(dir);
    const named = locked ?? ck?.storeId;
    return ck !== undefined && ck.storeId === named && named !== only && ck.count > 0
      ? named
      : only;
  }
  const ck = readCheckpoint(dir);
  // Whether store `id` has any record: an empty store's files are headers alone.
  const holdsRecords = (id: string) =>
    probes.some((p) => p.header?.storeId === id && p.size > FILE_HEADER_SIZE);
  const rank = (id: string, files: FileHeader[]) => [
    // (A store opened once and left empty, then a backup restored into its
    // directory: the lock names the empty one.)
    locked === id && holdsRecords(id) ? 1 : 0,
    ck?.storeId === id &&
      files.some((h) => ck.files.some((f) => f.id === h.fileId && f.salt === h.salt))
      ? 1
      : 0,
    -continuesMissing(files),
    files.length,
  ];
  let best = "", bestRank: number[] = [];
  for (const [id, files] of stores) {
    const r = rank(id, files);
    const i = r.findIndex((x, j) => x !== bestRank[j]);
    if (best === "" || (i >= 0 && r[i] > bestRank[i])) [best, bestRank] = [id, r];
  }
  return best;
}

// How many of one store's log files continue a log file that is not among
// them, and that no merge output among them covers.
function continuesMissing(files: FileHeader[]): number {
  const ids = new Set(files.map((h) => h.fileId));
  const compacted = (h: FileHeader) => (h.flags & FILE_FLAG_COMPACTED) !== 0;
  const merged = Math.max(-1, ...files.filter(compacted).map((h) => h.follows));
  return files.filter((h) =>
    !compacted(h) && h.follows >= 0 && !ids.has(h.follows) && h.follows > merged
  ).length;
}

// Whether a newest file without a valid header is one the writer created and a
// crash cut short: empty, all zeros (unwritten blocks), or the start of a header.
function cutAtCreation(p: Probe): boolean {
  if (p.size >= FILE_HEADER_SIZE) {
    const all = new Uint8Array(p.size);
    readFullAt(p.fd, 0, all);
    return all.every((b) => b === 0);
  }
  const magic = new Uint8Array(4);
  new DataView(magic.buffer).setUint32(0, FILE_MAGIC, true);
  return p.head.every((b, i) => i >= 4 ? true : b === magic[i]) || p.head.every((b) => b === 0);
}

// A file whose header fails its checks is still the store's if what the header
// says of its store and its number is right and records validate under the
// salt it holds, or the one its first record was written with (or, for
// version 1, with no salt); else what to report of it, and why.
async function formatOfDamaged(
  p: Probe,
  storeId: string,
): Promise<RecordFormat | { kind: ProblemKind; why: string }> {
  const fields = fieldsOfDamaged(p.head);
  // The file id must be the file's own: ids are small numbers, and one of
  // another file a few bits away is a copy of it (a stale one, say).
  if (fields && (!nearlySameId(fields.storeId, storeId) || fields.fileId !== p.id)) {
    // A copy of another file (this store's or another's) validates under its own salt.
    const whose = fields.storeId !== storeId ? `store ${fields.storeId}` : `data.${fields.fileId}`;
    return { kind: "foreign-file", why: `its header is damaged, and says it is ${whose}` };
  }
  const candidates = fields === undefined
    ? [FORMAT_V1]
    : [formatV2(fields.salt), ...saltOfFirstRecord(p, fields.salt), FORMAT_V1];
  for (const fmt of candidates) {
    let found = false;
    const start = fileHeaderSize(fmt.version);
    await walkLog({ fd: p.fd, size: p.size, fmt, start }, () => {
      found = true;
    }, (_, next) => {
      found ||= next >= 0;
      return false;
    });
    if (found) return fmt;
  }
  // The store's own file by its header's ids, its records unreadable: lost.
  if (fields) {
    return {
      kind: "bad-file-header",
      why: "its header is damaged (it names this store and this file), and no record reads " +
        "under the salt it holds or the one its first record tells: its records are lost",
    };
  }
  return { kind: "foreign-file", why: "not a Cask data file" };
}

// The highest sequence number among the records of `p`, read under the salt
// of its header `h`.
async function highestSeq(p: Probe, h: FileHeader): Promise<number> {
  let top = 0;
  const log = { fd: p.fd, size: p.size, fmt: formatV2(h.salt), start: FILE_HEADER_SIZE };
  await walkLog(log, (_, r) => top = Math.max(top, r.seq), () => true);
  return top;
}

// The format of the salt the first record's header checksum was made with,
// when it is not `field`, the damaged header's: the salt field itself took the
// damage. The records must then validate under it in full, as under any
// candidate (the header checksum holds by construction; the record's own
// checksum is the proof).
function saltOfFirstRecord(p: Probe, field: number): RecordFormat[] {
  const hs = formatV2(0).headerSize, at = fileHeaderSize(2);
  if (p.size < at + hs) return [];
  const head = new Uint8Array(hs);
  readFullAt(p.fd, at, head);
  const hcrc = new DataView(head.buffer).getUint32(OFF_HCRC, true);
  const salt = crc32Seed(hcrc, crc32(head.subarray(OFF_FLAGS), 0), hs - OFF_FLAGS);
  return salt !== field ? [formatV2(salt)] : [];
}

// Whether store id `a` is `b` with at most one byte's worth of bits flipped:
// damage to the store's own header. Two stores' random 64-bit ids come this
// close about once in three billion pairs.
function nearlySameId(a: string, b: string): boolean {
  let bits = 0;
  for (let i = 0; i < a.length; i += 8) {
    let x = (parseInt(a.slice(i, i + 8), 16) ^ parseInt(b.slice(i, i + 8), 16)) >>> 0;
    for (; x !== 0; x &= x - 1) bits++;
  }
  return a.length === b.length && bits <= 8;
}

/**
 * The files a compaction merged that are there though its removal of them
 * cannot have left them, and the newest log file that compaction merged. It
 * merges every file up to that log file (live streamed values' files aside),
 * installs its outputs, then removes its inputs oldest first, that newest input
 * last, each removal durable before the next. So the inputs a crash leaves are
 * its newest ones, and from each the log (streamed values' files are links of
 * it) runs on, file by file, to that newest input. A merged file from which it
 * does not (a log file, or an older compaction's output, put back after the
 * compaction) is a stale copy: replaying it would bring back keys whose deletes
 * the compaction dropped. So it is judged against the newest compaction whose
 * outputs are all there: until they are, every input of a compaction is too,
 * and holds what the missing outputs would. A version-1 file, or one whose
 * header is damaged, cannot say, and is replayed.
 */
function staleCopies(files: DataFile[]): { stale: DataFile[]; through: number } {
  // The newest log file a compaction merged whose outputs are all there, by the
  // output parts present of each compaction (named by its newest input).
  const parts = new Map<number, Set<number>>();
  for (const f of files) {
    if (f.compacted) {
      parts.set(f.header!.follows, (parts.get(f.header!.follows) ?? new Set()).add(f.header!.part));
    }
  }
  const whole = files.filter((f) =>
    f.compacted && parts.get(f.header!.follows)!.size === f.header!.parts
  );
  const through = Math.max(-1, ...whole.map((f) => f.header!.follows));
  const logs = new Map(files.filter((f) => !f.compacted).map((f) => [f.id, f]));
  // The files from which the log runs to `through`, by the file each continues.
  const run = new Map<number, number>();
  for (let f = logs.get(through); f?.header && !run.has(f.header.follows);) {
    run.set(f.header.follows, f.id);
    f = logs.get(f.header.follows);
  }
  const inRun = new Set(run.values());
  const stale = files.filter((f) => {
    if (f.id >= through || f.blob || f.header?.version !== 2) return false;
    if (!f.compacted) return !inRun.has(f.id);
    // An output's log goes on in the file after its own merge's newest input.
    const next = run.get(f.header.follows);
    return next === undefined || next < f.id;
  });
  return { stale, through };
}

// Whether log file `f` continues from a sequence number below `held`, the
// highest one the files before it hold.
function forked(f: DataFile, held: number): boolean {
  return f.header?.version === 2 && !f.compacted && f.header.baseSeq < held;
}

// Bytes of log after checkpoint `c`'s resume point.
function tailBytes(c: Checkpoint, files: DataFile[]): number {
  let bytes = 0;
  for (const f of files) {
    if (f.id >= c.fileId) bytes += f.size - (f.id === c.fileId ? c.resume : f.headerSize);
  }
  return bytes;
}

// What recovery from a contradicted checkpoint returns: nothing of it may be used.
function empty(storeId: string): RecoveredLog {
  return { files: [], storeId, seq: 0, nextId: 0, follows: -1, lost: false };
}

async function replayOne(
  f: DataFile,
  p: Probe,
  last: boolean,
  sink: RecoverySink,
  opts: RecoveryOptions,
  from?: ResumePoint,
  maxSeq?: number,
): Promise<number> {
  // A hint stands in for its data file's scan; the newest file never has one.
  if (!from && !last && f.header && opts.useHints !== false) {
    let lastSeq = f.header.baseSeq;
    const hs = f.fmt.headerSize;
    const path = hintPath(f.dir, f.id);
    const hinted = await readHint(path, f, (key, offset, h) => {
      emit(sink, f.id, hs, key, offset, h);
      if (!f.compacted && h.seq > lastSeq) lastSeq = h.seq;
    });
    if (hinted) return lastSeq;
    // No hint is no problem (the file is scanned); a hint that is there and
    // fails is damage. Beside a live writer (read-only) it may be a hint
    // renamed into place just after the read missed it: no report there.
    if (!opts.readOnly && (await statOrUndefined(path)) !== undefined) {
      const message =
        `${path}: hint is damaged or belongs to another file; data.${f.id} is scanned`;
      opts.onWarning({ kind: "bad-hint", file: path, offset: 0, bytes: 0, message });
    }
  }
  return await replayFile(f, p.fd, p.size, last, sink, opts, from, maxSeq);
}
