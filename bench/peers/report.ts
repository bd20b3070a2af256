// Markdown rendering of the collected child reports.

import type { ChildReport } from "./child.ts";
import type { LatencySummary, Result } from "./measure.ts";
import type { EngineName, Options, Workload } from "./options.ts";
import { PIPELINE } from "./store.ts";
import { INSERT, READ_MODIFY_WRITE, SPECS, UPDATE, type YcsbName } from "./ycsb/workloads.ts";

const SYNCED = "each write fsynced before it is acknowledged";

/**
 * What each row measures. A function gets the count of writes each engine made, for rows
 * that cap it (at n, or at an engine's `maxOneAtATimeWrites`).
 */
const DESCRIPTIONS: Record<Workload, string | ((count: string) => string)> = {
  "fillseq": `N writes, keys ascending, fresh store, pipelined (${PIPELINE} in flight)`,
  "fillrandom": "N writes, keys shuffled, fresh store, pipelined",
  "fillrandom-1": (count) =>
    `the first ${count} writes of fillrandom's order, fresh store, one write awaited at a time`,
  "overwrite": "N writes of existing keys, shuffled, pipelined",
  "overwrite-1": (count) =>
    `${count} writes of existing keys of the N-key store, shuffled, one write awaited at a time`,
  "readrandom": "N point reads of present keys, uniform random, one at a time",
  "readmissing": "N point reads of absent keys, one at a time",
  "scan": "full ordered scan of N keys",
  "delete-all": "delete all N keys, shuffled, pipelined",
  "durable-1": (count) => `${count} writes, one awaited at a time; ${SYNCED}`,
  "durable-pipelined": (count) => `${count} writes, pipelined (${PIPELINE} in flight); ${SYNCED}`,
  "durable-64": (count) => `${count} writes from 64 concurrent writers; ${SYNCED}`,
  "big-write": "256 × 1 MiB values, pipelined",
  "big-read": "read back the 256 × 1 MiB values",
  "reopen":
    "close + open + one read of the N-key store (Cask: the close writes an index checkpoint, the open loads it)",
  "reopen-compacted": "same after compaction (Cask: the checkpoint written by the close after it)",
  "compact":
    "compaction after overwrite, overwrite-1 and one more shuffled overwrite of all N keys; live data rate; each engine makes the result durable",
  "compact-reclaimed": "disk space given back by that compaction",
  "rss-per-key": "RSS growth / N after fillseq (3 s for background work to end, then GC)",
  "rss-margin-per-key":
    "RSS(2N keys) − RSS(N keys), / N, each 3 s after its load and after GC, in a process of its own: whole-process bytes per key at the margin",
  "index-bytes-per-key":
    "the engine's own index memory estimate per key (Cask: stats().index.bytesPerKey) at N",
  "ycsb-load": "load the YCSB records, pipelined",
  "ycsb-a": "",
  "ycsb-b": "",
  "ycsb-c": "",
  "ycsb-f": "",
  "ycsb-d": "",
  "ycsb-e": "",
  "ycsb-a-paced": "workload A at a fixed 5,000 ops/s (YCSB -target), no compaction",
  "ycsb-a-compacting":
    "workload A at the same pace, repeated while a compaction of the whole store runs",
};

/** Rows besides YCSB A-F whose timed work includes writes to a store opened with fsync off. */
const UNSYNCED = new Set<Workload>([
  "fillseq",
  "fillrandom",
  "fillrandom-1",
  "overwrite",
  "overwrite-1",
  "delete-all",
  "big-write",
  "ycsb-load",
  "ycsb-a-paced",
  "ycsb-a-compacting",
]);

/**
 * Rows run at a fixed rate: their ops/s is the pace, so it is no win or loss (an engine
 * that falls short of the pace still shows in the table).
 */
const PACED: Workload[] = ["ycsb-a-paced", "ycsb-a-compacting"];

const isYcsb = (w: string) => w.startsWith("ycsb-") && w !== "ycsb-load";

/** Whether the row times writes made with fsync off (YCSB A-F: every workload that writes). */
function writesUnsynced(w: Workload): boolean {
  const spec: { mix: number[] } | undefined = SPECS[w.replace("ycsb-", "") as YcsbName];
  return spec
    ? spec.mix[UPDATE] + spec.mix[INSERT] + spec.mix[READ_MODIFY_WRITE] > 0
    : UNSYNCED.has(w);
}

