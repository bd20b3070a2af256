/**
 * Edge cases an audit found where openKv answered differently from Deno KV:
 * each runs against Deno KV and Cask in the same test and the outcomes are
 * compared. Where the stores differ on purpose (the error class after close),
 * the test pins both sides.
 */

import assert from "node:assert/strict";
import { ClosedError, openKv } from "../mod.ts";
import { withDir } from "./helpers.ts";
import { openDenoKv, outcome } from "./kv_peer.ts";

type AnyKv = Deno.Kv;
// deno-lint-ignore no-explicit-any -- invalid arguments on purpose
const bad = (x: unknown) => x as any;

/** Runs `fn` with a fresh Deno KV and Cask store; closes whichever is still open. */
async function withBoth(fn: (stores: [AnyKv, AnyKv]) => Promise<void>): Promise<void> {
  await withDir(async (dir) => {
    const denoKv = await openDenoKv(`${dir}/deno.sqlite3`);
    const cask = await openKv(`${dir}/cask`);
    try {
      await fn([denoKv, cask as unknown as AnyKv]);
    } finally {
      await outcome(() => denoKv.close());
      await cask.close();
    }
  });
}

/** Each case's outcome on Cask, where it differs from Deno KV's. */
async function differences(
  stores: [AnyKv, AnyKv],
  cases: [string, (kv: AnyKv) => unknown][],
): Promise<string[]> {
  const out: string[] = [];
  for (const [name, call] of cases) {
    const want = JSON.stringify(await outcome(() => call(stores[0])));
    const got = JSON.stringify(await outcome(() => call(stores[1])));
    if (got !== want) out.push(`${name}: Deno ${want} / Cask ${got}`);
  }
  return out;
}

/** An entry with its versionstamp reduced to present/absent (the digits differ by design). */
const shape = (e: Deno.KvEntryMaybe<unknown>) => ({ ...e, versionstamp: e.versionstamp !== null });

const nextWithin = <T>(reader: ReadableStreamDefaultReader<T>, ms: number) =>
  Promise.race([reader.read(), new Promise((r) => setTimeout(() => r("nothing yet"), ms))]);

Deno.test("a check naming a versionstamp no commit had fails the commit", async () => {
  await withBoth(async (stores) => {
    for (const kv of stores) await kv.set(["present"], 1);
    const cases: [string, (kv: AnyKv) => unknown][] = [];
    // Low digits Cask never uses, and a sequence past 2^53.
    for (const stamp of ["00000000000000010001", "ffffffffffffffff0000"]) {
      for (const key of [["absent"], ["present"]]) {
        const check = { key, versionstamp: stamp };
        cases.push(
          [
            `${stamp} on ${key} with a set`,
            (kv) => kv.atomic().check(check).set(["w"], 1).commit(),
          ],
          [
            `${stamp} on ${key} with a sum`,
            (kv) => kv.atomic().check(check).sum(["n"], 1n).commit(),
          ],
          [`${stamp} on ${key} alone`, (kv) => kv.atomic().check(check).commit()],
        );
      }
    }
    cases.push(["nothing was written", async (kv) => shape(await kv.get(["w"]))]);
    assert.deepEqual(await differences(stores, cases), []);
  });
});

Deno.test("the empty key reads as absent in get, getMany and watch", async () => {
  await withBoth(async (stores) => {
    for (const kv of stores) await kv.set(["a"], 1);
    assert.deepEqual(
      await differences(stores, [
        ["get", (kv) => kv.get([])],
        ["getMany", async (kv) => (await kv.getMany([[], ["a"], []])).map(shape)],
        ["watch", async (kv) => {
          const reader = kv.watch([[], ["a"]]).getReader();
          const first = await reader.read();
          await kv.set(["b"], 2);
          const second = await nextWithin(reader, 200);
          await reader.cancel();
          return [first.value?.map(shape), second];
        }],
        ["watch of the empty key alone", async (kv) => {
          const reader = kv.watch([[]]).getReader();
          const first = await reader.read();
          await kv.set(["b"], 3);
          const second = await nextWithin(reader, 200);
          await reader.cancel();
          return [first, second];
        }],
      ]),
      [],
    );
  });
});

