/**
 * The index side of a read-only store: loading the files as they are, without
 * a lock, beside a writer in another process, and catching up with what that
 * writer commits since (refresh).
 *
 * What a reader shows is always a prefix of the writer's history: records are
 * applied in log order and a batch only once its commit record is on disk, so
 * no batch is seen in part and no key goes back to an older value.
 *
 * A refresh lists the directory. When only the newest file grew, or new log
 * files followed it, the new records are replayed from where the last replay
 * stopped. When a compaction changed the older files (a merge output appeared,
 * or a file still serving keys went away), the whole store is loaded again
 * into a fresh index, which replaces the current one only when it is at least
 * as new (its sequence number), key by key in one synchronous step, so a
 * running scan goes on over the same index. Files the index no longer points
 * into are closed then: until then, an unlinked file stays readable through
 * the descriptor the reader holds (and keeps its disk space).
 * @module
 */

import { asCaskError, CorruptionError } from "../base/errors.ts";
import type { RecoveryWarning } from "../base/types.ts";
import type { DataFile } from "../log/datafile.ts";
import { listIds } from "../log/fsutil.ts";
import { recoverLog, type RecoveryOptions } from "../log/recovery.ts";
import { isGone, openNewFile, replayAppended } from "../log/tail.ts";
import { BulkLoader, loadingSink, type LoadTarget } from "./bulk_load.ts";
import { HeldLoad } from "./held_load.ts";
import { type Entry, KeyDir } from "./keydir.ts";

/** The catalog's parts a follower reads and changes. */
export interface FollowTarget {
  dir: string;
  options: RecoveryOptions;
  clock: () => number;
  /** Data files by id, held open. */
  files: Map<number, DataFile>;
  /** The sequence number of the last commit applied. */
  sequence(): number;
  setSequence(seq: number): void;
  /** Every index entry in key order. */
  entries(): Iterable<[string, Entry]>;
  put(k: string, e: Entry): void;
  remove(k: string): void;
  /** Deletes every key in [start, end) (`end` undefined: no end). */
  removeRange(start: string, end: string | undefined): void;
  liveBytes(id: number): number;
  /** Forgets and closes `files`. */
  dropFiles(files: DataFile[]): void;
}

// A load that raced with a compaction (a file listed, then removed before it
// was opened) is tried again this many times before its error counts, after a
// wait that doubles from 1 ms up to RETRY_MAX_MS: a compaction removes its
// inputs one by one, each removal fsynced, so retries at once all fell inside
// one removal phase (about 1 load in 160 beside a writer compacting in a
// loop). Ten tries (waits up to half a second) still ran out once on a loaded
// machine beside a writer compacting thousands of files in a loop; thirty,
// with waits capped, give it about two seconds of chances.
const ATTEMPTS = 30;
const RETRY_MAX_MS = 64;

interface Loaded {
  files: DataFile[];
  seq: number;
  storeId: string;
  /** Ids of every data file the load saw, those it skipped included. */
  seen: Set<number>;
}

// Loading straight into the follow target.
function targetLoad(t: FollowTarget): LoadTarget {
  return {
    put: (k, ...e) => t.put(k, entry(...e)),
    remove: (k) => t.remove(k),
    removeRange: (a, b) => t.removeRange(a, b),
  };
}

/** Loads and follows a store that another process may be writing; see the module doc. */
export class Follower {
  readonly #t: FollowTarget;
  // Kept across refreshes and reloads: its buffers are megabytes, and a
  // follower polls often (a loader of its own for each reload, beside a
  // writer compacting in a loop, took its RSS to 190 MiB in 40 s, against 134).
  readonly #loader: BulkLoader;
  readonly #held: HeldLoad;
  #tail?: DataFile;
  #storeId = "";
  #seen = new Set<number>();
  // Set when the writer cut back the tail: the next load may hold less.
  #cutBack = false;
  #running: Promise<void> = Promise.resolve();
  #timer?: ReturnType<typeof setTimeout>;
  #closed = false;
  readonly #reported = new Set<string>();

  constructor(target: FollowTarget) {
    this.#t = target;
    this.#held = new HeldLoad(targetLoad(target));
    this.#loader = new BulkLoader(this.#held);
  }

