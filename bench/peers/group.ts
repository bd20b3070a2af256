// What a group of workloads is: one function that runs its workloads against one engine in
// a directory and pushes a row per workload measured. Apart from suite.ts, which runs the
// groups, so that a group kept in its own file (ycsb/group.ts) is not imported back by it.

import type { Dataset } from "./data.ts";
import type { Result } from "./measure.ts";
import type { Workload } from "./options.ts";
import type { Engine } from "./store.ts";

/** Sizes of one child's run. */
export interface SuiteSize {
  n: number;
  records: number;
  ycsbOps: number;
  ycsbValue: number;
}

/** Whether any of the workloads was asked for. */
export type Want = (...w: Workload[]) => boolean;
// Groups push as they go, so a failure late in a chain keeps the rows measured before it.
export type Group = (
  engine: Engine,
  dir: string,
  ctx: { ds: Dataset; size: SuiteSize },
  want: Want,
  out: Result[],
) => Promise<void>;
