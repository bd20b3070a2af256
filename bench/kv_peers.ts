// `deno task bench:kv`: the same Deno KV workload through Deno.openKv (SQLite) and Cask's
// openKv, each side in its own child process, in the same run, alternating which goes first.
// Durability is equal: Deno KV fsyncs every commit, Cask runs sync "always" (its default),
// where a commit resolves only after fdatasync.

import { openKv } from "../mod.ts";

const SIDES = ["denokv", "caskkv"] as const;
type Side = typeof SIDES[number];

interface Row {
  workload: string;
  ops: number;
  ms: number;
}

const N = Number(Deno.env.get("KV_BENCH_N") ?? 10_000);
const DURABLE = Number(Deno.env.get("KV_BENCH_DURABLE") ?? 1_000);
const ROUNDS = Number(Deno.env.get("KV_BENCH_ROUNDS") ?? 5);
const WRITERS = 64;
const VALUE = new Uint8Array(100).fill(7);

/** A fixed shuffle of 0..n-1, so both sides write and read the same keys in the same order. */
function shuffled(n: number, seed: number): number[] {
  const a = Array.from({ length: n }, (_, i) => i);
  let s = seed;
  for (let i = n - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) >>> 0;
    const j = s % (i + 1);
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

async function timed(workload: string, ops: number, fn: () => Promise<void>): Promise<Row> {
  const t0 = performance.now();
  await fn();
  return { workload, ops, ms: performance.now() - t0 };
}

async function runSide(side: Side, dir: string): Promise<Row[]> {
  const kv: Deno.Kv = side === "denokv"
    ? await Deno.openKv(`${dir}/kv.sqlite3`)
    : await openKv(dir);
  const order = shuffled(N, 1);
  const rows: Row[] = [];
  // Loading N keys one durable commit each would take minutes on Deno KV: load in atomics
  // of 1000 (its mutation limit), then measure single durable commits on their own keys.
  rows.push(
    await timed("load (atomic x1000)", N, async () => {
      for (let s = 0; s < N; s += 1000) {
        const op = kv.atomic();
        for (const i of order.slice(s, s + 1000)) op.set(["k", i], VALUE);
        await op.commit();
      }
    }),
  );
  rows.push(
    await timed("set (awaited, durable)", DURABLE, async () => {
      for (const i of shuffled(DURABLE, 2)) await kv.set(["d", i], VALUE);
    }),
  );
  rows.push(
    await timed(`set (${WRITERS} concurrent, durable)`, DURABLE, async () => {
      const next = shuffled(DURABLE, 3);
      await Promise.all(Array.from({ length: WRITERS }, async () => {
        for (let i = next.pop(); i !== undefined; i = next.pop()) await kv.set(["c", i], VALUE);
      }));
    }),
  );
  rows.push(
    await timed("get (awaited, random)", N, async () => {
      for (const i of shuffled(N, 4)) {
        if ((await kv.get(["k", i])).value === null) {
          throw new Error(`${side}: ["k", ${i}] missing`);
        }
      }
    }),
  );
  rows.push(
    await timed("list (prefix, 3 passes)", 3 * N, async () => {
      for (let pass = 0; pass < 3; pass++) {
        let n = 0;
        for await (const _ of kv.list({ prefix: ["k"] })) n++;
        if (n !== N) throw new Error(`${side}: listed ${n} of ${N}`);
      }
    }),
  );
  rows.push(
    await timed("get + atomic check/set (durable)", DURABLE, async () => {
      for (const i of shuffled(DURABLE, 5)) {
        const e = await kv.get<Uint8Array>(["d", i]);
        const r = await kv.atomic().check(e).set(["d", i], VALUE).commit();
        if (!r.ok) throw new Error(`${side}: check failed on an uncontended key`);
      }
    }),
  );
  if (side === "caskkv") await (kv as unknown as { close(): Promise<void> }).close();
  else kv.close();
  return rows;
}

async function child(side: Side): Promise<Row[]> {
  const dir = await Deno.makeTempDir({ prefix: `cask-kvbench-${side}-` });
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--unstable-kv", new URL(import.meta.url).pathname, side, dir],
      stdout: "piped",
      stderr: "inherit",
    }).output();
    if (!out.success) throw new Error(`${side} child failed`);
    return JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (Deno.args.length === 2) {
  console.log(JSON.stringify(await runSide(Deno.args[0] as Side, Deno.args[1])));
} else {
  const runs: Record<Side, Row[][]> = { denokv: [], caskkv: [] };
  for (let round = 0; round < ROUNDS; round++) {
    const sides = round % 2 === 0 ? SIDES : [...SIDES].reverse();
    for (const side of sides) {
      console.error(`round ${round + 1}: ${side}`);
      runs[side].push(await child(side));
    }
  }
  const rate = (r: Row) => r.ops / (r.ms / 1000);
  const fmt = (x: number) => Math.round(x).toLocaleString("en-US");
  console.log(
    `N = ${N} keys of ["k", i] with 100-byte values; ${DURABLE} durable commits per durable row; ${ROUNDS} rounds, ops/s per round`,
  );
  console.log("| workload | Deno KV ops/s | Cask openKv ops/s | Cask / Deno KV | median ratio |");
  console.log("|---|---:|---:|---:|---:|");
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  for (let w = 0; w < runs.denokv[0].length; w++) {
    const d = runs.denokv.map((rows) => rate(rows[w]));
    const c = runs.caskkv.map((rows) => rate(rows[w]));
    // Ratios pair the two sides of one round, which ran back to back.
    const ratios = d.map((x, i) => c[i] / x);
    console.log(
      `| ${runs.denokv[0][w].workload} | ${d.map(fmt).join(" / ")} | ${c.map(fmt).join(" / ")} | ${
        ratios.map((r) => r.toFixed(2) + "x").join(" / ")
      } | ${median(ratios).toFixed(2)}x |`,
    );
  }
}
