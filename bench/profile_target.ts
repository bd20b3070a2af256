// One bench:peers workload against one engine, alone in a process, for a profiler to
// watch: `perf record -g deno run -A --v8-flags=--perf-basic-prof bench/profile_target.ts
// cask readrandom` (or V8's --prof). Loads N keys, then times only the named workload.

import { Dataset, permutation, picks } from "./peers/data.ts";
import { elapsedMs } from "./peers/measure.ts";
import type { Engine } from "./peers/store.ts";

const ENGINES: Record<string, () => Promise<{ engine: Engine }>> = {
  cask: () => import("./peers/engines/cask.ts"),
  lmdb: () => import("./peers/engines/lmdb.ts"),
};
const WORKLOADS = ["fillrandom", "readrandom", "scan"] as const;

const [name, workload, rawN] = Deno.args;
if (!(name in ENGINES) || !WORKLOADS.includes(workload as typeof WORKLOADS[number])) {
  throw new Error(
    `usage: profile_target.ts ${Object.keys(ENGINES).join("|")} ${WORKLOADS.join("|")} [n]`,
  );
}
const n = Number(rawN ?? 1_000_000);
const { engine } = await ENGINES[name]();
const ds = new Dataset(n);
const dir = await Deno.makeTempDir({ prefix: "cask-profile-" });
try {
  const db = await engine.open(dir, false);
  if (workload !== "fillrandom") await db.load(ds.writes(0));
  const ms = await elapsedMs(async () => {
    if (workload === "fillrandom") await db.load(ds.writes(0, permutation(n, 9)));
    else if (workload === "readrandom") await db.read(ds.lookups(picks(n, n, 1)));
    else await db.scan();
  });
  console.log(`${name} ${workload}: ${Math.round(n / (ms / 1000)).toLocaleString("en-US")} ops/s`);
  await db.close();
} finally {
  await Deno.remove(dir, { recursive: true });
}
