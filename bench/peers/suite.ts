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

const BATCH = 1000;
const DURABLE_WRITES = 2000;
const WRITERS = 64;
const BIG_COUNT = 256;

type Want = (...w: Workload[]) => boolean;
// Groups push as they go, so a failure late in a chain keeps the rows measured before it.
type Group = (engine: Engine, dir: string, ds: Dataset, want: Want, out: Result[]) => Promise<void>;

function check(what: string, got: number, expected: number): void {
  if (got !== expected) throw new Error(`${what}: got ${got}, expected ${expected}`);
}

function oneKey(key: Uint8Array): Keys {
  return { count: 1, key: () => key };
}

async function loadedChain(engine: Engine, dir: string, ds: Dataset, want: Want, out: Result[]) {
  const { n } = ds;
  const rss0 = settledRss();
  let db = await engine.open(dir, false);
  out.push(opsPerSec("fillseq", n, await elapsedMs(() => db.load(ds.writes(0)))));
  out.push({
    workload: "rss-per-key",
    value: (settledRss() - rss0) / n,
    unit: "B/key",
    better: "lower",
  });

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

  if (want("overwrite", "compact", "compact-reclaimed", "reopen-compacted")) {
    out.push(
      opsPerSec("overwrite", n, await elapsedMs(() => db.load(ds.writes(1, permutation(n, 3))))),
    );
  }
  if (want("compact", "compact-reclaimed", "reopen-compacted")) {
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
}

async function compactAfterOverwrites(db: Store, dir: string, ds: Dataset, out: Result[]) {
  for (const pass of [2, 3]) await db.load(ds.writes(pass, permutation(ds.n, 3 + pass)));
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

function fillGroup(workload: Workload, batched: boolean): Group {
  return async (engine, dir, ds, _want, out) => {
    const db = await engine.open(dir, false);
    const same = out.find((r) => r.workload === "fillrandom");
    if (batched && !db.loadBatched && same) {
      await db.close();
      out.push({ ...same, workload, detail: "fill already batches: fillrandom's run" });
      return;
    }
    const writes = ds.writes(0, permutation(ds.n, 9));
    const fill = () => batched && db.loadBatched ? db.loadBatched(writes, BATCH) : db.load(writes);
    const ms = await elapsedMs(fill);
    await db.close();
    out.push(opsPerSec(workload, ds.n, ms));
  };
}

function durableGroup(workload: Workload, writers: number): Group {
  return async (engine, dir, ds, _want, out) => {
    const count = Math.min(DURABLE_WRITES, ds.n);
    const order = permutation(ds.n, 10);
    const db: Store = await engine.open(dir, true);
    const writer = async (w: number) => {
      for (let i = w; i < count; i += writers) {
        await db.putDurable(ds.key(order[i]), ds.value(order[i], 0));
      }
    };
    const ms = await elapsedMs(() =>
      Promise.all(Array.from({ length: writers }, (_, w) => writer(w)))
    );
    await db.close();
    out.push(opsPerSec(workload, count, ms));
  };
}

async function bigValueGroup(engine: Engine, dir: string, ds: Dataset, _want: Want, out: Result[]) {
  const pool = randomBytes(2 * MiB, 11);
  const keys: Keys = { count: BIG_COUNT, key: (i) => ds.key(i) };
  const writes = { ...keys, value: (i: number) => pool.subarray(i * 4093, i * 4093 + MiB) };
  const total = BIG_COUNT * MiB;
  const db = await engine.open(dir, false);
  out.push(mibPerSec("big-write", total, await elapsedMs(() => db.load(writes))));
  let bytes = 0;
  const readMs = await elapsedMs(async () => bytes = (await db.read(keys)).bytes);
  check("big-read bytes", bytes, total);
  out.push(mibPerSec("big-read", total, readMs));
  await db.close();
}

const GROUPS: { workloads: Workload[]; run: Group }[] = [
  {
    workloads: [
      "fillseq",
      "rss-per-key",
      "readrandom",
      "readmissing",
      "scan",
      "reopen",
      "overwrite",
      "compact",
      "compact-reclaimed",
      "reopen-compacted",
      "delete-all",
    ],
    run: loadedChain,
  },
  { workloads: ["fillrandom"], run: fillGroup("fillrandom", false) },
  { workloads: ["fillrandom-batch"], run: fillGroup("fillrandom-batch", true) },
  { workloads: ["durable-seq"], run: durableGroup("durable-seq", 1) },
  { workloads: ["durable-64"], run: durableGroup("durable-64", WRITERS) },
  { workloads: ["big-write", "big-read"], run: bigValueGroup },
];

/**
 * Runs every group that has a selected workload, each on a fresh subdirectory of `root`.
 * A failing group (e.g. a value-size limit) becomes "n/a" rows with the error, not a crash.
 */
export async function runSuite(
  engine: Engine,
  root: string,
  n: number,
  selected: Workload[],
  log: (msg: string) => void,
): Promise<Result[]> {
  const want: Want = (...w) => w.some((x) => selected.includes(x));
  const ds = new Dataset(n);
  const out: Result[] = [];
  for (const [i, group] of GROUPS.entries()) {
    if (!want(...group.workloads)) continue;
    const dir = `${root}/g${i}`;
    await Deno.mkdir(dir);
    await flushDirtyPages();
    log(group.workloads.filter((w) => want(w)).join(", "));
    const t0 = performance.now();
    try {
      await group.run(engine, dir, ds, want, out);
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
