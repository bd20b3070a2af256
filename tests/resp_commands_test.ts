// Server behaviour beyond single replies: atomic read-modify-writes under
// concurrent clients, WATCH across connections, EXEC as one atomic batch,
// RESP3, BGREWRITEAOF and INFO's figures.
import assert from "node:assert/strict";
import { DEFAULT_LIMITS } from "../src/resp/parser.ts";
import { Client, type Reply, withServer } from "./resp_client.ts";
import { startServe } from "./ports.ts";
import { installed } from "./redis_tools.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("commands: INCR and APPEND from many clients lose no update", async () => {
  await withServer(
    async (port) => {
      const clients = await Promise.all(Array.from({ length: 10 }, () => Client.connect(port)));
      try {
        await Promise.all(clients.map(async (c, i) => {
          // Pipelined, so each client has many read-modify-writes in flight at once.
          const batch: string[][] = [];
          for (let j = 0; j < 50; j++) {
            batch.push(["INCR", "n"], ["APPEND", "log", String(i % 10)], [
              "INCRBYFLOAT",
              "f",
              "0.5",
            ]);
          }
          await c.send(...batch);
          for (let j = 0; j < batch.length; j++) {
            const reply = await c.reply();
            assert.ok(typeof reply === "number" || typeof reply === "string", String(reply));
          }
        }));
        const [c] = clients;
        assert.equal(await c.call("GET", "n"), "500");
        assert.equal(await c.call("STRLEN", "log"), 500);
        assert.equal(await c.call("GET", "f"), "250");
      } finally {
        for (const c of clients) c.close();
      }
    },
    {},
    "always",
  );
});

Deno.test("commands: WATCH makes EXEC fail after another client's write, not otherwise", async () => {
  await withServer(async (port) => {
    const a = await Client.connect(port);
    const b = await Client.connect(port);
    try {
      assert.equal(await a.call("WATCH", "k"), "OK");
      assert.equal(await b.call("SET", "k", "b"), "OK");
      assert.equal(await a.call("MULTI"), "OK");
      assert.equal(await a.call("SET", "k", "a"), "QUEUED");
      assert.equal(await a.call("EXEC"), null);
      assert.equal(await a.call("GET", "k"), "b");
      // A write to another key, or a watch released by EXEC, does not count.
      assert.equal(await a.call("WATCH", "k"), "OK");
      assert.equal(await b.call("SET", "other", "x"), "OK");
      assert.equal(await a.call("MULTI"), "OK");
      assert.equal(await a.call("SET", "k", "a"), "QUEUED");
      assert.deepEqual(await a.call("EXEC"), ["OK"]);
      assert.equal(await b.call("SET", "k", "b2"), "OK");
      assert.equal(await a.call("MULTI"), "OK");
      assert.equal(await a.call("INCR", "counter"), "QUEUED");
      assert.deepEqual(await a.call("EXEC"), [1]);
      // Every kind of write counts: DEL, INCR, EXPIRE, RENAME onto the key, FLUSHALL.
      for (
        const write of [["DEL", "k"], ["INCR", "k"], ["PEXPIRE", "other", "100000"], [
          "RENAME",
          "other",
          "k",
        ], ["FLUSHALL"]]
      ) {
        await b.call("SET", "other", "o");
        await b.call("SET", "k", "1");
        const watched = write[0] === "PEXPIRE" ? "other" : "k";
        assert.equal(await a.call("WATCH", watched), "OK");
        assert.notEqual(typeof await b.call(...write), "object", write.join(" "));
        assert.equal(await a.call("MULTI"), "OK");
        assert.equal(await a.call("SET", "k", "a"), "QUEUED");
        assert.equal(await a.call("EXEC"), null, write.join(" "));
      }
    } finally {
      a.close();
      b.close();
    }
  });
});