Deno.test("a check without a versionstamp field requires the key to be absent", async () => {
  await withBoth(async (stores) => {
    const commit = (kv: AnyKv) => kv.atomic().check(bad({ key: ["k"] })).set(["k"], 1).commit();
    assert.deepEqual(
      await differences(stores, [
        ["on an absent key", async (kv) => (await commit(kv)).ok],
        ["on a present key", async (kv) => (await commit(kv)).ok],
      ]),
      [],
    );
  });
});

Deno.test("list reads its first batch as Deno KV does (default size, limit, batchSize)", async () => {
  await withBoth(async (stores) => {
    for (const kv of stores) {
      const a = kv.atomic();
      for (let i = 0; i < 1000; i++) a.set(["k", i], i);
      await a.commit();
    }
    // Keys written after the first entry was read show up only past the first batch, so the
    // first new key seen tells where that batch ended.
    const firstBatchEnd = async (kv: AnyKv, options: Deno.KvListOptions) => {
      let end: unknown;
      let first = true;
      for await (const e of kv.list({ prefix: ["k"] }, options)) {
        if (first) {
          first = false;
          const b = kv.atomic();
          for (let i = 0; i < 1000; i++) b.set(["k", i + 0.5], "new");
          await b.commit();
        }
        if (e.value === "new") end ??= e.key[1];
      }
      const c = kv.atomic();
      for (let i = 0; i < 1000; i++) c.delete(["k", i + 0.5]);
      await c.commit();
      return end ?? "none";
    };
    const optionSets: Deno.KvListOptions[] = [
      {},
      { reverse: true },
      { limit: 50 },
      { limit: 300 },
      { limit: 700 },
      { limit: 700, batchSize: 600 },
      // null: batches of `limit`, with no cap of 500.
      { limit: 700, batchSize: null as unknown as number },
      { batchSize: 30 },
    ];
    assert.deepEqual(
      await differences(
        stores,
        optionSets.map((o) => [JSON.stringify(o), (kv) => firstBatchEnd(kv, o)]),
      ),
      [],
    );
  });
});

Deno.test("calls made right after close() reject: BadResource in Deno KV, ClosedError in Cask", async () => {
  const calls: [string, (kv: AnyKv) => Promise<unknown>][] = [
    ["get", (kv) => kv.get(["a"])],
    ["getMany", (kv) => kv.getMany([["a"]])],
    ["set", (kv) => kv.set(["b"], 1)],
    ["delete", (kv) => kv.delete(["a"])],
    ["enqueue", (kv) => kv.enqueue(1)],
    ["atomic", (kv) => kv.atomic().set(["b"], 1).commit()],
    ["check-only atomic", (kv) => kv.atomic().check({ key: ["b"], versionstamp: null }).commit()],
    ["list", (kv) => kv.list({ prefix: [] }).next()],
    ["watch", (kv) => kv.watch([["a"]]).getReader().read()],
  ];
  await withBoth(async (stores) => {
    const results = await Promise.all(stores.map(async (kv) => {
      await kv.set(["a"], 1);
      // Deno KV may reject a read still in flight at close(); Cask completes it.
      const before = outcome(() => kv.get(["a"]));
      // Made before close() and used after it.
      const list = kv.list({ prefix: [] });
      const atomic = kv.atomic().set(["c"], 1);
      kv.close();
      // Issued synchronously after close(), with no await in between; each gets its handler at
      // once, so one rejecting while another is awaited is handled.
      const settled = [
        ...calls.map(([name, call]) => [name, outcome(() => call(kv))] as const),
        ["list made before close", outcome(() => list.next())] as const,
        ["atomic made before close", outcome(() => atomic.commit())] as const,
      ];
      const outcomes: Record<string, string> = {};
      for (const [name, p] of settled) {
        const o = await p;
        outcomes[name] = "error" in o ? o.error.split(":")[0] : `resolved ${JSON.stringify(o)}`;
      }
      return { before: await before, outcomes };
    }));
    const [deno, cask] = results;
    assert.ok("ok" in cask.before && cask.before.ok.value === 1, "a get before close() completes");
    for (const [name, error] of Object.entries(deno.outcomes)) {
      assert.equal(error, "BadResource", `Deno KV ${name}`);
      assert.equal(cask.outcomes[name], "ClosedError", `Cask ${name}`);
    }
  });
});

