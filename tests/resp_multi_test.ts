// Transactions and SCAN cursors as Redis has them. Each script runs on a
// connection of its own, against Debian's redis-server and against cask,
// and the raw bytes each sends back (the connection's close included) must be
// the same. SCAN's cursors name different things on the two, so what Redis
// promises of them is checked on cask alone.
import assert from "node:assert/strict";
import { Client, concat, frame, type Reply, withServer } from "./resp_client.ts";
import { installed } from "./redis_tools.ts";
import { assertSameRuns } from "./resp_steps.ts";

const hasRedis = await installed("redis-server");
if (!hasRedis) console.log("redis-server not on PATH (apt-get install redis-server): skipping");

const latin1 = new TextDecoder("latin1");
// A connection that stays open this long after its last reply is reported as open.
const CLOSE_WAIT_MS = 2000;

// Each script ends with a QUIT appended, so a server that closes the
// connection has sent everything; scripts that QUIT earlier test that.
const SCRIPTS: string[][][] = [
  // QUIT inside MULTI: +OK, the connection closes, nothing queued is applied.
  [["SET", "q", "1"]],
  [["MULTI"], ["SET", "q", "2"], ["QUIT"], ["GET", "q"]],
  [["GET", "q"]],
  // EXEC with arguments ends the transaction (and the watches), inside MULTI or not.
  [["MULTI"], ["SET", "q", "3"], ["EXEC", "x"], ["EXEC"], ["GET", "q"]],
  [["EXEC", "x"], ["DISCARD", "x"], ["MULTI", "x"]],
  [["WATCH", "q"], ["EXEC", "x"], ["SET", "q", "4"], ["MULTI"], ["GET", "q"], ["EXEC"]],
  [["MULTI"], ["SET", "q", "5"], ["DISCARD", "x"], ["EXEC"]],
  [["MULTI"], ["SET", "q", "6"], ["MULTI", "x"], ["EXEC"], ["GET", "q"]],
  // HELLO and AUTH are queued and run at EXEC; each reply in the protocol of its time.
  [["MULTI"], ["GET", "none"], ["HELLO", "4"], ["AUTH", "pw"], ["AUTH", "default", "pw"], [
    "EXEC",
  ]],
  [["MULTI"], ["GET", "none"], ["HELLO", "3"], ["GET", "none"], ["EXEC"], ["GET", "none"]],
  [["HELLO", "3"], ["MULTI"], ["GET", "none"], ["HELLO", "2"], ["GET", "none"], ["EXEC"]],
  // HELLO SETNAME "" clears the name, as CLIENT SETNAME "" does.
  [["CLIENT", "SETNAME", "n1"], ["HELLO", "2", "SETNAME", ""], ["CLIENT", "GETNAME"]],
  // RANDOMKEY inside MULTI sees the writes queued before it.
  [["DEL", "q"], ["SET", "a", "1"]],
  [["MULTI"], ["RANDOMKEY"], ["DEL", "a"], ["RANDOMKEY"], ["SET", "rk", "1"], ["RANDOMKEY"], [
    "EXEC",
  ]],
  // SCAN's arguments, on one key: strtoul's cursors, 64-bit counts.
  [
    ["SCAN", "0", "COUNT", "abc"],
    ["SCAN", "0", "COUNT", "9223372036854775807"],
    ["SCAN", "0", "COUNT", "9223372036854775808"],
    ["SCAN", "0", "COUNT", "01"],
    ["SCAN", "0", "COUNT", "0"],
    ["SCAN", "0", "COUNT", "-1"],
    ["SCAN", ""],
    ["SCAN", "-0"],
    ["SCAN", "18446744073709551616"],
    ["SCAN", "-18446744073709551616"],
    ["SCAN", " 5"],
    ["SCAN", "5 "],
    ["SCAN", "+"],
    ["SCAN", "0x1"],
  ],
  // Any cursor in 64 bits is a cursor; on an empty keyspace every one ends the walk.
  [["DEL", "rk"]],
  [
    ["SCAN", "99999"],
    ["SCAN", "18446744073709551615"],
    ["SCAN", "-1"],
    ["SCAN", "007", "COUNT", "1"],
    ["SCAN", "+5", "MATCH", "x*", "COUNT", "3"],
  ],
];

// What the servers answer differently for reasons of their own: HELLO's version and client id.
function normalized(transcript: string): string {
  return transcript
    .replace(/(\$7\r\nversion\r\n)\$\d+\r\n[^\r]*/g, "$1VERSION")
    .replace(/(\$2\r\nid\r\n):\d+/g, "$1ID");
}

