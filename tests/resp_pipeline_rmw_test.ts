// Read-modify-writes that follow each other in one pipeline run under one
// lock of their keys and commit as one batch; a client cannot tell: replies,
// errors, refusals, WATCH and other clients' commands behave as if each ran
// alone, in order.
import assert from "node:assert/strict";
import { open } from "../mod.ts";
import { faults } from "../src/log/faults.ts";
import { RespServer } from "../src/resp/server.ts";
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

Deno.test("a read-modify-write the store refuses in a pipeline fails alone: the ones around it are applied", async () => {
  await withDir(async (dir) => {
    const db = await open(dir, { maxValueSize: 8 });
    const server = new RespServer(db, { port: 0, version: "test" });
    const c = await Client.connect(server.addr.port);
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
      await server.shutdown();
      await db.close();
    }
  });
});

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
