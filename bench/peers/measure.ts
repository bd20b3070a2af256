// Result records and the few measurements every workload shares.

export const MiB = 1 << 20;

export interface Result {
  workload: string;
  /** null when the engine has no equivalent; `detail` then says why. */
  value: number | null;
  unit: string;
  /**
   * Which direction is better, so ratios can always read ">1 = Cask better"; absent
   * where no direction is (an engine without dead space has nothing to reclaim).
   */
  better?: "higher" | "lower";
  detail?: string;
  /**
   * Operations an ops/s figure is over, which some rows cap per engine (the report's
   * description names the count each engine ran).
   */
  ops?: number;
  /** Per-operation latency, for rows that time each operation (YCSB). */
  latency?: LatencySummary;
}

/** Latency percentiles in µs. */
export interface LatencySummary {
  p50: number;
  p99: number;
  p999: number;
  max: number;
}

/** Percentiles of per-operation times given in ms (nearest rank). */
export function summarize(ms: number[]): LatencySummary {
  const sorted = Float64Array.from(ms).sort();
  const at = (q: number) =>
    sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] * 1000;
  return { p50: at(0.5), p99: at(0.99), p999: at(0.999), max: sorted[sorted.length - 1] * 1000 };
}

export async function elapsedMs(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

export function opsPerSec(workload: string, ops: number, ms: number): Result {
  return { workload, value: ops / (ms / 1000), unit: "ops/s", better: "higher", ops };
}

export function mibPerSec(workload: string, bytes: number, ms: number): Result {
  return { workload, value: bytes / MiB / (ms / 1000), unit: "MiB/s", better: "higher" };
}

export function unsupported(workload: string, unit: string, why: string): Result {
  return { workload, value: null, unit, detail: why };
}

// How long background work an engine started (Cask's index checkpoint, lmdb-js's
// commit thread, SQLite's WAL checkpoint) gets to end before RSS is read.
const SETTLE_MS = 3000;

/**
 * RSS once the engine's background work has ended (SETTLE_MS), after a full GC
 * when the child runs with --expose-gc, so garbage does not count. Read right
 * after a load, it caught whatever was still running: Cask's margin per key
 * read 76-82 B/key or 82-88 by whether a background checkpoint of the index had
 * ended (same code, alternating runs).
 */
export async function settledRss(): Promise<number> {
  await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
  (globalThis as { gc?: () => void }).gc?.();
  return Deno.memoryUsage().rss;
}

/** Bytes of all files under `dir` (apparent size, as the user would see in `du -b`). */
export function dirBytes(dir: string): number {
  let total = 0;
  for (const e of Deno.readDirSync(dir)) {
    const p = `${dir}/${e.name}`;
    if (e.isDirectory) total += dirBytes(p);
    else if (e.isFile) total += Deno.statSync(p).size;
  }
  return total;
}

/**
 * System-wide sync(1) between groups: on ext4 an fsync also pushes out other files' dirty
 * pages in the same journal transaction, so durable workloads would otherwise pay for
 * the writeback of whatever the previous group left behind.
 */
export async function flushDirtyPages(): Promise<void> {
  await new Deno.Command("sync").output();
}
