// One engine's run, in its own process so engines cannot share heaps, caches or file
// handles. Progress goes to stderr; the single JSON line on stdout is the result.

import type { Result } from "./measure.ts";
import { type EngineName, parseOptions } from "./options.ts";
import { runRaw } from "./raw.ts";
import type { Engine } from "./store.ts";
import { runSuite } from "./suite.ts";

// Imported lazily so a peer that fails to load (a native addon, say) only fails its own run.
const ADAPTERS: Record<Exclude<EngineName, "raw">, () => Promise<{ engine: Engine }>> = {
  cask: () => import("./engines/cask.ts"),
  sqlite: () => import("./engines/sqlite.ts"),
  denokv: () => import("./engines/denokv.ts"),
  lmdb: () => import("./engines/lmdb.ts"),
};

export interface ChildReport {
  engine: EngineName;
  /** Key count actually used; below the requested n for engines with a cap. */
  n: number;
  /** YCSB record count actually used, capped like `n`. */
  records?: number;
  /** YCSB operations per workload actually used. */
  ycsbOps?: number;
  notes: string[];
  /** Copied from the engine: its fsync-off rows fsync anyway. */
  fsyncsEveryCommit?: boolean;
  results: Result[];
  /** 1-minute load average before → after the run, filled in by the parent. */
  load?: string;
  error?: string;
}

const [name, dir, ...rest] = Deno.args as [EngineName, string, ...string[]];
const opts = parseOptions(rest);
const log = (msg: string) => console.error(`[${name}] ${msg}`);
const report: ChildReport = { engine: name, n: opts.n, notes: [], results: [] };
try {
  if (name === "raw") {
    report.results = await runRaw(dir, log);
  } else {
    const { engine } = await ADAPTERS[name]();
    report.notes = engine.notes;
    report.fsyncsEveryCommit = engine.fsyncsEveryCommit;
    const cap = engine.maxN ?? Infinity;
    report.n = Math.min(opts.n, cap);
    report.records = Math.min(opts.records, cap);
    // A tenth of the records at most, so a capped engine's YCSB run shrinks with its store.
    const ycsbOps = Math.min(opts.ycsbOps, Math.max(1000, Math.floor(report.records / 10)));
    report.ycsbOps = ycsbOps;
    const size = { ...opts, n: report.n, records: report.records, ycsbOps };
    report.results = await runSuite(engine, dir, size, opts.workloads, log);
  }
} catch (e) {
  report.error = e instanceof Error ? e.message : String(e);
  log(`error: ${report.error}`);
}
console.log(JSON.stringify(report));
