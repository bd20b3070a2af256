// Differential test: the same command script against Debian's redis-server
// (package redis-server) and against cask's RESP server; every reply must be
// identical, error texts included. Skips when redis-server is not installed.
import assert from "node:assert/strict";
import { Client, renderArguments, type Reply, toMap, withServer } from "./resp_client.ts";
import { installed, withRedis } from "./redis_tools.ts";

const hasRedis = await installed("redis-server");
if (!hasRedis) console.log("redis-server not on PATH (apt-get install redis-server): skipping");

// Commands whose replies do not depend on time or server identity.
const SCRIPT: string[][] = [
  ["SET", "s", "hello"],
  ["APPEND", "s", " world"],
  ["APPEND", "new", "x"],
  ["STRLEN", "s"],
  ["STRLEN", "nope"],
  ["GETSET", "s", "v2"],
  ["GETSET", "nope2", "v"],
  ["GETDEL", "nope2"],
  ["GETDEL", "nope2"],
  ["SETNX", "s", "x"],
  ["SETNX", "n1", "x"],
  ["MSETNX", "a", "1", "s", "2"],
  ["MSETNX", "a", "1", "b", "2"],
  ["MGET", "a", "b", "zz"],
  ["MSET", "a"],
  ["MSETNX", "a", "1", "b"],
  ["INCR", "c"],
  ["INCRBY", "c", "41"],
  ["DECR", "c"],
  ["DECRBY", "c", "-10"],
  ["INCRBY", "c", "1.5"],
  ["INCR", "s"],
  ["SET", "big", "9223372036854775806"],
  ["INCR", "big"],
  ["INCR", "big"],
  ["DECRBY", "c", "-9223372036854775808"],
  ["SET", "neg", "-9223372036854775808"],
  ["DECR", "neg"],
  ["INCRBY", "neg", "9223372036854775807"],
  ["SET", "lead", "007"],
  ["INCR", "lead"],
  ["SET", "sp", " 1"],
  ["INCR", "sp"],
  ["INCRBYFLOAT", "f", "10.5"],
  ["INCRBYFLOAT", "f", "0.1"],
  ["INCRBYFLOAT", "f", "-5"],
  ["SET", "e", "5.0e3"],
  ["INCRBYFLOAT", "e", "2.0e2"],
  ["INCRBYFLOAT", "e", "abc"],
  ["INCRBYFLOAT", "s", "1"],
  // Redis adds in x87 long doubles: 0.1 + 0.2 is 0.3 there, and 2^63 + 1 exact.
  ["SET", "ld", "0.1"],
  ["INCRBYFLOAT", "ld", "0.2"],
  ["INCRBYFLOAT", "ld", "1e-20"],
  ["SET", "ld", "9223372036854775807"],
  ["INCRBYFLOAT", "ld", "2"],
  ["INCRBYFLOAT", "ld", "0x10"],
  ["INCRBYFLOAT", "ld", "inf"],
  ["INCRBYFLOAT", "ld", "1e5000"],
  ["INCRBYFLOAT", "ld", "1e-5000"],
  ["INCRBYFLOAT", "ld", "-1e400"],
  ["INCRBYFLOAT", "ld2", ".5"],
  ["INCRBYFLOAT", "ld2", "1.23456789012345678"],
  ["SETEX", "t", "0", "v"],
  ["SETEX", "t", "-1", "v"],
  ["SETEX", "t", "x", "v"],
  ["PSETEX", "t", "0", "v"],
  ["SETEX", "t", "100", "v"],
  ["TTL", "t"],
  ["PERSIST", "t"],
  ["PERSIST", "t"],
  ["TTL", "t"],
  ["EXPIRE", "t", "100", "XX"],
  ["EXPIRE", "t", "100", "NX"],
  ["EXPIRE", "t", "100", "NX"],
  ["EXPIRE", "t", "50", "GT"],
  ["EXPIRE", "t", "200", "GT"],
  ["EXPIRE", "t", "300", "LT"],
  ["EXPIRE", "t", "100", "LT"],
  ["TTL", "t"],
  ["EXPIRE", "t", "10", "NX", "XX"],
  ["EXPIRE", "t", "10", "GT", "LT"],
  ["EXPIRE", "t", "10", "NX", "GT"],
  ["EXPIRE", "t", "10", "FOO"],
  ["EXPIRE", "t", "abc"],
  // Options are read before the number, and an unknown one is quoted as sent.
  ["EXPIRE", "t", "abc", "NX", "XX"],
  ["EXPIRE", "t", "abc", "foo"],
  ["EXPIRE", "nope", "10"],
  // Times far in the past delete the key; only the 64-bit arithmetic can overflow.
  ["SET", "old", "v"],
  ["PEXPIREAT", "old", "-9007199254740993"],
  ["EXISTS", "old"],
  ["SET", "old", "v"],
  ["EXPIRE", "old", "-9007199254740991"],
  ["EXISTS", "old"],
  ["SET", "old", "v"],
  ["PEXPIRE", "old", "-9223372036854775808"],
  ["EXISTS", "old"],
  ["SET", "old", "v"],
  ["EXPIRE", "old", "-9223372036854775808"],
  ["EXPIREAT", "old", "-9223372036854775"],
  ["EXISTS", "old"],
  ["SET", "old", "v"],
  ["EXPIRE", "old", "9223372036854775"],
  ["EXPIRE", "old", "-5", "XX"],
  ["EXPIRE", "old", "-5", "NX"],
  ["EXISTS", "old"],
  ["PERSIST", "s"],
  ["EXPIRE", "s", "100", "LT"],
  ["PERSIST", "s"],
  ["EXPIRE", "s", "100", "GT"],
  ["EXPIREAT", "s", "4102444800"],
  ["EXPIRETIME", "s"],
  ["PEXPIREAT", "s", "4102444800123"],
  ["PEXPIRETIME", "s"],
  ["EXPIRETIME", "s"],
  ["EXPIRETIME", "nope"],
  ["EXPIRETIME", "a"],
  ["PEXPIRE", "a", "-1"],
  ["EXISTS", "a"],
  ["EXPIRE", "b", "9223372036854775807"],
  ["PEXPIREAT", "b", "1"],
  ["GET", "b"],
  ["TYPE", "s"],
  ["TYPE", "nope"],
  ["RENAME", "nope", "x"],
  ["RENAMENX", "nope", "x"],
  ["RENAME", "s", "s2"],
  ["EXPIRETIME", "s2"],
  ["EXISTS", "s", "s2"],
  ["RENAMENX", "s2", "c"],
  ["RENAMENX", "s2", "s3"],
  ["RENAME", "s3", "s3"],
  ["GET", "s3"],
  ["UNLINK", "s3", "s3", "nope"],
  ["GETEX", "c"],
  ["GETEX", "c", "EX", "100"],
  ["TTL", "c"],
  ["GETEX", "c", "PERSIST"],
  ["TTL", "c"],
  ["GETEX", "c", "EX", "0"],
  ["GETEX", "c", "BOGUS"],
  ["GETEX", "c", "PX", "100", "EX", "1"],
  ["GETEX", "nope", "EX", "10"],
  // An absent key is nil before the expiry's number is looked at; a present one is not.
  ["GETEX", "nope", "PX", "x"],
  ["GETEX", "c", "PX", "x"],
  ["SET", "k", "v", "EX", "x", "BOGUS"],
  ["SET", "k", "v", "EX", "0", "NX", "XX"],
  // A word may repeat (the last expiry counts); kinds that clash may not.
  ["SET", "k", "v", "GET", "GET"],
  ["SET", "k", "v", "NX", "NX"],
  ["SET", "k", "w", "XX", "KEEPTTL", "KEEPTTL"],
  ["SET", "k", "v", "EX", "10", "EX", "20"],
  ["TTL", "k"],
  ["SET", "k", "v", "PERSIST"],
  ["SET", "k", "v", "EX", "10", "PX", "10"],
  ["GETEX", "k", "EX", "30", "EX", "40"],
  ["TTL", "k"],
  ["GETEX", "k", "PERSIST", "PERSIST"],
  ["TTL", "k"],
  ["GETEX", "k", "EX", "10", "PERSIST"],
  ["GETEX", "k", "NX"],
  // Arguments quoted in errors are the bytes sent (here UTF-8), not re-encoded.
  ["NOSUCHCOMMAND", "\u00ff", "caf\u00e9"],
  ["EXPIRE", "k", "10", "\u00e9"],
  ["SETEX", "counter", "100", "5"],
  ["INCR", "counter"],
  ["APPEND", "counter", "0"],
  ["TTL", "counter"],
  ["RENAME", "counter", "moved"],
  ["TTL", "moved"],
  ["MULTI"],
  ["INCRBY", "moved", "10"],
  ["RENAME", "moved", "moved2"],
  ["GET", "moved2"],
  ["EXPIRE", "moved2", "-1"],
  ["EXISTS", "moved2"],
  ["EXEC"],
  ["DEL", "a", "a", "b", "nope", "k"],
  ["EXISTS", "s2", "s2", "nope"],
  ["SET", "k", "v", "GET"],
  ["SET", "k", "w", "GET"],
  ["SET", "k", "x", "NX", "GET"],
  ["SET", "k", "y", "XX", "GET"],
  ["SET", "k", "z", "EX", "100", "KEEPTTL"],
  ["SET", "k", "z", "KEEPTTL"],
  ["EXPIRE", "k", "100"],
  ["SET", "k", "z2", "KEEPTTL"],
  ["TTL", "k"],
  ["SET", "k", "z3"],
  ["TTL", "k"],
  ["SET", "k", "v", "PX", "-5"],
  ["MULTI"],
  ["MULTI"],
  ["SET", "m1", "1"],
  ["INCR", "m1"],
  ["INCR", "k"],
  ["GET", "m1"],
  ["EXEC"],
  ["EXEC"],
  ["DISCARD"],
  ["MULTI"],
  ["SET", "m2", "1"],
  ["NOSUCHCOMMAND"],
  ["GET", "m2", "extra"],
  ["EXEC"],
  ["GET", "m2"],
  ["MULTI"],
  ["WATCH", "x"],
  ["SET", "m3", "1"],
  ["DISCARD"],
  // KEYS and DBSIZE inside EXEC count the writes queued before them.
  ["SET", "tx:a", "1"],
  ["MULTI"],
  ["SET", "tx:b", "2"],
  ["DEL", "tx:a"],
  ["KEYS", "tx:*"],
  ["DBSIZE"],
  ["EXEC"],
  ["DBSIZE"],
  // UNWATCH is queued like any command, and answers OK inside EXEC.
  ["MULTI"],
  ["UNWATCH"],
  ["EXEC"],
  ["GET", "m3"],
  ["WATCH", "w"],
  ["SET", "w", "changed"],
  ["MULTI"],
  ["SET", "w", "tx"],
  ["EXEC"],
  ["GET", "w"],
  ["WATCH", "w"],
  ["MULTI"],
  ["SET", "w", "tx"],
  ["EXEC"],
  ["GET", "w"],
  ["WATCH", "w"],
  ["UNWATCH"],
  ["SET", "w", "again"],
  ["MULTI"],
  ["SET", "w", "tx2"],
  ["EXEC"],
  ["GET", "w"],
  ["CLIENT", "GETNAME"],
  ["CLIENT", "SETNAME", "a b"],
  ["CLIENT", "SETNAME", "worker-1"],
  ["CLIENT", "GETNAME"],
  // Redis 7.0 sets a name as it reads the option: the first stays when a later one fails.
  ["HELLO", "2", "SETNAME", "first", "SETNAME", "a b"],
  ["CLIENT", "GETNAME"],
  ["HELLO", "2", "SETNAME", "", "BOGUS"],
  ["CLIENT", "GETNAME"],
  ["CLIENT", "NOSUCH"],
  ["AUTH", "pw"],
  ["AUTH", "default", "pw"],
  ["HELLO", "4"],
  ["SELECT", "99"],
  ["PING", "a", "b"],
  ["GET"],
  ["SET", "k", "v", "NX", "XX"],
  ["SET", "k", "v", "EX", "1", "PX", "1"],
  ["DEL"],
  ["FLUSHDB", "BOGUS"],
  ["SET", "r", "hello"],
  ["GETRANGE", "r", "0", "-1"],
  ["GETRANGE", "r", "1", "3"],
  ["GETRANGE", "r", "-3", "-1"],
  ["GETRANGE", "r", "-1", "-3"],
  ["GETRANGE", "r", "3", "1"],
  ["GETRANGE", "r", "10", "20"],
  ["GETRANGE", "r", "-100", "100"],
  ["GETRANGE", "r", "0", "9223372036854775807"],
  // Apart as 64-bit integers, one double apart: still start > end.
  ["GETRANGE", "r", "-9223372036854775807", "-9223372036854775808"],
  ["SUBSTR", "r", "-9007199254740995", "-9007199254740996"],
  ["GETRANGE", "r", "a", "1"],
  ["GETRANGE", "nope", "0", "-1"],
  ["SUBSTR", "r", "1", "2"],
  ["SETRANGE", "r", "1", "EL"],
  ["SETRANGE", "r", "10", "xyz"],
  ["GET", "r"],
  ["SETRANGE", "r", "-1", "x"],
  ["SETRANGE", "r", "a", "x"],
  ["SETRANGE", "r", "0", ""],
  ["SETRANGE", "nope3", "0", ""],
  ["EXISTS", "nope3"],
  ["SETRANGE", "nope3", "3", "ab"],
  ["GET", "nope3"],
  ["SETEX", "cp", "100", "v"],
  ["SETRANGE", "cp", "0", "w"],
  ["TTL", "cp"],
  ["TOUCH", "cp", "cp", "nope"],
  ["COPY", "cp", "cp2"],
  ["TTL", "cp2"],
  ["GET", "cp2"],
  ["COPY", "cp", "cp2"],
  ["COPY", "cp", "cp2", "REPLACE"],
  ["COPY", "cp", "cp"],
  ["COPY", "nope", "cp3"],
  ["COPY", "cp", "cp3", "DB", "0"],
  ["COPY", "cp", "cp4", "DB", "x"],
  ["COPY", "cp", "cp5", "FOO"],
  ["COPY", "cp", "cp6", "DB"],
  ["EXISTS", "cp3", "cp4", "cp5", "cp6"],
  ["SAVE"],
  ["BGSAVE", "x"],
  ["TIME", "x"],
  ["LASTSAVE", "x"],
  ["RANDOMKEY", "x"],
  ["NOSUCH", "a", "b", "c", "d", "e"],
  // Redis prints an argument into an error up to a NUL byte, a sub-command at most 128 bytes.
  ["CONFIG", "A".repeat(200)],
  ["CLIENT", "B".repeat(129)],
  ["NO\0SUCH", "a\0b"],
  ["EXPIRE", "t", "10", "F\0OO"],
  ["CONFIG", "S\0UB"],
  // Redis puts a space for each CR and each LF of an argument it quotes.
  ["NOSUCH", "a\r\nb", "c\n\nd"],
  ["NO\r\nSUCH"],
  ["CLIENT", "a\r\nb"],
  ["NOSUCH", "x".repeat(100), "y".repeat(60), "z"],
  ["DBSIZE"],
  ["FLUSHALL"],
  ["RANDOMKEY"],
  ["DBSIZE"],
  ["KEYS", "*"],
  // A sub-command refused while queued dooms the EXEC, as a command does.
  ["MULTI"],
  ["CLIENT", "ID", "x"],
  ["SET", "tx", "1"],
  ["EXEC"],
  ["GET", "tx"],
  ["MULTI"],
  ["CLIENT", "NOSUCH"],
  ["EXEC"],
  ["MULTI"],
  ["COMMAND", "COUNT", "x"],
  ["EXEC"],
  ["MULTI"],
  ["CONFIG", "GET"],
  ["EXEC"],
  ["MULTI"],
  ["SAVE"],
  ["SET", "tx", "1"],
  ["EXEC"],
  ["GET", "tx"],
  ["CONFIG", "GET"],
  ["CONFIG", "NOSUCH"],
  ["CLIENT", "GETNAME", "x"],
  // Numbers read as Redis' string2ll reads them.
  ["SELECT", "00"],
  ["SELECT", "-0"],
  ["SELECT", "0"],
  ["HELLO", "03"],
  ["HELLO", "-0"],
  ["HELLO", "-1"],
  ["HELLO", "12345678901234567"],
  // CONFIG GET ignores case: a plain name is answered as it was asked for
  // (once, however often it is asked), a pattern with the setting's name.
  ["CONFIG", "GET", "SAVE"],
  ["CONFIG", "GET", "Save", "save", "SAVE"],
  ["CONFIG", "GET", "S?VE"],
  ["CONFIG", "GET", "[S]ave"],
  ["CONFIG", "GET", "TIMEOUT"],
  ["CONFIG", "GET", "timeo*t"],
  ["CONFIG", "GET", "nosuchsetting"],
  ["CLIENT", "HELP", "x"],
  ["COMMAND", "HELP", "x"],
  ["CONFIG", "HELP", "x"],
];

