// The server's value cache must never change what a client sees: unit tests
// of its rules, a differential run against a server without it, and readers
// racing a writer that must never see a value go back in time.
import assert from "node:assert/strict";
import { ValueCache } from "../src/resp/value_cache.ts";
import { Client, type Reply, withServer } from "./resp_client.ts";

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array | null | undefined) => b && new TextDecoder().decode(b);

Deno.test("value cache: keeps a read, drops it on a write, refuses a raced read", () => {
  const cache = new ValueCache(1 << 20);
  const k = bytes("k");
  cache.keep(cache.ticket(), k, bytes("v1"), 0);
  assert.equal(text(cache.get(k)), "v1");

  cache.issued([k]);
  assert.equal(cache.get(k), undefined, "a write drops the key when issued");
  // While the write runs, nothing read may be kept: it could be the old value.
  assert.equal(cache.ticket(), undefined);
  cache.settled();

  const before = cache.ticket();
  cache.issued([bytes("other")]);
  cache.settled();
  cache.keep(before, k, bytes("stale"), 0);
  assert.equal(cache.get(k), undefined, "a read that a write overtook is not kept");

  cache.keep(cache.ticket(), k, bytes("v2"), 0);
  assert.equal(text(cache.get(k)), "v2");
});

Deno.test("value cache: keeps a key's absence until a write to it", () => {
  const cache = new ValueCache(1 << 20);
  const k = bytes("k");
  cache.keep(cache.ticket(), k, null, 0);
  assert.equal(cache.get(k), null, "known absent");
  assert.equal(cache.get(bytes("other")), undefined, "unknown");
  cache.issued([k]);
  cache.settled();
  assert.equal(cache.get(k), undefined, "a write drops the absence");
});

Deno.test("server: a GET that missed sees the key once it is written", async () => {
  await withServer(async (port) => {
    const c = await Client.connect(port);
    try {
      assert.equal(await c.call("GET", "k"), null);
      assert.equal(await c.call("EXISTS", "k"), 0);
      assert.equal(await c.call("SET", "k", "v"), "OK");
      assert.equal(await c.call("GET", "k"), "v");
      assert.equal(await c.call("DEL", "k"), 1);
      assert.equal(await c.call("GET", "k"), null);
      assert.equal(await c.call("GET", "k"), null);
      assert.equal(await c.call("INCR", "k"), 1);
      assert.equal(await c.call("GET", "k"), "1");
      const info = String(await c.call("INFO", "stats"));
      assert.match(info, /keyspace_misses:3/);
    } finally {
      c.close();
    }
  });
});

Deno.test("value cache: keys whose hashes collide are kept and dropped apart", () => {
  // Found by search: FNV-1a of these, cut to 30 bits, is the same number.
  const [a, b] = [bytes("k32728"), bytes("k261234")];
  const cache = new ValueCache(1 << 20);
  cache.keep(cache.ticket(), a, bytes("A"), 0);
  cache.keep(cache.ticket(), b, bytes("B"), 0);
  assert.equal(cache.size, 2);
  assert.equal(text(cache.get(a)), "A");
  assert.equal(text(cache.get(b)), "B");
  cache.issued([b]);
  cache.settled();
  assert.equal(cache.get(b), undefined);
  assert.equal(text(cache.get(a)), "A");
  cache.keep(cache.ticket(), b, bytes("B2"), 0);
  cache.issued([a]);
  cache.settled();
  assert.equal(cache.get(a), undefined);
  assert.equal(text(cache.get(b)), "B2");
  assert.equal(cache.size, 1);
});

