/**
 * TEMPORARY development adapter: the KvEngine calls over today's Cask (no
 * sequences, no checked atomics, no watch). Values carry an 8-byte sequence
 * and 8-byte expiry prefix; commits are serialized in-process. Deleted once
 * the engine with `sequence`/`getEntry`/`scanEntries`/`watch` lands.
 * @module
 */

import type {
  EngineChange,
  EngineCheck,
  EngineEntry,
  EngineOp,
  EngineScanEntry,
  EngineWatchTarget,
  KvEngine,
} from "./engine.ts";
import { Mutex } from "./mutex.ts";

/** The parts of today's Cask the adapter uses. */
export interface LegacyCask {
  get(key: Uint8Array): Promise<Uint8Array | undefined>;
  atomic(
    ops: (
      | { type: "set"; key: Uint8Array; value: Uint8Array; expireAt?: number }
      | { type: "delete"; key: Uint8Array }
    )[],
  ): Promise<void>;
  scan(
    o: { start?: Uint8Array; end?: Uint8Array; reverse?: boolean; limit?: number },
  ): AsyncGenerator<[Uint8Array, Uint8Array]>;
  close(): Promise<void>;
}

function unwrap(v: Uint8Array): EngineEntry {
  const dv = new DataView(v.buffer, v.byteOffset, v.byteLength);
  return {
    sequence: Number(dv.getBigUint64(0)),
    expireAt: Number(dv.getBigUint64(8)),
    value: v.subarray(16),
  };
}

function wrap(value: Uint8Array, sequence: number, expireAt: number): Uint8Array {
  const out = new Uint8Array(16 + value.length);
  const dv = new DataView(out.buffer);
  dv.setBigUint64(0, BigInt(sequence));
  dv.setBigUint64(8, BigInt(expireAt));
  out.set(value, 16);
  return out;
}

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

/** KvEngine over a legacy Cask; scans the store once to find the last sequence. */
export async function legacyEngine(db: LegacyCask): Promise<KvEngine> {
  let sequence = 0;
  for await (const [, v] of db.scan({})) sequence = Math.max(sequence, unwrap(v).sequence);
  const mutex = new Mutex();
  const watchers = new Set<
    { target: EngineWatchTarget; push: (c: EngineChange) => void; end: () => void }
  >();
  const matches = (t: EngineWatchTarget, k: Uint8Array) => {
    const id = hex(k);
    if ("keys" in t) return t.keys.some((x) => hex(x) === id);
    if ("prefix" in t) return id.startsWith(hex(t.prefix));
    return id >= hex(t.start) && id < hex(t.end);
  };
  const engine: KvEngine = {
    get sequence() {
      return sequence;
    },
    atomic(ops: EngineOp[], options?: { checks?: EngineCheck[] }) {
      return mutex.run(async () => {
        for (const c of options?.checks ?? []) {
          const e = await engine.getEntry(c.key);
          if ((e?.sequence ?? null) !== c.sequence) return { ok: false as const };
        }
        if (ops.length === 0) return { ok: true as const, sequence };
        const seq = sequence + 1;
        await db.atomic(ops.map((o) =>
          o.type === "delete" ? o : {
            type: "set" as const,
            key: o.key,
            value: wrap(o.value, seq, o.expireAt ?? 0),
            expireAt: o.expireAt,
          }
        ));
        sequence = seq;
        for (const o of ops) {
          for (const w of watchers) {
            if (matches(w.target, o.key)) {
              w.push({ key: o.key, value: o.type === "set" ? o.value : undefined, sequence: seq });
            }
          }
        }
        return { ok: true as const, sequence: seq };
      });
    },
    async getEntry(key: Uint8Array) {
      const v = await db.get(key);
      return v === undefined ? undefined : unwrap(v);
    },
    async *scanEntries(o) {
      for await (const [key, v] of db.scan(o)) yield { key, ...unwrap(v) } as EngineScanEntry;
    },
    watch(target: EngineWatchTarget): AsyncIterable<EngineChange> {
      const queue: EngineChange[] = [];
      let wake: (() => void) | undefined;
      let ended = false;
      const w = {
        target,
        push: (c: EngineChange) => (queue.push(c), wake?.()),
        end: () => (ended = true, wake?.()),
      };
      watchers.add(w);
      return {
        async *[Symbol.asyncIterator]() {
          try {
            while (true) {
              while (queue.length) yield queue.shift()!;
              if (ended) return;
              await new Promise<void>((r) => wake = r);
            }
          } finally {
            watchers.delete(w);
          }
        },
      };
    },
    async close() {
      for (const w of watchers) w.end();
      await db.close();
    },
  };
  return engine;
}
