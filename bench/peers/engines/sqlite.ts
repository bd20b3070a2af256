// node:sqlite (DatabaseSync) with the configuration a careful user would pick for a KV table.

import { DatabaseSync } from "node:sqlite";
import type { Keys, Writes } from "../data.ts";
import type { Engine, ReadTally, Store } from "../store.ts";

// Autocommit per row would make SQLite pay a WAL commit per write; real bulk loads batch.
const TXN_ROWS = 1000;

class SqliteStore implements Store {
  #db: DatabaseSync;
  #put;
  #get;
  #del;
  #scan;

  constructor(path: string, durable: boolean) {
    this.#db = new DatabaseSync(path);
    this.#db.exec(`PRAGMA journal_mode = WAL;
      PRAGMA synchronous = ${durable ? "FULL" : "NORMAL"};
      CREATE TABLE IF NOT EXISTS kv (k BLOB PRIMARY KEY, v BLOB) WITHOUT ROWID;`);
    this.#put = this.#db.prepare("INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)");
    this.#get = this.#db.prepare("SELECT v FROM kv WHERE k = ?");
    this.#del = this.#db.prepare("DELETE FROM kv WHERE k = ?");
    this.#scan = this.#db.prepare("SELECT k, v FROM kv ORDER BY k");
  }

  #inTransactions(count: number, op: (i: number) => void): void {
    for (let start = 0; start < count; start += TXN_ROWS) {
      this.#db.exec("BEGIN");
      const end = Math.min(count, start + TXN_ROWS);
      for (let i = start; i < end; i++) op(i);
      this.#db.exec("COMMIT");
    }
  }

  load(w: Writes): Promise<void> {
    this.#inTransactions(w.count, (i) => this.#put.run(w.key(i), w.value(i)));
    return Promise.resolve();
  }

  putDurable(key: Uint8Array, value: Uint8Array): Promise<void> {
    this.#put.run(key, value);
    return Promise.resolve();
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

  deleteAll(keys: Keys): Promise<void> {
    this.#inTransactions(keys.count, (i) => this.#del.run(keys.key(i)));
    return Promise.resolve();
  }

  compact(): Promise<void> {
    // VACUUM in WAL mode lands in the WAL; the checkpoint is what gives the space back.
    this.#db.exec("VACUUM; PRAGMA wal_checkpoint(TRUNCATE);");
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.#db.close();
    return Promise.resolve();
  }
}

export const engine: Engine = {
  notes: [
    `WAL, \`WITHOUT ROWID\` table, prepared statements; non-durable writes in transactions of ${TXN_ROWS} rows with synchronous=NORMAL (so fillrandom-batch is the same run as fillrandom); default 2 MiB page cache`,
    "durable writes: one autocommit INSERT each with synchronous=FULL; the API is synchronous, so 64 writers run one after another (no group commit)",
    "compact = VACUUM + wal_checkpoint(TRUNCATE)",
  ],
  open: (dir, durable) => Promise.resolve(new SqliteStore(`${dir}/kv.sqlite`, durable)),
};
