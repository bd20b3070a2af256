// Differential test with random scripts: seeded sequences of string, keyspace,
// expiry and transaction commands, with valid and invalid arguments, over a
// few keys, sent to Debian's redis-server and to cask's RESP server; every
// reply must be identical. KEYS answers in no particular order in Redis, so
// its keys are compared sorted. Left out is what the README lists as
// different: SELECT of a database other than 0, and SCAN inside MULTI. Skips
// without redis-server.
import assert from "node:assert/strict";
import { Client, type Reply, withServer } from "./resp_client.ts";
import { prng } from "./helpers.ts";
import { installed, withRedis } from "./redis_tools.ts";

const hasRedis = await installed("redis-server");
if (!hasRedis) console.log("redis-server not on PATH (apt-get install redis-server): skipping");

const KEYS = ["a", "b", "c", "k:1", "k:2", "k:10", "num", "\u00ff", "ab"];
const VALUES = [
  "",
  "x",
  "hello",
  "10",
  "-5",
  "3.5",
  "0.1",
  "9223372036854775807",
  "1e3",
  " 1",
  "007",
];
const INTEGERS = ["1", "-1", "0", "100", "9223372036854775807", "-9223372036854775808", "2.5", "x"];
const FLOATS = ["1.5", "-2", "0.1", "0.2", "x", "1e3", "0x10", "inf", "1e400", ".5"];
// Relative expiries are 1000 + the command's index seconds, so that no two are
// within a second of each other: EXPIRE's GT and LT then compare the same way
// on both servers, whatever the milliseconds between commands.
const expiries = (i: number) => [
  ["EX", String(1000 + i)],
  ["PX", String((1000 + i) * 1000)],
  ["EXAT", "4102444800"],
  ["EX", "0"],
  ["EX", "x"],
];
const SET_WORDS = [[], ["NX"], ["XX"], ["GET"], ["KEEPTTL"], ["GET", "GET"], ["NX", "XX"]];

function script(rand: () => number, length: number): string[][] {
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)];
  let i = 0;
  const commands: (() => string[])[] = [
    () => [
      "SET",
      pick(KEYS),
      pick(VALUES),
      ...pick(SET_WORDS),
      ...(rand() < 0.3 ? pick(expiries(i)) : []),
    ],
    () => ["GET", pick(KEYS)],
    () => ["MGET", pick(KEYS), pick(KEYS)],
    () => ["DEL", pick(KEYS), pick(KEYS)],
    () => ["EXISTS", pick(KEYS), pick(KEYS)],
    () => [pick(["INCR", "DECR"]), pick(KEYS)],
    () => [pick(["INCRBY", "DECRBY"]), pick(KEYS), pick(INTEGERS)],
    () => ["INCRBYFLOAT", pick(KEYS), pick(FLOATS)],
    () => ["APPEND", pick(KEYS), pick(VALUES)],
    () => ["STRLEN", pick(KEYS)],
    () => [pick(["GETSET", "SETNX"]), pick(KEYS), pick(VALUES)],
    () => ["GETDEL", pick(KEYS)],
    () => ["GETEX", pick(KEYS), ...pick([[], ["PERSIST"], ...expiries(i), ["EX", "1", "PX", "1"]])],
    () => ["MSET", pick(KEYS), pick(VALUES), pick(KEYS), pick(VALUES)],
    () => ["MSETNX", pick(KEYS), pick(VALUES), pick(KEYS), pick(VALUES)],
    () => [pick(["RENAME", "RENAMENX"]), pick(KEYS), pick(KEYS)],
    () => ["COPY", pick(KEYS), pick(KEYS), ...(rand() < 0.5 ? ["REPLACE"] : [])],
    () => ["SETRANGE", pick(KEYS), pick(["0", "3", "-1", "x"]), pick(["", "ab"])],
    () => ["GETRANGE", pick(KEYS), pick(["0", "-3", "2", "x"]), pick(["-1", "2", "100"])],
    () => [
      "EXPIRE",
      pick(KEYS),
      pick([String(1000 + i), "-1", "x"]),
      ...pick([[], ["NX"], ["XX"], ["GT"], ["lt"], ["NX", "XX"], ["foo"]]),
    ],
    () => ["PERSIST", pick(KEYS)],
    () => ["TTL", pick(KEYS)],
    () => ["TYPE", pick(KEYS)],
    () => ["SETEX", pick(KEYS), pick([String(1000 + i), "0", "x"]), pick(VALUES)],
    () => ["PSETEX", pick(KEYS), pick([String((1000 + i) * 1000), "0", "x"]), pick(VALUES)],
    () => pick([["MULTI"], ["EXEC"], ["DISCARD"], ["UNWATCH"], ["WATCH", pick(KEYS)]]),
    () => pick([["FLUSHDB"], ["PING"], ["ECHO", pick(VALUES)], ["SELECT", pick(["0", "x"])]]),
    () => pick([["DBSIZE"], ["KEYS", pick(["*", "k:*", "?", "[ab]*", "k:1?"])]]),
    () => pick([["GET"], ["SET", pick(KEYS)], ["NOSUCHCOMMAND", pick(KEYS)], ["EXPIRE", "a"]]),
  ];
  return Array.from({ length }, (_, n) => {
    i = n;
    return pick(commands)();
  });
}

// TTLs tick between the two runs: any positive one counts as the same.
function normal(command: string[], reply: Reply): Reply {
  if (command[0] === "KEYS" && Array.isArray(reply)) return reply.toSorted();
  return command[0] === "TTL" && typeof reply === "number" && reply > 0 ? "positive" : reply;
}

async function replies(port: number, commands: string[][]): Promise<Reply[]> {
  const c = await Client.connect(port);
  try {
    const out: Reply[] = [];
    // The commands queued since MULTI, whose replies come in EXEC's.
    let queued: string[][] | undefined;
    for (const command of commands) {
      let reply = normal(command, await c.call(...command));
      if (command[0] === "MULTI" && reply === "OK") queued = [];
      else if (queued && reply === "QUEUED") queued.push(command);
      else if (queued && (command[0] === "EXEC" || command[0] === "DISCARD")) {
        const q = queued;
        if (Array.isArray(reply)) reply = reply.map((r, i) => normal(q[i], r));
        queued = undefined;
      }
      out.push(reply);
    }
    return out;
  } finally {
    c.close();
  }
}

for (const seed of [1, 2, 3]) {
  Deno.test({
    name: `redis-server vs cask: random script (seed ${seed}), identical replies`,
    ignore: !hasRedis,
    async fn() {
      const commands = script(prng(seed), 2500);
      let expected: Reply[] = [];
      await withRedis(async (port) => {
        expected = await replies(port, commands);
      });
      await withServer(async (port) => {
        const got = await replies(port, commands);
        for (let i = 0; i < commands.length; i++) {
          assert.deepEqual(got[i], expected[i], `reply ${i} to ${JSON.stringify(commands[i])}`);
        }
      });
    },
  });
}
