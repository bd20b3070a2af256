/**
 * Readers and backups. `deno run -A bench/readers_bench.ts` (100k keys; set
 * CASK_BENCH_READERS_KEYS=1000000 for 1M, about a minute on 2 cores).
 *
 * Catch-up: a reader opened on an empty store, then a writer writes N keys
 * (16-byte keys, 100-byte values; a third of them batches of 10); `refresh()`
 * applies them all. Against, in the same run: a fresh read-only open of the
 * same files (a full replay), and `refresh()` after a compaction (which
 * reloads the store). Records per second applied.
 *
 * Backup: `backup()` into a fresh target on the same file system (sealed files
 * hard-linked), onto /dev/shm (another device: every byte copied), and again
 * into the first target (nothing changed: what an incremental backup costs).
 * Against: copying the same files with Deno.copyFile plus an fsync of each file
 * and of the directory (what a careful `cp -r` costs, same durability).
 * @module
 */

import { open } from "../mod.ts";

const N = Number(Deno.env.get("CASK_BENCH_READERS_KEYS") ?? 100_000);
const MiB = 1024 * 1024;

const dir = await Deno.makeTempDir({ prefix: "cask-bench-readers-" });
const rows: string[][] = [];
const row = (...cells: string[]) => rows.push(cells);
const fmt = (n: number, digits = 0) =>
  n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });

async function timed<T>(f: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const r = await f();
  return [r, performance.now() - t0];
}

async function dirBytes(d: string): Promise<number> {
  let n = 0;
  for await (const e of Deno.readDir(d)) {
    if (e.isFile) n += (await Deno.stat(`${d}/${e.name}`)).size;
  }
  return n;
}

const targets: string[] = [];
try {
  const w = await open(dir, { sync: "never" });
  // Two readers on the empty store: each catch-up is measured twice, in turn
  // with a fresh open, and the better of each pair reported (the machine is shared).
  const reader = await open(dir, { readOnly: true });
  const second = await open(dir, { readOnly: true });
  const value = new Uint8Array(100).fill(0x2a);
  const key = (i: number) => `key${String(i).padStart(13, "0")}`;
  let i = 0;
  const [, writeMs] = await timed(async () => {
    while (i < N) {
      if (i % 30 === 0 && i + 10 <= N) {
        const base = i;
        await w.atomic(
          Array.from(
            { length: 10 },
            (_, j) => ({ type: "set" as const, key: key(base + j), value }),
          ),
        );
        i += 10;
      } else await w.set(key(i++), value);
    }
    await w.sync();
  });
  const records = N + Math.floor(N / 30); // batches add a commit record each
  let refreshMs = Infinity, openMs = Infinity;
  for (const r of [reader, second]) {
    const [fresh, o] = await timed(() => open(dir, { readOnly: true }));
    await fresh.close();
    const [, c] = await timed(() => r.refresh());
    if (r.size !== N) throw new Error(`reader has ${r.size} keys, not ${N}`);
    [openMs, refreshMs] = [Math.min(openMs, o), Math.min(refreshMs, c)];
  }
  await second.close();
  row(
    "writer: N writes (sync never) + sync",
    `${fmt(writeMs)} ms`,
    `${fmt(N / writeMs * 1000)} keys/s`,
    "",
  );
  row(
    "refresh(): catch up on N new records",
    `${fmt(refreshMs)} ms`,
    `${fmt(records / refreshMs * 1000)} records/s`,
    "1.00×",
  );
  row(
    "peer: fresh read-only open (full replay)",
    `${fmt(openMs)} ms`,
    `${fmt(records / openMs * 1000)} records/s`,
    `${fmt(openMs / refreshMs, 2)}× (refresh vs open)`,
  );
  await w.compact();
  const [, reloadMs] = await timed(() => reader.refresh());
  row(
    "refresh() after a compaction (reload from hints + diff)",
    `${fmt(reloadMs)} ms`,
    `${fmt(N / reloadMs * 1000)} keys/s`,
    `${fmt(openMs / reloadMs, 2)}× (vs fresh open)`,
  );
  // Live bytes after the compaction, plus a tail to copy.
  for (let j = 0; j < N / 10; j++) await w.set(key(j), value);
  await w.sync();
  const size = await dirBytes(dir);

  const same = `${dir}.backup`;
  targets.push(same);
  const [b1, linkMs] = await timed(() => w.backup(same));
  const [b2, againMs] = await timed(() => w.backup(same));
  const shm = await Deno.makeTempDir({ dir: "/dev/shm", prefix: "cask-bench-" }).catch(() => "");
  targets.push(shm);
  const [b3, copyMs] = shm ? await timed(() => w.backup(shm)) : [undefined, NaN];
  const peer = `${dir}.cp`;
  targets.push(peer);
  const [, cpMs] = await timed(async () => {
    await Deno.mkdir(peer);
    for await (const e of Deno.readDir(dir)) {
      if (!/^(data|hint)\.\d+$/.test(e.name)) continue;
      await Deno.copyFile(`${dir}/${e.name}`, `${peer}/${e.name}`);
      using f = await Deno.open(`${peer}/${e.name}`, { read: true });
      await f.syncData();
    }
    using d = await Deno.open(peer, { read: true });
    await d.sync();
  });
  await reader.close();
  await w.close();
  const mib = (b: number) => `${fmt(b / MiB, 1)} MiB`;
  row(
    `backup(), same fs (${b1.filesLinked} of ${b1.files} files linked, ${
      mib(b1.bytesCopied)
    } copied)`,
    `${fmt(linkMs)} ms`,
    `${fmt(size / MiB / linkMs * 1000)} MiB/s of store`,
    `${fmt(cpMs / linkMs, 2)}× (vs peer copy)`,
  );
  row(
    `backup() again, nothing changed (${b2.filesKept} kept, ${mib(b2.bytesCopied)} copied)`,
    `${fmt(againMs)} ms`,
    "",
    `${fmt(cpMs / againMs, 2)}× (vs peer copy)`,
  );
  if (b3) {
    row(
      `backup() onto /dev/shm (tmpfs: ${mib(b3.bytesCopied)} copied)`,
      `${fmt(copyMs)} ms`,
      `${fmt(size / MiB / copyMs * 1000)} MiB/s`,
      `${fmt(cpMs / copyMs, 2)}× (vs peer copy)`,
    );
  }
  row(
    `peer: copyFile + fsync of every file (${mib(size)})`,
    `${fmt(cpMs)} ms`,
    `${fmt(size / MiB / cpMs * 1000)} MiB/s`,
    "1.00×",
  );

  console.log(
    `readers_bench: N = ${fmt(N)} keys (16-byte keys, 100-byte values), store ${
      mib(size)
    } on disk after compaction + ${fmt(N / 10)} overwrites\n`,
  );
  console.log("| what | time | rate | ratio (>1× = Cask faster) |\n| --- | --- | --- | --- |");
  for (const r of rows) console.log(`| ${r.join(" | ")} |`);
} finally {
  await Deno.remove(dir, { recursive: true });
  for (const t of targets) if (t) await Deno.remove(t, { recursive: true }).catch(() => {});
}
