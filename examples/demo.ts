/**
 * A small tour of Cask on ./cask-data (or the directory given as the first
 * argument): writes, reads, a batch, a TTL, an ordered scan, then reopens the
 * store to show the data survived.
 */

import { open } from "../mod.ts";

const dir = Deno.args[0] ?? "./cask-data";
const td = new TextDecoder();

{
  await using db = await open(dir);
  const t0 = performance.now();
  const n = 10_000;
  const writes = [];
  for (let i = 0; i < n; i++) {
    writes.push(
      db.set(`user:${String(i).padStart(5, "0")}`, JSON.stringify({ id: i, name: `user ${i}` })),
    );
  }
  await Promise.all(writes);
  const t1 = performance.now();
  console.log(
    `wrote ${n} durable records in ${(t1 - t0).toFixed(0)} ms (group commit, sync: "always")`,
  );

  await db.atomic([
    { type: "set", key: "account:alice", value: "90" },
    { type: "set", key: "account:bob", value: "110" },
  ]);
  // Long enough that a busy machine still prints time left, not an expired key.
  await db.set("session:xyz", "short-lived", { ttl: 300 });
  console.log("account:alice =", await db.getString("account:alice"));
  console.log("session:xyz ttl ms =", await db.ttl("session:xyz"));

  const first = [];
  for await (const [k, v] of db.scan({ prefix: "user:", limit: 3 })) {
    first.push(`${td.decode(k)} -> ${td.decode(v)}`);
  }
  console.log("first users in key order:\n  " + first.join("\n  "));
  const last = [];
  for await (const k of db.keys({ prefix: "user:", reverse: true, limit: 2 })) {
    last.push(td.decode(k));
  }
  console.log("last users:", last.join(", "));
}

await new Promise((r) => setTimeout(r, 350));
{
  const t0 = performance.now();
  await using db = await open(dir);
  console.log(`reopened ${dir} in ${(performance.now() - t0).toFixed(0)} ms: ${db.size} keys`);
  console.log("session:xyz after its TTL:", await db.getString("session:xyz"));
  const s = db.stats();
  console.log(`live ${s.liveBytes} bytes, dead ${s.deadBytes} bytes in ${s.files.length} file(s)`);
}
