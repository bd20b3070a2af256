// Profiling driver for the read path: loads N keys like bench:peers (16-byte keys,
// 100-byte values), closes and reopens the store, then times three rounds of readrandom
// (awaited get per key) and of a full scan.
//   deno run -A --cpu-prof bench/read_profile.ts [n] [pread|mmap] [get|scan|all] [maxFileMiB]

import { cpuUsage } from "node:process";
import { open } from "../mod.ts";
import { Dataset, picks } from "./peers/data.ts";

const n = Number(Deno.args[0] ?? 200_000);
const mmap = Deno.args[1] === "mmap";
const only = Deno.args[2];
// Smaller files leave more of the store in sealed files, which are the ones mmap maps.
const maxFileSize = Number(Deno.args[3] ?? 64) * 1024 * 1024;
// Wall-clock and CPU-time rates: the machine is shared, and CPU time is what
// other processes disturb least.
function report(what: string, t0: number, c0: { user: number; system: number }, count: number) {
  const wall = (performance.now() - t0) / 1000;
  const c = cpuUsage(c0);
  const cpu = (c.user + c.system) / 1e6;
  console.log(
    `${what}: ${Math.round(n / wall / 1000)}k/s wall, ${Math.round(n / cpu / 1000)}k/s CPU ` +
      `(sys ${Math.round(c.system / (c.user + c.system) * 100)}%), ${count} found`,
  );
}

const dir = await Deno.makeTempDir({ prefix: "cask-read-profile-" });
try {
  const ds = new Dataset(n);
  const opts = { sync: "never" as const, maxFileSize, ...(mmap ? { mmap: true } : {}) };
  const db = await open(dir, opts);
  const w = ds.writes(0);
  const inFlight: Promise<void>[] = [];
  for (let i = 0; i < w.count; i++) {
    inFlight.push(db.set(w.key(i), w.value(i)));
    if (inFlight.length === 1000) await Promise.all(inFlight.splice(0));
  }
  await Promise.all(inFlight);
  await db.close();
  const db2 = await open(dir, opts);
  const keys = ds.lookups(picks(n, n, 1));
  for (let round = 0; round < 3; round++) {
    if (only !== "scan") {
      const t = performance.now(), c0 = cpuUsage();
      let hits = 0;
      for (let i = 0; i < keys.count; i++) if ((await db2.get(keys.key(i))) !== undefined) hits++;
      report("readrandom", t, c0, hits);
    }
    if (only !== "get") {
      const t = performance.now(), c0 = cpuUsage();
      let c = 0;
      for await (const _ of db2.scan()) c++;
      report("scan", t, c0, c);
    }
  }
  await db2.close();
} finally {
  await Deno.remove(dir, { recursive: true });
}
