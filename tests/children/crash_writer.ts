// Child process of the crash test: runs the ops of one round (see
// crash_workload.ts) with `writers` of them in flight at once until the parent
// kills it. Prints "ready" once the store is open, "a <i>" once op i resolved
// and, under "never" and the interval mode, "s <n>" once a sync() called after
// ops 0..n-1 were issued resolved. Each line is one synchronous write to the
// pipe, made after the promise it reports resolved.
import { open } from "../../mod.ts";
import { type Op, type RoundConfig, valueOf, workload } from "./crash_workload.ts";

const cfg: RoundConfig = JSON.parse(Deno.args[0]);
const db = await open(cfg.dir, {
  sync: cfg.sync,
  inlineFsync: cfg.inlineFsync === true,
  maxFileSize: cfg.maxFileSize,
  checkpoint: { minKeys: 0 },
  onWarning: () => {},
});
console.log("ready");

const op = workload(cfg.round, cfg.seed);
let next = 0;

function run(o: Op): Promise<unknown> {
  if (o.atomic) {
    return db.atomic(
      o.changes.map(({ key, tag }) =>
        tag === undefined ? { type: "delete", key } : { type: "set", key, value: valueOf(tag, key) }
      ),
    );
  }
  const [{ key, tag }] = o.changes;
  return tag === undefined ? db.delete(key) : db.set(key, valueOf(tag, key));
}

// Ops are issued in number order (the call appends synchronously), so op
// numbers are log order.
async function writer(durable: boolean): Promise<never> {
  for (;;) {
    const i = next++;
    await run(op(i));
    console.log(`a ${i}`);
    // Without fsyncs an ack takes no I/O, so the writers would starve every
    // timer (interval fsync, buffer flush, the syncer) and write in bursts.
    if (!durable) await new Promise((r) => setTimeout(r, 0));
  }
}

async function syncer(): Promise<never> {
  for (;;) {
    await new Promise((r) => setTimeout(r, 1 + Math.random() * 10));
    const issued = next;
    await db.sync();
    console.log(`s ${issued}`);
  }
}

const durable = cfg.sync === "always";
const loops = Array.from({ length: cfg.writers }, () => writer(durable));
if (!durable) loops.push(syncer());
await Promise.all(loops);