Deno.test("commands: a write the store refuses, and a WATCH that fails, change no watch", async () => {
  await withServer(async (port) => {
    const a = await Client.connect(port);
    const b = await Client.connect(port);
    // Past the store's default maxKeySize (64 KiB): every write of it is refused.
    const huge = "h".repeat(70_000);
    const isError = (r: unknown) => typeof r === "object" && r !== null && "err" in r;
    const execAfter = async (watched: string[], ...writes: string[][]) => {
      assert.equal(await a.call("WATCH", ...watched), "OK");
      for (const w of writes) await b.call(...w);
      assert.equal(await a.call("MULTI"), "OK");
      assert.equal(await a.call("GET", "w"), "QUEUED");
      return await a.call("EXEC");
    };
    try {
      assert.equal(await b.call("SET", "w", "1"), "OK");
      for (
        const write of [
          ["SET", huge, "v"],
          ["SET", huge, "v", "EX", "100"],
          ["SETEX", huge, "100", "v"],
          ["PSETEX", huge, "100000", "v"],
          ["MSET", huge, "v", "other", "o"],
          ["MSET", "other", "o", huge, "v"],
          ["SET", "", "v"],
        ]
      ) {
        assert.ok(isError(await b.call(...write)) || write[0] === "MSET", write[0]);
        assert.deepEqual(await execAfter([huge, "w"], write), ["1"], write.join(" ").slice(0, 40));
      }
      // Pipelined writes go to the store as one batch; when it refuses one of
      // them, the ones it then takes alone still count.
      assert.equal(await a.call("WATCH", "other"), "OK");
      await b.send(["SET", huge, "v"], ["SET", "other", "o2"], ["SET", "", "v"]);
      const replies = [await b.reply(), await b.reply(), await b.reply()];
      assert.deepEqual(replies.map(isError), [true, false, true]);
      assert.equal(await a.call("MULTI"), "OK");
      assert.equal(await a.call("GET", "other"), "QUEUED");
      assert.equal(await a.call("EXEC"), null);
      // A WATCH answering an error watches none of its keys, the ones before the bad one included.
      assert.ok(isError(await a.call("WATCH", "w", "")));
      assert.equal(await b.call("SET", "w", "2"), "OK");
      assert.equal(await a.call("MULTI"), "OK");
      assert.equal(await a.call("GET", "w"), "QUEUED");
      assert.deepEqual(await a.call("EXEC"), ["2"]);
    } finally {
      a.close();
      b.close();
    }
  });
});

Deno.test("commands: CLIENT SETINFO takes LIB-NAME and LIB-VER with printable values, as Redis 7.2", async () => {
  await withServer(async (port) => {
    const c = await Client.connect(port);
    try {
      assert.equal(await c.call("CLIENT", "SETINFO", "lib-name", "ioredis"), "OK");
      assert.equal(await c.call("CLIENT", "SETINFO", "LIB-VER", "5.4.1"), "OK");
      assert.deepEqual(await c.call("CLIENT", "SETINFO", "foo", "bar"), {
        err: "ERR Unrecognized option 'foo'",
      });
      for (const bad of ["a b", "a\nb", "a\x00", "\x7f", "\xe9"]) {
        assert.deepEqual(await c.call("CLIENT", "SETINFO", "Lib-Name", bad), {
          err: "ERR Lib-Name cannot contain spaces, newlines or special characters.",
        }, JSON.stringify(bad));
      }
    } finally {
      c.close();
    }
  });
});

Deno.test("commands: optimistic increments with WATCH/MULTI/EXEC from many clients add up", async () => {
  await withServer(
    async (port) => {
      const clients = await Promise.all(Array.from({ length: 6 }, () => Client.connect(port)));
      let retries = 0;
      try {
        await Promise.all(clients.map(async (c) => {
          for (let done = 0; done < 15;) {
            await c.call("WATCH", "balance");
            const balance = Number(await c.call("GET", "balance") ?? "0");
            await c.call("MULTI");
            await c.call("SET", "balance", String(balance + 1));
            if ((await c.call("EXEC")) === null) retries++;
            else done++;
          }
        }));
        assert.equal(await clients[0].call("GET", "balance"), "90");
        // The clients really raced: some EXECs had to be retried.
        assert.ok(retries > 0, "no EXEC failed; the test did not exercise WATCH");
      } finally {
        for (const c of clients) c.close();
      }
    },
    {},
    "always",
  );
});

