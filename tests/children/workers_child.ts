// A Worker of the Workers tests and benchmark. The first message carries what
// share() returned; then each message is a command,
// answered with { ok, value } or { error } (the error's class as seen here).
import { attach, type AttachedCask } from "../../src/workers/attach.ts";
import type { SharedCask } from "../../src/api/share_protocol.ts";
import { CaskError, ClosedError, InvalidArgumentError } from "../../src/base/errors.ts";
import type { WatchOptions } from "../../src/base/types.ts";
import { workload } from "./workers_workload.ts";
import { spin } from "./spin.ts";

type Command =
  | { cmd: "call"; method: string; args: unknown[] }
  | { cmd: "workload"; thread: number; ms: number }
  | { cmd: "reads"; prefix: string; keys: number; count: number; seed: number }
  | { cmd: "memory" }
  | { cmd: "spin"; n: number }
  | { cmd: "checkedReads"; keys: string[]; rounds: number }
  | { cmd: "ownWrites"; prefix: string; rounds: number }
  | { cmd: "batchReads"; keys: string[]; ms: number }
  | { cmd: "sets"; prefix: string; count: number; concurrency: number }
  | { cmd: "scanKeys"; options: object }
  | { cmd: "watch"; options: WatchOptions; count: number }
  | { cmd: "setUnsendable" }
  | { cmd: "mutateAfterCalls" }
  | { cmd: "setInheritedTtl" }
  | { cmd: "setThenDetach" }
  | { cmd: "readsThenDetach" }
  | { cmd: "detachTwice" }
  | { cmd: "watchThenDetach"; ms: number }
  | { cmd: "racingSets"; count: number }
  | { cmd: "setLater"; ms: number }
  | { cmd: "watchLate"; prefix: string; last: string; ms: number }
  | { cmd: "attachAgain" }
  | { cmd: "detach" }
  | { cmd: "crash"; thread: number };

const self = globalThis as unknown as {
  onmessage: (e: MessageEvent) => void;
  postMessage: (m: unknown) => void;
};

let attached: AttachedCask | undefined;
// What the last attach was given: attaching it again must be refused.
let lastShared: SharedCask | undefined;
const utf8 = new TextDecoder();
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function describe(e: unknown) {
  return {
    name: (e as Error)?.constructor?.name,
    message: (e as Error)?.message,
    code: e instanceof CaskError ? e.code : undefined,
    isCaskError: e instanceof CaskError,
    isInvalidArgument: e instanceof InvalidArgumentError,
    isClosed: e instanceof ClosedError,
  };
}

// Key strings made once per (prefix, count): making them is not part of a timed run.
const madeKeys = new Map<string, string[]>();
function keysOf(prefix: string, n: number): string[] {
  const id = `${prefix}/${n}`;
  if (!madeKeys.has(id)) madeKeys.set(id, Array.from({ length: n }, (_, i) => `${prefix}${i}`));
  return madeKeys.get(id)!;
}

