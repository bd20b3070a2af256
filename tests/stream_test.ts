import assert from "node:assert/strict";
import {
  type Cask,
  ClosedError,
  CorruptionError,
  InvalidArgumentError,
  open,
  ReadOnlyError,
  verify,
} from "../mod.ts";

const enc = (s: string) => new TextEncoder().encode(s);
import { dataFiles, heldMemoryMB, prng, randomBytes, text, withDir } from "./helpers.ts";

const BIG_MIB = Number(Deno.env.get("CASK_STREAM_MIB") ?? 1024);

function streamOf(bytes: Uint8Array, chunk = 64 * 1024): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    pull(c) {
      if (at >= bytes.length) return c.close();
      c.enqueue(bytes.slice(at, at + chunk));
      at += chunk;
    },
  });
}

async function readAll(s: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(s).arrayBuffer());
}

Deno.test("setStream/getStream round-trip a value through reopen and compaction; the blob file stays until dead", () =>
  withDir(async (dir) => {
    const value = randomBytes(prng(5), 9 * 1024 * 1024 + 17);
    {
      await using db = await open(dir, { sync: "never" });
      await db.set("small", "s");
      await db.setStream("big", streamOf(value), { size: value.length });
      await db.set("after", "a");
      assert.deepEqual(await readAll((await db.getStream("big"))!), value);
      assert.deepEqual(await db.get("big"), value, "get() reads it too");
      assert.equal(await db.getStream("missing"), undefined);
    }
    {
      await using db = await open(dir, { strict: true });
      assert.deepEqual(await readAll((await db.getStream("big"))!), value);
      await db.compact();
      assert.deepEqual(await readAll((await db.getStream("big"))!), value);
      assert.equal(new TextDecoder().decode(await db.get("after")), "a");
      assert.equal((await verify(dir)).issues.length, 0);
      await db.delete("big");
      await db.compact();
    }
    const sizes = await Promise.all((await dataFiles(dir)).map((f) => Deno.stat(f)));
    assert.ok(sizes.every((s) => s.size < 1024 * 1024), "the dead value's file is gone");
  }));

Deno.test("a flipped byte inside a streamed value errors the stream before its last chunk", () =>
  withDir(async (dir) => {
    const value = randomBytes(prng(9), 5 * 1024 * 1024);
    {
      await using db = await open(dir);
      await db.setStream("v", streamOf(value));
    }
    const files = await dataFiles(dir);
    let blob = "";
    for (const f of files) if ((await Deno.stat(f)).size > value.length) blob = f;
    const bytes = await Deno.readFile(blob);
    bytes[bytes.length - 2 * 1024 * 1024] ^= 0x40;
    await Deno.writeFile(blob, bytes);
    await using db = await open(dir, { onWarning: () => {} });
    let got = 0;
    const err = await (async () => {
      for await (const part of (await db.getStream("v"))!) got += part.length;
    })().catch((e) => e);
    assert.ok(err instanceof CorruptionError, `got ${err}`);
    assert.ok(got < value.length, "the last chunk was held back");
  }));

Deno.test("setStream: a size that does not match, or a bad stream, writes nothing", () =>
  withDir(async (dir) => {
    await using db = await open(dir);
    await assert.rejects(
      db.setStream("k", streamOf(new Uint8Array(10)), { size: 11 }),
      InvalidArgumentError,
    );
    await assert.rejects(db.setStream("k", "nope" as never), InvalidArgumentError);
    const locked = streamOf(new Uint8Array(10));
    locked.getReader();
    await assert.rejects(db.setStream("k", locked), InvalidArgumentError);
    // Header, key and value must fit the 32 bits the index keeps of a record's
    // size: refused before any byte is read.
    let pulled = false;
    const huge = new ReadableStream<Uint8Array>({ pull: () => void (pulled = true) }, {
      highWaterMark: 0,
    });
    await assert.rejects(
      db.setStream("k", huge, { size: 2 ** 32 - 1 - 8 }),
      /does not fit a record/,
    );
    assert.equal(pulled, false);
    const bad = new ReadableStream({
      start(c) {
        c.enqueue("text" as never);
        c.close();
      },
    });
    await assert.rejects(db.setStream("k", bad), InvalidArgumentError);
    assert.equal(await db.has("k"), false);
    const left = [...Deno.readDirSync(dir)].filter((e) => e.name.startsWith("blob."));
    assert.deepEqual(left, [], "no temporary file is left behind");
  }));

