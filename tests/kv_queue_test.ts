/**
 * Queues: enqueue/listenQueue deliver at least once, retry a throwing
 * handler on its backoff schedule, then write keysIfUndelivered; messages are
 * stored, so they survive close + reopen; list() never shows them.
 */

import assert from "node:assert/strict";
import { KvU64, openKv, ReadOnlyError } from "../mod.ts";
import { withDir } from "./helpers.ts";
import { openDenoKv } from "./kv_peer.ts";
import { Cask } from "../src/api/store.ts";
import type { KvEngine } from "../src/kv/engine.ts";
import { openKvOn } from "../src/kv/memory.ts";
import { Wakeup } from "../src/kv/queue.ts";

type Kv = Awaited<ReturnType<typeof openKv>>;

/** Listens until `n` deliveries happened (or `ms` passed); returns them and closes the store. */
async function collect(kv: Deno.Kv, n: number, handler?: (v: unknown) => void, ms = 5000) {
  const got: unknown[] = [];
  let done!: () => void;
  const enough = new Promise<void>((r) => done = r);
  const listening = kv.listenQueue((v) => {
    got.push(v);
    if (got.length === n) done();
    handler?.(v);
  });
  const timer = setTimeout(done, ms);
  await enough;
  clearTimeout(timer);
  await kv.close();
  await listening; // resolves once the store is closed
  return got;
}

Deno.test("queued values of every encoding arrive in send order, as structured clones like Deno KV's", async () => {
  await withDir(async (dir) => {
    const values = (u64: (n: bigint) => unknown) => [
      { a: 1 },
      new Uint8Array([1, 2]),
      u64(7n),
      { n: u64(8n) },
      "s",
      [1n, new Date(5)],
    ];
    const received = async (kv: Deno.Kv, u64: (n: bigint) => unknown) => {
      for (const v of values(u64)) await kv.enqueue(v);
      return await collect(kv, values(u64).length);
    };
    const got = await received(await openKv(dir), (n) => new KvU64(n));
    const want = await received(await openDenoKv(`${dir}/deno.sqlite3`), (n) => new Deno.KvU64(n));
    // A KvU64 (of either class) arrives as a plain object, not a KvU64.
    assert.deepEqual(got, values((n) => ({ value: n })));
    // Deno KV does not promise send order for messages enqueued at once: the same
    // messages, in any order.
    const sorted = (v: unknown[]) => v.map((x) => Deno.inspect(x)).sort();
    assert.deepEqual(sorted(got), sorted(want));
    // Stored with set(), it still reads back as a KvU64.
    const kv = await openKv(dir);
    await kv.set(["u"], new KvU64(7n));
    assert.ok((await kv.get(["u"])).value instanceof KvU64);
    await kv.close();
  });
});

Deno.test("messages survive a restart, and so does one whose handler never finished", async () => {
  await withDir(async (dir) => {
    let kv = await openKv(dir);
    await kv.enqueue("first");
    await kv.atomic().set(["k"], 1).enqueue("second").commit();
    await kv.close();

    // A handler still running at close has not acknowledged its message.
    kv = await openKv(dir);
    let started!: () => void;
    const running = new Promise<void>((r) => started = r);
    const listening = kv.listenQueue(async () => {
      started();
      await new Promise((r) => setTimeout(r, 50));
    });
    await running;
    await kv.close();
    await listening;

    kv = await openKv(dir);
    assert.deepEqual(await collect(kv, 2), ["first", "second"]);
    kv = await openKv(dir);
    assert.deepEqual(await collect(kv, 1, undefined, 300), [], "acknowledged messages are gone");
  });
});