Deno.test("value cache: copies what it keeps, honours expiry, size limits and the budget", () => {
  const cache = new ValueCache(4096, 1024);
  const source = bytes("abc");
  cache.keep(cache.ticket(), bytes("copy"), source, 0);
  source[0] = 0x7a;
  assert.equal(text(cache.get(bytes("copy"))), "abc");

  cache.keep(cache.ticket(), bytes("gone"), bytes("x"), Date.now() - 1);
  assert.equal(cache.get(bytes("gone")), undefined);
  cache.keep(cache.ticket(), bytes("later"), bytes("x"), Date.now() + 60_000);
  assert.equal(text(cache.get(bytes("later"))), "x");

  cache.keep(cache.ticket(), bytes("big"), new Uint8Array(1025), 0);
  assert.equal(cache.get(bytes("big")), undefined, "values above the per-value limit are not kept");

  for (let i = 0; i < 100; i++) cache.keep(cache.ticket(), bytes(`k${i}`), new Uint8Array(100), 0);
  assert.ok(cache.bytes <= 4096, `${cache.bytes} bytes held`);
  assert.ok(cache.get(bytes("k99")) !== undefined, "the newest entry stays");
  assert.equal(cache.get(bytes("k0")), undefined, "the oldest entries go first");

  const off = new ValueCache(0);
  off.keep(off.ticket(), bytes("k"), bytes("v"), 0);
  assert.equal(off.size, 0);
});

Deno.test("value cache: many random keeps, writes and reads agree with a model, within the budget", () => {
  // A small budget makes the ring wrap and evict all the time.
  for (const [budget, keys] of [[600, 40], [2048, 40], [9000, 40], [200_000, 3000]]) {
    const rand = seeded(budget);
    const cache = new ValueCache(budget, 300);
    const model = new Map<string, string | null>();
    for (let step = 0; step < 20_000; step++) {
      const name = `k${Math.floor(rand() * keys)}`.repeat(1 + Math.floor(rand() * 3));
      const key = bytes(name);
      const roll = rand();
      if (roll < 0.4) {
        const value = rand() < 0.2 ? null : "v".repeat(Math.floor(rand() * 200));
        cache.keep(cache.ticket(), key, value === null ? null : bytes(value), 0);
        model.set(name, value);
        if (value === null || value.length <= 300) {
          const got = cache.get(key);
          assert.equal(got === null ? null : text(got), value, "the newest entry is found");
        }
      } else if (roll < 0.55) {
        cache.issued([key]);
        cache.settled();
        model.delete(name);
        assert.equal(cache.get(key), undefined);
      } else {
        const got = cache.get(key);
        if (got !== undefined) {
          assert.ok(model.has(name), `${name} cached but dropped`);
          assert.equal(got === null ? null : text(got), model.get(name), name);
        }
      }
      assert.ok(cache.bytes <= budget, `${cache.bytes} bytes held of ${budget}`);
    }
    let found = 0;
    for (const name of model.keys()) if (cache.get(bytes(name)) !== undefined) found++;
    assert.equal(found, cache.size, "every entry held is reachable");
  }
});

// Commands that write, read or both, over a few keys; GETs dominate so that
// values are cached when the next write comes.
const KEYS = ["a", "b", "c", "n"];
function randomCommand(rand: () => number): string[] {
  const k = KEYS[Math.floor(rand() * KEYS.length)];
  const v = String(Math.floor(rand() * 100));
  const choices: string[][] = [
    ["GET", k],
    ["GET", k],
    ["GET", k],
    ["MGET", k, "a", "n"],
    ["STRLEN", k],
    ["EXISTS", k],
    ["SET", k, v],
    ["SET", k, v, "NX"],
    ["SET", k, v, "XX", "GET"],
    ["SET", k, v, "EX", "1000"],
    ["MSET", k, v, "b", v],
    ["INCR", "n"],
    ["INCRBY", "n", v],
    ["APPEND", k, v],
    ["GETSET", k, v],
    ["GETDEL", k],
    ["GETEX", k, "PX", "100000"],
    ["DEL", k],
    ["UNLINK", k, "b"],
    ["RENAME", k, "c"],
    ["SETNX", k, v],
    ["PEXPIRE", k, "-1"],
    ["EXPIRE", k, "1000"],
    ["PERSIST", k],
    ["MSETNX", k, v],
    ["FLUSHDB"],
  ];
  return choices[Math.floor(rand() * choices.length)];
}

function seeded(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648;
  };
}