async function replies(port: number): Promise<Reply[]> {
  const c = await Client.connect(port);
  try {
    const out: Reply[] = [];
    for (const cmd of SCRIPT) out.push(await c.call(...cmd));
    return out;
  } finally {
    c.close();
  }
}

Deno.test({
  name: "redis-server vs cask: one command script, identical replies",
  ignore: !hasRedis,
  async fn() {
    let expected: Reply[] = [];
    await withRedis(async (port) => {
      expected = await replies(port);
    });
    await withServer(async (port) => {
      const got = await replies(port);
      for (let i = 0; i < SCRIPT.length; i++) {
        assert.deepEqual(got[i], expected[i], `reply ${i} to ${SCRIPT[i].join(" ")}`);
      }
    });
  },
});

// COMMAND INFO's arity and key positions (first, last, step) are Redis' for
// every command both servers have.
Deno.test({
  name: "redis-server vs cask: COMMAND INFO gives the same arities and key positions",
  ignore: !hasRedis,
  async fn() {
    const positions = async (port: number, names: string[]) => {
      const c = await Client.connect(port);
      try {
        const info = await c.call("COMMAND", "INFO", ...names) as Reply[][];
        return info.map((i) => JSON.stringify([i[0], i[1], i[3], i[4], i[5]]));
      } finally {
        c.close();
      }
    };
    let names: string[] = [];
    let ours: string[] = [];
    await withServer(async (port) => {
      const c = await Client.connect(port);
      names = await c.call("COMMAND", "LIST") as string[];
      c.close();
      ours = await positions(port, names);
    });
    await withRedis(async (port) => {
      assert.deepEqual(ours, await positions(port, names));
    });
  },
});