/** Cask with fsync off against a peer that fsyncs anyway: a ratio would not be like for like. */
const unlike = (peer: ChildReport, w: Workload) => !!peer.fsyncsEveryCommit && writesUnsynced(w);

const UNLIKE_MARK = "–†";

/** The note under a table that has UNLIKE_MARK cells. */
function unlikeNote(peers: ChildReport[], rows: Workload[]): string[] {
  const named = peers.filter((p) => rows.some((w) => unlike(p, w))).map((p) => p.engine);
  if (!named.length) return [];
  return [
    `${UNLIKE_MARK}: ${
      named.join(" and ")
    } fsyncs every commit and has no setting to stop it, while Cask runs these rows with fsync off: not the same work, so no ratio; the figures measured stay in the engine's column.`,
    "",
  ];
}

/** A row's description, given the writes each engine made in it. */
function describe(w: Workload, counts: [EngineName, number][]): string {
  const d = DESCRIPTIONS[w];
  const text = typeof d === "string" ? d : d(countText(counts));
  return writesUnsynced(w) ? `${text}; fsync off` : text;
}

/** The writes each engine made in a row, e.g. "100,000 (denokv: 5,000)". */
function countText(counts: [EngineName, number][]): string {
  if (!counts.length) return "?";
  const [, first] = counts[0];
  const others = counts.filter(([, c]) => c !== first).map(([e, c]) =>
    `${e}: ${c.toLocaleString("en-US")}`
  );
  return first.toLocaleString("en-US") + (others.length ? ` (${others.join(", ")})` : "");
}

const RAW_DESCRIPTIONS: Record<string, string> = {
  "raw-seq-write": "FsFile.write of 1 MiB chunks, 256 MiB, page cache",
  "raw-seq-write-synced": "same plus one fdatasync at the end",
  "raw-append-fdatasync": "median of 200 × (100-byte append + fdatasync)",
  "raw-pread-sync": "seekSync + readSync of 100 bytes, page-cached 64 MiB file",
  "raw-pread-node": "node:fs readSync(fd, buf, 0, 100, pos): one pread(2), same file",
  "raw-pread-async": "await seek + await read of 100 bytes, same file",
};

function fmt(v: number): string {
  if (Math.abs(v) >= 100) return Math.round(v).toLocaleString("en-US");
  return v.toPrecision(3);
}

function cell(r: Result | undefined): string {
  if (!r) return "–";
  if (r.value === null) return `n/a${r.detail ? ` (${r.detail})` : ""}`;
  return `${fmt(r.value)}${r.detail && !r.latency ? ` (${r.detail})` : ""}`;
}

/** Always oriented so that >1 means Cask did better; null when there is no ratio. */
function ratioOf(cask: Result | undefined, peer: Result | undefined): number | null {
  // A negative or zero figure (RSS can shrink when the allocator gives memory back) has no ratio.
  if (!cask?.value || !peer?.value || !cask.better || cask.value < 0 || peer.value < 0) return null;
  return cask.better === "higher" ? cask.value / peer.value : peer.value / cask.value;
}

function showRatio(x: number | null): string {
  if (x === null) return "–";
  if (x >= 1) return `${x.toFixed(2)}×`;
  // Significant digits below 1, so a 1000× gap does not print as "0.00×", and as many as it
  // takes for a loss by a hair (0.996) not to print as "1.0×".
  let digits = 2;
  while (Number(x.toPrecision(digits)) >= 1) digits++;
  return `${x.toPrecision(digits)}×`;
}

function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n");
}

const LATENCIES: [keyof LatencySummary, string][] = [
  ["p50", "p50"],
  ["p99", "p99"],
  ["p999", "p99.9"],
];

/** A latency percentile as a result of its own, so it gets cells and ratios like any row. */
function latencyResult(r: Result | undefined, q: keyof LatencySummary): Result | undefined {
  if (!r) return undefined;
  if (!r.latency) return { ...r, unit: "µs" };
  return { workload: r.workload, value: r.latency[q], unit: "µs", better: "lower" };
}

export interface RunInfo {
  machine: string;
  date: string;
  uptimeBefore: string;
  uptimeAfter: string;
  minutes: number;
}

