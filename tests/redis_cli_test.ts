// Talks to the RESP server with Debian's redis-cli and redis-benchmark
// (package redis-tools), the clients people will actually point at it.
import assert from "node:assert/strict";
import { open } from "../mod.ts";
import { RespServer } from "../src/resp/server.ts";
import { withDir } from "./helpers.ts";
import { installed } from "./redis_tools.ts";

const dec = new TextDecoder();

const hasRedisCli = await installed("redis-cli");
const hasBenchmark = await installed("redis-benchmark");
if (!hasRedisCli) console.log("redis-cli not on PATH (apt-get install redis-tools): skipping");

async function withServer(
  fn: (port: number) => Promise<void>,
  password?: string,
): Promise<void> {
  await withDir(async (dir) => {
    const db = await open(dir);
    const server = new RespServer(db, { port: 0, version: "test", password });
    try {
      await fn(server.addr.port);
    } finally {
      await server.shutdown();
      await db.close();
    }
  });
}

async function redisCli(
  port: number,
  args: string[],
  stdin?: string,
  env: Record<string, string> = {},
): Promise<string> {
  const child = new Deno.Command("redis-cli", {
    args: ["-h", "127.0.0.1", "-p", String(port), ...args],
    env,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(stdin));
    await writer.close();
  }
  const out = await child.output();
  assert.equal(out.code, 0, dec.decode(out.stderr));
  return dec.decode(out.stdout);
}

Deno.test({
  name: "redis-cli: commands, scan and keys against cask serve",
  ignore: !hasRedisCli,
  async fn() {
    await withServer(async (port) => {
      const cli = (...args: string[]) => redisCli(port, args);
      assert.equal(await cli("PING"), "PONG\n");
      assert.equal(await cli("SET", "greeting", "hello world"), "OK\n");
      assert.equal(await cli("GET", "greeting"), "hello world\n");
      assert.equal(await cli("GET", "missing"), "\n");
      assert.equal(await cli("SET", "session", "x", "EX", "600"), "OK\n");
      assert.match(await cli("TTL", "session"), /^(600|599)\n$/);
      assert.equal(await cli("MSET", "user:1", "ada", "user:2", "bob", "item:1", "pen"), "OK\n");
      assert.equal(await cli("MGET", "user:1", "nope", "user:2"), "ada\n\nbob\n");
      assert.equal(await cli("EXISTS", "user:1", "user:3"), "1\n");
      assert.equal(await cli("DBSIZE"), "5\n");
      assert.equal((await cli("KEYS", "user:*")).split("\n").sort().join(","), ",user:1,user:2");
      const scanned = await cli("--scan", "--pattern", "user:*");
      assert.equal(scanned.split("\n").sort().join(","), ",user:1,user:2");
      assert.equal((await cli("--scan")).trim().split("\n").length, 5);
      assert.equal(await cli("DEL", "user:1", "user:2", "nope"), "2\n");
      assert.match(await cli("INFO"), /redis_version:/);
      assert.match(await cli("NOSUCH", "a"), /ERR unknown command 'NOSUCH'/);
      // Inline commands through redis-cli's stdin mode, pipelined.
      const piped = await redisCli(port, [], "SET piped 1\nGET piped\nDEL piped\n");
      assert.equal(piped, "OK\n1\n1\n");
    });
  },
});

Deno.test({
  name: "redis-cli: counters, expiries, renames and MULTI/EXEC",
  ignore: !hasRedisCli,
  async fn() {
    await withServer(async (port) => {
      const cli = (...args: string[]) => redisCli(port, args);
      assert.equal(await cli("INCR", "hits"), "1\n");
      assert.equal(await cli("INCRBY", "hits", "41"), "42\n");
      assert.equal(await cli("INCRBYFLOAT", "hits", "0.5"), "42.5\n");
      assert.match(await cli("INCR", "hits"), /ERR value is not an integer or out of range/);
      assert.equal(await cli("APPEND", "log", "a"), "1\n");
      assert.equal(await cli("SETEX", "s", "100", "v"), "OK\n");
      assert.equal(await cli("EXPIRE", "s", "50", "GT"), "0\n");
      assert.equal(await cli("PERSIST", "s"), "1\n");
      assert.equal(await cli("TTL", "s"), "-1\n");
      assert.equal(await cli("RENAME", "s", "t"), "OK\n");
      assert.equal(await cli("TYPE", "t"), "string\n");
      assert.equal(await cli("EXPIREAT", "t", "4102444800"), "1\n");
      assert.equal(await cli("EXPIRETIME", "t"), "4102444800\n");
      // One connection: the transaction's commands are queued, then run together.
      const tx = await redisCli(port, [], "MULTI\nSET a 1\nINCR a\nGET a\nEXEC\n");
      assert.equal(tx, "OK\nQUEUED\nQUEUED\nQUEUED\nOK\n2\n2\n");
      assert.equal(await cli("FLUSHALL"), "OK\n");
      assert.equal(await cli("DBSIZE"), "0\n");
    });
  },
});

Deno.test({
  name: "redis-cli: -a and REDISCLI_AUTH authenticate; without them commands are refused",
  ignore: !hasRedisCli,
  async fn() {
    await withServer(async (port) => {
      assert.match(await redisCli(port, ["SET", "k", "v"]), /NOAUTH Authentication required/);
      assert.equal(
        await redisCli(port, ["--no-auth-warning", "-a", "pw", "SET", "k", "v"]),
        "OK\n",
      );
      assert.equal(await redisCli(port, ["GET", "k"], undefined, { REDISCLI_AUTH: "pw" }), "v\n");
      assert.match(
        await redisCli(port, ["--no-auth-warning", "-a", "wrong", "GET", "k"]),
        /WRONGPASS|NOAUTH/,
      );
    }, "pw");
  },
});

Deno.test({
  name: "redis-cli: --pipe mass insertion is pipelined and fully acknowledged",
  ignore: !hasRedisCli,
  async fn() {
    await withServer(async (port) => {
      const n = 5000;
      const lines = Array.from({ length: n }, (_, i) => `SET key:${i} value:${i}`).join("\r\n");
      const out = await redisCli(port, ["--pipe"], lines + "\r\n");
      assert.match(out, new RegExp(`errors: 0, replies: ${n}`));
      assert.equal(await redisCli(port, ["DBSIZE"]), `${n}\n`);
      assert.equal(await redisCli(port, ["GET", "key:4321"]), "value:4321\n");
    });
  },
});

Deno.test({
  name: "redis-benchmark: pipelined SET/GET runs to completion without errors",
  ignore: !hasBenchmark,
  async fn() {
    await withServer(async (port) => {
      const out = await new Deno.Command("redis-benchmark", {
        args: [
          "-h",
          "127.0.0.1",
          "-p",
          String(port),
          "-t",
          "set,get",
          "-n",
          "5000",
          "-P",
          "16",
          "-q",
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const report = dec.decode(out.stdout);
      assert.equal(out.code, 0, dec.decode(out.stderr));
      assert.match(report, /SET: [\d.]+ requests per second/);
      assert.match(report, /GET: [\d.]+ requests per second/);
      // Without -r every request uses this one key, with a 3-byte value.
      assert.match(await redisCli(port, ["GET", "key:__rand_int__"]), /^.{3}\n$/);
    });
  },
});
