// `deno task bench:peers`: runs each engine in a child process, one after another (two
// cores do not leave room for running them side by side), then writes the report.

import type { ChildReport } from "./child.ts";
import { describeMachine, loadAverage } from "./machine.ts";
import { type EngineName, parseOptions, type Workload } from "./options.ts";
import { renderReport } from "./report.ts";

const CHILD = new URL("./child.ts", import.meta.url).pathname;
const RESULTS = new URL("../results/", import.meta.url).pathname;

async function runChild(engine: EngineName, args: string[]): Promise<ChildReport> {
  const dir = await Deno.makeTempDir({ prefix: `cask-peers-${engine}-` });
  try {
    const { code, stdout } = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--unstable-kv", "--v8-flags=--expose-gc", CHILD, engine, dir, ...args],
      stdout: "piped",
      stderr: "inherit",
    }).output();
    const last = new TextDecoder().decode(stdout).trim().split("\n").at(-1) ?? "";
    try {
      return JSON.parse(last);
    } catch {
      const error = `child exited ${code} without a report`;
      return { engine, n: 0, notes: [], results: [], error };
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

// Workloads measured in a process of their own. RSS at the margin: after the other
// groups the heap holds pages they freed, which the margin's keys then fill instead of
// growing the process (Cask's row read 0.0-85 B/key from run to run that way, 76-83 in
// a fresh process).
const ALONE: Workload[] = ["rss-margin-per-key"];

// One engine's workloads: those of ALONE each in a fresh child, the rest in one child
// (the raw probes, which are no workload, run once).
async function runEngine(engine: EngineName, workloads: Workload[]): Promise<ChildReport> {
  if (engine === "raw") return await runChild(engine, Deno.args);
  const shared = workloads.filter((w) => !ALONE.includes(w));
  const parts = [shared, ...workloads.filter((w) => ALONE.includes(w)).map((w) => [w])];
  const reports: ChildReport[] = [];
  for (const part of parts) {
    if (part.length > 0) {
      reports.push(await runChild(engine, [...Deno.args, "--workloads", part.join(",")]));
    }
  }
  const errors = reports.flatMap((r) => r.error ?? []);
  return {
    ...reports[0],
    results: reports.flatMap((r) => r.results),
    ...(errors.length > 0 ? { error: errors.join("; ") } : {}),
  };
}

/** `uptime` as the shell prints it: the machine is shared, and its load colours every number. */
async function uptime(): Promise<string> {
  const { stdout } = await new Deno.Command("uptime").output();
  return new TextDecoder().decode(stdout).trim().replace(/\s+/g, " ");
}

const opts = parseOptions(Deno.args);
const machine = describeMachine(Deno.env.get("TMPDIR") ?? "/tmp");
const uptimeBefore = await uptime();
const t0 = performance.now();
const reports: ChildReport[] = [];
for (const engine of opts.engines) {
  console.error(`== ${engine}`);
  const before = loadAverage();
  const report = await runEngine(engine, opts.workloads);
  reports.push({ ...report, load: `${before} → ${loadAverage()}` });
}

const info = {
  machine,
  date: new Date().toISOString().slice(0, 10),
  uptimeBefore,
  uptimeAfter: await uptime(),
  minutes: (performance.now() - t0) / 60_000,
};
const md = renderReport(opts, info, reports);
await Deno.mkdir(RESULTS, { recursive: true });
if (opts.out) await Deno.writeTextFile(`${RESULTS}${opts.out}.md`, md);
else {
  await Deno.writeTextFile(`${RESULTS}peers-${info.date}.md`, md);
  await Deno.writeTextFile(`${RESULTS}latest.md`, md);
}
console.log(md);
