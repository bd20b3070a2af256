// Read-modify-writes that follow each other in one pipeline run under one
// lock of their keys and commit as one batch; a client cannot tell: replies,
// errors, refusals, WATCH and other clients' commands behave as if each ran
// alone, in order.
import assert from "node:assert/strict";
import { open } from "../mod.ts";
import { faults } from "../src/log/faults.ts";
import { Overlay } from "../src/resp/keyspace.ts";
import { PendingWrites } from "../src/resp/pending_writes.ts";
import { checkFailingIncrs, Client, failOnce, type Reply, withServer } from "./resp_client.ts";
import { withDir } from "./helpers.ts";

async function pipeline(c: Client, ...commands: string[][]): Promise<Reply[]> {
  await c.send(...commands);
  const replies: Reply[] = [];
  for (let i = 0; i < commands.length; i++) replies.push(await c.reply());
  return replies;
}

Deno.test("a pipeline of INCRs of one key commits them as one write, and each reply counts", () =>
  withServer(async (port, db) => {
    const c = await Client.connect(port);
    try {
      const before = db.sequence;
      const replies = await pipeline(c, ...Array.from({ length: 100 }, () => ["INCR", "n"]));
      assert.deepEqual(replies, Array.from({ length: 100 }, (_, i) => i + 1));
      assert.equal(await c.call("GET", "n"), "100");
      // One at a time, each INCR would take a sequence number of its own.
      assert.ok(db.sequence - before < 10, `${db.sequence - before} commits for 100 INCRs`);
    } finally {
      c.close();
    }
  }));

for (const sync of ["never", "always"] as const) {
  Deno.test(`pipelined read-modify-writes of clients racing on the same keys all count (sync ${sync})`, () =>
    withServer(
      async (port) => {
        const CLIENTS = 8, ROUNDS = 10, DEPTH = 16;
        const run = async (id: number) => {
          const c = await Client.connect(port);
          const mine: number[] = [];
          try {
            for (let r = 0; r < ROUNDS; r++) {
              const cmds = Array.from(
                { length: DEPTH },
                (_, i) => i % 4 === 3 ? ["APPEND", "log", String(id % 10)] : ["INCR", "hot"],
              );
              const replies = await pipeline(c, ...cmds);
              replies.forEach((v, i) => {
                if (i % 4 !== 3) mine.push(v as number);
              });
            }
          } finally {
            c.close();
          }
          return mine;
        };
        const all = await Promise.all(Array.from({ length: CLIENTS }, (_, id) => run(id)));
        for (const mine of all) {
          assert.ok(mine.every((v, i) => i === 0 || v > mine[i - 1]), String(mine));
        }
        const incrs = CLIENTS * ROUNDS * DEPTH * 3 / 4;
        assert.deepEqual(
          all.flat().sort((a, b) => a - b),
          Array.from({ length: incrs }, (_, i) => i + 1),
        );
        const c = await Client.connect(port);
        try {
          assert.equal(await c.call("GET", "hot"), String(incrs));
          assert.equal(await c.call("STRLEN", "log"), CLIENTS * ROUNDS * DEPTH / 4);
        } finally {
          c.close();
        }
      },
      {},
      sync,
    ));
}

Deno.test("a failing read-modify-write in a pipeline fails alone, and writes nothing", () =>
  withServer(async (port) => {
    const c = await Client.connect(port);
    try {
      await c.call("SET", "text", "abc");
      const replies = await pipeline(
        c,
        ["INCR", "a"],
        ["INCR", "text"],
        ["SET", "b", "x", "NX"],
        ["INCRBY", "a", "9223372036854775807"],
        ["APPEND", "text", "d"],
        ["INCR", "a"],
        ["GET", "a"],
        ["GET", "text"],
      );
      assert.deepEqual(replies, [
        1,
        { err: "ERR value is not an integer or out of range" },
        "OK",
        { err: "ERR increment or decrement would overflow" },
        4,
        2,
        "2",
        "abcd",
      ]);
    } finally {
      c.close();
    }
  }));

