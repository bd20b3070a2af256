// The workloads, run against one engine inside its child process. Workloads that need a
// loaded store share one chain on one directory; the rest get a fresh directory each.

import {
  Dataset,
  KEY_SIZE,
  type Keys,
  permutation,
  picks,
  randomBytes,
  VALUE_SIZE,
  type Writes,
} from "./data.ts";
import {
  dirBytes,
  elapsedMs,
  flushDirtyPages,
  MiB,
  mibPerSec,
  opsPerSec,
  type Result,
  settledRss,
  unsupported,
} from "./measure.ts";
import type { Workload } from "./options.ts";
import type { Engine, Store } from "./store.ts";
import type { Group, SuiteSize, Want } from "./group.ts";
import { ycsbGroup } from "./ycsb/group.ts";

const DURABLE_WRITES = 2000;
const DURABLE_PIPELINED_WRITES = 20_000;
const WRITERS = 64;
const BIG_COUNT = 256;
// One-at-a-time writes cost a commit each on some peers (lmdb-js: ~30k/s, Deno KV: ~4k/s);
// a sample of this size keeps their rows to seconds while the store still holds N keys.
const ONE_AT_A_TIME_WRITES = 100_000;

function check(what: string, got: number, expected: number): void {
  if (got !== expected) throw new Error(`${what}: got ${got}, expected ${expected}`);
}

function oneKey(key: Uint8Array): Keys {
  return { count: 1, key: () => key };
}

/**
 * The one-write-awaited-at-a-time counterpart of `Store.load`, over the first
 * ONE_AT_A_TIME_WRITES writes (fewer where the engine caps them); returns how many it made.
 */
async function putEach(engine: Engine, db: Store, w: Writes): Promise<number> {
  const count = Math.min(w.count, ONE_AT_A_TIME_WRITES, engine.maxOneAtATimeWrites ?? Infinity);
  for (let i = 0; i < count; i++) await db.put(w.key(i), w.value(i));
  return count;
}

const loadedChain: Group = async (engine, dir, { ds }, want, out) => {
  const { n } = ds;
  const rss0 = await settledRss();
  let db = await engine.open(dir, false);
  out.push(opsPerSec("fillseq", n, await elapsedMs(() => db.load(ds.writes(0)))));
  out.push({
    workload: "rss-per-key",
    value: (await settledRss() - rss0) / n,
    unit: "B/key",
    better: "lower",
  });
  if (db.indexBytesPerKey) {
    out.push({ workload: "index-bytes-per-key", value: db.indexBytesPerKey(), unit: "B/key" });
  } else out.push(unsupported("index-bytes-per-key", "B/key", "no index memory figure"));

  if (want("readrandom")) {
    const keys = ds.lookups(picks(n, n, 1));
    let hits = 0;
    out.push(
      opsPerSec("readrandom", n, await elapsedMs(async () => hits = (await db.read(keys)).hits)),
    );
    check("readrandom hits", hits, n);
  }
  if (want("readmissing")) {
    const keys = ds.lookups(picks(n, n, 2), true);
    let hits = -1;
    out.push(
      opsPerSec("readmissing", n, await elapsedMs(async () => hits = (await db.read(keys)).hits)),
    );
    check("readmissing hits", hits, 0);
  }
  if (want("scan")) {
    let count = 0;
    out.push(opsPerSec("scan", n, await elapsedMs(async () => count = (await db.scan()).hits)));
    check("scan count", count, n);
  }

  // Open plus one lookup, so engines that defer work to first access pay for it here.
  const reopen = async (workload: Workload) => {
    await db.close();
    const ms = await elapsedMs(async () => {
      db = await engine.open(dir, false);
      check(`${workload} lookup`, (await db.read(oneKey(ds.key(n - 1)))).hits, 1);
    });
    out.push({ workload, value: ms, unit: "ms", better: "lower" });
  };
  if (want("reopen")) await reopen("reopen");

  const compacting = want("compact", "compact-reclaimed", "reopen-compacted");
  if (want("overwrite") || compacting) {
    out.push(
      opsPerSec("overwrite", n, await elapsedMs(() => db.load(ds.writes(1, permutation(n, 3))))),
    );
  }
  if (want("overwrite-1")) {
    const writes = ds.writes(4, permutation(n, 12));
    let count = 0;
    const ms = await elapsedMs(async () => count = await putEach(engine, db, writes));
    out.push(opsPerSec("overwrite-1", count, ms));
  }
  if (compacting) {
    if (db.compact) {
      await compactAfterOverwrites(db, dir, ds, out);
      await reopen("reopen-compacted");
    } else {
      // Skipping the two extra overwrite passes saves minutes on engines with nothing to measure.
      for (const w of ["compact", "compact-reclaimed", "reopen-compacted"] as const) {
        out.push(unsupported(w, "", "no compaction API"));
      }
    }
  }

  if (want("delete-all")) {
    const keys = ds.lookups(permutation(n, 8));
    out.push(opsPerSec("delete-all", n, await elapsedMs(() => db.deleteAll(keys))));
    check("keys left after delete-all", (await db.scan()).hits, 0);
  }
  await db.close();
};

