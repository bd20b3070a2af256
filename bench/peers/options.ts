// Command-line options of `deno task bench:peers`.

export const ENGINES = ["cask", "sqlite", "denokv", "lmdb", "raw"] as const;
export type EngineName = typeof ENGINES[number];

/** Row order of the results table. */
export const WORKLOADS = [
  "fillseq",
  "fillrandom",
  "fillrandom-batch",
  "overwrite",
  "readrandom",
  "readmissing",
  "scan",
  "delete-all",
  "durable-seq",
  "durable-64",
  "big-write",
  "big-read",
  "reopen",
  "reopen-compacted",
  "compact",
  "compact-reclaimed",
  "rss-per-key",
] as const;
export type Workload = typeof WORKLOADS[number];

export interface Options {
  n: number;
  engines: EngineName[];
  workloads: Workload[];
}

const USAGE = `usage: deno task bench:peers [--n 1000000 | --quick] [--engines ${ENGINES.join(",")}]
                              [--workloads ${WORKLOADS.join(",")}]`;

function pickList<T extends string>(raw: string, allowed: readonly T[], what: string): T[] {
  const items = raw.split(",").map((s) => s.trim()).filter(Boolean);
  for (const item of items) {
    if (!allowed.includes(item as T)) throw new Error(`unknown ${what} "${item}"\n${USAGE}`);
  }
  // Keep the canonical order so tables read the same whatever order was typed.
  return allowed.filter((a) => items.includes(a));
}

export function parseOptions(args: string[]): Options {
  const opts: Options = { n: 1_000_000, engines: [...ENGINES], workloads: [...WORKLOADS] };
  for (let i = 0; i < args.length; i++) {
    const [flag, inline] = args[i].split("=", 2);
    const value = () => inline ?? args[++i] ?? "";
    switch (flag) {
      case "--quick":
        opts.n = 100_000;
        break;
      case "--n":
        opts.n = Number(value().replaceAll("_", ""));
        if (!Number.isInteger(opts.n) || opts.n < 1000) throw new Error(`--n must be >= 1000`);
        break;
      case "--engines":
        opts.engines = pickList(value(), ENGINES, "engine");
        break;
      case "--workloads":
        opts.workloads = pickList(value(), WORKLOADS, "workload");
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
  return opts;
}
