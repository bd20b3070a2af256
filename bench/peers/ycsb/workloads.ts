// YCSB core workloads A-F (workloads/workload{a..f} in the YCSB repository) turned into
// operation plans before anything is timed, so every engine runs the identical sequence
// and the generators' cost stays out of the measurement.

import { prng } from "../../../tests/helpers.ts";
import { ScrambledZipfian, SkewedLatest } from "./generators.ts";

export const READ = 0;
export const UPDATE = 1;
export const INSERT = 2;
export const SCAN = 3;
export const READ_MODIFY_WRITE = 4;

export const YCSB_WORKLOADS = ["a", "b", "c", "f", "d", "e"] as const;
export type YcsbName = typeof YCSB_WORKLOADS[number];

interface Spec {
  /** Proportions in the order READ, UPDATE, INSERT, SCAN, READ_MODIFY_WRITE. */
  mix: [number, number, number, number, number];
  distribution: "zipfian" | "latest";
  what: string;
}

export const SPECS: Record<YcsbName, Spec> = {
  a: { mix: [0.5, 0.5, 0, 0, 0], distribution: "zipfian", what: "50% read, 50% update" },
  b: { mix: [0.95, 0.05, 0, 0, 0], distribution: "zipfian", what: "95% read, 5% update" },
  c: { mix: [1, 0, 0, 0, 0], distribution: "zipfian", what: "100% read" },
  d: { mix: [0.95, 0, 0.05, 0, 0], distribution: "latest", what: "95% read, 5% insert, latest" },
  e: {
    mix: [0, 0, 0.05, 0.95, 0],
    distribution: "zipfian",
    what: "95% scan (1-100 keys, uniform), 5% insert",
  },
  f: { mix: [0.5, 0, 0, 0, 0.5], distribution: "zipfian", what: "50% read, 50% read-modify-write" },
};

/** YCSB's maxscanlength default, with scanlengthdistribution=uniform. */
const MAX_SCAN_LENGTH = 100;

export interface Plan {
  name: YcsbName;
  kinds: Uint8Array;
  /** Record number each operation works on (for inserts: the new record). */
  keys: Uint32Array;
  scanLengths: Uint8Array;
  /** Records present once the plan has run. */
  recordsAfter: number;
}

/**
 * `ops` operations of workload `name` against a store holding records 0..records-1, as
 * YCSB's CoreWorkload picks them for one client thread: a zipfian key chooser over the
 * records plus the expected inserts (redrawn when it lands on a key not inserted yet),
 * inserts numbered on from `records`.
 */
export function makePlan(name: YcsbName, records: number, ops: number, seed: number): Plan {
  const spec = SPECS[name];
  const rand = prng(seed);
  const expectedNewKeys = Math.floor(ops * spec.mix[INSERT] * 2);
  const zipf = new ScrambledZipfian(0, records + expectedNewKeys);
  const latest = new SkewedLatest(records);
  const kinds = new Uint8Array(ops);
  const keys = new Uint32Array(ops);
  const scanLengths = new Uint8Array(ops);
  let count = records;
  for (let i = 0; i < ops; i++) {
    let u = rand();
    let kind = 0;
    while (kind < spec.mix.length - 1 && u >= spec.mix[kind]) u -= spec.mix[kind++];
    // Rounding can walk u past the last operation the workload has.
    while (spec.mix[kind] === 0) kind--;
    kinds[i] = kind;
    if (kind === INSERT) {
      keys[i] = count++;
      continue;
    }
    if (spec.distribution === "latest") keys[i] = latest.next(rand(), count - 1);
    else {
      let k;
      do k = zipf.next(rand()); while (k >= count);
      keys[i] = k;
    }
    if (kind === SCAN) scanLengths[i] = 1 + Math.floor(rand() * MAX_SCAN_LENGTH);
  }
  return { name, kinds, keys, scanLengths, recordsAfter: count };
}
