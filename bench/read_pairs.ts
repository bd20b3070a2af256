// Read paths side by side in one process: Cask with pread, Cask with `mmap: true`, lmdb-js
// and node:sqlite (the bench:peers adapters), and optionally Cask from another checkout
// (`--cask-root DIR`, for before/after). Each engine loads N keys (16 B keys, 100 B values,
// the bench:peers data), is closed and reopened (so Cask appends to its newest file and
// every older one is sealed, as on any reopened store), then the rounds alternate between
// engines: readrandom (getSync per key, uniform picks), a full ordered scan, and reads
// of 1 MiB values. Rates are reported per wall-clock second and per CPU second of this
// process: the machine is shared, and CPU time is what other processes disturb least.
// The reads of lmdb-js and SQLite are synchronous and run on this thread, like Cask's.
//
//   deno run -A bench/read_pairs.ts [--n 1000000] [--reads 200000] [--rounds 3] [--big 128]
//                                   [--cask-root ../other-checkout]

import { cpuUsage } from "node:process";
import type * as Mod from "../mod.ts";
import { Dataset, picks } from "./peers/data.ts";
import type { Keys, Writes } from "./peers/data.ts";
import type { Engine, ReadTally, Store } from "./peers/store.ts";

const MiB = 1 << 20;

function flag(name: string, fallback: string): string {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Deno.args[i + 1] : fallback;
}
const n = Number(flag("n", "1000000"));
const reads = Number(flag("reads", "200000"));
const rounds = Number(flag("rounds", "3"));
const bigCount = Number(flag("big", "128"));
const caskRoot = flag("cask-root", "");

// Cask driven as bench/peers drives it: getSync() per key (awaited get() in a checkout from
// before getSync), for await over scan().
function caskEngine(mod: typeof Mod, mmap: boolean): Engine {
  return {
    notes: [],
    open: async (dir) => {
      const db = await mod.open(dir, { sync: "never", ...(mmap ? { mmap } : {}) });
      const store: Store = {
        put: (k, v) => db.set(k, v),
        async load(w: Writes) {
          const inFlight: Promise<void>[] = [];
          for (let i = 0; i < w.count; i++) {
            inFlight.push(db.set(w.key(i), w.value(i)));
            if (inFlight.length === 1000) await Promise.all(inFlight.splice(0));
          }
          await Promise.all(inFlight);
        },
        get: (k) => db.get(k),
        async read(keys: Keys) {
          const t = { hits: 0, bytes: 0 };
          for (let i = 0; i < keys.count; i++) {
            const v = db.getSync ? db.getSync(keys.key(i)) : await db.get(keys.key(i));
            if (v !== undefined) {
              t.hits++;
              t.bytes += v.length;
            }
          }
          return t;
        },
        async scan() {
          const t = { hits: 0, bytes: 0 };
          for await (const [, v] of db.scan()) {
            t.hits++;
            t.bytes += v.length;
          }
          return t;
        },
        scanFrom: () => Promise.resolve(0),
        deleteAll: () => Promise.resolve(),
        close: () => db.close(),
      };
      return store;
    },
  };
}

const current = await import("../mod.ts");
const engines: [string, Engine][] = [
  ["cask", caskEngine(current, false)],
  ["cask mmap", caskEngine(current, true)],
];
if (caskRoot) {
  const other = await import(new URL(`${caskRoot}/mod.ts`, `file://${Deno.cwd()}/`).href);
  engines.push(["cask (--cask-root)", caskEngine(other, false)]);
}
engines.push(["lmdb", (await import("./peers/engines/lmdb.ts")).engine]);
engines.push(["sqlite", (await import("./peers/engines/sqlite.ts")).engine]);

