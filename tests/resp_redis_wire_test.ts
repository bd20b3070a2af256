// Raw bytes against Debian's redis-server and against cask's RESP server: the
// bytes each answers, and whether it then closes, must be the same. Malformed
// frames, over-long lines and the order of checks before AUTH, which the
// command-script diff test cannot send. Skips when redis-server is missing.
import assert from "node:assert/strict";
import { Client, withServer } from "./resp_client.ts";
import { installed, withRedis } from "./redis_tools.ts";

const hasRedis = await installed("redis-server");
if (!hasRedis) console.log("redis-server not on PATH (apt-get install redis-server): skipping");

const dec = new TextDecoder();
// Long enough to pass the 64 KiB line limit, short enough that Redis, reading
// 16 KiB at a time, has read it all when it refuses it (unread bytes would
// make its close a reset that can destroy the reply).
const LONG = 64 * 1024 + 64;

// Sends `request` on a new connection; what comes back until the server
// closes or is quiet for a while, and whether it closed.
async function exchange(port: number, request: string): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(new TextEncoder().encode(request)).catch(() => {});
    let got = "";
    const chunk = new Uint8Array(64 * 1024);
    for (;;) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const quiet = new Promise<"quiet">((r) => timer = setTimeout(() => r("quiet"), 300));
      const n = await Promise.race([conn.read(chunk), quiet]).finally(() => clearTimeout(timer));
      if (n === "quiet") return got;
      if (n === null) return got + "<closed>";
      got += dec.decode(chunk.subarray(0, n));
    }
  } finally {
    conn.close();
  }
}

const INLINE = (line: string) => `${line}\r\n`;

const OPEN_CASES: string[] = [
  `*${"1".repeat(LONG)}`,
  `*1\r\n$${"1".repeat(LONG)}`,
  `ECHO ${"a".repeat(LONG)}`,
  // Redis skips the two bytes after a bulk's data without reading them.
  "*1\r\n$4\r\nPINGxx",
  "*1\r\n$4\r\nPINGxx*1\r\n$4\r\nPING\r\n",
  "*2\r\n$4\r\nECHO\r\n$1\r\nab\r\n",
  // Headers ending in a bare LF: Redis reads their number up to a CR.
  "*1\n$4\nPING\r\n",
  "*1\r\n$4\nPING\r\n",
  // Lengths read as Redis reads numbers: no leading zero, no "-0".
  "*01\r\n$4\r\nPING\r\n",
  "*1\r\n$04\r\nPING\r\n",
  "*-0\r\nPING\r\n",
  "*1\r\n$00\r\n\r\n",
  "*3\r\n$3\r\nSET\r\n$01\r\nk\r\n$01\r\nv\r\n",
  "*0\r\n*1\r\n$4\r\nPING\r\n",
  // A header ends at its first CR; the byte after it is skipped unread.
  "*1\rX$4\rXPING\r\nPING\r\n",
  "*1\r\n$4\r\x00PING\r\nPING\r\n",
  "*1\r\n\x00\r\nPING\r\n",
  "*1\r\n\r\n",
  "*1\r\n\n\r\n",
  "*1\r\n\xffx\r\n",
  "*1\r\n$0\r\n\r\n",
  INLINE("COMMAND LIST FILTERBY PATTERN"),
  INLINE("COMMAND LIST FILTERBY PATTERN a b"),
  INLINE("COMMAND LIST FILTERBY NOSUCH x"),
  INLINE("COMMAND LIST FOO"),
  INLINE("COMMAND LIST FILTERBY MODULE x"),
  INLINE("COMMAND LIST FILTERBY PATTERN nosuch*"),
  // Inline splitting: a quote inside a word opens a quoted part; a vertical
  // tab or form feed is part of a word; a NUL ends the line.
  INLINE('ECHO a"b"'),
  INLINE('ECHO a"b c"'),
  INLINE("ECHO a'b c'"),
  INLINE('ECHO a"b"c'),
  INLINE("ECHO a\x0bb"),
  INLINE("ECHO a\x0cb"),
  INLINE("ECHO \x0b\x0cab"),
  INLINE('ECHO "a"\x0b'),
  INLINE("ECHO a\x00b c"),
  INLINE('ECHO "a\x00b"'),
];
// Before and after AUTH alike (a stranger's too): the same errors in Redis' order.
const LENGTH_CASES = ["*2147483648\r\n", "*1\r\n$67108865\r\n", "*1\r\n$536870913\r\n"];

