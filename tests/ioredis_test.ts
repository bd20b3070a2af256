// A real npm client, ioredis, against the RESP server: pipelines, MULTI/EXEC,
// WATCH with a conflicting second client, binary values, AUTH.
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { Redis } from "ioredis";
import { withServer } from "./resp_client.ts";

// ioredis 6 speaks RESP3 (HELLO 3) unless told otherwise; every test runs in both.
for (const protocol of [3, 2] as const) {
  const withClients = async (
    port: number,
    n: number,
    fn: (...clients: Redis[]) => Promise<void>,
    password?: string,
  ): Promise<void> => {
    const clients = Array.from(
      { length: n },
      () => new Redis({ host: "127.0.0.1", port, password, protocol, maxRetriesPerRequest: 0 }),
    );
    try {
      await fn(...clients);
    } finally {
      await Promise.all(clients.map((c) => c.quit().catch(() => c.disconnect())));
    }
  };

  Deno.test(`ioredis RESP${protocol}: pipelines, counters and expiries`, async () => {
    await withServer(async (port) => {
      await withClients(port, 1, async (r) => {
        const pipeline = r.pipeline();
        for (let i = 0; i < 500; i++) pipeline.set(`key:${i}`, `value-${i}`);
        pipeline.incrby("n", 5).incrbyfloat("f", 1.25).append("s", "ab").append("s", "cd");
        pipeline.mget("key:0", "key:499", "missing").setex("t", 100, "x").ttl("t");
        const results = await pipeline.exec();
        assert.ok(results !== null);
        for (const [err] of results) assert.equal(err, null);
        const tail = results.slice(500).map(([, v]) => v);
        assert.deepEqual(tail, [5, "1.25", 2, 4, ["value-0", "value-499", null], "OK", 100]);
        assert.equal(await r.dbsize(), 504);
        assert.equal(await r.strlen("s"), 4);
        assert.equal(await r.type("s"), "string");
        assert.equal(await r.getdel("s"), "abcd");
        assert.equal(await r.exists("s"), 0);
        assert.equal(await r.set("n", "9223372036854775807"), "OK");
        await assert.rejects(r.incr("n"), /increment or decrement would overflow/);
        assert.equal(await r.pexpire("t", 5000, "GT"), 0);
        assert.equal(await r.pexpire("t", 5000, "LT"), 1);
        const pttl = await r.pttl("t");
        assert.ok(pttl > 4000 && pttl <= 5000, String(pttl));
      });
    });
  });

  Deno.test(`ioredis RESP${protocol}: binary keys and values round-trip unchanged`, async () => {
    await withServer(async (port) => {
      await withClients(port, 1, async (r) => {
        const value = Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 7) % 256));
        const key = Buffer.from([0, 255, 13, 10, 42]);
        assert.equal(await r.set(key, value), "OK");
        assert.ok(value.equals((await r.getBuffer(key))!));
        assert.equal(await r.append(key, Buffer.from([0, 1])), 70_002);
        const back = await r.getBuffer(key);
        assert.ok(back !== null && back.subarray(70_000).equals(Buffer.from([0, 1])));
        assert.deepEqual(await r.keysBuffer("*"), [key]);
      });
    });
  });

  Deno.test(`ioredis RESP${protocol}: MULTI/EXEC, and WATCH losing to another client`, async () => {
    await withServer(async (port) => {
      await withClients(port, 2, async (a, b) => {
        const results = await a.multi().set("x", "1").incr("x").get("x").exec();
        assert.deepEqual(results, [[null, "OK"], [null, 2], [null, "2"]]);
        assert.equal(await a.watch("x"), "OK");
        assert.equal(await b.incr("x"), 3);
        assert.equal(await a.multi().set("x", "100").exec(), null);
        assert.equal(await a.get("x"), "3");
        assert.equal(await a.watch("x"), "OK");
        assert.deepEqual(await a.multi().set("x", "100").exec(), [[null, "OK"]]);
        assert.equal(await b.get("x"), "100");
        // A command refused while queueing aborts the whole transaction.
        const tx = a.multi();
        // deno-lint-ignore no-explicit-any
        (tx as any).call("NOSUCHCOMMAND");
        tx.set("x", "never");
        await assert.rejects(tx.exec(), /EXECABORT/);
        assert.equal(await a.get("x"), "100");
      });
    });
  });

  Deno.test(`ioredis RESP${protocol}: password auth through the client's options`, async () => {
    await withServer(async (port) => {
      await withClients(port, 1, async (r) => {
        assert.equal(await r.set("k", "v"), "OK");
        assert.equal(await r.client("GETNAME"), null);
      }, "pw");
      const unauthenticated = new Redis({
        host: "127.0.0.1",
        port,
        protocol,
        maxRetriesPerRequest: 0,
        enableReadyCheck: false,
      });
      try {
        await assert.rejects(unauthenticated.get("k"), /NOAUTH/);
      } finally {
        unauthenticated.disconnect();
      }
    }, { password: "pw" });
  });
}
