import assert from "node:assert/strict";
import { type Cask, open, type OpenOptions } from "../mod.ts";
import { stillRunning, text, withDir } from "./helpers.ts";
import { type Reply, WorkerChild } from "./children/worker_driver.ts";
import { type Acks, COUNTERS, LAST_WRITER, PAIRS, workload } from "./children/workers_workload.ts";

const WORKLOAD_MS = 3000;

// One pool of Workers for the whole file: `deno test` type-checks a Worker's
// module graph each time one starts (seconds of CPU here), so the tests share
// four and re-attach them to each test's store. The last test terminates them.
let workerPool: WorkerChild[] | undefined;
const pool = () => workerPool ??= Array.from({ length: 4 }, () => new WorkerChild());

async function withWorkers(
  n: number,
  fn: (workers: WorkerChild[]) => Promise<void>,
): Promise<void> {
  await fn(pool().slice(0, n));
}

const call = (w: WorkerChild, method: string, ...args: unknown[]) =>
  w.send({ cmd: "call", method, args });

function assertError(r: Reply, code: string, check: keyof NonNullable<Reply["error"]>) {
  assert.ok(r.error, `expected ${code}, got ${JSON.stringify(r)}`);
  assert.equal(r.error.code, code);
  assert.equal(r.error[check], true, `rebuilt as the typed class: ${JSON.stringify(r.error)}`);
  assert.equal(r.error.isCaskError, true);
}

Deno.test("4 Workers and the owner: the final state is the model of acknowledged operations", async () => {
  await withDir(async (dir) => {
    const db = await open(dir, { sync: "never" });
    await withWorkers(4, async (workers) => {
      for (const w of workers) await w.attach(db);
      const all: Acks[] = await Promise.all([
        workload(db, 0, WORKLOAD_MS),
        ...workers.map((w, i) =>
          w.value<Acks>({ cmd: "workload", thread: i + 1, ms: WORKLOAD_MS })
        ),
      ]);
      for (const a of all) assert.deepEqual(a.violations, [], `thread ${a.thread}`);
      for (const a of all) assert.ok(a.ops > 50, `thread ${a.thread} did only ${a.ops} ops`);

      for (const a of all) {
        for (const [key, value] of Object.entries(a.privateFinal)) {
          assert.equal(await db.getString(key), value ?? undefined, key);
        }
      }
      for (let j = 0; j < COUNTERS; j++) {
        const key = `c:${j}`;
        const acked = all.reduce((s, a) => s + (a.increments[key] ?? 0), 0);
        assert.equal(Number((await db.getString(key)) ?? 0), acked, key);
      }
      for (let j = 0; j < PAIRS; j++) {
        const acked = all.reduce((s, a) => s + (a.pairIncrements[j] ?? 0), 0);
        assert.equal(Number((await db.getString(`a:${j}`)) ?? 0), acked, `a:${j}`);
        assert.equal(Number((await db.getString(`b:${j}`)) ?? 0), acked, `b:${j}`);
      }
      const last = new Map<string, [number, string | null]>();
      const seqs = new Set<number>();
      for (const a of all) {
        for (const [key, seq, value] of a.lastWriter) {
          assert.ok(!seqs.has(seq), `sequence ${seq} acknowledged twice`);
          seqs.add(seq);
          if ((last.get(key)?.[0] ?? -1) < seq) last.set(key, [seq, value]);
        }
      }
      assert.equal(last.size, LAST_WRITER, "every last-writer key was written");
      for (const [key, [, value]] of last) {
        assert.equal(await db.getString(key), value ?? undefined, key);
      }
      // Every thread's operations overlapped on the shared keys.
      for (const a of all) {
        assert.ok(a.lastWriter.length > 0 && Object.keys(a.increments).length > 0);
      }
    });
    await db.close();
  });
});

