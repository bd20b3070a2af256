// Run with --v8-flags=--expose-gc: prints, as JSON, how many MB of heap and
// external memory an open store still holds after a workload whose promises
// have all settled (collected first).
// Arg: "stream" (values streamed in, fresh chunks each), "watch" (changes seen
// by a watch stream, then cancelled) or "queued" (writes queued behind streams).
import { open, openKv } from "../../mod.ts";

const gc = async () => {
  for (let i = 0; i < 3; i++) {
    (globalThis as unknown as { gc: () => void }).gc();
    await new Promise((r) => setTimeout(r, 20));
  }
};
const used = () => {
  const m = Deno.memoryUsage();
  return (m.heapUsed + m.external) / 1e6;
};

async function streams(dir: string): Promise<number> {
  const db = await open(dir, { sync: "never" });
  const chunk = 64 * 1024, each = 64 * 1024 * 1024;
  await gc();
  const before = used();
  for (let i = 0; i < 3; i++) {
    let left = each;
    await db.setStream(
      `v${i}`,
      new ReadableStream<Uint8Array>({
        pull(c) {
          if (left <= 0) return c.close();
          left -= chunk;
          c.enqueue(new Uint8Array(chunk));
        },
      }),
    );
  }
  await gc();
  const grew = used() - before;
  await db.close();
  return grew;
}

async function watched(dir: string): Promise<number> {
  const kv = await openKv(dir, { sync: "never" });
  const reader = kv.watch([["k"]]).getReader();
  await reader.read();
  await gc();
  const before = used();
  for (let i = 0; i < 5000; i++) {
    await kv.set(["k"], new Uint8Array(10_000));
    await reader.read();
  }
  await reader.cancel();
  await gc();
  const grew = used() - before;
  await kv.close();
  return grew;
}

async function queued(dir: string): Promise<number> {
  const db = await open(dir, { sync: "never" });
  await gc();
  const before = used();
  for (let round = 0; round < 2; round++) {
    let end!: () => void;
    const s = db.setStream(
      "q",
      new ReadableStream<Uint8Array>({
        start(c) {
          end = () => {
            c.enqueue(new Uint8Array(1));
            c.close();
          };
        },
      }),
    );
    const writes: Promise<void>[] = [];
    for (let i = 0; i < 50_000; i++) writes.push(db.set("q", "x"));
    end();
    await s;
    await Promise.all(writes);
  }
  await gc();
  const grew = used() - before;
  await db.close();
  return grew;
}

const cases = { stream: streams, watch: watched, queued };
const run = cases[Deno.args[0] as keyof typeof cases];
const dir = await Deno.makeTempDir({ prefix: "cask-test-" });
try {
  console.log(JSON.stringify({ grewMB: await run(dir) }));
} finally {
  await Deno.remove(dir, { recursive: true });
}
