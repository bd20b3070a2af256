// Read-modify-writes of one hot key under sync "always": each builds on the
// value the one before it wrote while that value still waits for its fsync, so
// they share group commits; and a write that fails never leaves behind a later
// one that was built on it.
import assert from "node:assert/strict";
import { open } from "../mod.ts";
import { faults } from "../src/log/faults.ts";
import { checkFailingIncrs, Client, failOnce, type Reply, withServer } from "./resp_client.ts";
import { withDir } from "./helpers.ts";
import { RespServer } from "../src/resp/server.ts";

const CLIENTS = 20;
const EACH = 25;

// Each client sends its INCRs one at a time, as redis-benchmark -c does.
async function incrs(port: number, key: string, each: number): Promise<Reply[]> {
  const c = await Client.connect(port);
  try {
    const replies: Reply[] = [];
    for (let i = 0; i < each; i++) replies.push(await c.call("INCR", key));
    return replies;
  } finally {
    c.close();
  }
}

Deno.test('INCRs of one key from many clients share fsyncs under sync "always", and all count', () =>
  withServer(
    async (port) => {
      let fsyncs = 0;
      faults.beforeSync = () => void fsyncs++;
      let replies: Reply[][];
      try {
        replies = await Promise.all(
          Array.from({ length: CLIENTS }, () => incrs(port, "hot", EACH)),
        );
      } finally {
        faults.beforeSync = undefined;
      }
      for (const r of replies) {
        assert.ok(r.every((v, i) => i === 0 || (v as number) > (r[i - 1] as number)), String(r));
      }
      const all = replies.flat().map(Number).sort((a, b) => a - b);
      assert.deepEqual(all, Array.from({ length: CLIENTS * EACH }, (_, i) => i + 1));
      const c = await Client.connect(port);
      assert.equal(await c.call("GET", "hot"), String(CLIENTS * EACH));
      c.close();
      // One fsync per INCR when each waits for the one before; shared, far fewer.
      assert.ok(fsyncs < (CLIENTS * EACH) / 3, `${fsyncs} fsyncs for ${CLIENTS * EACH} INCRs`);
    },
    {},
    "always",
  ));

// A rare interleaving (a drop between an INCR's read and its write) is what
// this catches, so the run is repeated.
Deno.test("INCRs built on writes that fail: exactly the acknowledged increments stay, and survive a reopen", async () => {
  for (let round = 0; round < 6; round++) {
    await checkFailingIncrs(Array.from({ length: 20 }, () => (port) => incrs(port, "n", 20)));
  }
});

Deno.test("a read-modify-write the store refuses at once leaves the record of the write in flight before it", () =>
  withServer(
    async (port) => {
      // Every RENAME to a key over maxKeySize is refused before it is written,
      // between INCRs of the key whose values are in flight.
      const long = "k".repeat(64 * 1024 + 1);
      let stop = false;
      const renamer = async () => {
        const c = await Client.connect(port);
        while (!stop) assert.ok(typeof (await c.call("RENAME", "hot", long)) === "object");
        c.close();
      };
      const renamers = [renamer(), renamer()];
      const replies = (await Promise.all(Array.from({ length: 10 }, () => incrs(port, "hot", 50))))
        .flat().map(Number).sort((a, b) => a - b);
      stop = true;
      await Promise.all(renamers);
      assert.deepEqual(replies, Array.from({ length: 500 }, (_, i) => i + 1));
      const c = await Client.connect(port);
      assert.equal(await c.call("GET", "hot"), "500");
      c.close();
    },
    {},
    "always",
  ));

Deno.test("a command that answers from a write in flight, and writes nothing, never answers from a dropped one", () =>
  withServer(
    async (port) => {
      const c = await Client.connect(port);
      await c.call("SET", "b", "5");
      faults.beforeWrite = failOnce();
      let replies: Reply[];
      try {
        // One pipeline: the SETNX and GETDEL whose write fails are in flight
        // when the commands after them read their keys. The blind SETs between
        // them keep each read-modify-write a batch of its own (see
        // resp_pipeline_rmw_test.ts).
        const commands = [
          ["SETNX", "lock", "a"],
          ["SETNX", "lock", "b"],
          ["GETDEL", "b"],
          ["COPY", "b", "c"],
          ["RENAME", "b", "d"],
        ];
        await c.send(...commands.flatMap((cmd) => [cmd, ["SET", "z", "1"]]));
        replies = [];
        for (let i = 0; i < 10; i++) replies.push(await c.reply());
        replies = replies.filter((_, i) => i % 2 === 0);
      } finally {
        faults.beforeWrite = undefined;
      }
      // The second SETNX read the first one's write in flight and wrote
      // nothing: once that write failed, it answered from what was stored.
      assert.ok(typeof replies[0] === "object", String(replies));
      assert.deepEqual(replies.slice(1, 4), [1, "5", 0]);
      assert.ok(typeof replies[4] === "object", String(replies));
      assert.equal(await c.call("GET", "lock"), "b");
      assert.equal(await c.call("EXISTS", "b", "c", "d"), 0);
      c.close();
    },
    {},
    "always",
  ));

Deno.test("a write the store refuses on the strength of a dropped value runs again on the real one", () =>
  withDir(async (dir) => {
    const db = await open(dir, { sync: "always", maxValueSize: 100 });
    const server = new RespServer(db, { port: 0, version: "test" });
    const c = await Client.connect(server.addr.port);
    faults.beforeWrite = failOnce();
    try {
      const x60 = "x".repeat(60);
      // The second APPEND reads the first's 60 bytes in flight; 120 would be
      // refused, but the first is dropped, so it appends to nothing.
      await c.send(["APPEND", "k", x60], ["APPEND", "k", x60]);
      assert.equal(typeof (await c.reply()), "object");
      assert.equal(await c.reply(), 60);
      faults.beforeWrite = undefined;
      assert.equal(await c.call("STRLEN", "k"), 60);
    } finally {
      faults.beforeWrite = undefined;
      c.close();
      await server.shutdown();
      await db.close();
    }
  }));