// HELP lists the sub-commands Cask has, each in Redis 7.0's words, between
// Redis' first and last lines. SETINFO came in Redis 7.2, after 7.0.
Deno.test({
  name: "redis-server vs cask: CLIENT, COMMAND and CONFIG HELP use Redis' words",
  ignore: !hasRedis,
  async fn() {
    const help = async (port: number, command: string) => {
      const c = await Client.connect(port);
      try {
        const lines = await c.call(command, "help") as string[];
        // An entry: its first line and the indented lines after it.
        const entries: string[] = [];
        for (const line of lines.slice(1)) {
          if (line.startsWith(" ")) entries[entries.length - 1] += `\n${line}`;
          else entries.push(line);
        }
        return { first: lines[0], entries };
      } finally {
        c.close();
      }
    };
    for (const command of ["CLIENT", "COMMAND", "CONFIG"]) {
      let ours = { first: "", entries: [] as string[] };
      await withServer(async (port) => {
        ours = await help(port, command);
      });
      await withRedis(async (port) => {
        const theirs = await help(port, command);
        assert.equal(ours.first, theirs.first);
        assert.equal(ours.entries.at(-1), theirs.entries.at(-1));
        const known = ours.entries.filter((e) => !e.startsWith("SETINFO "));
        assert.deepEqual(known, theirs.entries.filter((e) => known.includes(e)), command);
        assert.ok(known.length >= 2, `${command} HELP: ${ours.entries}`);
      });
    }
  },
});

