// Child process of the readers test: a writer that keeps the store's files
// coming and going. It writes in small files and compacts without pause, for
// Deno.args[1] ms, on the store in Deno.args[0]; prints "ready" once the store
// holds data, then "done <sequence>" after closing it.
import { open } from "../../mod.ts";

const [dir, ms] = [Deno.args[0], Number(Deno.args[1])];
const db = await open(dir, { sync: "never", maxFileSize: 4096, onWarning: () => {} });
const value = "v".repeat(60);
let n = 0;
const write = async (count: number) => {
  const pending = [];
  for (let i = 0; i < count; i++, n++) pending.push(db.set(`k${n % 5000}`, `${value}${n}`));
  await Promise.all(pending);
};
await write(5000);
console.log("ready");
const end = Date.now() + ms;
const compactions = (async () => {
  while (Date.now() < end) await db.compact();
})();
while (Date.now() < end) {
  await write(200);
  await new Promise((r) => setTimeout(r, 1));
}
await compactions;
await db.close();
console.log(`done ${db.sequence}`);