Deno.test("a read-modify-write the store refuses in a pipeline fails alone: the ones around it are applied", () =>
  withServer(
    async (port) => {
      const c = await Client.connect(port);
      try {
        await c.call("SET", "s", "1234567");
        const replies = await pipeline(
          c,
          ["INCR", "n"],
          ["APPEND", "s", "89"],
          ["INCR", "n"],
          ["APPEND", "s", "8"],
        );
        assert.equal(replies[0], 1);
        assert.ok(typeof replies[1] === "object" && replies[1] !== null && "err" in replies[1]);
        assert.deepEqual(replies.slice(2), [2, 8]);
        assert.deepEqual(await pipeline(c, ["GET", "s"], ["GET", "n"]), ["12345678", "2"]);
      } finally {
        c.close();
      }
    },
    {},
    "never",
    { maxValueSize: 8 },
  ));

Deno.test("pipelined read-modify-writes keep their order with the blind writes and reads around them", () =>
  withServer(async (port) => {
    const c = await Client.connect(port);
    try {
      const replies = await pipeline(
        c,
        ["SET", "a", "1"],
        ["INCR", "a"],
        ["INCR", "a"],
        ["SET", "a", "10"],
        ["INCRBY", "a", "5"],
        ["GETSET", "a", "0"],
        ["INCR", "a"],
        ["GET", "a"],
        ["DEL", "a"],
        ["INCR", "a"],
      );
      assert.deepEqual(replies, ["OK", 2, 3, "OK", 15, "15", 1, "1", 1, 1]);
    } finally {
      c.close();
    }
  }));

Deno.test("a WATCHed key changed by a pipelined read-modify-write makes EXEC fail", () =>
  withServer(async (port) => {
    const a = await Client.connect(port), b = await Client.connect(port);
    try {
      assert.equal(await a.call("WATCH", "k"), "OK");
      assert.equal(await a.call("MULTI"), "OK");
      assert.equal(await a.call("SET", "k", "from-a"), "QUEUED");
      assert.deepEqual(await pipeline(b, ["INCR", "j"], ["INCR", "k"], ["INCR", "j"]), [1, 1, 2]);
      assert.equal(await a.call("EXEC"), null);
      assert.equal(await a.call("GET", "k"), "1");
    } finally {
      a.close();
      b.close();
    }
  }));

// A rare interleaving (a drop between a batch's reads and its write) is what
// this catches, so the run is repeated.
Deno.test("pipelined INCRs built on writes that fail: exactly the acknowledged increments stay, and survive a reopen", async () => {
  const client = async (port: number) => {
    const c = await Client.connect(port);
    try {
      const replies: Reply[] = [];
      for (let r = 0; r < 5; r++) {
        replies.push(...await pipeline(c, ...Array.from({ length: 8 }, () => ["INCR", "n"])));
      }
      return replies;
    } finally {
      c.close();
    }
  };
  for (let round = 0; round < 4; round++) {
    await checkFailingIncrs(Array.from({ length: 12 }, () => client));
  }
});

Deno.test("a batch of pipelined read-modify-writes whose write fails fails whole, and the next one counts from what was stored", () =>
  withServer(
    async (port) => {
      const c = await Client.connect(port);
      try {
        await c.call("SET", "x", "10");
        faults.beforeWrite = failOnce();
        let replies: Reply[];
        try {
          replies = await pipeline(c, ["INCR", "x"], ["APPEND", "y", "ab"], ["INCR", "x"]);
        } finally {
          faults.beforeWrite = undefined;
        }
        assert.ok(replies.every((r) => typeof r === "object" && r !== null), String(replies));
        assert.deepEqual(await pipeline(c, ["INCR", "x"], ["APPEND", "y", "ab"], ["GET", "x"]), [
          11,
          2,
          "11",
        ]);
      } finally {
        c.close();
      }
    },
    {},
    "always",
  ));

Deno.test("a value the store refuses is refused in a pipeline even when a later command overwrites or deletes it", () =>
  withServer(
    async (port) => {
      const c = await Client.connect(port);
      const refused = (r: Reply) => typeof r === "object" && r !== null && "err" in r;
      try {
        let r = await pipeline(c, ["SET", "k", "x".repeat(11), "NX"], ["GETDEL", "k"]);
        assert.ok(refused(r[0]), String(r));
        assert.equal(r[1], null);
        r = await pipeline(c, ["MSETNX", "p", "x".repeat(11), "q", "1"], ["DEL", "p"], [
          "EXISTS",
          "q",
        ]);
        assert.ok(refused(r[0]), String(r));
        assert.deepEqual(r.slice(1), [0, 0]);
        r = await pipeline(c, ["APPEND", "a", "123456"], ["APPEND", "a", "789ab"], ["GETDEL", "a"]);
        assert.equal(r[0], 6);
        assert.ok(refused(r[1]), String(r));
        assert.equal(r[2], "123456");
      } finally {
        c.close();
      }
    },
    {},
    "never",
    { maxValueSize: 10 },
  ));

