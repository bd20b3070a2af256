// Child process of the readers and backup tests: the writer another process
// reads beside. Runs 4 concurrent writer loops (sets, deletes and atomic
// batches) and a compaction loop on the store in Deno.args[0] for
// Deno.args[1] ms, takes a backup into Deno.args[2] (when given) midway, then
// closes the store and exits. Under sync "never" a write is applied when the
// call returns, so `db.sequence` read right after the call is that write's
// sequence number (unchanged for a delete of an absent key, which writes
// nothing). Lines on stdout, each written after what it reports:
//   ready                       the store is open
//   I <json LoggedOp>           an op was issued (appended, so in log order)
//   A <id>                      op <id> resolved
//   B <sequence>                the backup finished, holding the store at <sequence>
//   done                        the store is closed
import { open } from "../../mod.ts";
import { type LoggedOp, valueFor } from "./reader_load_model.ts";

const [dir, ms, backupDir] = [Deno.args[0], Number(Deno.args[1]), Deno.args[2]];
const db = await open(dir, { sync: "never", maxFileSize: 16 * 1024, onWarning: () => {} });
console.log("ready");

const KEYS = 48;
const counters = new Map<string, number>();
let nextId = 0;
let stop = false;
let rand = 0x2545f491;
const random = () => {
  rand ^= rand << 13;
  rand ^= rand >>> 17;
  rand ^= rand << 5;
  return (rand >>> 0) / 4294967296;
};
const key = () => `k${(random() * KEYS) | 0}`;
const bump = (k: string) => {
  const c = (counters.get(k) ?? 0) + 1;
  counters.set(k, c);
  return c;
};

function issue(): { id: number; done: Promise<unknown> } {
  const id = nextId++;
  const r = random();
  let op: LoggedOp, done: Promise<unknown>;
  if (r < 0.3) {
    const keys = [...new Set(Array.from({ length: 2 + ((random() * 4) | 0) }, key))];
    const counts = keys.map(bump);
    done = db.atomic(keys.map((k, i) => ({
      type: "set" as const,
      key: k,
      value: valueFor(k, counts[i], id),
    })));
    op = { id, seq: db.sequence, kind: "batch", keys, counters: counts };
  } else if (r < 0.8) {
    const k = key(), c = bump(k);
    done = db.set(k, valueFor(k, c, id));
    op = { id, seq: db.sequence, kind: "set", keys: [k], counters: [c] };
  } else {
    const k = key(), c = bump(k);
    done = db.delete(k);
    op = { id, seq: db.sequence, kind: "delete", keys: [k], counters: [c] };
  }
  console.log(`I ${JSON.stringify(op)}`);
  return { id, done };
}

async function writer(): Promise<void> {
  while (!stop) {
    const { id, done } = issue();
    await done;
    console.log(`A ${id}`);
    // Without fsyncs an ack takes no I/O: give timers and the reader's polls room.
    await new Promise((r) => setTimeout(r, random() < 0.2 ? 1 : 0));
  }
}

async function compactor(): Promise<void> {
  while (!stop) {
    await new Promise((r) => setTimeout(r, 40));
    if (!stop) await db.compact();
  }
}

async function backup(): Promise<void> {
  await new Promise((r) => setTimeout(r, ms / 2));
  const r = await db.backup(backupDir);
  console.log(`B ${r.sequence}`);
}

const loops = [writer(), writer(), writer(), writer(), compactor()];
if (backupDir) loops.push(backup());
setTimeout(() => stop = true, ms);
await Promise.all(loops);
await db.close();
console.log("done");