// The keys KEYS and SCAN MATCH select, compared as sets (the servers list
// them in different orders).
const utf8 = new TextEncoder();
const GLOB_KEYS = [
  ..."a b ab abc a*b a?b a[b a]b a\\b h[e]llo hello hallo hxllo hllo heeello a-b a^b \\ [ ] - * ? _"
    .split(" "),
  ..."foo:1 Foo:1 x\0y \u00ff \u00e9".split(" "),
].map((k) => utf8.encode(k)).concat([Uint8Array.of(0x80), Uint8Array.of(0xff)]);
const GLOB_PATTERNS = [
  ..."* a?b a\\*b a[*]b a[\\]]b a[]]b h[ae]llo h[^e]llo h[a-e]llo h[e-a]llo h[-a]llo h[^]llo"
    .split(" "),
  // A `-` before `]`: a range up to `]`, and the class runs on.
  ..."h[a-]llo [a-] [a-]x] [^a-] a[b- a[a-c-e]b a[^-]b a[a\\-c]b a[\\-]b".split(" "),
  ..."h[]llo h[a-a]llo [] [ ] \\ *\\ a[ a[b a[\\ [[] [\\[] foo:[12] [fF]oo:* x* ?? ***a *[^a-z]*"
    .split(" "),
].map((p) => utf8.encode(p)).concat([
  // Ranges of C chars, signed: 0x01 to 0xff is -1 to 1, 0x7f to 0x81 all but 0x80.
  Uint8Array.of(0x5b, 0x01, 0x2d, 0xff, 0x5d),
  Uint8Array.of(0x5b, 0x7f, 0x2d, 0x81, 0x5d),
]);

