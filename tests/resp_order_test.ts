// Commands take effect in the order they arrive, as in Redis, although cask
// lets the commands of a pipeline overlap: a read-modify-write or a flush
// followed by a plain SET in one write must not see, or undo, that SET; nor
// may a flush undo what another client sends after it. Each script is run
// against Debian's redis-server and against cask, and the raw replies must be
// the same bytes.
import assert from "node:assert/strict";
import { withDir } from "./helpers.ts";
import { startServe } from "./ports.ts";
import { installed } from "./redis_tools.ts";
import { Client, withServer } from "./resp_client.ts";
import { assertSameAsRedis, type Step } from "./resp_steps.ts";

const hasRedis = await installed("redis-server");
if (!hasRedis) console.log("redis-server not on PATH (apt-get install redis-server): skipping");

// Each sent in one write.
const PIPELINES: string[][][] = [
  [["FLUSHALL"], ["SET", "a", "1"], ["GET", "a"]],
  [["SET", "a", "1"], ["FLUSHDB"], ["SET", "b", "2"], ["DBSIZE"], ["GET", "a"]],
  [["SET", "a", "1"], ["FLUSHALL"], ["MSET", "b", "2", "c", "3"], ["FLUSHALL", "ASYNC"], [
    "SET",
    "d",
    "4",
  ], ["KEYS", "*"]],
  [["SET", "a", "1"], ["RENAME", "a", "b"], ["SET", "a", "2"], ["GET", "a"], ["GET", "b"]],
  [["SET", "a", "1"], ["RENAMENX", "a", "b"], ["SET", "b", "3"], ["GET", "b"]],
  [["SET", "k", "1"], ["DEL", "k"], ["SET", "k", "2"], ["GET", "k"]],
  [["SET", "k", "1"], ["COPY", "k", "c"], ["SET", "k", "2"], ["GET", "c"]],
  [["MSETNX", "m", "1"], ["SET", "m", "2"], ["GET", "m"]],
  [["SET", "k", "1"], ["INCR", "k"], ["SET", "k", "5"], ["GET", "k"]],
  [["SET", "k", "1"], ["APPEND", "k", "x"], ["SET", "k", "y"], ["GET", "k"]],
  [["SET", "k", "1"], ["GETDEL", "k"], ["SET", "k", "2"], ["GET", "k"]],
  [["SET", "k", "1"], ["PEXPIRE", "k", "100000"], ["SET", "k", "2"], ["PTTL", "k"]],
  [["SET", "k", "1"], ["MULTI"], ["FLUSHALL"], ["EXEC"], ["SET", "k", "2"], ["GET", "k"]],
  [["MULTI"], ["SET", "k", "1"], ["RENAME", "k", "j"], ["EXEC"], ["SET", "k", "2"], [
    "MGET",
    "k",
    "j",
  ]],
];

Deno.test({
  name: "redis-server vs cask: a pipeline's commands take effect in request order",
  ignore: !hasRedis,
  async fn() {
    await assertSameAsRedis(PIPELINES.map((send): Step[] => [{ send }]));
  },
});

// Enough keys that listing them takes the flush a while.
const MANY = Array.from({ length: 20_000 }, (_, i) => [`many:${i}`, "v"]).flat();

Deno.test({
  name: "redis-server vs cask: a write sent after another client's FLUSHALL is not flushed",
  ignore: !hasRedis,
  async fn() {
    await assertSameAsRedis([[
      { send: [["MSET", ...MANY]] },
      { send: [["FLUSHALL"]], read: 0 },
      // The server has read the FLUSHALL by then: the SET arrives after it.
      { sleep: 5 },
      { on: 1, send: [["SET", "x", "1"]] },
      { read: 1 },
      { on: 1, send: [["GET", "x"], ["DBSIZE"]] },
    ]]);
  },
});

Deno.test("cask: a pipelined batch of SETs the store refuses for one empty key is retried before what follows", async () => {
  await withServer(async (port) => {
    const c = await Client.connect(port);
    try {
      await c.send(["SET", "k", "1"], ["SET", "", "x"], ["INCR", "k"], ["GET", "k"]);
      const replies = [await c.reply(), await c.reply(), await c.reply(), await c.reply()];
      assert.deepEqual(replies, ["OK", { err: "ERR key must not be empty" }, 2, "2"]);
    } finally {
      c.close();
    }
  });
});

Deno.test("order: EXISTS, TOUCH, KEYS and DBSIZE in MULTI see a RENAME or an EXEC whole, under fsync", async () => {
  await withDir(async (dir) => {
    // `cask serve` in a process of its own (sync "always", commits applied as
    // their inline fsync returns), its clients here.
    const { child, port } = await startServe(dir);
    // Three clients rename a key back and forth, a fourth moves one between two
    // names in transactions: the store always holds one of each pair.
    const pairs = [["x0", "y0"], ["x1", "y1"], ["x2", "y2"], ["p", "q"]];
    const writers = await Promise.all(pairs.map(() => Client.connect(port)));
    const reader = await Client.connect(port);
    let stop = false;
    try {
      for (const [a] of pairs) await reader.call("SET", a, "1");
      const writes = writers.map(async (w, i) => {
        const [a, b] = pairs[i];
        while (!stop) {
          for (const [from, to] of [[a, b], [b, a]]) {
            if (i < 3) await w.call("RENAME", from, to);
            else {
              await w.call("MULTI");
              await w.call("SET", to, "1");
              await w.call("DEL", from);
              await w.call("EXEC");
            }
          }
        }
      });
      const torn: string[] = [];
      const all = pairs.flat();
      const until = Date.now() + 2000;
      let reads = 0;
      try {
        while (Date.now() < until) {
          reads++;
          for (const command of ["EXISTS", "TOUCH"]) {
            const n = await reader.call(command, ...all);
            if (n !== pairs.length) torn.push(`${command}: ${n}`);
          }
          const keys = await reader.call("KEYS", "*") as string[];
          if (!pairs.every((pair) => pair.filter((k) => keys.includes(k)).length === 1)) {
            torn.push(`KEYS: ${keys.sort().join(" ")}`);
          }
          await reader.call("MULTI");
          await reader.call("DBSIZE");
          const [size] = await reader.call("EXEC") as number[];
          if (size !== pairs.length) torn.push(`DBSIZE in MULTI: ${size}`);
        }
      } finally {
        stop = true;
        await Promise.all(writes);
      }
      assert.deepEqual(torn.slice(0, 5), [], `${torn.length} torn views in ${reads} rounds`);
    } finally {
      for (const c of [...writers, reader]) c.close();
      child.kill("SIGTERM");
      await child.stdout.cancel();
      await child.status;
    }
  });
});
