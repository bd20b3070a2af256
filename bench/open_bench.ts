/**
 * Start-up: how long `open` takes to rebuild the index, for stores of N random
 * 16-byte keys with 100-byte values in four shapes, against the floor of
 * reading the same bytes sequentially (`cat` of every file to /dev/null) in the
 * same run. Each open runs in a fresh process (best of three) that exits
 * without closing, so no open changes what the next one finds; it reports its
 * CPU time, its peak RSS (VmHWM) against the RSS after the open and a full GC,
 * and against the index's own estimate.
 *
 *   deno run -A --v8-flags=--expose-gc bench/open_bench.ts          # 200k keys
 *   CASK_OPEN_KEYS=1000000 deno run -A --v8-flags=--expose-gc bench/open_bench.ts
 *   CASK_OPEN_SHAPES=written,crashed CASK_OPEN_KEYS=10000000 ...
 *
 * Shapes: "written" (each key once, closed: the close writes the index
 * checkpoint), "overwritten" (each key twice: 2N records, closed), "compacted"
 * (overwritten, compacted, closed), "crashed" (each key once, fsynced, then the
 * process exits at once without closing; the writer waits for a macrotask
 * after every 1000 writes, as one serving requests waits for the next ones),
 * "crashed-tight" (the same from a tight loop that never waits for I/O: under
 * sync "never" its writes acknowledge in microtasks, which leaves a background
 * checkpoint few turns to finish in). Every shape is
 * also opened with `checkpoint: false`, which replays the log (with the hint
 * files where a compaction wrote them).
 * @module
 */

import process from "node:process";
import { open } from "../mod.ts";

const N = Number(Deno.env.get("CASK_OPEN_KEYS") ?? 200_000);
const SHAPES = (Deno.env.get("CASK_OPEN_SHAPES") ??
  "written,overwritten,compacted,crashed,crashed-tight")
  .split(",");
const ROUNDS = 3;

interface Opened {
  ms: number;
  cpuMs: number;
  peak: number;
  steady: number;
  base: number;
  index: number;
}

if (Deno.args[0] === "--open") {
  const base = Deno.memoryUsage().rss;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const db = await open(Deno.args[1], {
    onWarning: () => {},
    checkpoint: Deno.args[2] === "log" ? false : true,
  });
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const peak = Number(/VmHWM:\s+(\d+)/.exec(Deno.readTextFileSync("/proc/self/status"))![1]) * 1024;
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  gc?.();
  const out: Opened = {
    ms,
    cpuMs: (cpu.user + cpu.system) / 1000,
    peak,
    steady: Deno.memoryUsage().rss,
    base,
    index: db.stats().index.bytes,
  };
  console.log(JSON.stringify(out));
  // No close: a close would write a checkpoint, and change what the next open finds.
  Deno.exit(0);
}

if (Deno.args[0] === "--build") {
  const [, dir, shape] = Deno.args;
  const db = await open(dir, { sync: "never" });
  const value = new Uint8Array(100).fill(1);
  // Keys from a seeded generator: every shape holds the same keys.
  let s = 0x9e3779b9;
  const next = () => (s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0);
  const keys: Uint8Array[] = [];
  for (let i = 0; i < N; i++) {
    const k = new Uint8Array(16);
    const v = new DataView(k.buffer);
    for (let j = 0; j < 16; j += 4) v.setUint32(j, next());
    keys.push(k);
  }
  const passes = shape === "overwritten" || shape === "compacted" ? 2 : 1;
  for (let p = 0; p < passes; p++) {
    const pending: Promise<void>[] = [];
    for (let i = 0; i < N; i++) {
      pending.push(db.set(keys[(i * 7919 + p) % N], value));
      if (pending.length === 1000) {
        await Promise.all(pending.splice(0));
        if (shape === "crashed") await new Promise((r) => setTimeout(r, 0));
      }
    }
    await Promise.all(pending);
  }
  if (shape === "compacted") await db.compact();
  if (shape.startsWith("crashed")) {
    await db.sync();
    Deno.exit(0);
  }
  const t0 = performance.now();
  await db.close();
  console.log(JSON.stringify({ closeMs: performance.now() - t0 }));
  Deno.exit(0);
}

const self = new URL(import.meta.url).pathname;

async function run(args: string[]): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--v8-flags=--expose-gc", self, ...args],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error(`${args.join(" ")} failed`);
  return new TextDecoder().decode(out.stdout).trim();
}

async function catFloor(dir: string): Promise<number> {
  const files = [...Deno.readDirSync(dir)].filter((e) => e.isFile).map((e) => `${dir}/${e.name}`);
  const t0 = performance.now();
  await new Deno.Command("sh", { args: ["-c", `cat ${files.join(" ")} > /dev/null`] }).output();
  return performance.now() - t0;
}

async function bestOpen(dir: string, mode: string): Promise<Opened> {
  let best: Opened | undefined;
  for (let r = 0; r < ROUNDS; r++) {
    const t: Opened = JSON.parse(await run(["--open", dir, mode]));
    if (!best || t.ms < best.ms) best = t;
  }
  return best!;
}

const load = () => Deno.loadavg().map((x) => x.toFixed(2)).join(" ");
const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
console.log(`open of ${N} keys (16-byte random keys, 100-byte values); load ${load()}`);
console.log(
  "| shape | on disk | close (writes the checkpoint) | open from | open (best of 3) | CPU | per key | " +
    "cat floor | open / cat | peak RSS / steady RSS | open's peak / index estimate |",
);
console.log("|---|---|---|---|---|---|---|---|---|---|---|");
for (const shape of SHAPES) {
  const dir = await Deno.makeTempDir({ prefix: "cask-open-" });
  try {
    const built = await run(["--build", dir, shape]);
    const closeMs = built ? JSON.parse(built).closeMs as number : undefined;
    const bytes = [...Deno.readDirSync(dir)].reduce(
      (n, e) => n + Deno.statSync(`${dir}/${e.name}`).size,
      0,
    );
    for (const mode of ["checkpoint", "log"]) {
      const best = await bestOpen(dir, mode);
      let floor = Infinity;
      for (let r = 0; r < ROUNDS; r++) floor = Math.min(floor, await catFloor(dir));
      const saved = [...Deno.readDirSync(dir)].some((e) => e.name === "checkpoint");
      const from = mode === "log"
        ? (shape === "compacted" ? "log (hint files)" : "log")
        : !saved
        ? "no checkpoint on disk: log"
        : shape.startsWith("crashed")
        ? "checkpoint + the log after it"
        : "checkpoint";
      console.log(
        `| ${shape} | ${mib(bytes)} | ${
          closeMs === undefined ? "–" : `${closeMs.toFixed(0)} ms`
        } | ` +
          `${from} | ${best.ms.toFixed(0)} ms | ${best.cpuMs.toFixed(0)} ms | ` +
          `${(best.ms * 1e6 / N).toFixed(0)} ns | ${floor.toFixed(0)} ms | ` +
          `${(best.ms / floor).toFixed(1)}x | ${
            ((best.peak - best.base) / (best.steady - best.base)).toFixed(2)
          }x | ${((best.peak - best.base) / best.index).toFixed(2)}x |`,
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
console.log(`load after: ${load()}`);
