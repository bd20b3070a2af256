// Child of the checkpoint test: opens the store (sync "always"), sets keys
// `<round>:<i>` for i < count, printing "a <i>" as they are acknowledged,
// then prints "closing" and closes, which writes an index checkpoint; the
// parent kills it at a random moment of that close.
import { open } from "../../mod.ts";

const [dir, round, count] = Deno.args;
const db = await open(dir, { checkpoint: { minKeys: 0 }, maxFileSize: 256 * 1024 });
// 256 writes in flight share their fsyncs; "a <i>" says writes 0..i are all acknowledged.
for (let from = 0; from < Number(count); from += 256) {
  const to = Math.min(Number(count), from + 256);
  const writes = [];
  for (let i = from; i < to; i++) writes.push(db.set(`${round}:${i}`, `value ${round}:${i}`));
  await Promise.all(writes);
  console.log(`a ${to - 1}`);
}
console.log("closing");
await db.close();
console.log("closed");