async function run(c: Command): Promise<unknown> {
  const db = attached!;
  switch (c.cmd) {
    case "call": {
      const r = await (db as unknown as Record<string, (...a: unknown[]) => unknown>)[c.method](
        ...c.args,
      );
      return r instanceof Uint8Array ? utf8.decode(r) : r;
    }
    case "workload":
      return await workload(db, c.thread, c.ms);
    case "reads": {
      // `count` gets of keys `${prefix}${0..keys - 1}` picked by an LCG from
      // `seed`: ms taken. The key strings are made here, as the owner's are.
      const keys = keysOf(c.prefix, c.keys);
      const t0 = performance.now();
      let i = c.seed >>> 0;
      for (let n = 0; n < c.count; n++) {
        i = (Math.imul(i, 1103515245) + 12345) >>> 0;
        if (await db.get(keys[i % keys.length]) === undefined) throw new Error("missing key");
      }
      return performance.now() - t0;
    }
    case "checkedReads": {
      // Rounds of get, getMany, has, count and scan over `keys` (each key's
      // value is the key): when they started and ended, by the wall clock.
      const start = Date.now();
      for (let r = 0; r < c.rounds; r++) {
        const k = c.keys[r % c.keys.length];
        if (utf8.decode(await db.get(k)) !== k) throw new Error(`get ${k}`);
        const many = await db.getMany(c.keys.slice(0, 8));
        if (many.some((v, i) => utf8.decode(v) !== c.keys[i])) throw new Error("getMany");
        if (!await db.has(k)) throw new Error(`has ${k}`);
        if (await db.count() !== c.keys.length) throw new Error("count");
        let n = 0;
        for await (const _ of db.keys({ limit: 10 })) n++;
        if (n !== 10) throw new Error("keys");
      }
      return { start, end: Date.now() };
    }
    case "ownWrites": {
      // Each write to keys under `prefix` read back at once: what went wrong (empty when all held).
      const wrong: string[] = [];
      for (let r = 0; r < c.rounds; r++) {
        const k = `${c.prefix}own:${r % 7}`;
        await db.set(k, `v${r}`);
        const back = utf8.decode(await db.get(k));
        if (back !== `v${r}`) wrong.push(`set ${k}=v${r}, read ${back}`);
        const batch = [`${c.prefix}b:${r % 5}:x`, `${c.prefix}b:${r % 5}:y`];
        await db.atomic(batch.map((key) => ({ type: "set", key, value: `${r}` })));
        const vs = (await db.getMany(batch)).map((v) => v && utf8.decode(v));
        if (vs.some((v) => v !== `${r}`)) wrong.push(`atomic ${r}, read ${vs}`);
        if (r % 3 === 0) {
          await db.delete(k);
          if (await db.has(k)) wrong.push(`deleted ${k}, still there`);
        }
      }
      return wrong;
    }
    case "batchReads": {
      // getMany of `keys` (always written together, all to one value) for `ms`:
      // how many distinct states were seen, and any read that mixed two.
      const seen = new Set<string>(), mixed: string[] = [];
      const end = Date.now() + c.ms;
      for (let n = 1; Date.now() < end; n++) {
        const vs = (await db.getMany(c.keys)).map((v) => v && utf8.decode(v));
        if (vs.some((v) => v !== vs[0])) mixed.push(vs.join(","));
        seen.add(String(vs[0]));
        // Background refreshes need the event loop.
        if (n % 8 === 0) await new Promise((r) => setTimeout(r, 0));
      }
      return { states: seen.size, mixed: mixed.slice(0, 5) };
    }
    case "spin":
      return spin(c.n);
    case "memory": {
      // This Worker's heap (its isolate's, collected first when the process
      // runs with --v8-flags=--expose-gc) plus the memory outside it that its
      // typed arrays hold.
      // Twice, a turn apart: buffers freed by the first are released by then.
      const gc = (globalThis as { gc?: () => void }).gc;
      gc?.();
      await new Promise((r) => setTimeout(r, 10));
      gc?.();
      const m = Deno.memoryUsage();
      return m.heapUsed + m.external;
    }
    case "sets": {
      // `count` sets, `concurrency` in flight at once: ms taken.
      const t0 = performance.now();
      let next = 0;
      const lane = async () => {
        while (next < c.count) {
          const i = next++;
          await db.set(`${c.prefix}${i}`, `value-${i}`);
        }
      };
      await Promise.all(Array.from({ length: c.concurrency }, lane));
      return performance.now() - t0;
    }
    case "scanKeys": {
      // Keys scanned (each value must be its key).
      const out: string[] = [];
      for await (const [k, v] of db.scan(c.options)) {
        out.push(utf8.decode(k));
        if (utf8.decode(v) !== out.at(-1)) throw new Error(`value of ${out.at(-1)}`);
      }
      return out;
    }
    case "watch": {
      // The first `count` changes, as "key=value" ("-" for a delete).
      const out: string[] = [];
      for await (const ch of db.watch(c.options)) {
        out.push(`${utf8.decode(ch.key)}=${ch.value ? utf8.decode(ch.value) : "-"}`);
        if (out.length >= c.count) break;
      }
      return out;
    }
    case "setUnsendable":
      // A value the structured clone refuses; the batch it shares a message with still goes.
      return await Promise.all([
        db.set("sent", "yes"),
        db.set("unsendable", (() => 1) as unknown as string),
      ]);
    case "mutateAfterCalls": {
      // Arguments changed after the calls returned, in the same turn: the
      // owner must write them as they were at each call.
      const buf = new Uint8Array(1);
      const sets = [0, 1, 2].map((i) => {
        buf[0] = i;
        return db.set(`reuse:${i}`, buf);
      });
      const opts: { ttl?: number } = { ttl: 60_000 };
      const withTtl = db.set("reuse:ttl", "v", opts);
      delete opts.ttl;
      const ops: { type: "set"; key: string; value: string }[] = [
        { type: "set", key: "reuse:op", value: "v" },
      ];
      const atomic = db.atomic(ops);
      ops.push({ type: "set", key: "reuse:extra", value: "v" });
      // Bytes in shared memory, changed right after the call: a value, and a
      // key inside an atomic operation.
      const shared = new Uint8Array(new SharedArrayBuffer(4)).fill(65);
      const sharedSet = db.set("reuse:shared", shared);
      shared.fill(66);
      const sharedKey = new Uint8Array(new SharedArrayBuffer(2));
      sharedKey.set([75, 49]);
      const sharedAtomic = db.atomic([{ type: "set", key: sharedKey, value: "x" }]);
      sharedKey.set([75, 50]);
      // Operations that are class instances, or have no prototype, holding shared bytes.
      class SetOp {
        readonly type = "set";
        constructor(readonly key: string, readonly value: Uint8Array) {}
      }
      const classValue = new Uint8Array(new SharedArrayBuffer(4)).fill(65);
      const classAtomic = db.atomic([new SetOp("reuse:class", classValue)]);
      classValue.fill(66);
      const bare = Object.assign(Object.create(null), { type: "set", key: "reuse:bare" });
      bare.value = new Uint8Array(new SharedArrayBuffer(4)).fill(65);
      const bareAtomic = db.atomic([bare]);
      bare.value.fill(66);
      // A few bytes viewed in a big buffer: only they are sent.
      const big = new Uint8Array(32 * 1024 * 1024).fill(67);
      const views = [0, 1, 2, 3].map((i) => db.set(`reuse:view${i}`, big.subarray(i, i + 10)));
      await Promise.all([
        ...sets,
        withTtl,
        atomic,
        sharedSet,
        sharedAtomic,
        classAtomic,
        bareAtomic,
        ...views,
      ]);
      return null;
    }
    case "setInheritedTtl": {
      // ttl from a getter and from a prototype, which the owner's own set reads.
      class WithGetter {
        get ttl() {
          return 60_000;
        }
      }
      await db.set("ttl:getter", "v", new WithGetter());
      await db.set("ttl:proto", "v", Object.create({ ttl: 60_000 }));
      return null;
    }
    case "racingSets": {
      // `count` sets fired at once, across the owner's close: how each ended.
      const ends = Array.from(
        { length: c.count },
        (_, i) => db.set(`race:${i}`, "v").then(() => "ok", (e) => describe(e).name),
      );
      return await Promise.all(ends);
    }
    case "attachAgain":
      await attach(lastShared!);
      return;
    case "detach":
      await attached!.detach();
      attached = undefined;
      return;
    case "setThenDetach": {
      // A watch, then a set and a detach in one turn: the feed's changes.
      const feed = db.watch({ prefix: "detach:" });
      const got = (async () => {
        const out: string[] = [];
        for await (const ch of feed) out.push(utf8.decode(ch.key));
        return out;
      })();
      await db.sync(); // the owner runs the watch by now
      const set = db.set("detach:a", "1");
      const detached = db.detach();
      await set;
      await detached;
      attached = undefined;
      return await got;
    }
    case "readsThenDetach": {
      // After its own set, a get and a refresh (both must catch up), then a
      // detach in the same turn: how each settled.
      await db.set("rd:a", "mine");
      const end = (p: Promise<unknown>) =>
        p.then((v) => v instanceof Uint8Array ? utf8.decode(v) : "ok", (e) => describe(e).name);
      const out = [end(db.get("rd:a")), end(db.refresh()), end(db.detach())];
      attached = undefined;
      return await Promise.all(out);
    }
    case "detachTwice": {
      // A watch and a refresh() in flight, then two detach() calls, the second awaited:
      // whether the first had settled, and the watch ended, by then.
      const feed = db.watch({ prefix: "twice:" });
      const ended = (async () => {
        for await (const _ of feed) { /* none */ }
        return true;
      })();
      let firstSettled = false;
      db.refresh().catch(() => {});
      const first = db.detach().finally(() => firstSettled = true);
      await db.detach();
      const out = { firstSettled, watchEnded: await Promise.race([ended, sleep(2000)]) === true };
      await first;
      attached = undefined;
      return out;
    }
    case "watchThenDetach": {
      // A watch, then a detach after `ms` (the owner may close meanwhile): how the
      // detach settled, and whether the watch ended within 2 s of it. A close
      // that came before this command refuses the watch itself: none to end.
      let feed: AsyncIterableIterator<unknown> | undefined;
      try {
        feed = db.watch({ prefix: "race:" });
      } catch (e) {
        if (!(e instanceof ClosedError)) throw e;
      }
      const ended = (async () => {
        try {
          if (feed) { for await (const _ of feed) { /* none */ } }
        } catch { /* ended by an error */ }
        return true;
      })();
      await sleep(c.ms);
      const detached = await db.detach().then(() => "ok", (e) => describe(e).name);
      attached = undefined;
      return { detached, watchEnded: await Promise.race([ended, sleep(2000)]) === true };
    }
    case "setLater": {
      // A set posted after `ms`; how it settled, or "pending" after 3 s.
      await new Promise((r) => setTimeout(r, c.ms));
      let timer: ReturnType<typeof setTimeout> | undefined;
      const pending = new Promise<string>((r) => timer = setTimeout(() => r("pending"), 3000));
      const settled = db.set("late", "v").then(() => "ok", (e) => describe(e).name);
      const r = await Promise.race([settled, pending]);
      clearTimeout(timer);
      return r;
    }
    case "watchLate": {
      // Watches `prefix` but reads only after `ms`; resumes after an overflow.
      // Returns the sequence numbers delivered, in order, up to key `last`.
      const seqs: number[] = [];
      let since: number | undefined;
      let first = true;
      for (;;) {
        const feed = db.watch(
          since === undefined ? { prefix: c.prefix } : { prefix: c.prefix, since },
        );
        if (first) {
          await new Promise((r) => setTimeout(r, c.ms));
          first = false;
        }
        try {
          for await (const ch of feed) {
            seqs.push(ch.sequence);
            if (utf8.decode(ch.key) === c.last) return seqs;
          }
          return seqs;
        } catch (e) {
          if (describe(e).name !== "WatchOverflowError") throw e;
          since = (e as { resumeFrom: number }).resumeFrom;
        }
      }
    }
    case "crash":
      // Writes until killed; an acknowledged write is logged after it resolved.
      for (let n = 1;; n++) {
        const key = `w:${c.thread}:${n % 50}`;
        await db.set(key, String(n));
        console.log(`a ${key} ${n}`);
      }
  }
}

// Messages carry an id, echoed in the answer: commands may overlap (a watch
// answers after the calls made meanwhile).
self.onmessage = async (e: MessageEvent) => {
  const { id, attachTo, command } = e.data as {
    id: number;
    attachTo?: { shared: SharedCask };
    command?: Command;
  };
  try {
    if (attachTo) {
      await attached?.detach();
      lastShared = attachTo.shared;
      attached = await attach(attachTo.shared);
    }
    self.postMessage({ id, ok: true, value: command && await run(command) });
  } catch (err) {
    self.postMessage({ id, error: describe(err) });
  }
};