Deno.test("attach() twice on one share is refused, and after detach() it is ClosedError", async () => {
  await withDir(async (dir) => {
    const db = await open(dir);
    await withWorkers(1, async ([w]) => {
      await w.attach(db);
      assertError(await w.send({ cmd: "attachAgain" }), "INVALID_ARGUMENT", "isInvalidArgument");
      // The first attachment still gets its own replies.
      assert.equal((await call(w, "set", "k", "v")).ok, true);
      assert.equal((await call(w, "delete", "absent")).value, false);
      await w.send({ cmd: "detach" });
      assertError(await w.send({ cmd: "attachAgain" }), "CLOSED", "isClosed");
    });
    await db.close();
  });
});

Deno.test("a Worker reads its own writes, sees the owner's after refresh(), gets typed errors", async () => {
  await withDir(async (dir) => {
    const db = await open(dir, { sync: "never" });
    await withWorkers(1, async ([w]) => {
      await w.attach(db);
      await db.set("k", "owner-1");
      // Another thread's write reaches a Worker's reads after a refresh.
      await call(w, "refresh");
      assert.equal((await call(w, "get", "k")).value, "owner-1");
      assert.equal((await call(w, "set", "k", "worker-1")).ok, true);
      assert.equal((await call(w, "get", "k")).value, "worker-1");
      assert.equal(await db.getString("k"), "worker-1");
      await db.set("k", "owner-2");
      const seq = (await call(w, "refresh")).value as number;
      assert.ok(seq >= db.sequence);
      assert.equal((await call(w, "get", "k")).value, "owner-2");
      assert.equal((await call(w, "delete", "k")).value, true);
      assert.equal((await call(w, "get", "k")).value, undefined);
      assert.equal((await call(w, "has", "k")).value, false);
      await db.set("t", "x", { ttl: 60_000 });
      await call(w, "refresh");
      const ttl = (await call(w, "ttl", "t")).value as number;
      assert.ok(ttl > 50_000 && ttl <= 60_000, `ttl ${ttl}`);

      const r = (await call(w, "atomic", [{ type: "set", key: "x", value: "1" }], {
        checks: [{ key: "x", sequence: null }],
      })).value as { ok: boolean; sequence: number };
      assert.equal(r.ok, true);
      assert.equal((await db.getEntry("x"))?.sequence, r.sequence);
      assert.deepEqual(
        (await call(w, "atomic", [{ type: "set", key: "x", value: "2" }], {
          checks: [{ key: "x", sequence: null }],
        })).value,
        { ok: false },
      );

      assertError(await call(w, "set", "", "v"), "INVALID_ARGUMENT", "isInvalidArgument");
      assertError(await call(w, "get", 42), "INVALID_ARGUMENT", "isInvalidArgument");
      assertError(await call(w, "getMany", "k"), "INVALID_ARGUMENT", "isInvalidArgument");
      assertError(
        await call(w, "atomic", [{ type: "set", key: "ok" }, { type: "nope", key: "y" }]),
        "INVALID_ARGUMENT",
        "isInvalidArgument",
      );
      assert.equal(await db.get("ok"), undefined, "a rejected batch wrote nothing");
      assertError(
        await w.send({ cmd: "scanKeys", options: { limit: -1 } }),
        "INVALID_ARGUMENT",
        "isInvalidArgument",
      );

      assertError(await w.send({ cmd: "setUnsendable" }), "INVALID_ARGUMENT", "isInvalidArgument");
      assert.equal(await db.getString("sent"), "yes");
      assert.equal(await db.get("unsendable"), undefined);

      await db.set("read", "yes");
      await call(w, "refresh");
      assert.equal((await call(w, "get", "read")).value, "yes");
      await db.close();
      // Both a read (answered by the Worker itself) and a write reject once the owner has closed.
      assertError(await call(w, "get", "read"), "CLOSED", "isClosed");
      assertError(await call(w, "set", "k", "v"), "CLOSED", "isClosed");
    });
  });
});