async function compactAfterOverwrites(db: Store, dir: string, ds: Dataset, out: Result[]) {
  await db.load(ds.writes(2, permutation(ds.n, 5)));
  const before = dirBytes(dir);
  out.push(
    mibPerSec("compact", ds.n * (KEY_SIZE + VALUE_SIZE), await elapsedMs(() => db.compact!())),
  );
  const after = dirBytes(dir);
  out.push({
    workload: "compact-reclaimed",
    value: (before - after) / MiB,
    unit: "MiB",
    detail: `${(before / MiB).toFixed(0)}→${(after / MiB).toFixed(0)} MiB on disk`,
  });
}

function fillGroup(workload: Workload, oneAtATime: boolean): Group {
  return async (engine, dir, { ds }, _want, out) => {
    const db = await engine.open(dir, false);
    const writes = ds.writes(0, permutation(ds.n, 9));
    let count = ds.n;
    const fill = async () =>
      oneAtATime ? count = await putEach(engine, db, writes) : await db.load(writes);
    const ms = await elapsedMs(fill);
    check(`${workload} scan count`, (await db.scan()).hits, count);
    await db.close();
    out.push(opsPerSec(workload, count, ms));
  };
}

/** `writers` concurrent loops of one awaited durable write each, or one pipelined load. */
function durableGroup(workload: Workload, count: number, writers: number | "pipelined"): Group {
  return async (engine, dir, { ds }, _want, out) => {
    const total = Math.min(count, ds.n);
    const order = permutation(ds.n, 10);
    const writes: Writes = {
      count: total,
      key: (i) => ds.key(order[i]),
      value: (i) => ds.value(order[i], 0),
    };
    const db = await engine.open(dir, true);
    const writer = async (w: number, step: number) => {
      for (let i = w; i < total; i += step) await db.put(writes.key(i), writes.value(i));
    };
    const ms = await elapsedMs(() =>
      writers === "pipelined"
        ? db.load(writes)
        : Promise.all(Array.from({ length: writers }, (_, w) => writer(w, writers)))
    );
    await db.close();
    out.push(opsPerSec(workload, total, ms));
  };
}

const bigValueGroup: Group = async (engine, dir, { ds }, _want, out) => {
  const pool = randomBytes(2 * MiB, 11);
  const keys: Keys = { count: BIG_COUNT, key: (i) => ds.key(i) };
  const writes = { ...keys, value: (i: number) => pool.subarray(i * 4093, i * 4093 + MiB) };
  const total = BIG_COUNT * MiB;
  const db = await engine.open(dir, false, MiB);
  out.push(mibPerSec("big-write", total, await elapsedMs(() => db.load(writes))));
  let bytes = 0;
  const readMs = await elapsedMs(async () => bytes = (await db.read(keys)).bytes);
  check("big-read bytes", bytes, total);
  out.push(mibPerSec("big-read", total, readMs));
  await db.close();
};

