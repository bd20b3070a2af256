// Child process of the KV queue crash test: enqueues the messages given as arguments
// (durably: each enqueue resolves after fdatasync), then starts listening. The handler
// prints "got <message>" and never returns, so no delivery is acknowledged before
// the parent kills the process with SIGKILL.
import { openKv } from "../../mod.ts";

const [dir, ...messages] = Deno.args;
const kv = await openKv(dir);
for (const m of messages) await kv.enqueue(m);
console.log("enqueued");
await kv.listenQueue((m) => {
  console.log(`got ${m}`);
  return new Promise(() => {});
});