Deno.test("a Worker scans and counts by itself, and watches the owner's commits", async () => {
  await withDir(async (dir) => {
    const db = await open(dir, { sync: "never" });
    const keys = Array.from({ length: 700 }, (_, i) => `s:${String(i).padStart(4, "0")}`);
    await db.atomic(keys.map((key) => ({ type: "set", key, value: key })));
    await db.set("t:other", "x");
    await withWorkers(1, async ([w]) => {
      await w.attach(db);
      assert.equal((await call(w, "count", { prefix: "s:" })).value, 700);
      const scanned = await w.value<string[]>({ cmd: "scanKeys", options: { prefix: "s:" } });
      assert.deepEqual(scanned, keys);
      const reverse = await w.value<string[]>({
        cmd: "scanKeys",
        options: { prefix: "s:", reverse: true, limit: 300 },
      });
      assert.deepEqual(reverse, keys.slice().reverse().slice(0, 300));
      const ranged = await w.value<string[]>({
        cmd: "scanKeys",
        options: { start: "s:0100", end: "s:0650" },
      });
      assert.deepEqual(ranged, keys.slice(100, 650));

      const watched = w.value<string[]>({ cmd: "watch", options: { prefix: "w:" }, count: 3 });
      // The watch starts when the owner gets the call; a round trip makes sure it has.
      await call(w, "refresh");
      await db.set("w:1", "a");
      await db.set("other", "b");
      await db.atomic([{ type: "set", key: "w:2", value: "c" }, { type: "delete", key: "w:1" }]);
      assert.deepEqual(await watched, ["w:1=a", "w:2=c", "w:1=-"]);
      assertError(
        await w.send({ cmd: "watch", options: { nope: 1 }, count: 1 }),
        "INVALID_ARGUMENT",
        "isInvalidArgument",
      );

      // detach(): the Worker's watches end, its calls reject, the owner goes on.
      const open_ = w.value<string[]>({ cmd: "watch", options: { prefix: "z:" }, count: 1 });
      await call(w, "refresh");
      assert.equal((await call(w, "detach")).ok, true);
      assert.deepEqual(await open_, []);
      assertError(await call(w, "get", "w:2"), "CLOSED", "isClosed");
      await db.set("z:after", "detach");
      assert.equal(await db.getString("z:after"), "detach");
    });
    await db.close();
  });
});

Deno.test("a Worker's watch gets every change committed before the owner's close, then ends", async () => {
  await withDir(async (dir) => {
    const db = await open(dir, { sync: "never" });
    await withWorkers(1, async ([w]) => {
      await w.attach(db);
      const watched = w.value<string[]>({ cmd: "watch", options: { prefix: "c:" }, count: 10 });
      await call(w, "refresh");
      db.set("c:1", "a");
      db.set("c:2", "b");
      await db.set("c:3", "c");
      await db.close();
      assert.deepEqual(await watched, ["c:1=a", "c:2=b", "c:3=c"]);
    });
  });
});

Deno.test("a Worker attached to a read-only store sees its refreshes, and writes are ReadOnlyError", async () => {
  await withDir(async (dir) => {
    const writer = await open(dir, { sync: "never" });
    await writer.set("k", "v1");
    await writer.sync();
    const reader = await open(dir, { readOnly: true });
    await withWorkers(1, async ([w]) => {
      await w.attach(reader);
      assert.equal((await call(w, "get", "k")).value, "v1");
      await writer.set("k", "v2");
      await writer.sync();
      await reader.refresh();
      await call(w, "refresh");
      // The Worker's refresh() refreshes the owner, then its own follower to at least as far.
      assert.equal((await call(w, "get", "k")).value, "v2");
      const r = await call(w, "set", "k", "v3");
      assert.equal(r.error?.code, "READ_ONLY");
      assert.equal(r.error?.name, "ReadOnlyError");
    });
    await reader.close();
    await writer.close();
  });
});