const child = new URL("./children/stream_child.ts", import.meta.url).pathname;

// A source that reuses its buffer allocates nothing, nor does a byte stream
// (a file's, stdin's), which the store reads into one buffer of its own; one
// that makes a fresh buffer per chunk leaves spent chunks that V8 lets pile up
// to about 64 MiB before it collects them (a store that kept its chunks went
// past 1 GiB).
const RSS_CASES = [
  ["roundtrip", 100, "one reused buffer per chunk"],
  ["bytes", 100, "a byte stream"],
  ["fresh", 160, "a fresh buffer per chunk"],
] as const;
for (const [mode, limit, what] of RSS_CASES) {
  Deno.test(`a ${BIG_MIB} MiB value streams in and out with the process under ${limit} MiB of RSS (${what})`, () =>
    withDir(async (dir) => {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", child, dir, String(BIG_MIB), mode],
        stdout: "piped",
        stderr: "inherit",
      }).output();
      assert.ok(out.success);
      const r = JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!);
      assert.equal(r.got, BIG_MIB * 1024 * 1024);
      assert.ok(r.same, "the bytes read back are the bytes written");
      assert.ok(r.peakMiB < limit, `peak RSS ${r.peakMiB.toFixed(0)} MiB`);
    }));
}

Deno.test("a setStream cut short by a crash leaves no trace", () =>
  withDir(async (dir) => {
    const p = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", child, dir, "64", "slow"],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const reader = p.stdout.getReader();
    const { value } = await reader.read();
    assert.match(new TextDecoder().decode(value), /streaming/);
    p.kill("SIGKILL");
    await p.status;
    reader.releaseLock();
    await p.stdout.cancel();
    await using db = await open(dir, { strict: true });
    assert.equal(await db.has("big"), false);
    const names = [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) =>
      n.startsWith("blob.")
    );
    assert.deepEqual(names, [], "the temporary file is removed on open");
    assert.equal((await verify(dir)).issues.length, 0);
  }));

Deno.test("cask set streams stdin in and cask get streams the value out", () =>
  withDir(async (dir) => {
    const value = randomBytes(prng(3), 3 * 1024 * 1024 + 5);
    const cli = new URL("../cli.ts", import.meta.url).pathname;
    const set = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", cli, "set", "--dir", dir, "blob"],
      stdin: "piped",
      stdout: "null",
      stderr: "inherit",
    }).spawn();
    const w = set.stdin.getWriter();
    await w.write(value);
    await w.close();
    assert.equal((await set.status).code, 0);
    const get = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", cli, "get", "--dir", dir, "blob"],
      stdout: "piped",
      stderr: "inherit",
    }).output();
    assert.equal(get.code, 0);
    // Byte for byte: off a terminal no line end is added.
    assert.deepEqual(get.stdout, value);
  }));

/** Reads a stream with a BYOB reader, as the README advises for big values. */
async function readByob(s: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const reader = s.getReader({ mode: "byob" });
  const parts: number[] = [];
  for (;;) {
    const { value, done } = await reader.read(new Uint8Array(64 * 1024));
    if (done) break;
    parts.push(...value!);
  }
  return Uint8Array.from(parts);
}

Deno.test("getStream works with a BYOB reader for empty and small values, buffered or on disk", () =>
  withDir(async (dir) => {
    {
      await using db = await open(dir, { sync: "never" });
      await db.set("empty", "");
      await db.set("small", "hello");
      assert.deepEqual(await readByob((await db.getStream("empty"))!), new Uint8Array(0));
      assert.deepEqual(await readByob((await db.getStream("small"))!), enc("hello"));
    }
    await using db = await open(dir);
    assert.deepEqual(await readByob((await db.getStream("empty"))!), new Uint8Array(0));
    assert.deepEqual(await readByob((await db.getStream("small"))!), enc("hello"));
  }));

