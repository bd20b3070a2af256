/**
 * Type-level compatibility: what openKv returns is assignable to Deno.Kv
 * without a cast, so code typed against Deno KV accepts it. `deno check` (and
 * `deno test`, which type-checks first) fails on this file if it is not.
 */

import assert from "node:assert/strict";
import { openKv } from "../mod.ts";
import { withDir } from "./helpers.ts";
import { openDenoKv, plain } from "./kv_peer.ts";

/** Code written for Deno KV, used unchanged. */
async function denoKvCode(kv: Deno.Kv): Promise<string | null> {
  const op: Deno.AtomicOperation = kv.atomic();
  await op.check({ key: ["k"], versionstamp: null }).set(["k"], "v").commit();
  const it: Deno.KvListIterator<string> = kv.list<string>({ prefix: [] });
  for await (const e of it) assert.equal(e.value, "v");
  const entry: Deno.KvEntryMaybe<string> = await kv.get<string>(["k"]);
  return entry.value;
}

Deno.test("openKv's result is a Deno.Kv for the type checker, and works as one", async () => {
  await withDir(async (dir) => {
    const cask = await openKv(dir);
    const kv: Deno.Kv = cask;
    try {
      assert.equal(await denoKvCode(kv), "v");
    } finally {
      // Deno.Kv's close() returns void; Cask's also returns a promise, to wait for the unlock.
      await cask.close();
    }
    const again = await openKv(dir);
    assert.equal((await again.get(["k"])).value, "v");
    await again.close();
  });
});

Deno.test("a typed array inside a value read back owns its bytes: no other record's, and transferring it harms nothing", async () => {
  await withDir(async (dir) => {
    const kv = await openKv(dir);
    await kv.set(["secret"], { pw: new TextEncoder().encode("hunter2-SECRET-TOKEN") });
    await kv.set(["pub"], { avatar: new Uint8Array([1, 2, 3]) });
    await kv.get(["secret"]);
    const { avatar } = (await kv.get<{ avatar: Uint8Array }>(["pub"])).value!;
    assert.deepEqual(avatar, new Uint8Array([1, 2, 3]));
    const whole = new TextDecoder().decode(new Uint8Array(avatar.buffer));
    assert.ok(!whole.includes("hunter2"), "another record's bytes in the buffer");
    const { port1, port2 } = new MessageChannel();
    port1.postMessage(avatar, [avatar.buffer]);
    port1.close();
    port2.close();
    const again = (await kv.get<{ pw: Uint8Array }>(["secret"])).value!;
    assert.equal(new TextDecoder().decode(again.pw), "hunter2-SECRET-TOKEN");
    await kv.close();
  });
});

Deno.test("every typed array and DataView read back has a buffer of exactly its own bytes", async () => {
  await withDir(async (dir) => {
    const kv = await openKv(dir);
    await kv.set(["rec"], { secret: "password123", data: new Uint8Array([1, 2, 3]) });
    await kv.set(["f64"], new Float64Array([1.5, 2.5]));
    await kv.set(["i16"], {
      nested: [new Int16Array([7, 8])],
      view: new DataView(new ArrayBuffer(3)),
    });
    const rec = (await kv.get<{ data: Uint8Array }>(["rec"])).value!;
    const f64 = (await kv.get<Float64Array>(["f64"])).value!;
    const i16 = (await kv.get<{ nested: Int16Array[]; view: DataView }>(["i16"])).value!;
    for (
      const [what, v] of [["nested", rec.data], ["top", f64], ["deep", i16.nested[0]], [
        "DataView",
        i16.view,
      ]] as const
    ) {
      assert.equal(v.byteOffset, 0, what);
      assert.equal(v.buffer.byteLength, v.byteLength, what);
    }
    assert.deepEqual([...f64], [1.5, 2.5]);
    assert.deepEqual([...i16.nested[0]], [7, 8]);
    assert.notEqual(f64.buffer, i16.nested[0].buffer as ArrayBufferLike);
    // In a Map's keys and values, a Set, and an Error's cause (not enumerable) too.
    const m = new Map<unknown, unknown>([[new Uint8Array([9, 9]), new Int32Array([5])]]);
    const err = new Error("boom", { cause: new Uint8Array([1, 2]) });
    await kv.set(["deep"], { m, s: new Set([new Uint8Array([3])]), err });
    const deep = (await kv.get<{ m: Map<Uint8Array, Int32Array>; s: Set<Uint8Array>; err: Error }>([
      "deep",
    ])).value!;
    const [[mk, mv]] = [...deep.m];
    const views = [mk, mv, [...deep.s][0], deep.err.cause as Uint8Array];
    assert.deepEqual(views.map((v) => v.buffer.byteLength), views.map((v) => v.byteLength));
    // As a structured clone: one array met twice is one array, and a Set keeps its order.
    const u = new Uint8Array([1]);
    await kv.set(["shape"], { twice: [u, u], s: new Set(["a", new Int32Array([5]), "b"]) });
    const shape = (await kv.get<{ twice: Uint8Array[]; s: Set<unknown> }>(["shape"])).value!;
    assert.equal(shape.twice[0], shape.twice[1]);
    assert.deepEqual([...shape.s].map(String), ["a", "5", "b"]);
    await kv.close();
  });
});

