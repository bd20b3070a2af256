// EXEC is one atomic batch of the store: a `cask serve` process killed with
// SIGKILL while clients stream transactions leaves each transaction entirely
// present or entirely absent when the store is opened again.
import assert from "node:assert/strict";
import { open } from "../mod.ts";
import { text, withDir } from "./helpers.ts";
import { Client } from "./resp_client.ts";
import { startServe } from "./ports.ts";

const KEYS_PER_TX = 4;

for (const sync of ["never", "always"]) {
  Deno.test(`crash: SIGKILL during MULTI/EXEC streams (--sync ${sync}) leaves whole transactions`, async () => {
    await withDir(async (dir) => {
      const { child, port } = await startServe(dir, "--sync", sync);
      const clients = await Promise.all([1, 2, 3].map(() => Client.connect(port)));
      let acknowledged = 0;
      const streams = clients.map(async (c, n) => {
        // Each client pipelines transactions and counts the EXECs answered.
        for (let round = 0;; round++) {
          const batch: string[][] = [];
          for (let t = 0; t < 20; t++) {
            const id = `${n}-${round}-${t}`;
            batch.push(["MULTI"]);
            for (let k = 0; k < KEYS_PER_TX; k++) batch.push(["SET", `tx:${id}:${k}`, id]);
            batch.push(["EXEC"]);
          }
          try {
            await c.send(...batch);
            for (let t = 0; t < 20; t++) {
              for (let k = 0; k < KEYS_PER_TX + 1; k++) await c.reply();
              const exec = await c.reply();
              assert.deepEqual(exec, Array(KEYS_PER_TX).fill("OK"));
              acknowledged++;
            }
          } catch {
            return; // the server is gone
          }
        }
      });
      // Let transactions flow, then kill the server mid-stream.
      let ended = 0;
      for (const stream of streams) stream.finally(() => ended++);
      while (acknowledged < 300 && ended === 0) await new Promise((r) => setTimeout(r, 5));
      assert.equal(ended, 0, "a client stopped before the server was killed");
      child.kill("SIGKILL");
      await child.status;
      await child.stdout.cancel();
      await Promise.all(streams);
      for (const c of clients) c.close();

      const db = await open(dir, { onWarning: () => {} });
      try {
        const found = new Map<string, number>();
        for await (const [key, value] of db.scan({ prefix: "tx:" })) {
          const id = text(key)!.split(":")[1];
          assert.equal(text(value), id, "every key of a transaction holds its id");
          found.set(id, (found.get(id) ?? 0) + 1);
        }
        for (const [id, count] of found) {
          assert.equal(count, KEYS_PER_TX, `transaction ${id} is only partly there`);
        }
        // sync "always" answers EXEC after its fsync: every acknowledged one survived.
        if (sync === "always") {
          assert.ok(found.size >= acknowledged, `${found.size} < ${acknowledged}`);
        }
        assert.ok(found.size > 0);
      } finally {
        await db.close();
      }
    });
  });
}
