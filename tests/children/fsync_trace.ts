// Child process of the fsync-order test, run under strace. "acks": durable
// writes (concurrent ones share fsyncs; small files rotate often), printing
// "ack <key>" once each resolved ("acks-inline": the same with inlineFsync). "sync": rounds of writes under sync "never",
// printing "synced <round>" once the round's sync() resolved. "compact": a
// churned store is compacted, then "compacted" is printed. Each line is one write(2) to stdout.
import { open } from "../../mod.ts";

const [dir, mode] = Deno.args;
const say = (line: string) => Deno.stdout.writeSync(new TextEncoder().encode(line + "\n"));

if (mode === "acks" || mode === "acks-inline") {
  const db = await open(dir, {
    sync: "always",
    maxFileSize: 2048,
    inlineFsync: mode === "acks-inline",
  });
  for (let round = 0; round < 12; round++) {
    const keys = Array.from({ length: 1 + (round % 4) }, (_, i) => `dk-${round}-${i}`);
    await Promise.all(keys.map(async (key) => {
      await db.set(key, "v".repeat(90));
      say(`ack ${key}`);
    }));
    const batch = [`db-${round}-a`, `db-${round}-b`];
    await db.atomic(batch.map((key) => ({ type: "set" as const, key, value: "w".repeat(60) })));
    say(`ack ${batch[1]}`);
  }
  await db.close();
} else if (mode === "sync") {
  // Writes under "never", each round made durable by one sync().
  const db = await open(dir, { sync: "never", maxFileSize: 2048 });
  for (let round = 0; round < 6; round++) {
    for (let i = 0; i < 25; i++) await db.set(`ns-${round}-${i}`, "n".repeat(70));
    await db.sync();
    say(`synced ${round}`);
  }
  await db.close();
} else {
  const db = await open(dir, { sync: "never", maxFileSize: 2048 });
  for (let i = 0; i < 300; i++) await db.set(`ck-${i % 70}`, `value ${i} ${"x".repeat(40)}`);
  for (let i = 0; i < 70; i += 3) await db.delete(`ck-${i}`);
  await db.compact();
  say("compacted");
  await db.close();
}