Deno.test("a throwing handler is retried per backoffSchedule, then keysIfUndelivered are set", async () => {
  await withDir(async (dir) => {
    const kv = await openKv(dir);
    await kv.enqueue({ job: 1 }, {
      backoffSchedule: [20, 20],
      keysIfUndelivered: [["dead", 1], ["dead", 2]],
    });
    await kv.enqueue({ job: 2 }, { backoffSchedule: [20, 20, 20] });
    const attempts = new Map<number, number>();
    const started = Date.now();
    const got = await collect(kv, 6, (v) => {
      const job = (v as { job: number }).job;
      attempts.set(job, (attempts.get(job) ?? 0) + 1);
      // Job 1 always fails; job 2 succeeds on its third attempt.
      if (job === 1 || attempts.get(job)! < 3) throw new Error("not now");
    });
    assert.equal(got.length, 6);
    assert.deepEqual([...attempts].sort(), [[1, 3], [2, 3]]);
    assert.ok(Date.now() - started >= 40, "two backoff delays passed");
    const reopened = await openKv(dir);
    const dead = await reopened.getMany([["dead", 1], ["dead", 2]]);
    assert.deepEqual(dead.map((e) => e.value), [{ job: 1 }, { job: 1 }]);
    assert.deepEqual(await collect(reopened, 1, undefined, 200), [], "nothing left to deliver");
  });
});

Deno.test("delay holds a message back; a failed check enqueues nothing", async () => {
  await withDir(async (dir) => {
    const kv = await openKv(dir);
    await kv.set(["guard"], 1);
    const refused = await kv.atomic().check({ key: ["guard"], versionstamp: null }).enqueue("no")
      .commit();
    assert.equal(refused.ok, false);
    const sent = Date.now();
    await kv.enqueue("late", { delay: 300 });
    await kv.enqueue("early");
    const times: number[] = [];
    const got = await collect(kv, 2, () => times.push(Date.now() - sent));
    assert.deepEqual(got, ["early", "late"]);
    assert.ok(times[1] >= 300, `delivered after ${times[1]} ms`);
  });
});

Deno.test("with an injected clock, a delayed message is due when that clock says so", async () => {
  await withDir(async (dir) => {
    // A day behind real time: by real time the message would be due at once.
    let now = Date.now() - 86_400_000;
    const kv = await openKv(dir, { clock: () => now });
    await kv.enqueue("late", { delay: 60_000 });
    const got: unknown[] = [];
    const listening = kv.listenQueue((v) => void got.push(v));
    try {
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(got, [], "not due yet by the store's clock");
      now += 60_000;
      // Queuing wakes the dispatcher, which reads the clock again.
      await kv.enqueue("now");
      for (let i = 0; i < 100 && got.length < 2; i++) await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(got.sort(), ["late", "now"]);
    } finally {
      await kv.close();
      await listening;
    }
  });
});

Deno.test("list() never shows queued messages", async () => {
  await withDir(async (dir) => {
    const kv = await openKv(dir);
    await kv.set([true, true], "last user key");
    await kv.enqueue("hidden", { delay: 60_000 });
    const all = [];
    for await (const e of kv.list({ prefix: [] })) all.push(e.value);
    for await (const e of kv.list({ prefix: [] }, { reverse: true })) all.push(e.value);
    assert.deepEqual(all, ["last user key", "last user key"]);
    await kv.close();
  });
});

Deno.test("a process killed inside its queue handler gets the message again after reopen", async () => {
  await withDir(async (dir) => {
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL("./children/kv_queue_crash.ts", import.meta.url).pathname,
        dir,
        "m1",
        "m2",
      ],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let out = "";
    while (!out.includes("got m1") || !out.includes("got m2")) {
      const { value, done } = await lines.read();
      assert.equal(done, false, `child ended early: ${out}`);
      out += value;
    }
    child.kill("SIGKILL");
    await child.status;
    await lines.cancel();

    const kv = await openKv(dir);
    assert.deepEqual((await collect(kv, 2)).sort(), ["m1", "m2"]);
  });
});