/**
 * Whole-process memory per key at the margin: RSS with N keys loaded, then with N more,
 * so fixed costs (runtime, code, first buffers) drop out of the figure.
 */
const marginGroup: Group = async (engine, dir, { ds }, _want, out) => {
  const db = await engine.open(dir, false);
  await db.load(ds.writes(0));
  const rss1 = await settledRss();
  await db.load(ds.missingWrites(0));
  const rss2 = await settledRss();
  const perKey = db.indexBytesPerKey?.();
  await db.close();
  out.push({
    workload: "rss-margin-per-key",
    value: (rss2 - rss1) / ds.n,
    unit: "B/key",
    better: "lower",
    detail: `RSS ${(rss1 / MiB).toFixed(0)}→${(rss2 / MiB).toFixed(0)} MiB` +
      (perKey === undefined ? "" : `; index estimate ${perKey.toFixed(1)} B/key at 2N`),
  });
};

const GROUPS: { workloads: Workload[]; run: Group }[] = [
  {
    workloads: [
      "fillseq",
      "rss-per-key",
      "index-bytes-per-key",
      "readrandom",
      "readmissing",
      "scan",
      "reopen",
      "overwrite",
      "overwrite-1",
      "compact",
      "compact-reclaimed",
      "reopen-compacted",
      "delete-all",
    ],
    run: loadedChain,
  },
  { workloads: ["fillrandom"], run: fillGroup("fillrandom", false) },
  { workloads: ["fillrandom-1"], run: fillGroup("fillrandom-1", true) },
  { workloads: ["durable-1"], run: durableGroup("durable-1", DURABLE_WRITES, 1) },
  {
    workloads: ["durable-pipelined"],
    run: durableGroup("durable-pipelined", DURABLE_PIPELINED_WRITES, "pipelined"),
  },
  { workloads: ["durable-64"], run: durableGroup("durable-64", DURABLE_WRITES, WRITERS) },
  { workloads: ["big-write", "big-read"], run: bigValueGroup },
  { workloads: ["rss-margin-per-key"], run: marginGroup },
  {
    workloads: [
      "ycsb-load",
      "ycsb-a",
      "ycsb-b",
      "ycsb-c",
      "ycsb-f",
      "ycsb-d",
      "ycsb-e",
      "ycsb-a-paced",
      "ycsb-a-compacting",
    ],
    run: ycsbGroup,
  },
];

/**
 * Runs every group that has a selected workload, each on a fresh subdirectory of `root`.
 * A failing group (e.g. a value-size limit) becomes "n/a" rows with the error, not a crash.
 */
export async function runSuite(
  engine: Engine,
  root: string,
  size: SuiteSize,
  selected: Workload[],
  log: (msg: string) => void,
): Promise<Result[]> {
  const want: Want = (...w) => w.some((x) => selected.includes(x));
  const ds = new Dataset(size.n);
  const out: Result[] = [];
  for (const [i, group] of GROUPS.entries()) {
    if (!want(...group.workloads)) continue;
    const dir = `${root}/g${i}`;
    await Deno.mkdir(dir);
    await flushDirtyPages();
    log(group.workloads.filter((w) => want(w)).join(", "));
    const t0 = performance.now();
    try {
      await group.run(engine, dir, { ds, size }, want, out);
      log(`  done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      log(`  failed: ${why}`);
      const done = new Set(out.map((r) => r.workload));
      for (const w of group.workloads) if (!done.has(w)) out.push(unsupported(w, "", why));
    }
    await Deno.remove(dir, { recursive: true });
  }
  return out.filter((r) => want(r.workload as Workload));
}