export function renderReport(opts: Options, info: RunInfo, reports: ChildReport[]): string {
  const engines = reports.filter((r) => r.engine !== "raw");
  const peers = engines.filter((r) => r.engine !== "cask");
  const find = (engine: EngineName, w: string) =>
    reports.find((r) => r.engine === engine)?.results.find((x) => x.workload === w);
  const hasCask = engines.some((r) => r.engine === "cask");
  const present = (w: Workload) => engines.some((e) => find(e.engine, w));

  const out = [
    `# Cask vs peers (${info.date})`,
    "",
    `Machine: ${info.machine}.`,
    "",
    `Machine load (\`uptime\`; 2 cores, shared with other work): before the run \`${info.uptimeBefore}\`; after it \`${info.uptimeAfter}\`. The whole run took ${
      info.minutes.toFixed(1)
    } minutes.`,
    "",
    `1-minute load average before → after each engine (the benchmark itself accounts for about 1): ${
      reports.map((r) => `${r.engine} ${r.load ?? "?"}`).join(", ")
    }.`,
    "",
    `n = ${opts.n.toLocaleString("en-US")} keys; 16-byte keys, 100-byte values; ` +
    "same deterministic (mulberry32) keys, values and orders for every engine; each engine in its own process on a fresh directory.",
    "",
  ];

  const label = (e: ChildReport, size: number, sizeOf: (e: ChildReport) => number | undefined) => {
    const own = sizeOf(e) ?? size;
    return own === size ? e.engine : `${e.engine} (${own.toLocaleString("en-US")})`;
  };
  const ratioHeader = hasCask ? peers.map((p) => `cask vs ${p.engine}`) : [];
  const ratioCells = (w: Workload, pick: (r: Result | undefined) => Result | undefined) =>
    hasCask
      ? peers.map((p) => {
        const x = ratioOf(pick(find("cask", w)), pick(find(p.engine, w)));
        return x !== null && unlike(p, w) ? UNLIKE_MARK : showRatio(x);
      })
      : [];
  const counts = (w: Workload) =>
    engines.flatMap((e): [EngineName, number][] => {
      const ops = find(e.engine, w)?.ops;
      return ops === undefined ? [] : [[e.engine, ops]];
    });

  const plain = opts.workloads.filter((w) => !isYcsb(w) && present(w));
  if (plain.length) {
    const rows = plain.map((w) => {
      const unit = engines.map((e) => find(e.engine, w)?.unit).find((u) => u) ?? "";
      return [
        w,
        describe(w, counts(w)),
        unit,
        ...engines.map((e) => cell(find(e.engine, w))),
        ...ratioCells(w, (r) => r),
      ];
    });
    const header = [
      "workload",
      "what",
      "unit",
      ...engines.map((e) => label(e, opts.n, (x) => x.n)),
      ...ratioHeader,
    ];
    out.push(table(header, rows), "", ...unlikeNote(peers, plain));
    if (hasCask && peers.length) {
      out.push(
        "Ratios are oriented so that >1× means Cask did better (faster, or smaller for ms, µs and B/key); <1× means Cask did worse. Space reclaimed gets no ratio.",
        "",
      );
    }
  }

  const ycsb = opts.workloads.filter((w) => isYcsb(w) && present(w));
  if (ycsb.length) {
    out.push(
      "## YCSB core workloads",
      "",
      `${
        opts.records.toLocaleString("en-US")
      } records of 16-byte keys and ${opts.ycsbValue}-byte values (loaded pipelined, fsync off; \`ycsb-load\` above); ` +
        `${
          opts.ycsbOps.toLocaleString("en-US")
        } operations per workload (at most a tenth of an engine's records: an engine run with fewer records, named with its count in the header, runs fewer), run in YCSB's order A, B, C, F, D, E on that one store; ` +
        "zipfian 0.99 request distribution (YCSB's ScrambledZipfianGenerator; D: SkewedLatestGenerator), scans of 1-100 keys (uniform). " +
        "One client: each operation awaited before the next, and timed on its own; latency is over all operations of the workload (read-modify-write: the get and the put). Writes fsync off, as in the rows above.",
      "",
    );
    const rows: string[][] = [];
    for (const w of ycsb) {
      const name = w.replace("ycsb-", "") as YcsbName;
      const what = name in SPECS ? SPECS[name].what : describe(w, counts(w));
      rows.push([
        w,
        what,
        "ops/s",
        ...engines.map((e) => cell(find(e.engine, w))),
        ...ratioCells(w, (r) => r),
      ]);
      for (const [q, shown] of LATENCIES) {
        rows.push([
          "",
          shown,
          "µs",
          ...engines.map((e) => cell(latencyResult(find(e.engine, w), q))),
          ...ratioCells(w, (r) => latencyResult(r, q)),
        ]);
      }
    }
    const header = [
      "workload",
      "what",
      "unit",
      ...engines.map((e) => label(e, opts.records, (x) => x.records)),
      ...ratioHeader,
    ];
    out.push(table(header, rows), "", ...unlikeNote(peers, ycsb));
    const quiet = find("cask", "ycsb-a-paced")?.latency;
    const busy = find("cask", "ycsb-a-compacting");
    if (quiet && busy?.latency) {
      const x = busy.latency.p999 / quiet.p999;
      out.push(
        `Tail latency under compaction (Cask, ${busy.detail}, ${
          busy.value === null ? 0 : Math.round(busy.value)
        } ops/s achieved): ` +
          `p99.9 ${fmt(busy.latency.p999)} µs vs ${
            fmt(quiet.p999)
          } µs at the same pace without compaction = ${x.toFixed(2)}× — target ≤ 2×: ${
            x <= 2 ? "**met**" : "**not met**"
          }.`,
        "",
      );
    }
  }

  if (hasCask && peers.length) out.push(...winsAndLosses(opts, peers, find), "");

  const raw = reports.find((r) => r.engine === "raw");
  if (raw?.results.length) {
    out.push("## Physical limits (raw Deno file I/O in a temp dir on the same filesystem)", "");
    out.push(
      table(
        ["probe", "what", "value", "unit"],
        raw.results.map((r) => [r.workload, RAW_DESCRIPTIONS[r.workload] ?? "", cell(r), r.unit]),
      ),
      "",
    );
  }

  out.push("## How each engine was driven", "");
  for (const r of reports) {
    for (const note of r.notes) out.push(`- ${r.engine}: ${note}`);
    if (r.error) out.push(`- ${r.engine}: **failed**: ${r.error}`);
  }
  return out.join("\n") + "\n";
}

