// Child process of the Workers crash test: owns a store under sync "always",
// attaches two Workers, and all three threads write until the parent kills the
// process. Each acknowledged write is logged as "a <key> <n>" after it resolved
// (the Workers log from their own threads).
import { open } from "../../mod.ts";
import { WorkerChild } from "./worker_driver.ts";

const db = await open(Deno.args[0], { sync: "always", onWarning: () => {} });
const workers = [new WorkerChild(), new WorkerChild()];
for (const w of workers) await w.attach(db);
workers.forEach((w, i) => w.send({ cmd: "crash", thread: i + 1 }));
console.log("ready");
for (let n = 1;; n++) {
  const key = `w:0:${n % 50}`;
  await db.set(key, String(n));
  console.log(`a ${key} ${n}`);
}
