/**
 * What index checkpoints cost the writes: a fill of N random 16-byte keys
 * with 100-byte values (1000 writes in flight, sync "never"), with checkpoints
 * on (the default: written in the background after rotations, and at close)
 * and off (`checkpoint: false`), alternating in the same run, each fill in a
 * fresh process and a fresh directory. Reports writes per second, CPU time per
 * write, and the close, which writes the last checkpoint.
 *
 *   deno run -A bench/checkpoint_bench.ts                 # 1M keys, 3 pairs
 *   CASK_CKPT_KEYS=200000 CASK_CKPT_PAIRS=2 deno run -A bench/checkpoint_bench.ts
 * @module
 */

import process from "node:process";
import { open } from "../mod.ts";

const N = Number(Deno.env.get("CASK_CKPT_KEYS") ?? 1_000_000);
const PAIRS = Number(Deno.env.get("CASK_CKPT_PAIRS") ?? 3);

interface Fill {
  opsPerSec: number;
  cpuUsPerOp: number;
  closeMs: number;
  checkpointBytes: number;
}

if (Deno.args[0] === "--fill") {
  const dir = Deno.args[1];
  const db = await open(dir, { sync: "never", checkpoint: Deno.args[2] === "on" });
  let s = 0x9e3779b9;
  const next = () => (s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0);
  const value = new Uint8Array(100).fill(1);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const pending: Promise<void>[] = [];
  for (let i = 0; i < N; i++) {
    const k = new Uint8Array(16);
    const v = new DataView(k.buffer);
    for (let j = 0; j < 16; j += 4) v.setUint32(j, next());
    pending.push(db.set(k, value));
    if (pending.length === 1000) await Promise.all(pending.splice(0));
  }
  await Promise.all(pending);
  await db.sync();
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const c0 = performance.now();
  await db.close();
  const closeMs = performance.now() - c0;
  let checkpointBytes = 0;
  try {
    checkpointBytes = Deno.statSync(`${dir}/checkpoint`).size;
  } catch { /* none written */ }
  const out: Fill = {
    opsPerSec: N / (ms / 1000),
    cpuUsPerOp: (cpu.user + cpu.system) / N,
    closeMs,
    checkpointBytes,
  };
  console.log(JSON.stringify(out));
  Deno.exit(0);
}

async function fill(mode: string): Promise<Fill> {
  const dir = await Deno.makeTempDir({ prefix: "cask-ckpt-" });
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", new URL(import.meta.url).pathname, "--fill", dir, mode],
      stdout: "piped",
      stderr: "inherit",
    }).output();
    return JSON.parse(new TextDecoder().decode(out.stdout));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const load = () => Deno.loadavg().map((x) => x.toFixed(2)).join(" ");
console.log(`fill of ${N} random keys, 1000 in flight, sync "never"; load ${load()}`);
console.log("| pair | checkpoints | writes/s | CPU µs/write | close | on ÷ off (writes/s) |");
console.log("|---|---|---|---|---|---|");
const ratios: number[] = [];
for (let p = 1; p <= PAIRS; p++) {
  // Alternate which side goes first, so drift in the machine's load hits both.
  const order = p % 2 ? ["on", "off"] : ["off", "on"];
  const got: Record<string, Fill> = {};
  for (const mode of order) got[mode] = await fill(mode);
  const ratio = got.on.opsPerSec / got.off.opsPerSec;
  ratios.push(ratio);
  for (const mode of ["on", "off"]) {
    const f = got[mode];
    console.log(
      `| ${p} | ${mode} | ${f.opsPerSec.toFixed(0)} | ${f.cpuUsPerOp.toFixed(2)} | ` +
        `${f.closeMs.toFixed(0)} ms | ${mode === "on" ? `${ratio.toFixed(2)}x` : ""} |`,
    );
  }
}
ratios.sort((a, b) => a - b);
console.log(`median on ÷ off: ${ratios[ratios.length >> 1].toFixed(2)}x; load after: ${load()}`);