  /** Loads the store into the (empty) target. */
  async start(): Promise<void> {
    const t = this.#t;
    const loaded = await this.#load(() => {
      for (const [k] of [...t.entries()]) t.remove(k);
      return targetLoad(t);
    });
    for (const f of loaded.files) t.files.set(f.id, f);
    this.#adopt(loaded);
  }

  /** The id of the store followed ("" until it has a file). */
  get storeId(): string {
    return this.#storeId;
  }

  /** The newest log file: the one the writer may still append to. */
  get tail(): DataFile | undefined {
    return this.#tail;
  }

  /** Catches up with the writer; calls run one after another. */
  refresh(): Promise<void> {
    return this.exclusive(() =>
      this.#refresh().catch((e) => {
        // A directory removed under it, say: typed, as open() reports it.
        throw asCaskError(e, `cannot refresh from ${this.#t.dir}`);
      })
    );
  }

  /** Runs `work` once no refresh runs, and starts none until it has settled. */
  exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#running.then(work);
    this.#running = run.then(() => {}, () => {});
    return run;
  }

  /** Refreshes every `intervalMs` until closed; failures go to `onError`. */
  follow(intervalMs: number, onError: (e: Error) => void): void {
    const tick = () => {
      const timer = setTimeout(() => {
        this.refresh().catch(onError).finally(() => this.#closed || tick());
      }, intervalMs);
      // A store left open must not keep the process alive.
      Deno.unrefTimer(timer);
      this.#timer = timer;
    };
    tick();
  }

  /** Stops following; resolves once a running refresh has ended. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    await this.#running;
  }

  async #refresh(): Promise<void> {
    if (this.#closed) return;
    const t = this.#t;
    const { ids } = await listIds(t.dir, "data");
    const top = Math.max(-1, ...t.files.keys());
    const listed = new Set(ids);
    const gone = [...t.files.values()].filter((f) => !listed.has(f.id));
    const merged = ids.some((id) => id < top && !this.#seen.has(id)) ||
      gone.some((f) => f === this.#tail || t.liveBytes(f.id) > 0);
    if (merged || !(await this.#advance(ids.filter((id) => id > top)))) {
      await this.#reload();
      return;
    }
    // Files whose records were all replaced: merged away without changing what the index shows.
    t.dropFiles(gone);
  }

  // Replays what the writer appended since the last look: the rest of the tail
  // file, then each new log file. False when it meets what only a full load
  // can judge (a merge output, a file of another store, a file cut back).
  async #advance(fresh: number[]): Promise<boolean> {
    const t = this.#t;
    const loader = this.#loader;
    const sink = loadingSink(loader, t.clock());
    let seq = t.sequence();
    this.#held.hold();
    try {
      if (this.#tail) {
        seq = await replayAppended(this.#tail, seq, sink, t.options);
        if (seq < 0) {
          this.#cutBack = true;
          return false;
        }
      }
      for (const id of fresh) {
        const f = openNewFile(t.dir, id, this.#storeId);
        if (f === "pending") break;
        if (f === "unknown") return false;
        // A listing taken while the writer creates files can miss some of them:
        // a file that does not continue the tail has a gap before it, which
        // only a full load can judge (the files in it may just not be listed).
        if (f.header!.follows !== (this.#tail?.id ?? -1)) {
          f.close();
          return false;
        }
        t.files.set(id, f);
        this.#seen.add(id);
        this.#storeId ||= f.header!.storeId;
        this.#tail = f;
        seq = await replayAppended(f, seq, sink, t.options);
      }
      return true;
    } finally {
      // What was replayed is a prefix of the log, applied whole, in one
      // synchronous step: windows the loader flushed meanwhile were held.
      this.#held.release();
      loader.flush();
      if (seq > t.sequence()) t.setSequence(seq);
    }
  }

  // Loads the store again into a fresh index and, unless it is older than what
  // the reader shows, makes the current index equal to it in one step.
  async #reload(): Promise<void> {
    const t = this.#t;
    // Compared with the reader's index, never read from: no point cache.
    let index = new KeyDir({ pointCache: false });
    const loaded = await this.#load(() => {
      index = new KeyDir({ pointCache: false });
      return {
        put: (k, ...e) => index.set(k, entry(...e)),
        remove: (k) => index.delete(k),
        removeRange: (a, b) => {
          for (const [k] of [...index.range(a, b)]) index.delete(k);
        },
      };
    });
    if (loaded.seq < t.sequence() && !this.#cutBack) {
      for (const f of loaded.files) f.close();
      return;
    }
    this.#cutBack = false;
    const keep = new Set<number>();
    for (const f of loaded.files) {
      keep.add(f.id);
      const have = t.files.get(f.id);
      if (!have) t.files.set(f.id, f);
      else {
        // Ids are never reused: the same file, replayed further.
        have.size = f.size;
        f.close();
      }
    }
    const { puts, removes } = differences(t.entries(), index.range());
    for (const [k, e] of puts) t.put(k, e);
    for (const k of removes) t.remove(k);
    t.dropFiles([...t.files.values()].filter((f) => !keep.has(f.id)));
    this.#adopt({ ...loaded, files: loaded.files.map((f) => t.files.get(f.id)!) });
  }

  #adopt(loaded: Loaded): void {
    const logs = loaded.files.filter((f) => !f.compacted);
    this.#tail = logs[logs.length - 1];
    // A store without files yet has no id: its writer's first file gives it.
    this.#storeId = loaded.files.length > 0 ? loaded.storeId : "";
    this.#seen = loaded.seen;
    this.#t.setSequence(loaded.seq);
  }

  // Runs recovery, read only, into the target `begin` returns. A load that
  // meets a file removed meanwhile, or a chain with a file missing (a listing
  // taken while a compaction swapped files), is the writer's compaction moving
  // files under it: it starts over.
  async #load(begin: () => LoadTarget): Promise<Loaded> {
    try {
      return await this.#loadInto(begin);
    } finally {
      // Back to following, with none of the load's records left in it.
      this.#loader.reset(this.#held);
    }
  }

  async #loadInto(begin: () => LoadTarget): Promise<Loaded> {
    const t = this.#t;
    const loader = this.#loader;
    for (let attempt = 1;; attempt++) {
      const warnings: RecoveryWarning[] = [];
      const seen = new Set((await listIds(t.dir, "data")).ids);
      loader.reset(begin());
      let files: DataFile[] = [];
      try {
        const log = await recoverLog(t.dir, loadingSink(loader, t.clock()), {
          ...t.options,
          strict: false,
          readOnly: true,
          liveTail: true,
          onWarning: (w) => warnings.push(w),
        });
        files = log.files;
        loader.flush();
        for (const f of files) f.hold();
        const raced = warnings.some((w) => w.kind === "missing-file");
        if (!raced || attempt === ATTEMPTS) {
          this.#report(warnings);
          for (const f of files) seen.add(f.id);
          return { files, seq: log.seq, storeId: log.storeId, seen };
        }
      } catch (e) {
        if (!isGone(e) || attempt === ATTEMPTS) {
          for (const f of files) f.close();
          throw asCaskError(e, `cannot load the store in ${t.dir}`);
        }
      }
      for (const f of files) f.close();
      await new Promise((r) => setTimeout(r, Math.min(RETRY_MAX_MS, 2 ** (attempt - 1))));
    }
  }

  // Passes on what a load found, each problem once (every reload meets it again).
  #report(warnings: RecoveryWarning[]): void {
    const o = this.#t.options;
    const fresh = warnings.filter((w) => !this.#reported.has(w.message));
    if (o.strict && fresh.length > 0) {
      const w = fresh[0];
      throw new CorruptionError(w.message, w.file, w.offset);
    }
    for (const w of fresh) {
      this.#reported.add(w.message);
      o.onWarning(w);
    }
  }
}

// What turns index `from` into index `to` (both walked in key order at once):
// the entries to put (new or moved) and the keys to remove.
function differences(
  from: Iterable<[string, Entry]>,
  to: Iterable<[string, Entry]>,
): { puts: [string, Entry][]; removes: string[] } {
  const puts: [string, Entry][] = [], removes: string[] = [];
  const a = from[Symbol.iterator](), b = to[Symbol.iterator]();
  let x = a.next(), y = b.next();
  while (!x.done || !y.done) {
    if (y.done || (!x.done && x.value[0] < y.value[0])) {
      removes.push(x.value[0]);
      x = a.next();
    } else if (x.done || y.value[0] < x.value[0]) {
      puts.push(y.value);
      y = b.next();
    } else {
      const [e, f] = [x.value[1], y.value[1]];
      if (e.fileId !== f.fileId || e.offset !== f.offset) puts.push(y.value);
      x = a.next();
      y = b.next();
    }
  }
  return { puts, removes };
}

function entry(
  fileId: number,
  offset: number,
  size: number,
  timestamp: number,
  expireAt: number,
): Entry {
  return { fileId, offset, size, timestamp, expireAt };
}