Deno.test("a value that is a stream, a port, a CryptoKey or a Blob is refused, not stored as an empty object", async () => {
  await withDir(async (dir) => {
    const kv = await openKv(`${dir}/cask`);
    const denoKv = await openDenoKv(`${dir}/deno.sqlite`);
    const { port1, port2 } = new MessageChannel();
    try {
      // Refused by both stores alike (Cask checks the value itself, not what it holds).
      for (const v of [port1, new ReadableStream(), new WritableStream()]) {
        for (const store of [kv, denoKv] as Deno.Kv[]) {
          await assert.rejects(async () => await store.set(["k"], v), TypeError);
        }
      }
      // Deno KV keeps these with its own serializer; Cask refuses them (README: What differs).
      const key = await crypto.subtle.generateKey({ name: "HMAC", hash: "SHA-256" }, true, [
        "sign",
      ]);
      for (const v of [key, new Blob(["x"]), new File(["x"], "f")]) {
        await assert.rejects(() => kv.set(["k"], v), TypeError);
      }
      assert.equal((await kv.get(["k"])).value, null);
    } finally {
      port1.close();
      port2.close();
      await kv.close();
      denoKv.close();
    }
  });
});

Deno.test("Deno KV counter code type-checks on openKv's result unchanged: mutate() takes a Deno.KvU64", async () => {
  await withDir(async (dir) => {
    const kv = await openKv(`${dir}/cask`);
    const denoKv = await openDenoKv(`${dir}/deno.sqlite`);
    try {
      // The same lines on each store, typed by the store's own declarations (Cask's for kv).
      await kv.atomic()
        .mutate({ type: "sum", key: ["visits"], value: new Deno.KvU64(1n) })
        .mutate({ type: "max", key: ["peak"], value: new Deno.KvU64(5n) })
        .mutate({ type: "min", key: ["low"], value: new Deno.KvU64(5n) })
        .commit();
      await denoKv.atomic()
        .mutate({ type: "sum", key: ["visits"], value: new Deno.KvU64(1n) })
        .mutate({ type: "max", key: ["peak"], value: new Deno.KvU64(5n) })
        .mutate({ type: "min", key: ["low"], value: new Deno.KvU64(5n) })
        .commit();
      const keys = [["visits"], ["peak"], ["low"]];
      const read = async (store: Deno.Kv) => (await store.getMany(keys)).map((e) => plain(e.value));
      assert.deepEqual(await read(kv), await read(denoKv));
      assert.deepEqual(await read(kv), [{ u64: 1n }, { u64: 5n }, { u64: 5n }]);
    } finally {
      await kv.close();
      denoKv.close();
    }
  });
});

Deno.test("bytes of a transferred buffer, as a value or a key part, are empty bytes, as in Deno KV", async () => {
  await withDir(async (dir) => {
    const kv = await openKv(`${dir}/cask`);
    const denoKv = await openDenoKv(`${dir}/deno.sqlite`);
    const gone = <T extends ArrayBufferView>(make: (b: ArrayBuffer) => T): T => {
      const b = new ArrayBuffer(8);
      const view = make(b);
      b.transfer();
      return view;
    };
    try {
      for (const store of [kv, denoKv] as Deno.Kv[]) {
        assert.equal((await store.set(["v"], gone((b) => new Uint8Array(b)))).ok, true);
        assert.deepEqual((await store.get(["v"])).value, new Uint8Array(0));
        // Any view is taken as its bytes (a DataView too, which the key type does not name).
        const parts = [gone((b) => new Uint8Array(b)), gone((b) => new DataView(b))];
        for (const part of parts as unknown as Uint8Array[]) {
          assert.equal((await store.set(["p", part], 1)).ok, true);
          const e = await store.get(["p", new Uint8Array(0)]);
          assert.equal(e.value, 1);
          assert.deepEqual(e.key, ["p", new Uint8Array(0)]);
          await store.delete(["p", part]);
          assert.equal((await store.get(["p", new Uint8Array(0)])).value, null);
        }
        // A DataView is no Uint8Array: its bytes go through the structured clone, which refuses them.
        await assert.rejects(
          () => store.set(["d"], gone((b) => new DataView(b))),
          (e: Error) =>
            e instanceof TypeError &&
            e.message === "An ArrayBuffer is detached and could not be cloned.",
        );
      }
    } finally {
      await kv.close();
      denoKv.close();
    }
  });
});