interface Rate {
  wall: number;
  cpu: number;
}
async function timed(count: number, f: () => Promise<ReadTally>, expect: number): Promise<Rate> {
  const t0 = performance.now(), c0 = cpuUsage();
  const got = await f();
  const c = cpuUsage(c0);
  if (got.hits !== expect) throw new Error(`expected ${expect} hits, got ${got.hits}`);
  return {
    wall: count / ((performance.now() - t0) / 1000),
    cpu: count / ((c.user + c.system) / 1e6),
  };
}

const root = await Deno.makeTempDir({ prefix: "cask-read-pairs-" });
try {
  const ds = new Dataset(n);
  const pool = new Uint8Array(2 * MiB);
  for (let i = 0; i < pool.length; i++) pool[i] = (i * 2654435761) >>> 24;
  const big: Writes = {
    count: bigCount,
    key: (i) => ds.key(i),
    value: (i) => pool.subarray(i * 4093, i * 4093 + MiB),
  };
  const stores: { name: string; small: Store; big: Store }[] = [];
  for (const [name, engine] of engines) {
    const dir = `${root}/${stores.length}`;
    await Deno.mkdir(`${dir}/small`, { recursive: true });
    await Deno.mkdir(`${dir}/big`, { recursive: true });
    let small = await engine.open(`${dir}/small`, false, 100);
    await small.load(ds.writes(0));
    await small.close();
    small = await engine.open(`${dir}/small`, false, 100);
    let b = await engine.open(`${dir}/big`, false, MiB);
    await b.load(big);
    await b.close();
    b = await engine.open(`${dir}/big`, false, MiB);
    stores.push({ name, small, big: b });
    console.error(`loaded ${name}`);
  }
  const keys = ds.lookups(picks(reads, n, 1));
  const bigKeys: Keys = { count: bigCount, key: (i) => ds.key(i) };
  const results = new Map<string, { read: Rate[]; scan: Rate[]; big: Rate[] }>();
  for (const s of stores) results.set(s.name, { read: [], scan: [], big: [] });
  for (let r = 0; r < rounds; r++) {
    for (const s of stores) {
      const out = results.get(s.name)!;
      out.read.push(await timed(reads, () => s.small.read(keys), reads));
      out.scan.push(await timed(n, () => s.small.scan(), n));
      out.big.push(await timed(bigCount, () => s.big.read(bigKeys), bigCount));
    }
    console.error(`round ${r + 1} done`);
  }
  for (const s of stores) await Promise.all([s.small.close(), s.big.close()]);

  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  const fmt = (x: number) => x >= 1e4 ? `${Math.round(x / 1000)}k` : x.toFixed(0);
  console.log(
    `n = ${n} keys (16 B keys, 100 B values), ${reads} random reads and one full scan per round, ` +
      `${bigCount} x 1 MiB values, ${rounds} rounds; medians over rounds; ` +
      `ratios are per round against lmdb (same round), then the median`,
  );
  console.log(`load: ${Deno.loadavg().map((x) => x.toFixed(2)).join(" ")}`);
  console.log(
    "| engine | readrandom ops/s wall / CPU | vs lmdb wall / CPU | scan keys/s wall / CPU | vs lmdb wall / CPU | 1 MiB reads MiB/s wall / CPU | vs lmdb wall / CPU |",
  );
  console.log("| --- | --- | --- | --- | --- | --- | --- |");
  const lmdb = results.get("lmdb")!;
  for (const [name, res] of results) {
    const cells = (["read", "scan", "big"] as const).map((w) => {
      const rates = res[w];
      const abs = `${fmt(median(rates.map((x) => x.wall)))} / ${
        fmt(median(rates.map((x) => x.cpu)))
      }`;
      const ratio = (k: keyof Rate) => median(rates.map((x, i) => x[k] / lmdb[w][i][k])).toFixed(2);
      return `${abs} | ${ratio("wall")}x / ${ratio("cpu")}x`;
    });
    console.log(`| ${name} | ${cells.join(" | ")} |`);
  }
} finally {
  await Deno.remove(root, { recursive: true });
}
