// The YCSB part of the suite: load the records, run workloads A, B, C, F, D, E in YCSB's
// recommended order on that one store, then (where the engine compacts in the
// background) workload A again while a compaction runs.

import { elapsedMs, opsPerSec, type Result, unsupported } from "../measure.ts";
import type { Workload } from "../options.ts";
import type { Group } from "../group.ts";
import { type PlanRun, Records, runPlan } from "./driver.ts";
import { makePlan, SPECS, YCSB_WORKLOADS } from "./workloads.ts";

// Well below what any engine sustains one operation at a time, so the client never queues
// and a background compaction has most of the thread.
const PACED_OPS_PER_SEC = 5000;
const paced = `workload A paced at ${PACED_OPS_PER_SEC.toLocaleString("en-US")} ops/s`;

function planResult(workload: Workload, run: PlanRun, detail?: string): Result {
  return { ...opsPerSec(workload, run.ops, run.ms), latency: run.latency, detail };
}

export const ycsbGroup: Group = async (engine, dir, { size }, want, out) => {
  const { records, ycsbOps } = size;
  // Inserts (D and E, 5% each) never exceed the operation count.
  const recs = new Records(records + 2 * ycsbOps, size.ycsbValue);
  const db = await engine.open(dir, false, size.ycsbValue);
  const load = {
    count: records,
    key: (i: number) => recs.key(i),
    value: (i: number) => recs.value(i, 0),
  };
  out.push(opsPerSec("ycsb-load", records, await elapsedMs(() => db.load(load))));

  let count = records;
  for (const [i, name] of YCSB_WORKLOADS.entries()) {
    const workload = `ycsb-${name}` as Workload;
    if (!want(workload)) continue;
    const plan = makePlan(name, count, ycsbOps, 100 + i);
    out.push(planResult(workload, await runPlan(db, plan, recs), SPECS[name].what));
    count = plan.recordsAfter;
  }

  if (want("ycsb-a-paced", "ycsb-a-compacting")) {
    const plan = makePlan("a", records, ycsbOps, 100);
    const targetOpsPerSec = PACED_OPS_PER_SEC;
    out.push(planResult("ycsb-a-paced", await runPlan(db, plan, recs, { targetOpsPerSec }), paced));
    if (!engine.compactsInBackground || !db.compact) {
      out.push(
        unsupported("ycsb-a-compacting", "ops/s", "no compaction that runs alongside other work"),
      );
    } else {
      // The same plan at the same pace, repeated for as long as the compaction runs.
      let keepGoing = true;
      const t0 = performance.now();
      const compaction = db.compact().finally(() => keepGoing = false);
      const run = await runPlan(db, plan, recs, { keepGoing: () => keepGoing, targetOpsPerSec });
      await compaction;
      const secs = (performance.now() - t0) / 1000;
      out.push(
        planResult("ycsb-a-compacting", run, `${paced}, during a ${secs.toFixed(1)} s compaction`),
      );
    }
  }
  await db.close();
};
