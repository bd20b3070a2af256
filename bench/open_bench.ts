/**
 * Start-up: how long `open` takes to rebuild the index, for stores of N random
 * 16-byte keys with 100-byte values in three shapes, against the floor of
 * reading the same bytes sequentially (`cat` of every file to /dev/null) in the
 * same run. Each open runs in a fresh process (best of three), which also
 * reports its peak RSS against the index's own memory estimate.
 *
 *   deno run -A bench/open_bench.ts            # 200k keys
 *   CASK_OPEN_KEYS=1000000 deno run -A bench/open_bench.ts
 *
 * Shapes: "written" (each key once), "overwritten" (each key twice: 2N
 * records), "compacted" (overwritten, then compacted: hint files).
 * @module
 */

import { open } from "../mod.ts";

const N = Number(Deno.env.get("CASK_OPEN_KEYS") ?? 200_000);
const ROUNDS = 3;

if (Deno.args[0] === "--open") {
  const t0 = performance.now();
  const db = await open(Deno.args[1], { onWarning: () => {} });
  const ms = performance.now() - t0;
  const { index } = db.stats();
  console.log(JSON.stringify({ ms, rss: Deno.memoryUsage().rss, index: index.bytes }));
  await db.close();
  Deno.exit(0);
}

async function build(dir: string, shape: string): Promise<void> {
  const db = await open(dir, { sync: "never" });
  const keys: Uint8Array[] = [];
  for (let i = 0; i < N; i++) keys.push(crypto.getRandomValues(new Uint8Array(16)));
  const value = new Uint8Array(100).fill(1);
  const passes = shape === "written" ? 1 : 2;
  for (let p = 0; p < passes; p++) {
    const pending: Promise<void>[] = [];
    for (let i = 0; i < N; i++) {
      pending.push(db.set(keys[(i * 7919 + p) % N], value));
      if (pending.length === 1000) await Promise.all(pending.splice(0));
    }
    await Promise.all(pending);
  }
  if (shape === "compacted") await db.compact();
  await db.close();
}

async function timeOpen(dir: string): Promise<{ ms: number; rss: number; index: number }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL(import.meta.url).pathname, "--open", dir],
    stdout: "piped",
  }).output();
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

async function catFloor(dir: string): Promise<number> {
  const files = [...Deno.readDirSync(dir)].filter((e) => e.isFile).map((e) => `${dir}/${e.name}`);
  const t0 = performance.now();
  await new Deno.Command("sh", { args: ["-c", `cat ${files.join(" ")} > /dev/null`] }).output();
  return performance.now() - t0;
}

const load = () => Deno.loadavg().map((x) => x.toFixed(2)).join(" ");
console.log(`open of ${N} keys (16-byte random keys, 100-byte values); load ${load()}`);
console.log(
  "| shape | bytes | open (best of 3) | per key | cat floor | open / cat | peak RSS / index |",
);
console.log("|---|---|---|---|---|---|---|");
for (const shape of ["written", "overwritten", "compacted"]) {
  const dir = await Deno.makeTempDir({ prefix: "cask-open-" });
  try {
    await build(dir, shape);
    const bytes = [...Deno.readDirSync(dir)].reduce(
      (n, e) => n + Deno.statSync(`${dir}/${e.name}`).size,
      0,
    );
    let best = { ms: Infinity, rss: 0, index: 1 };
    let floor = Infinity;
    for (let r = 0; r < ROUNDS; r++) {
      const t = await timeOpen(dir);
      if (t.ms < best.ms) best = t;
      floor = Math.min(floor, await catFloor(dir));
    }
    console.log(
      `| ${shape} | ${(bytes / 2 ** 20).toFixed(0)} MiB | ${best.ms.toFixed(0)} ms | ` +
        `${(best.ms * 1e6 / N).toFixed(0)} ns | ${floor.toFixed(0)} ms | ` +
        `${(best.ms / floor).toFixed(0)}x | ${(best.rss / best.index).toFixed(2)}x |`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
console.log(`load after: ${load()}`);