// Runs the same pipelines, two clients alternating, and returns every reply.
async function replay(port: number, seed: number): Promise<Reply[]> {
  const rand = seeded(seed);
  const clients = [await Client.connect(port), await Client.connect(port)];
  const replies: Reply[] = [];
  try {
    for (let round = 0; round < 60; round++) {
      const c = clients[round % 2];
      const pipeline: string[][] = [];
      const depth = 1 + Math.floor(rand() * 8);
      for (let i = 0; i < depth; i++) pipeline.push(randomCommand(rand));
      if (round % 7 === 3) pipeline.unshift(["MULTI"]), pipeline.push(["EXEC"]);
      await c.send(...pipeline);
      for (let i = 0; i < pipeline.length; i++) replies.push(await c.reply());
    }
  } finally {
    for (const c of clients) c.close();
  }
  return replies;
}

Deno.test("server: replies are the same with and without the value cache", async () => {
  // A few hundred bytes of cache hold a handful of entries: its ring wraps and
  // evicts all the time, which the default size never does here.
  const budgets = [undefined, 300, 450, 700];
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    let cached: Reply[] = [];
    let uncached: Reply[] = [];
    await withServer(async (port) => {
      cached = await replay(port, seed);
    }, { valueCacheBytes: budgets[seed % budgets.length] });
    await withServer(async (port) => {
      uncached = await replay(port, seed);
    }, { valueCacheBytes: 0 });
    assert.deepEqual(cached, uncached, `seed ${seed}`);
  }
});

Deno.test("server: a cached value expires on time", async () => {
  await withServer(async (port) => {
    const c = await Client.connect(port);
    try {
      assert.equal(await c.call("SET", "k", "v", "PX", "80"), "OK");
      assert.equal(await c.call("GET", "k"), "v");
      assert.equal(await c.call("GET", "k"), "v");
      await new Promise((r) => setTimeout(r, 120));
      assert.equal(await c.call("GET", "k"), null);
    } finally {
      c.close();
    }
  });
});

// Readers poll one key while a writer pipelines ever larger values with
// fsync on, so reads run while writes are in flight. No reader may see a value
// and then an older one, and once a write is acknowledged every later read
// sees it (or something newer).
Deno.test("server: readers never see a value go back in time while writes are in flight", async () => {
  await withServer(
    async (port) => {
      const writer = await Client.connect(port);
      const readers = [await Client.connect(port), await Client.connect(port)];
      let acknowledged = 0;
      let done = false;
      try {
        await writer.call("SET", "k", "0");
        const reading = readers.map(async (r) => {
          let last = 0;
          while (!done) {
            const floor = acknowledged;
            await r.send(["GET", "k"], ["GET", "k"], ["GET", "k"]);
            for (let i = 0; i < 3; i++) {
              const seen = Number(await r.reply());
              assert.ok(seen >= last, `saw ${seen} after ${last}`);
              assert.ok(seen >= floor, `saw ${seen} after ${floor} was acknowledged`);
              last = seen;
            }
          }
        });
        for (let n = 1; n <= 300; n += 3) {
          await writer.send(["SET", "k", String(n)], ["SET", "k", String(n + 1)], [
            "SET",
            "k",
            String(n + 2),
          ]);
          for (let i = 0; i < 3; i++) assert.equal(await writer.reply(), "OK");
          acknowledged = n + 2;
        }
        done = true;
        await Promise.all(reading);
        assert.equal(await readers[0].call("GET", "k"), String(acknowledged));
      } finally {
        done = true;
        writer.close();
        for (const r of readers) r.close();
      }
    },
    {},
    "always",
  );
});

Deno.test("server: a refused write in a pipeline of blind writes fails alone", async () => {
  await withServer(async (port) => {
    const c = await Client.connect(port);
    try {
      // The store refuses an empty key; the writes around it must still happen.
      await c.send(["SET", "a", "1"], ["SET", "", "x"], ["MSET", "b", "2", "c", "3"], [
        "SET",
        "a",
        "4",
      ], ["GET", "a"]);
      const replies = [];
      for (let i = 0; i < 5; i++) replies.push(await c.reply());
      assert.equal(replies[0], "OK");
      assert.ok(typeof replies[1] === "object" && replies[1] !== null && "err" in replies[1]);
      assert.deepEqual(replies.slice(2), ["OK", "OK", "4"]);
      assert.deepEqual(await c.call("MGET", "a", "b", "c"), ["4", "2", "3"]);
      assert.equal(await c.call("DBSIZE"), 3);
    } finally {
      c.close();
    }
  });
});