Deno.test("reads after close() with bad arguments: Deno KV's type errors first, its checks of values after the closed store's", async () => {
  const big = "x".repeat(70_000);
  const calls: [string, (kv: AnyKv) => unknown][] = [
    ["get of a bad key", (kv) => kv.get([{}] as never)],
    ["get with a bad consistency", (kv) => kv.get(["a"], { consistency: "x" as never })],
    ["get of null", (kv) => kv.get(null as never)],
    ["get of a key too large", (kv) => kv.get([big])],
    ["getMany of a bad key", (kv) => kv.getMany([["a"], [{}]] as never)],
    ["getMany of a string", (kv) => kv.getMany("ab" as never)],
    ["getMany of a key too large", (kv) => kv.getMany([[big]])],
    ["getMany of a sparse list", (kv) => kv.getMany(new Array(2) as never)],
    ["watch of a sparse list", (kv) => kv.watch(new Array(2) as never)],
    ["watch of a bad key", (kv) => kv.watch([[{}]] as never)],
    ["watch of a key too large", (kv) => kv.watch([[big]])],
    ["list of a bad prefix", (kv) => kv.list({ prefix: [{}] } as never).next()],
    [
      "list with a cursor not a string",
      (kv) => kv.list({ prefix: [] }, { cursor: 5 as never }).next(),
    ],
    ["list with a bad cursor", (kv) => kv.list({ prefix: [] }, { cursor: "!!" }).next()],
    [
      "list with a bad consistency",
      (kv) => kv.list({ prefix: [] }, { consistency: "x" as never }).next(),
    ],
    ["list of reversed bounds", (kv) => kv.list({ start: ["b"], end: ["a"] }).next()],
    ["list of a start outside its prefix", (kv) => kv.list({ prefix: ["a"], start: ["b"] }).next()],
  ];
  await withBoth(async (stores) => {
    const [deno, cask] = await Promise.all(stores.map(async (kv) => {
      kv.close();
      const classes: string[] = [];
      for (const [, call] of calls) {
        const o = await outcome(() => call(kv));
        classes.push("error" in o ? o.error.split(":")[0] : "accepted");
      }
      return classes;
    }));
    calls.forEach(([name], i) => {
      assert.equal(cask[i], deno[i] === "BadResource" ? "ClosedError" : deno[i], name);
    });
    // Both kinds are among the cases, so the order is what is compared.
    assert.ok(deno.includes("TypeError") && deno.includes("BadResource"), deno.join());
  });
});

Deno.test("leaving a using block closes the store for the calls that follow", async () => {
  await withDir(async (dir) => {
    let escaped: Awaited<ReturnType<typeof openKv>>;
    {
      using kv = await openKv(dir);
      await kv.set(["a"], 1);
      escaped = kv;
    }
    await assert.rejects(escaped.get(["a"]), ClosedError);
    await escaped.close();
  });
});

Deno.test("option and argument edge cases are accepted or refused as in Deno KV", async () => {
  await withBoth(async (stores) => {
    const errorClass = async (call: () => unknown) => {
      const o = await outcome(call);
      return "error" in o ? o.error.split(":")[0] : "accepted";
    };
    assert.deepEqual(
      await differences(stores, [
        ["get, bogus consistency", (kv) => kv.get(["a"], { consistency: bad("bogus") })],
        ["getMany, bogus consistency", (kv) => kv.getMany([["a"]], { consistency: bad("bogus") })],
        [
          "list, bogus consistency",
          (kv) => kv.list({ prefix: [] }, { consistency: bad("x") }).next(),
        ],
        [
          "list, numeric consistency",
          (kv) => errorClass(() => kv.list({ prefix: [] }, { consistency: bad(5) }).next()),
        ],
        ["enqueue, string delay", (kv) => errorClass(() => kv.enqueue(1, { delay: bad("5") }))],
        ["enqueue, boolean delay", (kv) => errorClass(() => kv.enqueue(1, { delay: bad(true) }))],
        [
          "enqueue, string backoff",
          (kv) => errorClass(() => kv.enqueue(1, { backoffSchedule: [bad("5")] })),
        ],
        [
          "enqueue, empty key if undelivered",
          async (kv) => (await kv.enqueue(1, { keysIfUndelivered: [[], ["u"]] })).ok,
        ],
        ["watch of no keys", (kv) => nextWithin(kv.watch([]).getReader(), 200)],
        ["watch of a sparse list", (kv) => kv.watch(new Array(2) as never)],
        ["getMany of a sparse list", (kv) => kv.getMany(new Array(2) as never)],
        // Elements are read in order: the hole fails first.
        ["watch of a hole before a bad key", (kv) => kv.watch([, [{}]] as never)],
        ["getMany of a hole before a bad key", (kv) => kv.getMany([, [{}]] as never)],
      ]),
      [],
    );
  });
});

