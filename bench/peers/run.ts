// `deno task bench:peers`: runs each engine in a child process, one after another (two
// cores do not leave room for running them side by side), then writes the report.

import type { ChildReport } from "./child.ts";
import { describeMachine, loadAverage } from "./machine.ts";
import { type EngineName, parseOptions } from "./options.ts";
import { renderReport } from "./report.ts";

const CHILD = new URL("./child.ts", import.meta.url).pathname;
const RESULTS = new URL("../results/", import.meta.url).pathname;

async function runChild(engine: EngineName, n: number, args: string[]): Promise<ChildReport> {
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
      return { engine, n, notes: [], results: [], error };
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const opts = parseOptions(Deno.args);
const machine = describeMachine(Deno.env.get("TMPDIR") ?? "/tmp");
const reports: ChildReport[] = [];
for (const engine of opts.engines) {
  console.error(`== ${engine}`);
  const before = loadAverage();
  const report = await runChild(engine, opts.n, Deno.args);
  reports.push({ ...report, load: `${before} → ${loadAverage()}` });
}

const date = new Date().toISOString().slice(0, 10);
const md = renderReport(opts, machine, reports, date);
await Deno.mkdir(RESULTS, { recursive: true });
await Deno.writeTextFile(`${RESULTS}peers-${date}.md`, md);
await Deno.writeTextFile(`${RESULTS}latest.md`, md);
console.log(md);