Deno.test("setStream refuses options that are not an object, as set() does, and writes nothing", () =>
  withDir(async (dir) => {
    await using db = await open(dir);
    for (const options of [null, 5, [], "x", { ttl: 1000, size: 1, tll: 2 }]) {
      const stream = new ReadableStream<Uint8Array>({
        start(c) {
          c.enqueue(enc("v"));
          c.close();
        },
      });
      await assert.rejects(
        db.setStream("k", stream, options as never),
        InvalidArgumentError,
        JSON.stringify(options),
      );
    }
    assert.equal(await db.get("k"), undefined);
  }));

Deno.test("a big setStream whose store closes while it is received rejects with ClosedError and leaves no file", () =>
  withDir(async (dir) => {
    const db = await open(dir);
    let ctl!: ReadableStreamDefaultController<Uint8Array>;
    const stream = new ReadableStream<Uint8Array>({ start: (c) => void (ctl = c) });
    const storing = db.setStream("big", stream);
    ctl.enqueue(new Uint8Array(2 * 1024 * 1024));
    await new Promise((r) => setTimeout(r, 100));
    const closing = db.close();
    ctl.close();
    await assert.rejects(storing, ClosedError);
    await closing;
    const names = Array.from(Deno.readDirSync(dir), (e) => e.name).filter((n) => n !== "LOCK");
    assert.deepEqual(names.filter((n) => !/^data\.\d+$/.test(n)), [], names.join(" "));
  }));

Deno.test("a compaction cut short by close() leaves a setStream being received its own temporary file", () =>
  withDir(async (dir) => {
    const db = await open(dir, { sync: "never", maxFileSize: 64 * 1024 });
    for (let i = 0; i < 20000; i++) db.set(`k${i % 5000}`, "x".repeat(200));
    await db.sync();
    let release!: () => void;
    const gate = new Promise<void>((r) => release = r);
    const stream = new ReadableStream<Uint8Array>({
      async start(c) {
        c.enqueue(new Uint8Array(40000));
        await gate;
        c.enqueue(new Uint8Array(40000));
        c.close();
      },
    });
    const storing = db.setStream("s", stream).then(() => "ok", (e) => e.constructor.name);
    await new Promise((r) => setTimeout(r, 20));
    const compacting = db.compact().catch(() => {});
    await new Promise((r) => setTimeout(r, 1));
    const closing = db.close();
    await compacting;
    release();
    await closing;
    assert.ok(["ok", "ClosedError"].includes(await storing), await storing);
  }));

Deno.test({
  name: "a getStream result never read gives its file descriptor back once it is collected",
  ignore: Deno.build.os !== "linux",
  async fn() {
    const child = new URL("./children/stream_fds.ts", import.meta.url).pathname;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--v8-flags=--expose-gc", child],
      stdout: "piped",
      stderr: "inherit",
    }).output();
    assert.ok(out.success);
    const { before, held, after } = JSON.parse(new TextDecoder().decode(out.stdout));
    assert.equal(held - before, 20, "each unread stream holds a descriptor");
    assert.equal(after, before, "all given back after collection");
  },
});

// A stream whose chunks the test hands over, and which ends when it says.
function heldStream(): {
  stream: ReadableStream<Uint8Array>;
  push(b: Uint8Array): void;
  end(): void;
} {
  let c!: ReadableStreamDefaultController<Uint8Array>;
  const stream = new ReadableStream<Uint8Array>({ start: (ctl) => void (c = ctl) });
  return { stream, push: (b) => c.enqueue(b), end: () => c.close() };
}