Deno.test("a sum mutation of a plain number or bigint adds as in Deno KV, and refuses the same pairs", async () => {
  await withBoth(async (stores) => {
    const show = (v: unknown) =>
      v instanceof Deno.KvU64 || (v as { [Symbol.toStringTag]?: string })?.[Symbol.toStringTag] ===
          "KvU64"
        ? `KvU64(${(v as { value: bigint }).value})`
        : typeof v === "bigint"
        ? `${v}n`
        : Object.is(v, -0)
        ? "-0"
        : String(v);
    const sum = (key: string, value: unknown) => async (kv: AnyKv) => {
      const r = await kv.atomic().mutate({ type: "sum", key: [key], value: bad(value) }).commit();
      return `${r.ok} ${show((await kv.get([key])).value)}`;
    };
    for (const kv of stores) {
      await kv.set(["num"], 5);
      await kv.set(["big"], 5n);
      await kv.set(["u64"], new Deno.KvU64(5n));
      await kv.set(["str"], "x");
    }
    const cases: [string, (kv: AnyKv) => unknown][] = [
      ["number into number", sum("num", 2.5)],
      ["bigint into number", sum("num", 2n)],
      ["bigint into bigint", sum("big", 7n)],
      ["negative bigint into bigint", sum("big", -20n)],
      ["huge bigint into bigint", sum("big", 1n << 80n)],
      ["number into bigint", sum("big", 1)],
      ["number into absent", sum("absent-n", 4)],
      ["bigint into absent", sum("absent-b", 3n)],
      ["-0 into absent", sum("absent-z", -0)],
      ["bigint into KvU64", sum("u64", 1n)],
      ["negative bigint into KvU64", sum("u64", -1n)],
      ["2^64 into KvU64", sum("u64", 1n << 64n)],
      ["number into KvU64", sum("u64", 1)],
      ["KvU64 into number", sum("num", new Deno.KvU64(1n))],
      ["number into string", sum("str", 1)],
      ["string operand", sum("num", "x")],
      ["object operand", sum("num", { a: 1 })],
      ["NaN into number", sum("num", NaN)],
      ["number min", async (kv) => {
        const r = await kv.atomic().mutate({ type: "min", key: ["num"], value: bad(1) }).commit();
        return r.ok;
      }],
      ["two sums in one commit", async (kv) => {
        await kv.atomic().mutate(
          { type: "sum", key: ["two"], value: bad(1) },
          { type: "sum", key: ["two"], value: bad(2) },
        ).commit();
        return show((await kv.get(["two"])).value);
      }],
    ];
    assert.deepEqual(await differences(stores, cases), []);
  });
});

Deno.test("get and getMany give a present key back decoded and an absent one as given, as Deno KV does", async () => {
  await withBoth(async (stores) => {
    const describe = (k: Deno.KvKey) =>
      k.map((p) => p instanceof Uint8Array ? `Uint8Array(${[...p]})` : JSON.stringify(p));
    const cases: [string, (kv: AnyKv) => unknown][] = [];
    for (
      const [name, key] of [
        ["plain", ["a", 1]],
        ["Uint16Array part", [new Uint16Array([258])]],
        ["lone surrogate", ["\ud800"]],
      ] as [string, Deno.KvKey][]
    ) {
      for (const present of [false, true]) {
        cases.push([`get ${name}${present ? ", present" : ""}`, async (kv) => {
          if (present) await kv.set(key, 1);
          const e = await kv.get(key);
          return { same: e.key === key, key: describe(e.key) };
        }]);
        cases.push([`getMany ${name}${present ? ", present" : ""}`, async (kv) => {
          const [e] = await kv.getMany([key]);
          return { same: e.key === key, key: describe(e.key) };
        }]);
      }
    }
    assert.deepEqual(await differences(stores, cases), []);
  });
});

