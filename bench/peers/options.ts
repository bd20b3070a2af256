// Command-line options of `deno task bench:peers`.

export const ENGINES = ["cask", "sqlite", "denokv", "lmdb", "raw"] as const;
export type EngineName = typeof ENGINES[number];

/** Row order of the results tables. */
export const WORKLOADS = [
  "fillseq",
  "fillrandom",
  "fillrandom-1",
  "overwrite",
  "overwrite-1",
  "readrandom",
  "readmissing",
  "scan",
  "delete-all",
  "durable-1",
  "durable-pipelined",
  "durable-64",
  "big-write",
  "big-read",
  "reopen",
  "reopen-compacted",
  "compact",
  "compact-reclaimed",
  "rss-per-key",
  "rss-margin-per-key",
  "index-bytes-per-key",
  "ycsb-load",
  "ycsb-a",
  "ycsb-b",
  "ycsb-c",
  "ycsb-f",
  "ycsb-d",
  "ycsb-e",
  "ycsb-a-paced",
  "ycsb-a-compacting",
] as const;
export type Workload = typeof WORKLOADS[number];

export interface Options {
  /** Keys in the store for the db_bench-style rows. */
  n: number;
  /** YCSB records loaded before the workloads run. */
  records: number;
  /** Operations per YCSB workload. */
  ycsbOps: number;
  /** Bytes per YCSB value. */
  ycsbValue: number;
  engines: EngineName[];
  workloads: Workload[];
  /** Report file name under bench/results/ (no extension) instead of latest.md + the dated copy. */
  out?: string;
}

// `deno task bench:peers` runs this and then bench/kv_peers.ts, and deno task hands
// extra arguments to the last command only: flags go to this script directly.
const USAGE =
  `usage: deno run -A bench/peers/run.ts [--n 1000000 | --quick] [--records N] [--ycsb-ops N]
                              [--ycsb-value BYTES] [--engines ${ENGINES.join(",")}]
                              [--workloads ${WORKLOADS.join(",")}]
                              [--out NAME: write bench/results/NAME.md only, e.g. for a rerun]
(npm run bench:peers / deno task bench:peers run it with no flags, then bench/kv_peers.ts)
environment: CASK_BENCH_N, CASK_BENCH_RECORDS, CASK_BENCH_YCSB_OPS set the same numbers
(flags win); --records defaults to n, --ycsb-ops to n / 40 (and at most records / 10);
CASK_BENCH_MMAP=1 and CASK_BENCH_INLINE_FSYNC=1 open Cask with mmap / inlineFsync.`;

function pickList<T extends string>(raw: string, allowed: readonly T[], what: string): T[] {
  const items = raw.split(",").map((s) => s.trim()).filter(Boolean);
  for (const item of items) {
    if (!allowed.includes(item as T)) throw new Error(`unknown ${what} "${item}"\n${USAGE}`);
  }
  // Keep the canonical order so tables read the same whatever order was typed.
  return allowed.filter((a) => items.includes(a));
}

function count(raw: string, what: string, min: number): number {
  const v = Number(raw.replaceAll("_", ""));
  if (!Number.isInteger(v) || v < min) throw new Error(`${what} must be an integer >= ${min}`);
  return v;
}

export function parseOptions(args: string[]): Options {
  const env = (name: string) => Deno.env.get(name);
  let n = env("CASK_BENCH_N") ? count(env("CASK_BENCH_N")!, "CASK_BENCH_N", 1000) : 1_000_000;
  let records = env("CASK_BENCH_RECORDS")
    ? count(env("CASK_BENCH_RECORDS")!, "CASK_BENCH_RECORDS", 1000)
    : undefined;
  let ycsbOps = env("CASK_BENCH_YCSB_OPS")
    ? count(env("CASK_BENCH_YCSB_OPS")!, "CASK_BENCH_YCSB_OPS", 1000)
    : undefined;
  let ycsbValue = 1024;
  let engines: EngineName[] = [...ENGINES];
  let workloads: Workload[] = [...WORKLOADS];
  let out: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const [flag, inline] = args[i].split("=", 2);
    const value = () => inline ?? args[++i] ?? "";
    switch (flag) {
      case "--quick":
        n = 100_000;
        break;
      case "--n":
        n = count(value(), "--n", 1000);
        break;
      case "--records":
        records = count(value(), "--records", 1000);
        break;
      case "--ycsb-ops":
        ycsbOps = count(value(), "--ycsb-ops", 1000);
        break;
      case "--ycsb-value":
        ycsbValue = count(value(), "--ycsb-value", 1);
        break;
      case "--engines":
        engines = pickList(value(), ENGINES, "engine");
        break;
      case "--workloads":
        workloads = pickList(value(), WORKLOADS, "workload");
        break;
      case "--out":
        out = value();
        if (!/^[\w.-]+$/.test(out)) throw new Error(`--out takes a plain file name\n${USAGE}`);
        break;
      case "--help":
      case "-h":
        console.log(USAGE);
        Deno.exit(0);
        break;
      default:
        throw new Error(`unknown option ${args[i]}\n${USAGE}`);
    }
  }
  records ??= n;
  ycsbOps ??= Math.max(1000, Math.round(n / 40));
  return { n, records, ycsbOps, ycsbValue, engines, workloads, out };
}