// Whether `p` has settled after the event loop ran for a while.
async function settledSoon(p: Promise<unknown>): Promise<boolean> {
  let settled = false;
  p.then(() => settled = true, () => settled = true);
  await new Promise((r) => setTimeout(r, 30));
  return settled;
}

const SYNC_MODES = ["always", "never", { intervalMs: 5 }] as const;
const BIG = new Uint8Array(2 * 1024 * 1024).fill(3);

// Writes issued in order; `check` holds of the store they leave, and again after a reopen.
const ORDER_CASES: {
  name: string;
  run(db: Cask): Promise<void>;
  check(db: Cask): Promise<void>;
}[] = [{
  name: "a delete issued after a big setStream deletes the streamed value",
  async run(db) {
    const s = db.setStream("video", streamOf(BIG));
    const deleted = db.delete("video");
    await s;
    assert.equal(await deleted, true);
  },
  async check(db) {
    assert.equal(await db.get("video"), undefined);
  },
}, {
  name: "set, setStream, set: the last set wins; writes of other keys do not wait",
  async run(db) {
    const held = heldStream();
    const first = db.set("k", "first");
    const mid = db.setStream("k", held.stream);
    const last = db.set("k", "last");
    await db.set("other", "o");
    assert.equal(await db.getString("other"), "o");
    assert.equal(await settledSoon(last), false, "the later set waits for the stream");
    held.push(enc("mid"));
    held.end();
    await Promise.all([first, mid, last]);
  },
  async check(db) {
    assert.equal(await db.getString("k"), "last");
  },
}, {
  name: "a second setStream of a key commits after the first, even when it ends first",
  async run(db) {
    const slow = heldStream();
    const a = db.setStream("two", slow.stream);
    const b = db.setStream("two", streamOf(enc("second")));
    assert.equal(await settledSoon(b), false, "the second stream waits for the first");
    slow.push(BIG);
    slow.end();
    await Promise.all([a, b]);
  },
  async check(db) {
    assert.equal(await db.getString("two"), "second");
  },
}, {
  name: "a range delete waits for a stream in its range, and a set in the range waits behind it",
  async run(db) {
    await db.set("r:0", "x");
    const held = heldStream();
    const s = db.setStream("r:1", held.stream);
    const deleted = db.deleteRange({ prefix: "r:" });
    const kept = db.set("r:2", "kept");
    assert.equal(await settledSoon(kept), false, "the set waits behind the range delete");
    held.push(BIG);
    held.end();
    await s;
    assert.equal(await deleted, 2, "the range delete removed r:0 and the streamed r:1");
    await kept;
  },
  async check(db) {
    assert.deepEqual(await Array.fromAsync(db.keys({ prefix: "r:" }), (k) => text(k)), ["r:2"]);
  },
}, {
  name: "a checked commit judges its checked key after a stream issued before it",
  async run(db) {
    const held = heldStream();
    const s = db.setStream("c", held.stream);
    const r = db.atomic([{ type: "set", key: "other", value: "won" }], {
      checks: [{ key: "c", sequence: null }],
    });
    held.push(enc("streamed"));
    held.end();
    await s;
    assert.deepEqual(await r, { ok: false });
  },
  async check(db) {
    assert.equal(await db.getString("c"), "streamed");
    assert.equal(await db.has("other"), false);
  },
}];

for (const sync of SYNC_MODES) {
  for (const c of ORDER_CASES) {
    Deno.test(`writes in call order (sync ${JSON.stringify(sync)}): ${c.name}`, () =>
      withDir(async (dir) => {
        {
          await using db = await open(dir, { sync });
          await c.run(db);
          await c.check(db);
        }
        await using again = await open(dir);
        await c.check(again);
      }));
  }
}

Deno.test("streamed values are not held once stored: 3 x 64 MiB in fresh chunks leave nothing behind", async () => {
  // Each chunk's read used to race the store's close, which kept every chunk
  // until the store closed.
  const grew = await heldMemoryMB("stream");
  assert.ok(grew < 16, `${grew.toFixed(1)} MB still held`);
});