/**
 * Every ratio of the run sorted into wins and losses per peer, losses first; the rows with
 * no like-for-like ratio and the paced rates are named apart, so nothing drops out unseen.
 */
function winsAndLosses(
  opts: Options,
  peers: ChildReport[],
  find: (engine: EngineName, w: string) => Result | undefined,
): string[] {
  const out = ["## Where Cask wins and loses (ratios from this run, >1× = Cask better)", ""];
  const list = (xs: [string, number][]) =>
    xs.map(([w, x]) => `${w} ${showRatio(x)}`).join(", ") || "none";
  for (const p of peers) {
    const scored: [string, number][] = [];
    const unlikeRows: Workload[] = [];
    for (const w of opts.workloads) {
      const x = ratioOf(find("cask", w), find(p.engine, w));
      if (x !== null && unlike(p, w)) {
        unlikeRows.push(w);
        continue;
      }
      if (x !== null && !PACED.includes(w)) scored.push([isYcsb(w) ? `${w} ops/s` : w, x]);
      if (!isYcsb(w)) continue;
      for (const [q, shown] of LATENCIES) {
        const y = ratioOf(latencyResult(find("cask", w), q), latencyResult(find(p.engine, w), q));
        if (y !== null) scored.push([`${w} ${shown}`, y]);
      }
    }
    scored.sort((a, b) => a[1] - b[1]);
    const losses = scored.filter(([, x]) => x < 1);
    const wins = scored.filter(([, x]) => x >= 1).reverse();
    const apart = unlikeRows.length
      ? `; **no ratio** (${unlikeRows.length}, ${p.engine} fsyncs every commit where Cask runs with fsync off): ${
        unlikeRows.join(", ")
      }`
      : "";
    out.push(
      `- vs ${p.engine}: **loses** (${losses.length}): ${
        list(losses)
      }; **wins** (${wins.length}): ${list(wins)}${apart}`,
    );
  }
  const paced = PACED.filter((w) => opts.workloads.includes(w) && find("cask", w)?.value);
  if (paced.length) {
    out.push(
      "",
      `The ops/s of ${
        paced.join(" and ")
      } are left out: those rows run at a fixed rate, so their throughput is the pace, not a contest (an engine short of the pace shows in the table); their latencies count.`,
    );
  }
  return out;
}