// Sends `script` and a QUIT, and reads until the server closes the connection.
async function transcript(port: number, script: string[][]): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const request = concat([...script, ["QUIT"]].map((c) => frame(...c)));
    for (let at = 0; at < request.length;) at += await conn.write(request.subarray(at));
    const chunks: Uint8Array[] = [];
    const buf = new Uint8Array(64 * 1024);
    for (;;) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const wait = new Promise<"open">((r) => timer = setTimeout(() => r("open"), CLOSE_WAIT_MS));
      const n = await Promise.race([conn.read(buf), wait]);
      clearTimeout(timer);
      if (n === "open") return latin1.decode(concat(chunks)) + "<still open>";
      if (n === null) return latin1.decode(concat(chunks));
      chunks.push(buf.slice(0, n));
    }
  } finally {
    conn.close();
  }
}

Deno.test({
  name: "redis-server vs cask: MULTI, EXEC, QUIT, HELLO, AUTH and SCAN, the same bytes",
  ignore: !hasRedis,
  async fn() {
    await assertSameRuns(
      SCRIPTS,
      async (port, script) => normalized(await transcript(port, script)),
      (script) => script.map((c) => c.join(" ")).join("; "),
    );
  },
});

type Page = [string, string[]];

// Every key of a full SCAN iteration in COUNT-sized steps, the cursors it went through.
async function iterate(c: Client, count: number): Promise<{ keys: string[]; cursors: string[] }> {
  const keys: string[] = [];
  const cursors: string[] = [];
  let cursor = "0";
  do {
    const [next, found] = await c.call("SCAN", cursor, "COUNT", String(count)) as Page;
    keys.push(...found);
    cursors.push(cursor = next);
  } while (cursor !== "0");
  return { keys, cursors };
}

Deno.test("SCAN: a cursor may be sent again, from any connection, and repeats its page", async () => {
  await withServer(async (port, db) => {
    const names = Array.from({ length: 100 }, (_, i) => `key:${String(i).padStart(3, "0")}`);
    await db.atomic(names.map((key) => ({ type: "set" as const, key, value: "v" })));
    const a = await Client.connect(port);
    const b = await Client.connect(port);
    try {
      const first = await iterate(a, 7);
      assert.deepEqual(first.keys, names);
      // The same iteration again, on another connection: the same cursors.
      assert.deepEqual(await iterate(b, 7), first);
      const cursor = first.cursors[3];
      const page = await a.call("SCAN", cursor, "COUNT", "7") as Page;
      assert.deepEqual(await a.call("SCAN", cursor, "COUNT", "7"), page);
      a.close();
      assert.deepEqual(await b.call("SCAN", cursor, "COUNT", "7"), page);
      assert.deepEqual(page[1], names.slice(28, 35));
    } finally {
      a.close();
      b.close();
    }
  });
});

Deno.test("SCAN: an unknown cursor starts the walk over, so no key is missed", async () => {
  await withServer(async (port, db) => {
    await db.atomic(["a", "b", "c"].map((key) => ({ type: "set" as const, key, value: "v" })));
    const c = await Client.connect(port);
    try {
      const start = await c.call("SCAN", "0", "COUNT", "2") as Page;
      assert.deepEqual(start[1], ["a", "b"]);
      for (const cursor of ["99999", "18446744073709551615", "-1"]) {
        assert.deepEqual(await c.call("SCAN", cursor, "COUNT", "2"), start, cursor);
      }
      assert.deepEqual(await c.call("SCAN", "x"), { err: "ERR invalid cursor" });
    } finally {
      c.close();
    }
  });
});

Deno.test("SCAN: thousands of iterations left half-way keep their cursors", async () => {
  await withServer(async (port, db) => {
    const iterations = 12_000;
    const ops = [];
    for (let i = 0; i < iterations; i++) {
      for (const end of ["a", "b"]) {
        ops.push({ type: "set" as const, key: `k${i}:${end}`, value: "" });
      }
    }
    await db.atomic(ops);
    const c = await Client.connect(port);
    try {
      const scans = Array.from({ length: iterations }, (_, i) => {
        return ["SCAN", "0", "MATCH", `k${i}:*`, "COUNT", "1"];
      });
      await c.send(...scans);
      const cursors: string[] = [];
      for (let i = 0; i < iterations; i++) {
        const [cursor, found] = await c.reply() as Page;
        assert.deepEqual(found, [`k${i}:a`]);
        cursors.push(cursor);
      }
      // The oldest one still resumes where it stopped.
      const done: Reply = ["0", ["k0:b"]];
      assert.deepEqual(await c.call("SCAN", cursors[0], "MATCH", "k0:*", "COUNT", "1"), done);
    } finally {
      c.close();
    }
  });
});