Deno.test("writes that waited behind a stream are not held once done: 100,000 leave nothing behind", async () => {
  const grew = await heldMemoryMB("queued");
  assert.ok(grew < 10, `${grew.toFixed(1)} MB still held`);
});

Deno.test("setStream takes its key when called: the caller may reuse the buffer", () =>
  withDir(async (dir) => {
    {
      await using db = await open(dir);
      const key = enc("s1");
      const held = heldStream();
      const s = db.setStream(key, held.stream);
      key.set(enc("t1"));
      held.push(enc("streamed"));
      held.end();
      await s;
      assert.equal(await db.getString("s1"), "streamed");
      assert.equal(await db.has("t1"), false);
    }
    await using again = await open(dir);
    assert.equal(await again.getString("s1"), "streamed");
    assert.deepEqual(await Array.fromAsync(again.keys(), text), ["s1"]);
  }));

Deno.test("writes waiting behind a stream take their key and value bytes when called", () =>
  withDir(async (dir) => {
    const check = async (db: Cask) => {
      assert.equal(await db.getString("a"), "set");
      assert.equal(await db.has("b"), false);
      assert.equal(await db.getString("c"), "atomic");
      assert.equal(await db.getString("z"), "keep");
    };
    {
      await using db = await open(dir);
      await db.set("z", "keep");
      const held = ["a", "b", "c"].map((k) => ({ k, ...heldStream() }));
      const streams = held.map((h) => db.setStream(h.k, h.stream));
      // Each write below waits behind the stream of its key; then its caller
      // reuses the buffers for key "z".
      const [ka, va, kb, kc, vc] = ["a", "set", "b", "c", "atomic"].map(enc);
      const writes = [
        db.set(ka, va),
        db.delete(kb),
        db.atomic([{ type: "set", key: kc, value: vc }]),
      ];
      for (const k of [ka, kb, kc]) k.set(enc("z"));
      va.set(enc("BAD"));
      vc.set(enc("BROKEN"));
      for (const h of held) {
        h.push(enc("streamed"));
        h.end();
      }
      await Promise.all([...streams, ...writes]);
      await check(db);
    }
    await using again = await open(dir);
    await check(again);
  }));

Deno.test("a write waiting behind a stream that fails still goes, after it", () =>
  withDir(async (dir) => {
    await using db = await open(dir);
    await db.set("k", "old");
    const held = heldStream();
    const s = db.setStream("k", held.stream, { size: 10 });
    const after = db.set("k", "after");
    held.push(enc("short"));
    held.end();
    await assert.rejects(s, InvalidArgumentError);
    await after;
    assert.equal(await db.getString("k"), "after");
  }));

Deno.test("twenty thousand writes queued behind a stream of their key all go, in order", () =>
  withDir(async (dir) => {
    await using db = await open(dir, { sync: "never" });
    const held = heldStream();
    const s = db.setStream("k", held.stream);
    // Each used to wait on every earlier one: memory and time grew with the
    // square of the queue, and this many ran the process out of memory.
    const writes: Promise<void>[] = [];
    for (let i = 0; i < 20_000; i++) writes.push(db.set("k", `v${i}`));
    for (let i = 0; i < 20_000; i++) writes.push(db.set(`other${i}`, "x"));
    held.push(BIG);
    held.end();
    await s;
    await Promise.all(writes);
    assert.equal(await db.getString("k"), "v19999");
    assert.equal(await db.getString("other19999"), "x");
  }));

Deno.test("close() writes what was called before it, even while it waits behind a stream that has not ended", () =>
  withDir(async (dir) => {
    const held = heldStream();
    const db = await open(dir);
    await db.set("k", "old");
    const s = db.setStream("k", held.stream);
    const mine = db.set("k", "mine");
    const other = db.set("other", "o");
    await db.close();
    await mine;
    await other;
    // The stream fails at once: its source, which never ended, is cancelled.
    await assert.rejects(s, ClosedError);
    await using again = await open(dir);
    assert.equal(await again.getString("k"), "mine");
    assert.equal(await again.getString("other"), "o");
  }));

