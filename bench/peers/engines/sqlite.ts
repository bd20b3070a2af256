// node:sqlite (DatabaseSync) with the configuration its docs suggest for a KV table:
// WAL, a WITHOUT ROWID table keyed by the blob, prepared statements, and explicit
// transactions around bulk work.

import { DatabaseSync } from "node:sqlite";
import type { Keys, Writes } from "../data.ts";
import { type Engine, PIPELINE, type ReadTally, type Store } from "../store.ts";

// 1/20 of the default 4 KiB page.
const SMALL_ROW = 200;

class SqliteStore implements Store {
  #db: DatabaseSync;
  #put;
  #get;
  #del;
  #scan;
  #scanFrom;

  constructor(path: string, durable: boolean, valueSize: number) {
    this.#db = new DatabaseSync(path);
    // SQLite's docs advise WITHOUT ROWID only for rows under about 1/20 of a page; larger
    // rows spill into overflow pages there (1 KiB values load ~8x slower here).
    const layout = valueSize <= SMALL_ROW ? "WITHOUT ROWID" : "";
    // FULL syncs the WAL at every commit; OFF never syncs (the fsync-off rows).
    this.#db.exec(`PRAGMA journal_mode = WAL;
      PRAGMA synchronous = ${durable ? "FULL" : "OFF"};
      CREATE TABLE IF NOT EXISTS kv (k BLOB PRIMARY KEY, v BLOB) ${layout};`);
    this.#put = this.#db.prepare("INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)");
    this.#get = this.#db.prepare("SELECT v FROM kv WHERE k = ?");
    this.#del = this.#db.prepare("DELETE FROM kv WHERE k = ?");
    this.#scan = this.#db.prepare("SELECT k, v FROM kv ORDER BY k");
    this.#scanFrom = this.#db.prepare("SELECT k, v FROM kv WHERE k >= ? ORDER BY k LIMIT ?");
  }

  #inTransactions(count: number, op: (i: number) => void): void {
    for (let start = 0; start < count; start += PIPELINE) {
      this.#db.exec("BEGIN");
      const end = Math.min(count, start + PIPELINE);
      for (let i = start; i < end; i++) op(i);
      this.#db.exec("COMMIT");
    }
  }

  put(key: Uint8Array, value: Uint8Array): Promise<void> {
    this.#put.run(key, value);
    return Promise.resolve();
  }

  load(w: Writes): Promise<void> {
    this.#inTransactions(w.count, (i) => this.#put.run(w.key(i), w.value(i)));
    return Promise.resolve();
  }

  get(key: Uint8Array): Promise<Uint8Array | undefined> {
    return Promise.resolve(this.#get.get(key)?.v as Uint8Array | undefined);
  }

  read(keys: Keys): Promise<ReadTally> {
    const t = { hits: 0, bytes: 0 };
    for (let i = 0; i < keys.count; i++) {
      const row = this.#get.get(keys.key(i));
      if (row) {
        t.hits++;
        t.bytes += (row.v as Uint8Array).length;
      }
    }
    return Promise.resolve(t);
  }

  scan(): Promise<ReadTally> {
    const t = { hits: 0, bytes: 0 };
    for (const row of this.#scan.iterate()) {
      t.hits++;
      t.bytes += (row.v as Uint8Array).length;
    }
    return Promise.resolve(t);
  }

  scanFrom(start: Uint8Array, limit: number): Promise<number> {
    let count = 0;
    for (const _ of this.#scanFrom.iterate(start, limit)) count++;
    return Promise.resolve(count);
  }

  deleteAll(keys: Keys): Promise<void> {
    this.#inTransactions(keys.count, (i) => this.#del.run(keys.key(i)));
    return Promise.resolve();
  }

  compact(): Promise<void> {
    // Cask fsyncs its compaction's output, so VACUUM runs durable here too, even in a
    // store opened with fsync off. VACUUM in WAL mode lands in the WAL; the checkpoint is
    // what gives the space back (and, with synchronous=FULL, syncs the database file).
    const previous = this.#db.prepare("PRAGMA synchronous").get()?.synchronous as number;
    this.#db.exec("PRAGMA synchronous = FULL");
    try {
      this.#db.exec("VACUUM; PRAGMA wal_checkpoint(TRUNCATE);");
    } finally {
      this.#db.exec(`PRAGMA synchronous = ${previous}`);
    }
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.#db.close();
    return Promise.resolve();
  }
}

export const engine: Engine = {
  notes: [
    `WAL, prepared statements, default 2 MiB page cache; a WITHOUT ROWID table for values up to ${SMALL_ROW} bytes, an ordinary rowid table with a primary-key index for larger ones (the 1 KiB YCSB values, the 1 MiB values), as SQLite's docs advise; fsync off: synchronous=OFF; durable: synchronous=FULL (the WAL is fsynced at every commit)`,
    `one-at-a-time rows: one autocommit INSERT per write; pipelined rows: explicit BEGIN/COMMIT around ${PIPELINE} prepared INSERTs (a durable write is acknowledged at its transaction's COMMIT); the API is synchronous, so 64 "concurrent" writers run one after another (no group commit)`,
    "compact = VACUUM + wal_checkpoint(TRUNCATE) under synchronous=FULL (the setting before is restored after), so the compacted store is fsynced as Cask's compaction output is; it blocks the only thread, so no workload can run during it",
  ],
  open: (dir, durable, valueSize = 100) =>
    Promise.resolve(new SqliteStore(`${dir}/kv.sqlite`, durable, valueSize)),
};
