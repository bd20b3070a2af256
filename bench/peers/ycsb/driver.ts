// Runs YCSB plans against one engine, one operation awaited at a time (one YCSB client
// thread), timing every operation.

import { randomBytes } from "../data.ts";
import { type LatencySummary, summarize } from "../measure.ts";
import type { Store } from "../store.ts";
import { fnvhash64 } from "./generators.ts";
import { INSERT, type Plan, READ, READ_MODIFY_WRITE, SCAN, UPDATE } from "./workloads.ts";

export const YCSB_KEY_SIZE = 16;

/**
 * Keys and values of YCSB records. Record i's key is fnvhash64(i) then i, both
 * big-endian: hashed like YCSB's default (non-ordered) key names, so inserts scatter
 * over the key space, and unique because i is in it.
 */
export class Records {
  readonly #keys: Uint8Array;
  readonly #pool: Uint8Array;

  constructor(capacity: number, readonly valueSize: number) {
    this.#keys = new Uint8Array(capacity * YCSB_KEY_SIZE);
    const view = new DataView(this.#keys.buffer);
    for (let i = 0; i < capacity; i++) {
      const [hi, lo] = fnvhash64(i);
      const at = i * YCSB_KEY_SIZE;
      view.setUint32(at, hi);
      view.setUint32(at + 4, lo);
      view.setUint32(at + 8, Math.floor(i / 2 ** 32));
      view.setUint32(at + 12, i >>> 0);
    }
    this.#pool = randomBytes(2 << 20, 31);
  }

  key(i: number): Uint8Array {
    return this.#keys.subarray(i * YCSB_KEY_SIZE, (i + 1) * YCSB_KEY_SIZE);
  }

  /** A view (never mutated, so engines may keep it), different per record and version. */
  value(i: number, version: number): Uint8Array {
    const off = (i * 7919 + version * 104729) % (this.#pool.length - this.valueSize);
    return this.#pool.subarray(off, off + this.valueSize);
  }
}

export interface PlanRun {
  ops: number;
  ms: number;
  latency: LatencySummary;
}

export interface RunOptions {
  /** Repeat the plan (from the start again) for as long as this says so, instead of once. */
  keepGoing?: () => boolean;
  /**
   * Issue operations at this rate, like YCSB's -target, sleeping when ahead of schedule,
   * so other work (a compaction) gets the rest of the thread. Latency is still each
   * operation's own time.
   */
  targetOpsPerSec?: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs `plan`. Throws when a read misses a record that must exist, so a broken adapter
 * cannot pass for a fast one.
 */
export async function runPlan(
  db: Store,
  plan: Plan,
  records: Records,
  { keepGoing, targetOpsPerSec }: RunOptions = {},
): Promise<PlanRun> {
  const latencies: number[] = [];
  const n = plan.kinds.length;
  let version = 1;
  const t0 = performance.now();
  for (let i = 0; keepGoing ? keepGoing() : i < n; i++) {
    if (targetOpsPerSec) {
      const ahead = t0 + (i * 1000) / targetOpsPerSec - performance.now();
      if (ahead >= 1) await sleep(ahead);
    }
    const at = i % n;
    if (at === 0 && i > 0) version++;
    const k = plan.keys[at];
    const key = records.key(k);
    const s = performance.now();
    switch (plan.kinds[at]) {
      case READ:
        if (await db.get(key) === undefined) {
          throw new Error(`ycsb-${plan.name}: record ${k} missing`);
        }
        break;
      case UPDATE:
      case INSERT:
        await db.put(key, records.value(k, version));
        break;
      case SCAN:
        if (await db.scanFrom(key, plan.scanLengths[at]) === 0) {
          throw new Error(`ycsb-${plan.name}: scan from record ${k} found nothing`);
        }
        break;
      case READ_MODIFY_WRITE: {
        const old = await db.get(key);
        if (old === undefined) throw new Error(`ycsb-${plan.name}: record ${k} missing`);
        await db.put(key, records.value(k, version + old[0]));
        break;
      }
    }
    latencies.push(performance.now() - s);
  }
  const ms = performance.now() - t0;
  return { ops: latencies.length, ms, latency: summarize(latencies) };
}