Deno.test("a stream still being received when close() begins fails, and never overtakes a write called after it", () =>
  withDir(async (dir) => {
    {
      const db = await open(dir, { maxFileSize: 256 * 1024 });
      // Enough to compact for a while: close() waits for the compaction, a gap in
      // which a stream whose source ended used to commit after the set below.
      const value = new Uint8Array(100);
      for (let round = 0; round < 3; round++) {
        for (let i = 0; i < 20_000; i += 1000) {
          await db.atomic(
            Array.from({ length: 1000 }, (_, j) => ({ type: "set", key: `key${i + j}`, value })),
          );
        }
      }
      const held = heldStream();
      const s = db.setStream("k", held.stream);
      const set = db.set("k", "b");
      const compaction = db.compact().catch(() => {});
      const closed = db.close();
      // The source ends once the close has begun (and let the set go).
      held.push(enc("streamed"));
      held.end();
      await closed;
      await assert.rejects(s, ClosedError);
      await set;
      await compaction;
    }
    await using again = await open(dir);
    assert.equal(await again.getString("k"), "b");
  }));

Deno.test("close() ends every stream not yet in place: one waiting behind another, one whose source stalls", () =>
  withDir(async (dir) => {
    const db = await open(dir);
    const stalled = heldStream();
    let cancelled = false;
    const source = new ReadableStream<Uint8Array>({
      start: (c) => c.enqueue(BIG),
      cancel: () => void (cancelled = true),
    });
    const first = db.setStream("k", stalled.stream);
    // Its source has ended, but it commits after the first, which never ends.
    const second = db.setStream("k", new Blob([BIG]).stream());
    const third = db.set("k", "third");
    // Its source gives one chunk and then nothing: the close cancels it.
    const fourth = db.setStream("other", source);
    await db.close();
    await third;
    for (const p of [first, second, fourth]) {
      assert.equal(await settledSoon(p), true, "settled after close");
      await assert.rejects(p, ClosedError);
    }
    assert.equal(cancelled, true, "the stalled source was cancelled");
    assert.deepEqual([...Deno.readDirSync(dir)].filter((e) => e.name.startsWith("blob.")), []);
    await using again = await open(dir);
    assert.equal(await again.getString("k"), "third");
    assert.equal(await again.get("other"), undefined);
  }));

Deno.test("a small streamed value read back while close() begins fails, and never overtakes a write called after it", () =>
  withDir(async (dir) => {
    {
      const db = await open(dir);
      for (let i = 0; i < 20_000; i++) db.set(`f${i % 2000}`, "x".repeat(200));
      await db.sync();
      // close() waits for the compaction: the writer is still open when the value is read back.
      const compaction = db.compact().catch(() => {});
      const held = heldStream();
      const s = db.setStream("k", held.stream);
      const set = db.set("k", "B");
      // The close begins exactly when the value is read back from its temporary file.
      const readFile = Deno.readFile;
      let closed: Promise<void> | undefined;
      Deno.readFile = (path, options) => {
        if (!closed && String(path).includes("blob.")) closed = db.close();
        return readFile(path, options);
      };
      try {
        held.push(enc("streamed"));
        held.end();
        await assert.rejects(s, ClosedError);
      } finally {
        Deno.readFile = readFile;
      }
      await set;
      await closed;
      await compaction;
    }
    await using again = await open(dir);
    assert.equal(await again.getString("k"), "B");
  }));

Deno.test("a small streamed value read back while the store closes and is opened again fails with ClosedError", () =>
  withDir(async (dir) => {
    const db = await open(dir);
    const held = heldStream();
    const s = db.setStream("k", held.stream);
    // The close, and the next open, which removes the temporary files it finds,
    // come exactly when the value is read back from its temporary file.
    const readFile = Deno.readFile;
    let again: Cask | undefined;
    Deno.readFile = async (path, options) => {
      if (!again && String(path).includes("blob.")) {
        await db.close();
        again = await open(dir);
      }
      return readFile(path, options);
    };
    try {
      held.push(enc("streamed"));
      held.end();
      await assert.rejects(s, ClosedError);
    } finally {
      Deno.readFile = readFile;
    }
    assert.equal(await again!.has("k"), false);
    await again!.close();
  }));