async function globSelections(port: number): Promise<string[]> {
  const c = await Client.connect(port);
  try {
    await c.call("FLUSHALL");
    for (const k of GLOB_KEYS) assert.equal(await c.call("SET", k, "v"), "OK");
    const out: string[] = [];
    const sorted = (r: Reply) => JSON.stringify((r as string[]).slice().sort());
    for (const p of GLOB_PATTERNS) {
      out.push(`KEYS ${JSON.stringify([...p])}: ${sorted(await c.call("KEYS", p))}`);
      const scan = await c.call("SCAN", "0", "MATCH", p, "COUNT", "1000") as Reply[];
      out.push(`SCAN ${JSON.stringify([...p])}: ${scan[0]} ${sorted(scan[1])}`);
    }
    return out;
  } finally {
    c.close();
  }
}

Deno.test({
  name: "redis-server vs cask: KEYS and SCAN MATCH select the same keys",
  ignore: !hasRedis,
  async fn() {
    let expected: string[] = [];
    await withRedis(async (port) => {
      expected = await globSelections(port);
    });
    await withServer(async (port) => {
      const got = await globSelections(port);
      for (let i = 0; i < got.length; i++) assert.equal(got[i], expected[i]);
    });
  },
});

// What redis-cli shows as the hint after a command name (or a container's
// sub-command: `config get`) comes from COMMAND DOCS; for the commands both
// servers have, the hints must read the same.
async function hints(port: number): Promise<Map<string, string>> {
  const c = await Client.connect(port);
  try {
    const names = await c.call("COMMAND", "LIST") as string[];
    const docs = await c.call("COMMAND", "DOCS", ...names) as Reply[];
    const out = new Map<string, string>();
    const add = (name: Reply, doc: Reply) => {
      const d = toMap(doc);
      out.set(name as string, renderArguments(d.arguments));
      const subs = (d.subcommands ?? []) as Reply[];
      for (let i = 0; i < subs.length; i += 2) add(subs[i], subs[i + 1]);
    };
    for (let i = 0; i < docs.length; i += 2) add(docs[i], docs[i + 1]);
    return out;
  } finally {
    c.close();
  }
}

Deno.test({
  name: "redis-server vs cask: COMMAND DOCS gives redis-cli the same hints",
  ignore: !hasRedis,
  async fn() {
    let ours = new Map<string, string>();
    await withServer(async (port) => {
      ours = await hints(port);
    });
    assert.ok(ours.size >= 45, `only ${ours.size} commands documented`);
    await withRedis(async (port) => {
      const theirs = await hints(port);
      for (const [name, hint] of ours) {
        // Redis 7.2 added it; the 7.0 of Debian's redis-server lacks it.
        if (name === "client|setinfo") continue;
        assert.equal(hint, theirs.get(name), name);
      }
    });
  },
});