Deno.test('a failing command in a pipeline of read-modify-writes does not cost the others an fsync each (sync "always")', () =>
  withServer(
    async (port) => {
      const c = await Client.connect(port);
      try {
        await c.call("SET", "text", "abc");
        let fsyncs = 0;
        faults.beforeSync = () => void fsyncs++;
        let replies: Reply[];
        try {
          const cmds = Array.from(
            { length: 200 },
            (_, i) => i === 100 ? ["INCR", "text"] : ["INCR", "n"],
          );
          replies = await pipeline(c, ...cmds);
        } finally {
          faults.beforeSync = undefined;
        }
        assert.deepEqual(replies[100], { err: "ERR value is not an integer or out of range" });
        const counts = replies.filter((_, i) => i !== 100);
        assert.deepEqual(counts, Array.from({ length: 199 }, (_, i) => i + 1));
        // One at a time, each INCR would wait for an fsync of its own.
        assert.ok(fsyncs < 20, `${fsyncs} fsyncs for 200 INCRs`);
      } finally {
        c.close();
      }
    },
    {},
    "always",
  ));

Deno.test("a command undone in a batch's view leaves the writes of the commands before it", () =>
  withDir(async (dir) => {
    await using db = await open(dir);
    await db.set("k", "stored");
    const view = new Overlay(db, new PendingWrites());
    const b = (t: string) => new TextEncoder().encode(t);
    view.steps();
    view.put(b("k"), { value: b("first") });
    view.step();
    view.put(b("k"), { value: b("second") });
    view.put(b("other"), { value: b("x") });
    view.undo();
    assert.deepEqual(await view.get(b("k")), b("first"));
    assert.equal(await view.get(b("other")), undefined);
    view.remove(b("k"));
    view.step();
    assert.deepEqual(view.ops(), [
      { type: "set", key: b("k"), value: b("first") },
      { type: "delete", key: b("k") },
    ]);
  }));

Deno.test("in a batch's view, a key's write gives way to a later one of it only when no shorter", () =>
  withDir(async (dir) => {
    await using db = await open(dir);
    const view = new Overlay(db, new PendingWrites());
    const b = (t: string) => new TextEncoder().encode(t);
    view.steps();
    for (const v of ["9", "10", "11", "5"]) {
      view.put(b("n"), { value: b(v) });
      view.step();
    }
    // "10" and "11" replace "9" and "10"; "5" could not stand for "11", which the store must see.
    assert.deepEqual(view.ops(), [
      { type: "set", key: b("n"), value: b("11") },
      { type: "set", key: b("n"), value: b("5") },
    ]);
  }));

Deno.test("a SET the store refuses in a pipeline never lets an earlier SET land over a later one", () =>
  withServer(
    async (port, db, server, dir) => {
      const c = await Client.connect(port);
      try {
        for (const refused of [["SET", "", "v"], ["SET", "big", "x".repeat(11)]]) {
          const r = await pipeline(
            c,
            refused,
            ["SET", "b", "y"],
            ["INCR", "c"],
            ["SET", "b", "z"],
            [
              "GET",
              "b",
            ],
          );
          assert.ok(typeof r[0] === "object" && r[0] !== null && "err" in r[0], String(r));
          assert.deepEqual(r.slice(1, 4), ["OK", r[2], "OK"]);
          assert.equal(r[4], "z");
        }
        assert.equal(await c.call("GET", "b"), "z");
      } finally {
        c.close();
      }
      // What the log holds, in its order: a reopen replays it.
      await server.shutdown();
      await db.close();
      await using again = await open(dir);
      assert.equal(await again.getString("b"), "z");
    },
    {},
    "never",
    { maxValueSize: 10 },
  ));