for (const sync of ["never", { intervalMs: 5 }] as const) {
  Deno.test(`a streamed value put in place while other writes go on keeps sequence numbers in order (sync ${JSON.stringify(sync)})`, () =>
    withDir(async (dir) => {
      {
        const db = await open(dir, { sync, checkpoint: { minKeys: 1 } });
        const fed: number[] = [];
        const feed = (async () => {
          for await (const c of db.watch({ prefix: "" })) fed.push(c.sequence);
        })();
        const seen: number[] = [];
        let stop = false, acked = 0;
        const writer = (async () => {
          for (let i = 0; !stop; i++) {
            await db.set(`k${i % 10}`, `v${i}`);
            acked = i + 1;
            seen.push(db.sequence);
            if (i % 20 === 0) await new Promise((r) => setTimeout(r, 0));
          }
        })();
        await db.setStream("s", new Blob([BIG]).stream());
        seen.push(db.sequence);
        stop = true;
        await writer;
        assert.ok(acked > 20, `${acked} sets beside the stream`);
        for (let i = 1; i < seen.length; i++) {
          assert.ok(seen[i] >= seen[i - 1], `db.sequence went back: ${seen[i - 1]} -> ${seen[i]}`);
        }
        await db.close();
        await feed;
        for (let i = 1; i < fed.length; i++) {
          assert.ok(fed[i] > fed[i - 1], `the feed went back: ${fed[i - 1]} -> ${fed[i]}`);
        }
      }
      // The closing checkpoint must cover every acknowledged write: a number
      // handed out again would cut later writes off as a torn tail.
      {
        await using db = await open(dir);
        const r = await db.atomic([{ type: "set", key: "after", value: "acknowledged" }]);
        assert.ok(r.ok && r.sequence > 20);
      }
      await using replayed = await open(dir, { checkpoint: false, strict: true });
      assert.equal(await replayed.getString("after"), "acknowledged");
      assert.equal((await replayed.get("s"))?.length, BIG.length);
    }));

  Deno.test(`a write released by close() behind a stream already in the log stays the newest (sync ${JSON.stringify(sync)})`, () =>
    withDir(async (dir) => {
      // The close must land while the stream's value is put in place: 5-10 ms
      // after the call on the machine this was found on; 0-20 ms are tried.
      for (let delay = 0; delay < 20; delay += 0.5) {
        const at = `${dir}/${delay}`;
        {
          const db = await open(at, { sync, checkpoint: { minKeys: 1 } });
          await db.set("k", "old");
          const s = db.setStream("k", new Blob([BIG]).stream());
          const newest = db.set("k", "newest");
          await new Promise((r) => setTimeout(r, delay));
          await db.close();
          await newest;
          await s.catch((e) => assert.ok(e instanceof ClosedError, String(e)));
        }
        await using again = await open(at);
        assert.equal(await again.getString("k"), "newest", `close after ${delay} ms`);
      }
    }));
}

for (const sync of ["never", { intervalMs: 5 }] as const) {
  Deno.test(`writes made until a streamed value is in place and after it keep sequence order (sync ${JSON.stringify(sync)})`, () =>
    withDir(async (dir) => {
      for (let run = 0; run < 5; run++) {
        const at = `${dir}/${run}`;
        const db = await open(at, { sync });
        const fed: number[] = [];
        const feed = (async () => {
          for await (const c of db.watch({ prefix: "" })) fed.push(c.sequence);
        })();
        let i = 0;
        // Not awaited: some are deferred behind the stream when it is put in place.
        const timer = setInterval(() => void db.set("k", `x${i++}`).catch(() => {}), 0);
        await db.setStream("s", new Blob([BIG]).stream());
        await db.set("k", "last");
        clearInterval(timer);
        const seq = db.sequence;
        await db.sync();
        await new Promise((r) => setTimeout(r, 20));
        assert.ok(db.sequence >= seq, `db.sequence went back: ${seq} -> ${db.sequence}`);
        const inMemory = await db.getString("k");
        await db.close();
        await feed;
        for (let j = 1; j < fed.length; j++) {
          assert.ok(fed[j] > fed[j - 1], `the feed went back: ${fed[j - 1]} -> ${fed[j]}`);
        }
        await using again = await open(at);
        assert.equal(await again.getString("k"), inMemory);
      }
    }));
}