Deno.test("a Worker's reads are answered while the owner's event loop is blocked", async () => {
  await withDir(async (dir) => {
    const db = await open(dir, { sync: "never" });
    const keys = Array.from({ length: 50 }, (_, i) => `r:${i}`);
    await db.atomic(keys.map((key) => ({ type: "set", key, value: key })));
    await withWorkers(1, async ([w]) => {
      await w.attach(db);
      // Warm up the Worker's read path before the owner stops serving.
      await w.value({ cmd: "checkedReads", keys, rounds: 10 });
      const reads = w.value<{ start: number; end: number }>({
        cmd: "checkedReads",
        keys,
        rounds: 300,
      });
      // A synchronous spin: nothing the owner's event loop would run can run.
      const blockedUntil = Date.now() + 2500;
      while (Date.now() < blockedUntil) { /* spin */ }
      const { start, end } = await reads;
      assert.ok(
        end < blockedUntil,
        `1,500 reads ended ${end - blockedUntil} ms after the owner's loop was free again ` +
          `(started ${blockedUntil - start} ms before): they needed the owner`,
      );
    });
    await db.close();
  });
});

Deno.test("a Worker reads its own set, atomic and delete at once, under every sync mode", async () => {
  for (const sync of ["never", "always", { intervalMs: 50 }] as const) {
    await withDir(async (dir) => {
      const db = await open(dir, { sync });
      await withWorkers(2, async (workers) => {
        for (const w of workers) await w.attach(db);
        const wrong = await Promise.all(
          workers.map((w, i) =>
            w.value<string[]>({ cmd: "ownWrites", prefix: `${i}:`, rounds: 150 })
          ),
        );
        assert.deepEqual(wrong, [[], []], JSON.stringify(sync));
      });
      await db.close();
    });
  }
});

Deno.test("a Worker never sees half of an atomic batch while the owner commits and compacts", async () => {
  await withDir(async (dir) => {
    const db = await open(dir, { sync: "never" });
    const keys = Array.from({ length: 40 }, (_, i) => `pair:${String(i).padStart(2, "0")}`);
    const commit = (v: string) => db.atomic(keys.map((key) => ({ type: "set", key, value: v })));
    await commit("0");
    await withWorkers(2, async (workers) => {
      for (const w of workers) await w.attach(db);
      const readers = workers.map((w) =>
        w.value<{ states: number; mixed: string[] }>({ cmd: "batchReads", keys, ms: 1500 })
      );
      let stop = false, n = 0, compacted = 0;
      const writing = (async () => {
        while (!stop) {
          await commit(String(++n));
          // A compaction midway: the followers load the store again and swap indexes.
          if (n === 100) compacted = (await db.compact()).bytesIn;
          await new Promise((r) => setTimeout(r, 1));
        }
      })();
      const seen = await Promise.all(readers);
      stop = true;
      await writing;
      assert.ok(compacted > 0, `the owner compacted during the reads (${n} commits)`);
      for (const r of seen) {
        assert.deepEqual(r.mixed, [], "no read mixed two batches");
        // The readers followed the writes: the check was not of one state.
        assert.ok(r.states >= 10, `a reader saw only ${r.states} states of ${n} commits`);
      }
    });
    await db.close();
  });
});

Deno.test("kill -9 of owner and Workers under sync always keeps every acknowledged write", async () => {
  await withDir(async (dir) => {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", new URL("./children/workers_crash_owner.ts", import.meta.url).href, dir],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const acked = new Map<string, number>();
    let buffer = "", ready = false;
    const kill = () => child.kill("SIGKILL");
    let killer = setTimeout(kill, 20_000);
    const decoder = new TextDecoder();
    const reader = child.stdout.getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      const lines = buffer.split("\n");
      buffer = lines.pop()!; // a line cut by the kill is not an ack
      for (const line of lines) {
        if (line === "ready") {
          ready = true;
          clearTimeout(killer);
          killer = setTimeout(kill, 1500);
        }
        const m = /^a (\S+) (\d+)$/.exec(line);
        if (m) acked.set(m[1], Math.max(acked.get(m[1]) ?? 0, Number(m[2])));
      }
    }
    clearTimeout(killer);
    await child.status;
    assert.ok(ready, "the child started");
    const threads = new Set([...acked.keys()].map((k) => k.split(":")[1]));
    assert.deepEqual(
      [...threads].sort(),
      ["0", "1", "2"],
      "owner and both Workers acknowledged writes",
    );
    const db = await open(dir, { onWarning: () => {} });
    for (const [key, n] of acked) {
      const v = Number(text(await db.get(key)));
      assert.ok(v >= n, `${key}: acknowledged ${n}, found ${v}`);
    }
    await db.close();
  });
});