Deno.test("commands: EXEC is one atomic batch; a store refusal discards all of it", async () => {
  await withServer(async (port, db) => {
    const c = await Client.connect(port);
    try {
      await c.call("SET", "kept", "old");
      assert.equal(await c.call("MULTI"), "OK");
      assert.equal(await c.call("SET", "kept", "new"), "QUEUED");
      assert.equal(await c.call("INCR", "n"), "QUEUED");
      // The store's key limit is 64 KiB: this set is refused at commit.
      assert.equal(await c.call("SET", "k".repeat(70_000), "v"), "QUEUED");
      const reply = await c.call("EXEC") as { err: string };
      assert.match(reply.err, /^EXECABORT Transaction discarded: ERR .*key/);
      assert.equal(await c.call("GET", "kept"), "old");
      assert.equal(await db.has("n"), false);
      // Runtime errors of single commands do not stop the others, as in Redis.
      await c.call("MULTI");
      await c.call("SET", "s", "text");
      await c.call("INCR", "s");
      await c.call("SET", "t", "1");
      assert.deepEqual(await c.call("EXEC"), [
        "OK",
        { err: "ERR value is not an integer or out of range" },
        "OK",
      ]);
    } finally {
      c.close();
    }
  });
});

async function rawExchange(conn: Deno.TcpConn, request: string, expectBytes: number) {
  await conn.write(new TextEncoder().encode(request));
  let got = "";
  const buf = new Uint8Array(4096);
  while (got.length < expectBytes) {
    const n = await conn.read(buf);
    if (n === null) break;
    got += new TextDecoder().decode(buf.subarray(0, n));
  }
  return got;
}

Deno.test("commands: HELLO 3 switches to RESP3 maps and nulls; HELLO 2 back", async () => {
  await withServer(async (port) => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    try {
      const hello = await rawExchange(conn, "HELLO 3\r\n", 90);
      assert.ok(hello.startsWith("%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n"), hello);
      assert.ok(hello.includes("$5\r\nproto\r\n:3\r\n"), hello);
      assert.equal(await rawExchange(conn, "GET nope\r\n", 3), "_\r\n");
      assert.equal(
        await rawExchange(conn, "CONFIG GET databases\r\n", 26),
        "%1\r\n$9\r\ndatabases\r\n$1\r\n1\r\n",
      );
      const back = await rawExchange(conn, "HELLO 2\r\n", 90);
      assert.ok(back.startsWith("*14\r\n"), back);
      assert.equal(await rawExchange(conn, "GET nope\r\n", 5), "$-1\r\n");
    } finally {
      conn.close();
    }
  });
});

Deno.test("commands: BGREWRITEAOF compacts in the background", async () => {
  await withServer(async (port, db) => {
    const c = await Client.connect(port);
    try {
      const writes: string[][] = [];
      for (let i = 0; i < 2000; i++) writes.push(["SET", `k${i % 20}`, "x".repeat(100)]);
      await c.send(...writes);
      for (const _ of writes) await c.reply();
      assert.ok(db.stats().deadBytes > 100_000);
      assert.equal(await c.call("BGREWRITEAOF"), "Background append only file rewriting started");
      for (let tries = 0;; tries++) {
        assert.ok(tries < 1000, "the compaction never finished");
        const info = String(await c.call("INFO", "persistence"));
        if (info.includes("aof_rewrite_in_progress:0")) {
          // From over 100 kB of overwritten values to a few bytes of file overhead.
          assert.ok(Number(/cask_dead_bytes:(\d+)/.exec(info)![1]) < 1024, info);
          break;
        }
        await sleep(10);
      }
      assert.equal(await c.call("DBSIZE"), 20);
      assert.equal(await c.call("GET", "k7"), "x".repeat(100));
    } finally {
      c.close();
    }
  });
});