// A compaction leaves a live streamed value's file alone and merges the file
// the delete is in. A delete (or an overwrite) still waiting for its fsync when
// the compaction begins is applied during the compaction's own sync: the value's
// file is dead by then, and must go with the delete record, or the value comes
// back on the next open.
for (const how of ["delete", "deleteRange", "overwrite with a ttl"] as const) {
  Deno.test(`a streamed value whose ${how} waits for its fsync when a compaction begins stays gone`, async () => {
    for (const turns of [0, 5, 20, 40]) {
      await withDir(async (dir) => {
        {
          await using db = await open(dir);
          await db.setStream("big", ReadableStream.from([new Uint8Array(2_000_000).fill(7)]));
          const gone = how === "delete"
            ? db.delete("big")
            : how === "deleteRange"
            ? db.deleteRange({ prefix: "bi" })
            : db.set("big", "short", { ttl: 1 });
          for (let i = 0; i < turns; i++) await Promise.resolve();
          const compacted = db.compact();
          await gone;
          await compacted;
          await new Promise((r) => setTimeout(r, 5));
          assert.equal((await db.get("big"))?.length, undefined, `${turns} turns`);
        }
        await using db = await open(dir, { strict: true });
        assert.equal((await db.get("big"))?.length, undefined, `${turns} turns, after a reopen`);
      });
    }
  });
}

Deno.test("stream: writes called as soon as a setStream settled keep their call order", async () => {
  for (const sync of ["always", "never"] as const) {
    for (const failing of [false, true]) {
      await withDir(async (dir) => {
        const db = await open(dir, { sync });
        const source = new ReadableStream<Uint8Array>({
          start(c) {
            c.enqueue(enc("abc"));
            if (failing) c.error(new Error("source failed"));
            else c.close();
          },
        });
        try {
          await db.setStream("a", source);
        } catch {
          // The failing source's error: the key keeps no value from it.
        }
        // Called in the order b, a, c right after the stream's promise settled.
        await Promise.all([db.set("b", "1"), db.set("a", "2"), db.set("c", "3")]);
        const seq = async (k: string) => (await db.getEntry(k))!.sequence;
        const [b, a, c] = [await seq("b"), await seq("a"), await seq("c")];
        assert.ok(
          b < a && a < c,
          `${sync}, source ${failing ? "failed" : "ended"}: b@${b} a@${a} c@${c}`,
        );
        await db.close();
      });
    }
  }
});

Deno.test("setStream refused before it starts (bad options, a closed store) cancels its source", () =>
  withDir(async (dir) => {
    const source = () => {
      const s = { cancelled: false, stream: undefined as unknown as ReadableStream<Uint8Array> };
      s.stream = new ReadableStream<Uint8Array>({ cancel: () => void (s.cancelled = true) });
      return s;
    };
    const db = await open(dir);
    const bad = source();
    await assert.rejects(db.setStream("k", bad.stream, { size: -1 }), InvalidArgumentError);
    assert.equal(bad.cancelled, true, "bad options");
    await db.close();
    const late = source();
    await assert.rejects(db.setStream("k", late.stream), ClosedError);
    assert.equal(late.cancelled, true, "closed store");
    await using reader = await open(dir, { readOnly: true });
    const refused = source();
    await assert.rejects(reader.setStream("k", refused.stream), ReadOnlyError);
    assert.equal(refused.cancelled, true, "read-only store");
  }));
