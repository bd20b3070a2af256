// Markdown rendering of the collected child reports.

import type { ChildReport } from "./child.ts";
import type { Result } from "./measure.ts";
import type { EngineName, Options, Workload } from "./options.ts";

const DESCRIPTIONS: Record<Workload, string> = {
  "fillseq": "N writes, keys ascending, fresh store",
  "fillrandom": "N writes, keys shuffled, fresh store",
  "fillrandom-batch": "as fillrandom, explicit atomic batches of 1000",
  "overwrite": "N writes of existing keys, shuffled",
  "readrandom": "N point reads of present keys, uniform random",
  "readmissing": "N point reads of absent keys",
  "scan": "full ordered scan of N keys",
  "delete-all": "delete all N keys, shuffled",
  "durable-seq": "2000 writes, each durable before the next",
  "durable-64": "2000 durable writes from 64 concurrent writers",
  "big-write": "256 × 1 MiB values",
  "big-read": "read back the 256 × 1 MiB values",
  "reopen": "close + open + one read of the N-key store (Cask: no hint files)",
  "reopen-compacted": "same after overwrite ×3 + compaction (Cask: hint files)",
  "compact": "compaction after overwrite ×3, live data rate",
  "compact-reclaimed": "disk space given back by that compaction",
  "rss-per-key": "RSS growth / N after fillseq (after GC)",
};

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
  return `${fmt(r.value)}${r.detail ? ` (${r.detail})` : ""}`;
}

/** Always oriented so that >1 means Cask did better. */
function ratio(cask: Result | undefined, peer: Result | undefined): string {
  if (!cask?.value || !peer?.value || !cask.better) return "–";
  const x = cask.better === "higher" ? cask.value / peer.value : peer.value / cask.value;
  // Significant digits below 1, so a 1000× gap does not print as "0.00×".
  return `${x >= 1 ? x.toFixed(2) : x.toPrecision(2)}×`;
}

function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n");
}

export function renderReport(
  opts: Options,
  machine: string,
  reports: ChildReport[],
  date: string,
): string {
  const engines = reports.filter((r) => r.engine !== "raw");
  const peers = engines.filter((r) => r.engine !== "cask");
  const find = (engine: EngineName, w: string) =>
    reports.find((r) => r.engine === engine)?.results.find((x) => x.workload === w);
  const hasCask = engines.some((r) => r.engine === "cask");

  const out = [
    `# Cask vs peers (${date})`,
    "",
    `Machine: ${machine}.`,
    "",
    `1-minute load average before → after each engine (2 cores; the benchmark itself accounts for about 1, the rest is other work on the machine): ${
      reports.map((r) => `${r.engine} ${r.load ?? "?"}`).join(", ")
    }.`,
    "",
    `n = ${opts.n.toLocaleString("en-US")} keys; 16-byte keys, 100-byte values; ` +
    "same deterministic (mulberry32) keys, values and orders for every engine; each engine in its own process on a fresh directory.",
    "",
  ];

  const rows = opts.workloads.filter((w) => engines.some((e) => find(e.engine, w))).map((w) => {
    const unit = engines.map((e) => find(e.engine, w)?.unit).find((u) => u) ?? "";
    return [
      w,
      DESCRIPTIONS[w],
      unit,
      ...engines.map((e) => cell(find(e.engine, w))),
      ...(hasCask ? peers.map((p) => ratio(find("cask", w), find(p.engine, w))) : []),
    ];
  });
  const label = (e: ChildReport) =>
    e.n === opts.n ? e.engine : `${e.engine} (n=${e.n.toLocaleString("en-US")})`;
  const header = [
    "workload",
    "what",
    "unit",
    ...engines.map(label),
    ...(hasCask ? peers.map((p) => `cask vs ${p.engine}`) : []),
  ];
  if (rows.length) out.push(table(header, rows), "");
  if (hasCask && peers.length) {
    out.push(
      "Ratios are oriented so that >1× means Cask did better (faster, or smaller for ms and B/key); space reclaimed gets no ratio.",
      "",
    );
  }

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