Deno.test("list takes a null batchSize and any reverse but true as Deno KV does", async () => {
  await withBoth(async (stores) => {
    for (const kv of stores) for (const k of ["a", "b", "c"]) await kv.set([k], 1);
    const keys = async (kv: AnyKv, options: Deno.KvListOptions) => {
      const out = [];
      for await (const e of kv.list({ prefix: [] }, options)) out.push(e.key[0]);
      return out;
    };
    const cases: [string, (kv: AnyKv) => unknown][] = [
      ["batchSize null", (kv) => keys(kv, { batchSize: bad(null) })],
      ["reverse 0", (kv) => keys(kv, { reverse: bad(0) })],
      ["reverse yes", (kv) => keys(kv, { reverse: bad("yes") })],
      ["reverse true", (kv) => keys(kv, { reverse: true })],
    ];
    assert.deepEqual(await differences(stores, cases), []);
  });
});

Deno.test("a watch first read after close() ends, and watch() after close() throws at once", async () => {
  await withDir(async (dir) => {
    const denoKv = await openDenoKv(`${dir}/deno.sqlite3`);
    const cask = await openKv(`${dir}/cask`);
    for (const kv of [denoKv, cask as unknown as AnyKv]) {
      const stream = kv.watch([["k"]]);
      await kv.close();
      assert.deepEqual(await stream.getReader().read(), { value: undefined, done: true });
      assert.throws(() => kv.watch([["k"]]));
    }
  });
});

Deno.test("an expireIn too large for a timestamp fails the commit, not the set() that takes it, as in Deno KV", async () => {
  await withBoth(async (stores) => {
    const messages: string[][] = [];
    for (const kv of stores) {
      const seen: string[] = [];
      for (const expireIn of [2 ** 60, 2 ** 64, 2 ** 70]) {
        const op = kv.atomic().set(["k"], 1, { expireIn });
        const m = kv.atomic().mutate({ type: "set", key: ["k"], value: 1, expireIn });
        for (const o of [op, m]) {
          const e = await o.commit().then(() => undefined, (e) => e);
          assert.ok(e instanceof TypeError, `${expireIn}: ${e}`);
          seen.push(e.message);
        }
      }
      messages.push(seen);
    }
    assert.deepEqual(messages[1], messages[0]);
  });
});

Deno.test("enqueue options: bigint delays and intervals, holes and wrong types fail where and as Deno KV's do", async () => {
  await withBoth(async (stores) => {
    // Where it fails: building the operation, or its commit.
    const where = async (build: () => Deno.AtomicOperation) => {
      let op: Deno.AtomicOperation;
      try {
        op = build();
      } catch (e) {
        return `build: ${(e as Error).message}`;
      }
      return await op.commit().then((r) => `ok ${r.ok}`, (e) => `commit: ${e.message}`);
    };
    const cases: [string, (kv: AnyKv) => unknown][] = [];
    // deno-lint-ignore no-sparse-arrays -- a hole on purpose
    const hole = [, 1];
    for (
      const [name, options] of [
        ["delay 5n", { delay: 5n }],
        ["delay string", { delay: "5" }],
        ["delay boolean", { delay: true }],
        ["delay object", { delay: {} }],
        ["delay 1.5", { delay: 1.5 }],
        ["interval 5n", { backoffSchedule: [5n] }],
        ["interval string", { backoffSchedule: ["5"] }],
        ["interval array", { backoffSchedule: [[]] }],
        ["interval null", { backoffSchedule: [null] }],
        ["interval hole", { backoffSchedule: hole }],
        ["interval -1", { backoffSchedule: [-1] }],
      ] as [string, unknown][]
    ) {
      cases.push([name, (kv) => where(() => kv.atomic().enqueue(1, bad(options)))]);
    }
    assert.deepEqual(await differences(stores, cases), []);
  });
});

Deno.test("a bigint key part past 255 bytes is refused in Deno KV's words for each part of a commit", async () => {
  await withBoth(async (stores) => {
    const big = 2n ** 2100n;
    const cases: [string, (kv: AnyKv) => unknown][] = [
      ["set", (kv) => kv.set([big], 1)],
      ["delete", (kv) => kv.delete([big])],
      ["sum", (kv) => kv.atomic().sum([big], 1n).commit()],
      ["check", (kv) => kv.atomic().check({ key: [big], versionstamp: null }).commit()],
      [
        "keysIfUndelivered",
        (kv) => kv.atomic().enqueue(1, { keysIfUndelivered: [[big]] }).commit(),
      ],
      ["get", (kv) => kv.get([big])],
    ];
    assert.deepEqual(await differences(stores, cases), []);
  });
});
