// Physical limits of this machine through the same Deno APIs a store would use, so each
// engine's numbers can be read as a fraction of what the runtime + filesystem allow.

import { closeSync, openSync, readSync } from "node:fs";
import { mulberry32, randomBytes } from "./data.ts";
import { elapsedMs, MiB, mibPerSec, type Result } from "./measure.ts";

const SEQ_BYTES = 256 * MiB;
const SYNC_ROUNDS = 200;
const READ_FILE_BYTES = 64 * MiB;
const SYNC_READS = 500_000;
const ASYNC_READS = 100_000;
const RECORD = 100;

async function seqWrite(dir: string, out: Result[]): Promise<void> {
  const chunk = randomBytes(MiB, 21);
  using f = await Deno.open(`${dir}/seq`, { write: true, create: true, truncate: true });
  const writeAll = async () => {
    for (let done = 0; done < SEQ_BYTES; done += MiB) {
      let off = 0;
      while (off < MiB) off += await f.write(chunk.subarray(off));
    }
  };
  out.push({ ...mibPerSec("raw-seq-write", SEQ_BYTES, await elapsedMs(writeAll)) });
  await f.truncate(0);
  await f.seek(0, Deno.SeekMode.Start);
  const ms = await elapsedMs(async () => {
    await writeAll();
    await f.syncData();
  });
  out.push(mibPerSec("raw-seq-write-synced", SEQ_BYTES, ms));
}

async function syncLatency(dir: string, out: Result[]): Promise<void> {
  const rec = randomBytes(RECORD, 22);
  using f = await Deno.open(`${dir}/sync`, { append: true, create: true });
  const lat: number[] = [];
  for (let i = 0; i < SYNC_ROUNDS; i++) {
    lat.push(
      await elapsedMs(async () => {
        await f.write(rec);
        await f.syncData();
      }),
    );
  }
  lat.sort((a, b) => a - b);
  const median = lat[lat.length >> 1];
  out.push({ workload: "raw-append-fdatasync", value: median * 1000, unit: "µs", better: "lower" });
}

async function positionalReads(dir: string, out: Result[]): Promise<void> {
  const path = `${dir}/reads`;
  await Deno.writeFile(path, randomBytes(READ_FILE_BYTES, 23));
  await Deno.readFile(path); // make sure every page is cached
  using f = await Deno.open(path, { read: true });
  const buf = new Uint8Array(RECORD);
  const next = mulberry32(24);
  const at = () => next() % (READ_FILE_BYTES - RECORD);
  const syncMs = await elapsedMs(() => {
    for (let i = 0; i < SYNC_READS; i++) {
      f.seekSync(at(), Deno.SeekMode.Start);
      f.readSync(buf);
    }
    return Promise.resolve();
  });
  out.push({
    workload: "raw-pread-sync",
    value: syncMs * 1e6 / SYNC_READS,
    unit: "ns",
    better: "lower",
  });
  const asyncMs = await elapsedMs(async () => {
    for (let i = 0; i < ASYNC_READS; i++) {
      await f.seek(at(), Deno.SeekMode.Start);
      await f.read(buf);
    }
  });
  // node:fs's positional read is a single pread(2), the path Cask's get() uses.
  const fd = openSync(path, "r");
  const nodeMs = await elapsedMs(() => {
    for (let i = 0; i < SYNC_READS; i++) readSync(fd, buf, 0, RECORD, at());
    return Promise.resolve();
  });
  closeSync(fd);
  out.push({
    workload: "raw-pread-node",
    value: nodeMs * 1e6 / SYNC_READS,
    unit: "ns",
    better: "lower",
  });
  out.push({
    workload: "raw-pread-async",
    value: asyncMs * 1e6 / ASYNC_READS,
    unit: "ns",
    better: "lower",
  });
}

export async function runRaw(dir: string, log: (msg: string) => void): Promise<Result[]> {
  const out: Result[] = [];
  for (
    const [name, probe] of [["sequential write", seqWrite], ["append+fdatasync", syncLatency], [
      "positional reads",
      positionalReads,
    ]] as const
  ) {
    log(name);
    await probe(dir, out);
  }
  return out;
}