Deno.test("a Worker terminated right after posting a batch leaves all of it or none", async () => {
  await withDir(async (dir) => {
    const workers = pool();
    for (const [round, w] of workers.entries()) {
      const db = await open(dir, { sync: "never" });
      await w.attach(db);
      const ops = Array.from({ length: 300 }, (_, i) => ({
        type: "set",
        key: `b${round}:${i}`,
        value: "x".repeat(100),
      }));
      w.send({ cmd: "call", method: "atomic", args: [ops] });
      await new Promise((r) => setTimeout(r, round * 3));
      w.terminate();
      await db.close();
      const again = await open(dir);
      const n = await again.count({ prefix: `b${round}:` });
      assert.ok(n === 0 || n === 300, `round ${round}: ${n} of 300 keys`);
      await again.close();
    }
    workerPool = undefined;
  });
});

/**
 * Runs `fn` with a store in a fresh directory (opened with `options`) and one
 * pooled Worker attached to it; the store is closed after, if `fn` did not.
 */
async function withAttached(
  options: OpenOptions,
  fn: (db: Cask, w: WorkerChild, dir: string) => Promise<void>,
): Promise<void> {
  await withDir(async (dir) => {
    const db = await open(dir, options);
    try {
      await withWorkers(1, async ([w]) => {
        await w.attach(db);
        await fn(db, w, dir);
      });
    } finally {
      await db.close();
    }
  });
}

Deno.test("a Worker's call writes its arguments as they were at the call", () =>
  withAttached({ sync: "never" }, async (db, w) => {
    assert.equal((await w.send({ cmd: "mutateAfterCalls" })).ok, true);
    for (const i of [0, 1, 2]) assert.deepEqual(await db.get(`reuse:${i}`), Uint8Array.of(i));
    const ttl = await db.ttl("reuse:ttl");
    assert.ok(ttl !== undefined && ttl <= 60_000 && ttl > 50_000, `ttl ${ttl}`);
    assert.ok(await db.has("reuse:op"));
    assert.equal(await db.has("reuse:extra"), false);
    assert.equal(await db.getString("reuse:shared"), "AAAA");
    assert.equal(await db.getString("reuse:class"), "AAAA");
    assert.equal(await db.getString("reuse:bare"), "AAAA");
    assert.deepEqual([await db.has("K1"), await db.has("K2")], [true, false]);
    for (const i of [0, 1, 2, 3]) {
      assert.equal(await db.getString(`reuse:view${i}`), "C".repeat(10));
    }
  }));

Deno.test("a Worker's set takes a ttl from a getter or a prototype, as the owner's does", () =>
  withAttached({ sync: "never" }, async (db, w) => {
    assert.equal((await w.send({ cmd: "setInheritedTtl" })).ok, true);
    for (const key of ["ttl:getter", "ttl:proto"]) {
      const ttl = await db.ttl(key);
      assert.ok(ttl !== undefined && ttl <= 60_000 && ttl > 50_000, `${key}: ttl ${ttl}`);
    }
  }));

Deno.test("a Worker's watch gets the change of a set made just before its detach()", () =>
  withAttached({}, async (_db, w) => {
    assert.deepEqual(await w.value({ cmd: "setThenDetach" }), ["detach:a"]);
  }));

for (const sync of ["always", "never"] as const) {
  Deno.test(`a Worker's reads and refresh() made before its detach() complete (sync ${sync})`, () =>
    withAttached({ sync }, async (_db, w) => {
      assert.deepEqual(await w.value({ cmd: "readsThenDetach" }), ["mine", "ok", "ok"]);
    }));
}