// With a password: Redis names an unknown command, a wrong arity or an
// unknown sub-command before it asks for AUTH.
const AUTH_CASES: string[] = [
  INLINE("HELLO 3"),
  INLINE("HELLO"),
  INLINE("NOSUCH a"),
  INLINE("NOSUCH"),
  INLINE("GET"),
  INLINE("GET a"),
  INLINE("AUTH"),
  INLINE("CONFIG NOSUCH"),
  INLINE("CLIENT NOSUCH"),
  INLINE("COMMAND LIST FILTERBY PATTERN get*"),
  "MULTI\r\nNOSUCH\r\nEXEC\r\n",
  "MULTI\r\nGET\r\nEXEC\r\n",
  INLINE("EXEC"),
  INLINE("QUIT"),
  ...LENGTH_CASES,
];

async function answers(port: number, cases: string[]): Promise<string[]> {
  return await Promise.all(cases.map((c) => exchange(port, c)));
}

function compare(cases: string[], theirs: string[], ours: string[]): void {
  for (let i = 0; i < cases.length; i++) {
    assert.equal(ours[i], theirs[i], JSON.stringify(cases[i].slice(0, 60)));
  }
}

Deno.test({
  name: "redis-server vs cask: malformed and over-long requests get the same bytes",
  ignore: !hasRedis,
  async fn() {
    let theirs: string[] = [];
    await withRedis(async (port) => {
      theirs = await answers(port, OPEN_CASES);
    });
    await withServer(async (port) => compare(OPEN_CASES, theirs, await answers(port, OPEN_CASES)));
  },
});

Deno.test({
  name: "redis-server vs cask: before AUTH, the same checks in the same order",
  ignore: !hasRedis,
  async fn() {
    let theirs: string[] = [];
    await withRedis(async (port) => {
      theirs = await answers(port, AUTH_CASES);
    }, ["--requirepass", "pw"]);
    await withServer(
      async (port) => compare(AUTH_CASES, theirs, await answers(port, AUTH_CASES)),
      { password: "pw" },
    );
  },
});

// Redis has commands Cask lacks and lists sub-commands too, in its hash
// order: Cask must list exactly the commands of its own that Redis lists.
async function listed(port: number, pattern: string): Promise<string[]> {
  const c = await Client.connect(port);
  try {
    return (await c.call("COMMAND", "LIST", "FILTERBY", "PATTERN", pattern) as string[]).sort();
  } finally {
    c.close();
  }
}

Deno.test({
  name: "redis-server vs cask: COMMAND LIST FILTERBY PATTERN picks the same commands",
  ignore: !hasRedis,
  async fn() {
    const patterns = ["get*", "G?T", "*EXPIRE*", "[ab]*", "*", "set[^r]*", "c\\onfig"];
    const theirs = new Map<string, string[]>();
    await withRedis(async (port) => {
      for (const p of patterns) theirs.set(p, await listed(port, p));
    });
    await withServer(async (port) => {
      const c = await Client.connect(port);
      const ours = new Set(await c.call("COMMAND", "LIST") as string[]);
      c.close();
      for (const p of patterns) {
        const got = await listed(port, p);
        assert.ok(got.length > 0, p);
        assert.deepEqual(got, theirs.get(p)!.filter((n) => ours.has(n)), p);
      }
    });
  },
});
