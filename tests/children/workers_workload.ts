// The mixed workload of the Workers test, run alike by the owning thread (on
// its Cask) and by each Worker (on its attachment), all at once on the same keys:
// - private keys p:<thread>:<j>: plain sets and deletes by one thread only; after
//   each, the thread reads the key back (read-your-writes) and the final state
//   must be the thread's last acknowledged operation;
// - shared counters c:<j>: checked increments from every thread; the final
//   value must be the number of acknowledged increments, and a thread's
//   successive reads of a counter must never go down (one order for all);
// - shared pairs a:<j>/b:<j>: incremented together by checked atomics; a read of
//   both (getMany) must always find them equal (no half batch);
// - shared last-writer keys l:<j>: unchecked atomic sets and deletes from every
//   thread; the final state must be the acknowledged write with the highest
//   sequence number.
// Imports no engine module: Workers load it (see workers_child.ts).
import type { Bytes } from "../../src/base/keys.ts";
import type { AtomicResult, BatchOp, VersionedEntry } from "../../src/base/types.ts";

/** The calls the workload makes: both Cask and AttachedCask have them. */
export interface Store {
  get(key: Bytes): Promise<Uint8Array | undefined>;
  getEntry(key: Bytes): Promise<VersionedEntry | undefined>;
  getMany(keys: readonly Bytes[]): Promise<(Uint8Array | undefined)[]>;
  set(key: Bytes, value: Bytes): Promise<void>;
  delete(key: Bytes): Promise<boolean>;
  atomic(
    ops: readonly BatchOp[],
    options?: { checks?: { key: Bytes; sequence: number | null }[] },
  ): Promise<AtomicResult>;
}

/** What one thread saw and had acknowledged. */
export interface Acks {
  thread: number;
  ops: number;
  /** Final expected value (null: absent) of each private key. */
  privateFinal: Record<string, string | null>;
  /** Acknowledged increments per counter. */
  increments: Record<string, number>;
  /** Acknowledged increments per pair. */
  pairIncrements: Record<string, number>;
  /** Acknowledged last-writer commits: key, sequence, value (null: delete). */
  lastWriter: [string, number, string | null][];
  /** What went wrong (empty when all held). */
  violations: string[];
}

export const COUNTERS = 6;
export const PAIRS = 3;
export const LAST_WRITER = 6;
const PRIVATE = 16;

const utf8 = new TextDecoder();
const text = (b: Uint8Array | undefined) => b === undefined ? undefined : utf8.decode(b);

/** Runs the workload on `db` as thread `thread` for `ms` milliseconds. */
export async function workload(db: Store, thread: number, ms: number): Promise<Acks> {
  const rand = Math.random;
  const pick = (n: number) => Math.floor(rand() * n);
  const acks: Acks = {
    thread,
    ops: 0,
    privateFinal: {},
    increments: {},
    pairIncrements: {},
    lastWriter: [],
    violations: [],
  };
  const seen = new Map<string, number>();
  let lastSeq = 0;
  const end = Date.now() + ms;
  let n = 0;
  while (Date.now() < end) {
    // Under sync "never" a write resolves without I/O: a loop of them would keep
    // the owner's thread from ever serving the Workers' messages.
    if (++n % 16 === 0) await new Promise((r) => setTimeout(r, 0));
    acks.ops++;
    const roll = rand();
    if (roll < 0.25) {
      const key = `p:${thread}:${pick(PRIVATE)}`;
      if (rand() < 0.7) {
        const value = `${thread}:${n}`;
        await db.set(key, value);
        acks.privateFinal[key] = value;
        const back = text(await db.get(key));
        if (back !== value) {
          acks.violations.push(`read-your-writes: ${key} = ${back}, wrote ${value}`);
        }
      } else {
        await db.delete(key);
        acks.privateFinal[key] = null;
        if (await db.get(key) !== undefined) acks.violations.push(`read-your-delete: ${key}`);
      }
    } else if (roll < 0.45) {
      const key = `c:${pick(COUNTERS)}`;
      const e = await db.getEntry(key);
      const v = e ? Number(text(e.value)) : 0;
      if (v < (seen.get(key) ?? 0)) {
        acks.violations.push(`${key} went back from ${seen.get(key)} to ${v}`);
      }
      seen.set(key, v);
      const r = await db.atomic([{ type: "set", key, value: String(v + 1) }], {
        checks: [{ key, sequence: e?.sequence ?? null }],
      });
      if (r.ok) acks.increments[key] = (acks.increments[key] ?? 0) + 1;
    } else if (roll < 0.6) {
      const j = pick(PAIRS);
      const [a, b] = [`a:${j}`, `b:${j}`];
      const [ea, eb] = [await db.getEntry(a), await db.getEntry(b)];
      const va = ea ? Number(text(ea.value)) : 0;
      const vb = eb ? Number(text(eb.value)) : 0;
      const r = await db.atomic([
        { type: "set", key: a, value: String(va + 1) },
        { type: "set", key: b, value: String(vb + 1) },
      ], {
        checks: [{ key: a, sequence: ea?.sequence ?? null }, {
          key: b,
          sequence: eb?.sequence ?? null,
        }],
      });
      if (r.ok) acks.pairIncrements[j] = (acks.pairIncrements[j] ?? 0) + 1;
    } else if (roll < 0.8) {
      const key = `l:${pick(LAST_WRITER)}`;
      const value = rand() < 0.8 ? `${thread}:${n}` : null;
      const r = await db.atomic([
        value === null ? { type: "delete", key } : { type: "set", key, value },
      ]);
      if (!r.ok) acks.violations.push(`unchecked atomic on ${key} not ok`);
      else {
        if (r.sequence <= lastSeq) acks.violations.push(`sequence ${r.sequence} after ${lastSeq}`);
        lastSeq = r.sequence;
        acks.lastWriter.push([key, r.sequence, value]);
      }
    } else {
      const j = pick(PAIRS);
      // One of the two read alone first, so a Worker may hold it and not the other.
      await db.get(rand() < 0.5 ? `a:${j}` : `b:${j}`);
      const [a, b] = (await db.getMany([`a:${j}`, `b:${j}`])).map(text);
      if (a !== b) acks.violations.push(`half a batch: a:${j}=${a} b:${j}=${b}`);
      const key = `c:${pick(COUNTERS)}`;
      const v = Number(text(await db.get(key)) ?? 0);
      if (v < (seen.get(key) ?? 0)) {
        acks.violations.push(`${key} went back from ${seen.get(key)} to ${v}`);
      }
      seen.set(key, v);
    }
  }
  return acks;
}