Deno.test("a Worker's second detach() resolves with the first, once its watch has ended", () =>
  withAttached({}, async (_db, w) => {
    assert.deepEqual(await w.value({ cmd: "detachTwice" }), {
      firstSettled: true,
      watchEnded: true,
    });
  }));

Deno.test("a Worker's detach() racing the owner's close resolves, and its watch ends", async () => {
  for (const ms of [0, 1, 2, 5, 10]) {
    await withAttached({ sync: "never" }, async (db, w) => {
      const racing = w.value({ cmd: "watchThenDetach", ms });
      await new Promise((r) => setTimeout(r, ms));
      await db.close();
      assert.deepEqual(await racing, { detached: "ok", watchEnded: true }, `after ${ms} ms`);
    });
  }
});

Deno.test("Worker writes racing the owner's close under sync always: acknowledged ones kept, refused ones absent", () =>
  withAttached({ sync: "always" }, async (db, w, dir) => {
    const racing = w.value<string[]>({ cmd: "racingSets", count: 2000 });
    // Close once the first writes committed: others wait for an fsync then.
    while (db.sequence === 0) await new Promise((r) => setTimeout(r, 1));
    await db.close();
    const ends = await racing;
    assert.deepEqual([...new Set(ends)].filter((e) => e !== "ok" && e !== "ClosedError"), []);
    await using again = await open(dir);
    for (const [i, end] of ends.entries()) {
      assert.equal(await again.has(`race:${i}`), end === "ok", `race:${i} ended ${end}`);
    }
  }));

Deno.test("a Worker's call that crosses the owner's close rejects with ClosedError", () =>
  withAttached({ sync: "never" }, async (db, w) => {
    const late = w.value<string>({ cmd: "setLater", ms: 50 });
    // The owner's loop is busy while the set arrives, then closes.
    const until = performance.now() + 300;
    while (performance.now() < until) { /* spin */ }
    await db.close();
    assert.ok(["ClosedError", "ok"].includes(await late), `the set settled: ${await late}`);
  }));

Deno.test("a Worker's watch resumed from an overflow's resumeFrom misses nothing", () =>
  withAttached({ sync: "never" }, async (db, w) => {
    const start = db.sequence;
    const watched = w.value<number[]>({ cmd: "watchLate", prefix: "o:", last: "o:end", ms: 1500 });
    await call(w, "refresh");
    // Changes the Worker is posted but does not read; then, in one turn,
    // more than the owner's side of the feed holds before it posts them.
    for (let i = 0; i < 5000; i++) db.set(`o:${i}`, "v");
    await new Promise((r) => setTimeout(r, 200));
    for (let i = 5000; i < 15_500; i++) db.set(`o:${i}`, "v");
    await db.set("o:end", "v");
    const seqs = await watched;
    const want = Array.from({ length: db.sequence - start }, (_, i) => start + 1 + i);
    assert.deepEqual([...new Set(seqs)].sort((a, b) => a - b), want);
  }));

Deno.test("an attached feed left waiting does not hold the process once its owner Worker is gone", () =>
  withDir(async (dir) => {
    const mod = JSON.stringify(new URL("../mod.ts", import.meta.url).href);
    await Deno.writeTextFile(
      `${dir}/owner.ts`,
      `import { open } from ${mod};
self.onmessage = async (e) => {
  const shared = (await open(e.data, { sync: "never" })).share();
  self.postMessage(shared, [shared.port]);
};
`,
    );
    const run = await stillRunning(dir, (mod) =>
      `import { attach } from ${mod};
const w = new Worker(new URL("./owner.ts", import.meta.url).href, { type: "module" });
const shared = await new Promise((r) => { w.onmessage = (e) => r(e.data); w.postMessage(${
        JSON.stringify(`${dir}/store`)
      }); });
w.onmessage = null;
const db = await attach(shared);
db.watch({ prefix: "a" }).next();
w.terminate();
console.log("owner gone");
`);
    assert.equal(run.first, "owner gone\n");
    assert.notEqual(run.after, "running");
  }));