Deno.test("retries and dead letters match Deno KV: attempts per message and keysIfUndelivered", async () => {
  await withDir(async (dir) => {
    const run = async (kv: Deno.Kv) => {
      const attempts = new Map<string, number>();
      const listening = kv.listenQueue((m: string) => {
        attempts.set(m, (attempts.get(m) ?? 0) + 1);
        if (m === "always fails" || (m === "fails once" && attempts.get(m) === 1)) {
          throw new Error("not now");
        }
      });
      await kv.enqueue("ok", { backoffSchedule: [10] });
      await kv.enqueue("fails once", { backoffSchedule: [10, 10] });
      await kv.enqueue("always fails", {
        backoffSchedule: [10, 10],
        keysIfUndelivered: [["dead", "a"], ["dead", "b"]],
      });
      await kv.enqueue("no retries", { backoffSchedule: [], keysIfUndelivered: [["dead", "c"]] });
      const deadline = Date.now() + 5000;
      // Done once both dead letters are written (the last step of the slowest message).
      while ((await kv.get(["dead", "b"])).value === null && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
      }
      await new Promise((r) => setTimeout(r, 100)); // room for any extra delivery to show
      const dead = await kv.getMany([["dead", "a"], ["dead", "b"], ["dead", "c"]]);
      if (kv instanceof Deno.Kv) kv.close();
      else await (kv as unknown as { close(): Promise<void> }).close();
      await listening;
      return { attempts: [...attempts].sort(), dead: dead.map((e) => e.value) };
    };
    const want = await run(await openDenoKv(`${dir}/deno.sqlite3`));
    const got = await run(await openKv(`${dir}/cask`) as unknown as Deno.Kv);
    assert.deepEqual(want.attempts, [["always fails", 3], ["fails once", 2], ["no retries", 1], [
      "ok",
      1,
    ]]);
    assert.deepEqual(got, want);
  });
});

