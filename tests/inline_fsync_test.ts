/**
 * `inlineFsync`: the fsync of a group commit runs on the JavaScript thread. It
 * must still leave the event loop its turns between commits, keep every
 * acknowledged write (the crash and fsync-order suites run it too), and take
 * only a boolean.
 */
import assert from "node:assert/strict";
import { InvalidArgumentError, open } from "../mod.ts";
import { withDir } from "./helpers.ts";

Deno.test("inlineFsync must be a boolean, and the directory is left untouched", () =>
  withDir(async (dir) => {
    await assert.rejects(
      open(dir, { inlineFsync: "yes" as unknown as boolean }),
      InvalidArgumentError,
    );
    assert.deepEqual([...Deno.readDirSync(dir)], []);
  }));

Deno.test("writers that await only the store leave timers their turn between inline fsyncs", () =>
  withDir(async (dir) => {
    const db = await open(dir, { sync: "always", inlineFsync: true });
    // The first write creates the data file, whose directory fsync is not inline.
    await db.set("first", "");
    const total = 2000;
    let acked = 0;
    let ackedWhenTimerRan = -1;
    const timer = setTimeout(() => ackedWhenTimerRan = acked, 0);
    try {
      let next = 0;
      const writer = async () => {
        while (next < total) {
          await db.set(`k${next++}`, "v".repeat(100));
          acked++;
        }
      };
      await Promise.all(Array.from({ length: 64 }, writer));
    } finally {
      clearTimeout(timer);
      await db.close();
    }
    // Each commit round's writers start the next round from microtasks alone:
    // without a turn of the loop between rounds, the timer would wait for all.
    assert.ok(
      ackedWhenTimerRan >= 0 && ackedWhenTimerRan < total,
      `the timer ran after ${ackedWhenTimerRan} of ${total} acknowledgements`,
    );
    const again = await open(dir, { inlineFsync: true });
    try {
      assert.equal(again.size, total + 1);
      assert.equal(new TextDecoder().decode(await again.get(`k${total - 1}`)), "v".repeat(100));
    } finally {
      await again.close();
    }
  }));

Deno.test("sockets get their turn between inline fsyncs, not only timers", () =>
  withDir(async (dir) => {
    const db = await open(dir, { sync: "always", inlineFsync: true });
    await db.set("first", "");
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const echo = (async () => {
      for await (const conn of listener) {
        const buf = new Uint8Array(64);
        for (let n; (n = await conn.read(buf)) !== null;) await conn.write(buf.subarray(0, n));
        conn.close();
      }
    })();
    let stop = false;
    const writers = Array.from({ length: 64 }, async (_, w) => {
      for (let i = 0; !stop; i++) await db.set(`k${w}:${i % 100}`, "v".repeat(100));
    });
    const client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
    let pings = 0;
    try {
      const buf = new Uint8Array(8);
      for (const end = performance.now() + 1000; performance.now() < end; pings++) {
        await client.write(Uint8Array.of(1));
        await client.read(buf);
      }
    } finally {
      stop = true;
      client.close();
      await Promise.all(writers);
      listener.close();
      await echo.catch(() => {});
      await db.close();
    }
    // A round trip waits for an fsync or two (about 750 a second on a quiet
    // machine); when only immediates separated the rounds, one waited for about
    // 50 of them: 5-15 a second. The bound leaves room for a loaded machine.
    assert.ok(pings >= 60, `${pings} pings in a second beside 64 writers`);
  }));