Deno.test("commands: INFO keyspace inside EXEC counts the writes queued before it, as DBSIZE does", async () => {
  await withServer(async (port) => {
    const c = await Client.connect(port);
    try {
      await c.call("SET", "x", "1");
      assert.equal(await c.call("MULTI"), "OK");
      for (
        const cmd of [
          ["SET", "a", "1"],
          ["SET", "b", "2", "EX", "100"],
          ["INFO", "keyspace"],
          ["DBSIZE"],
          ["DEL", "x"],
          ["PERSIST", "b"],
          ["INFO", "keyspace"],
          ["FLUSHALL"],
          ["INFO", "keyspace"],
        ]
      ) assert.equal(await c.call(...cmd), "QUEUED");
      const replies = await c.call("EXEC") as Reply[];
      assert.match(String(replies[2]), /^# Keyspace\r\ndb0:keys=3,expires=1,avg_ttl=\d+\r\n$/);
      assert.equal(replies[3], 3);
      assert.equal(String(replies[6]), "# Keyspace\r\ndb0:keys=2,expires=0,avg_ttl=0\r\n");
      assert.equal(String(replies[8]), "# Keyspace\r\n");
      assert.equal(String(await c.call("INFO", "keyspace")), "# Keyspace\r\n");
    } finally {
      c.close();
    }
  });
});

Deno.test("commands: inside EXEC, INFO keyspace and DBSIZE agree while another client's writes wait for their fsync", async () => {
  await withServer(
    async (port) => {
      const a = await Client.connect(port), b = await Client.connect(port);
      try {
        const differ: string[] = [];
        for (let t = 0; t < 40; t++) {
          await a.call("SET", "x", "1");
          const cmds = [...Array.from({ length: 50 }, (_, i) => ["SET", `p${i}`, "v"]), [
            "DEL",
            "x",
          ]];
          const sent = a.send(...cmds);
          await new Promise((r) => setTimeout(r, t % 4));
          await b.send(["MULTI"], ["DBSIZE"], ["INFO", "keyspace"], ["EXEC"]);
          for (let i = 0; i < 3; i++) await b.reply();
          const ex = await b.reply() as Reply[];
          await sent;
          for (let i = 0; i < cmds.length; i++) await a.reply();
          const keys = Number(/keys=(\d+)/.exec(String(ex[1]))?.[1] ?? 0);
          if (ex[0] !== keys) differ.push(`DBSIZE ${ex[0]}, INFO keys=${keys}`);
        }
        assert.deepEqual(differ, []);
      } finally {
        a.close();
        b.close();
      }
    },
    {},
    "always",
  );
});

Deno.test("commands: INFO reports true counts", async () => {
  await withServer(async (port) => {
    const c = await Client.connect(port);
    try {
      await c.call("MSET", "a", "1", "b", "2", "c", "3");
      await c.call("EXPIRE", "a", "100");
      await c.call("GET", "a");
      await c.call("GET", "a");
      await c.call("GET", "zz");
      const info = String(await c.call("INFO"));
      for (const section of ["Server", "Clients", "Memory", "Persistence", "Stats", "Keyspace"]) {
        assert.ok(info.includes(`# ${section}\r\n`), section);
      }
      assert.match(info, /db0:keys=3,expires=1,avg_ttl=\d+/);
      assert.match(info, /keyspace_hits:2\r\n/);
      assert.match(info, /keyspace_misses:1\r\n/);
      assert.match(info, /connected_clients:1\r\nmaxclients:\d+\r\n/);
      assert.match(info, /blocked_clients:0\r\n/);
      assert.match(info, /total_connections_received:1\r\n/);
      assert.match(info, /total_commands_processed:[5-9]\r\n/);
      assert.match(info, /used_memory_rss:[1-9]\d+\r\n/);
      assert.match(info, /total_net_input_bytes:[1-9]\d+\r\n/);
      const reply: Reply = await c.call("INFO", "keyspace", "stats");
      assert.ok(String(reply).startsWith("# Stats\r\n"), String(reply));
      // Expired keys, whichever command finds them expired, count once each.
      assert.match(info, /expired_keys:0\r\n/);
      await c.call("SET", "gone1", "v", "PX", "20");
      await c.call("SET", "gone2", "v", "PX", "20");
      await c.call("SET", "gone3", "v", "PX", "20");
      await sleep(60);
      assert.equal(await c.call("GET", "gone1"), null);
      assert.equal(await c.call("EXISTS", "gone1"), 0);
      assert.equal(await c.call("DEL", "gone2"), 0);
      assert.equal(await c.call("SET", "gone3", "again"), "OK");
      assert.match(String(await c.call("INFO", "stats")), /expired_keys:3\r\n/);
    } finally {
      c.close();
    }
  });
});

const hasStatTools = await installed("redis-cli") && await installed("stdbuf");
if (!hasStatTools) {
  console.log("redis-cli or stdbuf not on PATH (apt-get install redis-tools): skipping");
}

Deno.test({
  name: "commands: redis-cli --stat reads true figures from INFO, blocked clients included",
  ignore: !hasStatTools,
  async fn() {
    await withServer(async (port) => {
      const c = await Client.connect(port);
      await c.call("MSET", "a", "1", "b", "2", "c", "3");
      // redis-cli buffers a pipe's lines: stdbuf makes it write each at once.
      const child = new Deno.Command("stdbuf", {
        args: ["-oL", "redis-cli", "-h", "127.0.0.1", "-p", String(port), "--stat", "-i", "0.1"],
        stdout: "piped",
        stderr: "null",
      }).spawn();
      const rows: string[][] = [];
      try {
        let text = "";
        const lines = child.stdout.pipeThrough(new TextDecoderStream());
        for await (const chunk of lines) {
          text += chunk;
          const data = text.split("\n").filter((l) => /^\d/.test(l) && l.endsWith(" "));
          if (data.length >= 2) {
            rows.push(...data.map((l) => l.trim().split(/\s+/)));
            break;
          }
        }
      } finally {
        child.kill("SIGTERM");
        await child.status;
        c.close();
      }
      // keys, memory, clients, blocked, requests, (+delta), connections
      const [keys, mem, clients, blocked, requests, delta, connections] = rows[1];
      assert.equal(keys, "3");
      assert.match(mem, /^\d+(\.\d+)?[KMG]$/);
      assert.equal(clients, "2");
      assert.equal(blocked, "0");
      assert.ok(Number(requests) >= 2, requests);
      assert.match(delta, /^\(\+1\)$/);
      assert.equal(connections, "2");
    });
  },
});

async function serveInfo(flags: string[], section = "persistence"): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "cask-serve-" });
  const { child, port } = await startServe(dir, ...flags);
  try {
    const c = await Client.connect(port);
    const info = String(await c.call("INFO", section));
    c.close();
    return info;
  } finally {
    child.kill("SIGTERM");
    await child.stdout.cancel();
    await child.status;
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("commands: cask serve compacts by itself unless --no-auto-compact", async () => {
  const [on, off] = await Promise.all([serveInfo([]), serveInfo(["--no-auto-compact"])]);
  assert.match(on, /cask_auto_compact:1\r\n/);
  assert.match(off, /cask_auto_compact:0\r\n/);
  assert.match(on, /cask_sync:always\r\n/);
});

Deno.test("commands: cask serve keeps the store's point cache only with --point-cache", async () => {
  const [off, on] = await Promise.all([
    serveInfo([], "memory"),
    serveInfo(["--point-cache"], "memory"),
  ]);
  const bytes = (info: string) => Number(/cask_index_bytes:(\d+)\r\n/.exec(info)?.[1]);
  // An empty store's table: 1,024 slots of 12 bytes.
  assert.equal(bytes(on) - bytes(off), 1024 * 12);
});

Deno.test("commands: RANDOMKEY picks stored keys, and nil when there are none", async () => {
  await withServer(async (port) => {
    const c = await Client.connect(port);
    try {
      assert.equal(await c.call("RANDOMKEY"), null);
      const keys = ["a", "apple", "b", "key:0001", "key:0002", "key:9999", "zz\u00ff"];
      for (const k of keys) await c.call("SET", k, "v");
      const seen = new Set<string>();
      for (let i = 0; i < 200; i++) {
        const k = await c.call("RANDOMKEY") as string;
        assert.ok(keys.includes(k), `RANDOMKEY gave ${k}`);
        seen.add(k);
      }
      // Not uniform, but no single key: the picks spread over the keyspace.
      assert.ok(seen.size >= 3, `only ${[...seen]} in 200 picks`);
      await c.call("FLUSHALL");
      await c.call("SET", "only", "v");
      assert.equal(await c.call("RANDOMKEY"), "only");
    } finally {
      c.close();
    }
  });
});

Deno.test("commands: SCAN TYPE string filters nothing, any other type finds nothing", async () => {
  await withServer(async (port) => {
    const c = await Client.connect(port);
    try {
      for (const k of ["a", "b", "c"]) await c.call("SET", k, "v");
      assert.deepEqual(await c.call("SCAN", "0", "TYPE", "string"), ["0", ["a", "b", "c"]]);
      assert.deepEqual(await c.call("SCAN", "0", "TYPE", "STRING", "MATCH", "b*"), ["0", ["b"]]);
      assert.deepEqual(await c.call("SCAN", "0", "TYPE", "hash"), ["0", []]);
      // The cursor still moves on when the type filters every key out.
      const [next, found] = await c.call("SCAN", "0", "COUNT", "2", "TYPE", "list") as Reply[];
      assert.notEqual(next, "0");
      assert.deepEqual(found, []);
    } finally {
      c.close();
    }
  });
});

Deno.test("commands: SAVE and BGSAVE make writes durable; LASTSAVE and TIME tell the time", async () => {
  await withServer(async (port, db) => {
    const c = await Client.connect(port);
    try {
      const before = await c.call("LASTSAVE") as number;
      assert.ok(Math.abs(before - Date.now() / 1000) < 60, `LASTSAVE ${before}`);
      await c.call("SET", "k", "v");
      let syncs = 0;
      const sync = db.sync.bind(db);
      db.sync = () => {
        syncs++;
        return sync();
      };
      await sleep(1100);
      assert.equal(await c.call("SAVE"), "OK");
      assert.equal(syncs, 1);
      const after = await c.call("LASTSAVE") as number;
      assert.ok(after > before, `LASTSAVE ${before} -> ${after}`);
      assert.equal(await c.call("BGSAVE"), "Background saving started");
      assert.equal(await c.call("BGSAVE", "SCHEDULE"), "Background saving started");
      await sleep(50);
      assert.equal(syncs, 3);
      const [seconds, micros] = (await c.call("TIME") as string[]).map(Number);
      assert.ok(Math.abs(seconds * 1000 + micros / 1000 - Date.now()) < 5000);
      assert.ok(micros >= 0 && micros < 1_000_000);
    } finally {
      c.close();
    }
  });
});

Deno.test("commands: APPEND and SETRANGE refuse to make a string past the bulk limit", async () => {
  await withServer(async (port) => {
    const c = await Client.connect(port);
    try {
      const limit = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";
      assert.equal(await c.call("SETRANGE", "k", "1020", "abcd"), 1024);
      assert.deepEqual(await c.call("SETRANGE", "k", "1021", "abcd"), { err: limit });
      assert.deepEqual(await c.call("SETRANGE", "n", "9223372036854775000", "a"), { err: limit });
      assert.deepEqual(await c.call("APPEND", "k", "x"), { err: limit });
      assert.equal(await c.call("STRLEN", "k"), 1024);
      assert.equal(await c.call("EXISTS", "n"), 0);
    } finally {
      c.close();
    }
  }, { limits: { ...DEFAULT_LIMITS, maxBulkLength: 1024 } });
});