Deno.test("a due message is delivered however many handlers are still running", async () => {
  await withDir(async (dir) => {
    const kv = await openKv(dir);
    for (let i = 0; i < 150; i++) await kv.enqueue(i);
    let release!: () => void;
    const gate = new Promise<void>((r) => release = r);
    let started = 0;
    const listening = kv.listenQueue(async (v) => {
      if (v === "go") return release();
      started++;
      await gate;
    });
    for (let i = 0; i < 100 && started < 150; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(started, 150, "every waiting message has its handler");
    await kv.enqueue("go");
    const timeout = new Promise<string>((r) => setTimeout(() => r("held back"), 3000));
    assert.equal(await Promise.race([gate.then(() => "delivered"), timeout]), "delivered");
    await kv.close();
    await listening;
  });
});

Deno.test("a message queued while the dispatcher scans is not left asleep", async () => {
  // The dispatcher sleeps after each scan until a wake (a message queued, one
  // put back) or the next due time; a wake during the scan must end the next
  // sleep, or a message the scan passed waits for the next wake.
  const wakeup = new Wakeup();
  wakeup.wake();
  const started = performance.now();
  await wakeup.sleep(5000);
  assert.ok(performance.now() - started < 1000, "the sleep after a missed wake ends at once");
  // Only once: the sleep after that waits for its time or a wake.
  const next = wakeup.sleep(20);
  const t = performance.now();
  await next;
  assert.ok(performance.now() - t >= 15);
});

Deno.test("a handler that queues a message for each one it gets leaves timers running", async () => {
  for (const sync of ["never", { intervalMs: 5 }] as const) {
    await withDir(async (dir) => {
      const kv = await openKv(dir, { sync });
      const started = performance.now();
      let deliveries = 0, stop = false;
      const listening = kv.listenQueue(async (n: number) => {
        deliveries++;
        // A bound, so that a dispatcher that never lets the event loop run
        // still ends this test (failed) rather than hang it.
        if (!stop && performance.now() - started < 3000) await kv.enqueue(n + 1);
      });
      await kv.enqueue(0);
      await new Promise((r) => setTimeout(r, 200));
      const late = performance.now() - started - 200;
      stop = true;
      assert.ok(late < 1000, `${JSON.stringify(sync)}: a 200 ms timer fired ${late} ms late`);
      assert.ok(deliveries > 10, `${deliveries} deliveries`);
      await kv.close();
      await listening;
    });
  }
});

Deno.test("finished deliveries do not make the queue read its messages in flight again", async () => {
  await withDir(async (dir) => {
    // The engine counts the records its range scans hand over.
    let scanned = 0;
    const open = async (d: string): Promise<KvEngine> => {
      const db = await Cask.open(d, { sync: "never" });
      const scanEntries = db.scanEntries.bind(db);
      db.scanEntries = async function* (options) {
        for await (const e of scanEntries(options)) {
          scanned++;
          yield e;
        }
      };
      return db;
    };
    const kv = await openKvOn(dir, open, { maxKeySize: 2048, maxValueSize: 65536 }, Date.now);
    const n = 400;
    const a = kv.atomic();
    for (let i = 0; i < n; i++) a.enqueue(i);
    assert.ok((await a.commit()).ok);
    let left = n;
    let done!: () => void;
    const all = new Promise<void>((r) => done = r);
    const listening = kv.listenQueue(async () => {
      // Each handler finishes on its own turn of the event loop.
      await new Promise((r) => setTimeout(r, 0));
      if (--left === 0) done();
    });
    await all;
    await kv.close();
    await listening;
    // Each message is read when it is handed out, and by a look or two more
    // (one after the wake its own enqueue left); reading the ones still in
    // flight after every delivery made it about n * n / 2 (80,000).
    assert.ok(scanned <= 3 * n, `${scanned} records read to deliver ${n} messages`);
  });
});

Deno.test("listenQueue() resolves at close() while a handler is still running, as in Deno KV", async () => {
  await withDir(async (dir) => {
    const kv = await openKv(dir);
    await kv.enqueue("m");
    let running!: () => void;
    const started = new Promise<void>((r) => running = r);
    const listening = kv.listenQueue(() => {
      running();
      return new Promise<void>(() => {}); // never settles
    });
    await started;
    await kv.close();
    const timeout = new Promise<string>((r) => setTimeout(() => r("pending"), 2000));
    assert.equal(await Promise.race([listening.then(() => "resolved"), timeout]), "resolved");
  });
});

Deno.test("two listenQueue handlers on one store take turns with the messages, as in Deno KV", async () => {
  await withDir(async (dir) => {
    for (const open of [() => openKv(dir), () => openDenoKv(`${dir}/deno.sqlite`)]) {
      const kv = await open();
      const got = { A: [] as number[], B: [] as number[] };
      let done!: () => void;
      const all = new Promise<void>((r) => done = r);
      const handler = (who: "A" | "B") => (v: number) => {
        got[who].push(v);
        if (got.A.length + got.B.length === 10) done();
      };
      const listening = [kv.listenQueue(handler("A")), kv.listenQueue(handler("B"))];
      for (let i = 0; i < 10; i++) await kv.enqueue(i);
      const timer = setTimeout(done, 5000);
      await all;
      clearTimeout(timer);
      kv.close();
      await Promise.all(listening);
      assert.deepEqual([...got.A, ...got.B].sort((a, b) => a - b), [...Array(10).keys()]);
      assert.ok(got.A.length >= 3 && got.B.length >= 3, JSON.stringify(got));
    }
  });
});

Deno.test("a handler's exception is logged in Deno KV's words", async () => {
  // Deno KV prints `Exception in queue handler <error>` through the runtime's
  // own console, which a test cannot intercept; Cask's goes through console.error.
  await withDir(async (dir) => {
    const kv = await openKv(dir);
    const logged: unknown[][] = [];
    const error = console.error;
    console.error = (...args: unknown[]) => logged.push(args);
    try {
      const listening = kv.listenQueue(() => {
        throw new Error("handler failed");
      });
      await kv.enqueue("m", { backoffSchedule: [] });
      for (let i = 0; i < 200 && logged.length === 0; i++) {
        await new Promise((r) => setTimeout(r, 10));
      }
      await kv.close();
      await listening;
    } finally {
      console.error = error;
    }
    assert.equal(logged.length, 1);
    assert.equal(logged[0][0], "Exception in queue handler");
    assert.equal((logged[0][1] as Error).message, "handler failed");
  });
});

Deno.test("a dead letter the store refuses is retried after a pause, never in a tight loop", async () => {
  await withDir(async (dir) => {
    const deadKey = ["dead", "x".repeat(500)];
    const first = await openKv(dir, { maxKeySize: 1000 });
    await first.enqueue("m", { backoffSchedule: [10], keysIfUndelivered: [deadKey] });
    await first.close();
    const logged: unknown[][] = [];
    const error = console.error;
    console.error = (...args: unknown[]) => logged.push(args);
    let attempts = 0, ticks = 0;
    try {
      // Reopened with a smaller key limit, the store refuses the dead-letter write.
      const kv = await openKv(dir, { maxKeySize: 100 });
      const listening = kv.listenQueue(() => {
        attempts++;
        throw new Error("handler failed");
      });
      const ticker = setInterval(() => ticks++, 50);
      await new Promise((r) => setTimeout(r, 1500));
      clearInterval(ticker);
      await kv.close();
      await listening;
    } finally {
      console.error = error;
    }
    // Two attempts by the schedule, then one more after the first 1 s pause; before the
    // fix the message came back at once, thousands of times, and timers starved.
    assert.ok(attempts >= 2 && attempts <= 4, `${attempts} attempts`);
    assert.ok(ticks >= 20, `${ticks} timer ticks in 1.5 s`);
    assert.ok(logged.some((a) => String(a[0]).includes("could not be written")));
    // Nothing was lost: with room for the key again, the dead letter is written.
    const kv = await openKv(dir, { maxKeySize: 1000 });
    console.error = () => {};
    try {
      const listening = kv.listenQueue(() => {
        throw new Error("handler failed");
      });
      for (let i = 0; i < 200 && (await kv.get(deadKey)).value === null; i++) {
        await new Promise((r) => setTimeout(r, 10));
      }
      assert.equal((await kv.get(deadKey)).value, "m");
      await kv.close();
      await listening;
    } finally {
      console.error = error;
    }
  });
});

Deno.test("listenQueue on a read-only store is refused, and runs no handler", async () => {
  await withDir(async (dir) => {
    {
      await using w = await openKv(dir);
      await w.enqueue("m1");
    }
    await using r = await openKv(dir, { readOnly: true });
    let ran = 0;
    const listening = r.listenQueue(() => void ran++).then(() => "resolved", (e) => e);
    const outcome = await Promise.race([
      listening,
      new Promise((resolve) => setTimeout(() => resolve("still listening"), 1500)),
    ]);
    assert.ok(outcome instanceof ReadOnlyError, String(outcome));
    assert.equal(ran, 0);
    // The message waits for a writer, which gets it once.
    await using w = await openKv(dir);
    assert.deepEqual(await collect(w, 1), ["m1"]);
  });
});

Deno.test("a backlog of due messages is handed out a page at a time, the event loop running between pages", async () => {
  await withDir(async (dir) => {
    const n = 2000;
    {
      await using kv = await openKv(dir, { sync: "never" });
      const a = kv.atomic();
      for (let i = 0; i < n; i++) a.enqueue(i);
      await a.commit();
    }
    await using kv = await openKv(dir);
    let handed = 0, release!: () => void;
    const gate = new Promise<void>((r) => release = r);
    const listening = kv.listenQueue(async () => {
      handed++;
      await gate;
    });
    // A timer due at once fires while the backlog is handed out, not after all of it.
    const atTimer = await new Promise<number>((r) => setTimeout(() => r(handed), 0));
    assert.ok(atTimer < n, `the timer fired only once all ${atTimer} messages were handed out`);
    // Every message is still handed out, all at once in flight, as Deno KV does.
    while (handed < n) await new Promise((r) => setTimeout(r, 10));
    release();
    await kv.close();
    await listening;
  });
});
