/**
 * I/O failures. Disk full: stores on a 256 KiB tmpfs are written until the disk
 * fills. A failed write is cut off the file; under "always" it rejects with
 * IOError and is never acknowledged, and writing goes on; under "never" the
 * acknowledged writes wait in memory and are written once space is freed, and
 * writes are refused meanwhile. Nothing acknowledged is lost, and a reopen
 * finds no half record. Needs root (to mount); skipped otherwise. A failed
 * fsync, made through the writer's fault seam, stops the store for good.
 */
import assert from "node:assert/strict";
import { IOError, open, type OpenOptions, verify } from "../mod.ts";
import { faults } from "../src/log/faults.ts";
import { openQuiet, prng, randomBytes, withDir } from "./helpers.ts";

async function run(cmd: string, ...args: string[]): Promise<boolean> {
  const out = await new Deno.Command(cmd, { args, stdout: "null", stderr: "null" }).output()
    .catch(() => undefined);
  return out?.success ?? false;
}

async function mountTmpfs(dir: string): Promise<boolean> {
  return await run("mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", dir);
}

async function canMount(): Promise<boolean> {
  if (Deno.uid() !== 0) return false;
  const dir = await Deno.makeTempDir();
  try {
    return await mountTmpfs(dir) && await run("umount", dir);
  } finally {
    await Deno.remove(dir);
  }
}

const mountable = await canMount();
if (!mountable) {
  console.warn("ioerror_test.ts: skipped; needs root and a working `mount -t tmpfs`");
}

/** Runs `fn` with a store directory on a fresh 256 KiB tmpfs and a file of ballast beside it. */
function withTinyDisk(fn: (dir: string, ballast: string) => Promise<void>): Promise<void> {
  return withDir(async (mnt) => {
    assert.ok(await mountTmpfs(mnt), `mount -t tmpfs on ${mnt} failed`);
    try {
      // Freed after the failure, so that recovery has room to work.
      await Deno.writeFile(`${mnt}/ballast`, new Uint8Array(64 * 1024));
      await fn(`${mnt}/store`, `${mnt}/ballast`);
    } finally {
      if (!await run("umount", mnt)) await run("umount", "-l", mnt);
    }
  });
}

const rand = prng(7);
/** Values of 1-4 KiB: a hundred or so fill the disk. */
const values = Array.from({ length: 300 }, () => randomBytes(rand, 1024 + ((rand() * 3072) | 0)));
const key = (i: number) => `k${i}`;

function assertIOError(e: unknown, what: string): void {
  assert.ok(e instanceof IOError, `${what}: got ${e}`);
  assert.equal(e.code, "IO");
}

/**
 * Reopens (strict: only a torn tail may be cut) and checks that every key in
 * `acked` holds its value and no key outside it and `maybe` exists; then that
 * the store takes writes again.
 */
async function assertRecovered(dir: string, acked: Set<number>, maybe: Set<number>): Promise<void> {
  const { db } = await openQuiet(dir, { strict: true });
  try {
    for (let i = 0; i < values.length; i++) {
      const got = await db.get(key(i));
      if (acked.has(i)) assert.deepEqual(got, values[i], `acknowledged ${key(i)} lost`);
      else if (!maybe.has(i)) assert.equal(got, undefined, `${key(i)} was never written`);
      else assert.ok(got === undefined || got.length === values[i].length, key(i));
    }
    await db.set("after", "recovery");
    assert.equal(await db.getString("after"), "recovery");
  } finally {
    await db.close();
  }
}

// The last case reads sealed files through memory maps while failed writes cut
// the active file back.
for (
  const [maxFileSize, mmap] of [[64 << 20, false], [16 * 1024, false], [16 * 1024, true]] as const
) {
  const opts: OpenOptions = { maxFileSize, mmap, onWarning: () => {} };
  const files = (maxFileSize > 1 << 20 ? "one file" : "16 KiB files") + (mmap ? ", mmap" : "");

  Deno.test({
    name:
      `disk full under sync "always" (${files}): the failed writes reject, the rest go on once space is freed`,
    ignore: !mountable,
    fn: () =>
      withTinyDisk(async (dir, ballast) => {
        const db = await open(dir, opts);
        let issued = 0;
        const acked = new Set<number>(), failed = new Set<number>();
        const failures: unknown[] = [];
        // Concurrent writers, so the failing flush carries several writes.
        const writer = async () => {
          while (failures.length === 0) {
            const i = issued++;
            assert.ok(i < values.length / 2, "the disk never filled up");
            try {
              await db.set(key(i), values[i]);
              acked.add(i);
            } catch (e) {
              failures.push(e);
              failed.add(i);
            }
          }
        };
        await Promise.all(Array.from({ length: 8 }, writer));
        for (const e of failures) assertIOError(e, "the failing write");
        // A failed write is not visible; an acknowledged one is.
        for (const i of failed) assert.equal(await db.has(key(i)), false, key(i));
        for (const i of acked) assert.deepEqual(await db.get(key(i)), values[i], key(i));
        await Deno.remove(ballast);
        // The same open store writes again: no reopen needed.
        for (let i = issued; i < issued + 5; i++) {
          await db.set(key(i), values[i]);
          acked.add(i);
        }
        await db.close();
        await assertRecovered(dir, acked, new Set());
      }),
  });

  Deno.test({
    name:
      `disk full under sync "never" (${files}): writes are refused until space is freed, nothing acknowledged is lost`,
    ignore: !mountable,
    fn: () =>
      withTinyDisk(async (dir, ballast) => {
        const db = await open(dir, { ...opts, sync: "never" });
        const acked = new Set<number>();
        let issued = 0;
        let failure: unknown;
        while (failure === undefined) {
          const i = issued++;
          assert.ok(i < values.length / 2, "the disk never filled up");
          // A background flush may hit the full disk first: then writes reject.
          await db.set(key(i), values[i]).then(() => acked.add(i), (e) => failure = e);
          if (i % 4 === 3) await db.sync().catch((e) => failure ??= e);
        }
        assertIOError(failure, "the failure");
        await assert.rejects(db.set("small", "x"), IOError, "refused while the disk is full");
        await assert.rejects(db.sync(), IOError, "sync() tries again and fails");
        // Acknowledged writes are still served from memory.
        for (const i of acked) assert.deepEqual(await db.get(key(i)), values[i], key(i));
        await Deno.remove(ballast);
        await db.sync();
        await db.set(key(issued), values[issued]);
        acked.add(issued);
        await db.close();
        await assertRecovered(dir, acked, new Set());
      }),
  });
}

/** Makes every fsync fail while `write` (issued just before) is tried: it rejects with IOError. */
async function failOneFsync(write: Promise<unknown>): Promise<void> {
  faults.beforeSync = () => {
    throw new Error("EIO (injected)");
  };
  try {
    await assert.rejects(write, IOError);
  } finally {
    faults.beforeSync = undefined;
  }
}

Deno.test("a failed fsync stops the store for good; a reopen recovers what is durable", () =>
  withDir(async (dir) => {
    const db = await open(dir);
    await db.set(key(0), values[0]);
    await failOneFsync(db.set(key(1), values[1]));
    assert.equal(await db.has(key(1)), false, "a write whose fsync failed is not visible");
    await assert.rejects(db.set(key(2), values[2]), IOError, "no write after a failed fsync");
    await assert.rejects(db.sync(), IOError);
    await assert.rejects(db.close(), IOError);
    await assertRecovered(dir, new Set([0]), new Set([1]));
  }));

Deno.test("a failed fsync of a file the writer has left is reported under that file's name", () =>
  withDir(async (dir) => {
    const db = await open(dir, { sync: "never", maxFileSize: 1024 });
    faults.beforeSync = (path) => {
      if (path.endsWith("/data.0")) throw new Error("EIO (injected)");
    };
    try {
      for (let i = 0; i < 30; i++) db.set(key(i), values[i % values.length]);
      const e = await db.sync().catch((e) => e);
      assert.ok(e instanceof IOError, String(e));
      assert.match(e.message, /^fsync of \S+\/data\.0 failed: EIO \(injected\)/);
      await assert.rejects(db.close(), (c) => c === e, "the first failure is the one reported");
    } finally {
      faults.beforeSync = undefined;
    }
  }));

Deno.test('a failed write under sync "always" rejects only the writes it carried', () =>
  withDir(async (dir) => {
    await using db = await open(dir);
    await db.set(key(0), values[0]);
    let fail = true;
    faults.beforeWrite = () => {
      if (fail) throw new Error("ENOSPC (injected)");
    };
    try {
      await assert.rejects(db.set(key(1), values[1]), IOError);
    } finally {
      faults.beforeWrite = undefined;
      fail = false;
    }
    await db.set(key(2), values[2]);
    assert.equal(await db.has(key(1)), false);
    assert.deepEqual(await db.get(key(2)), values[2]);
    await db.close();
    await assertRecovered(dir, new Set([0, 2]), new Set());
  }));

Deno.test('after a failed write under "always", the next data file continues the log with no gap', () =>
  withDir(async (dir) => {
    {
      await using db = await open(dir, { maxFileSize: 4096 });
      for (let i = 0; i < 10; i++) await db.set(key(i), "v".repeat(100));
      faults.beforeWrite = () => {
        faults.beforeWrite = undefined;
        throw new Error("No space left on device (injected)");
      };
      await assert.rejects(db.set("lost", "x".repeat(100)), IOError);
      await db.set("big", "y".repeat(5000)); // does not fit: a new data file
      assert.equal(db.sequence, 11);
    }
    await using db = await open(dir, { strict: true });
    assert.equal((await db.get("big"))?.length, 5000);
    assert.deepEqual((await verify(dir)).issues, []);
  }));

Deno.test('a streamed value put in place is acknowledged even when the next file\'s first write fails ("always")', () =>
  withDir(async (dir) => {
    {
      await using db = await open(dir);
      await db.set("a", "1");
      // data.0 is the log, data.1 the value's own file, data.2 the file after it.
      faults.beforeWrite = (path) => {
        if (!path.endsWith("/data.2")) return;
        faults.beforeWrite = undefined;
        throw new Error("No space left on device (injected)");
      };
      await db.setStream("big", new Blob([new Uint8Array(2 << 20).fill(7)]).stream());
      assert.equal((await db.get("big"))?.length, 2 << 20);
      await db.set("b", "after");
    }
    await using db = await open(dir, { strict: true });
    assert.equal((await db.get("big"))?.length, 2 << 20);
    assert.equal(await db.getString("b"), "after");
  }));

Deno.test({
  name: "setStream on a full disk rejects with IOError and leaves no temporary file",
  ignore: !mountable,
  fn: () =>
    withTinyDisk(async (dir) => {
      await using db = await open(dir);
      await db.set("a", "1");
      const e = await db.setStream("big", new Blob([new Uint8Array(1 << 20).fill(7)]).stream())
        .catch((e) => e);
      assertIOError(e, "setStream");
      assert.deepEqual(
        [...Deno.readDirSync(dir)].map((f) => f.name).filter((n) => n.endsWith(".merging")),
        [],
      );
      assert.equal(await db.get("big"), undefined);
      await db.set("b", "2");
    }),
});

Deno.test("a streamed value whose hint cannot be written is still in place, and the store goes on", () =>
  withDir(async (dir) => {
    {
      await using db = await open(dir);
      await db.set("a", "1");
      // data.1 will be the value's own file: its hint cannot be created.
      await Deno.mkdir(`${dir}/hint.1.merging`);
      await db.setStream("big", new Blob([new Uint8Array(2 << 20).fill(7)]).stream());
      await db.set("b", "2");
    }
    await using db = await open(dir, { strict: true });
    assert.equal((await db.get("big"))?.length, 2 << 20);
    assert.equal(await db.getString("b"), "2");
  }));

Deno.test("after a failed fsync, writes that would write nothing reject too", () =>
  withDir(async (dir) => {
    const db = await open(dir);
    await db.set("a", "1");
    await failOneFsync(db.set("b", "2"));
    await assert.rejects(db.delete("absent"), IOError);
    await assert.rejects(db.atomic([]), IOError);
    await assert.rejects(
      db.atomic([{ type: "set", key: "c", value: "3" }], { checks: [{ key: "a", sequence: 99 }] }),
      IOError,
    );
    await db.close().catch(() => {});
  }));

Deno.test('a range delete refused while the writer is stalled ("never") holds no check up afterwards', () =>
  withDir(async (dir) => {
    await using db = await open(dir, { sync: "never" });
    await db.set("user:1", "a");
    await db.sync();
    faults.beforeWrite = () => {
      throw new Error("No space left on device (injected)");
    };
    try {
      db.set("other", "x");
      await assert.rejects(db.sync(), IOError);
      await assert.rejects(db.deleteRange({ prefix: "user:" }), IOError);
    } finally {
      faults.beforeWrite = undefined;
    }
    await db.sync();
    const entry = (await db.getEntry("user:1"))!;
    const r = await db.atomic([{ type: "set", key: "user:1", value: "b" }], {
      checks: [{ key: "user:1", sequence: entry.sequence }, { key: "user:2", sequence: null }],
    });
    assert.equal(r.ok, true);
  }));

Deno.test("after a failed fsync, an automatic compaction check does not throw out of its microtask", () =>
  withDir(async (dir) => {
    let now = 1_000_000;
    const db = await open(dir, {
      clock: () => now,
      autoCompact: { minDeadBytes: 1, minDeadRatio: 0 },
      onBackgroundError: () => {},
    });
    await db.set("t", "v", { ttl: 1000 });
    await failOneFsync(db.set("b", "2"));
    now += 5000;
    assert.equal(await db.get("t"), undefined); // the expiry noticed asks for a check
    await new Promise((r) => setTimeout(r, 50));
    await assert.rejects(db.close(), IOError);
  }));

for (const sync of ["never", { intervalMs: 5 }] as const) {
  Deno.test(`a failed write while a streamed value is put in place: the writes behind it wait for the retry, never reject and come back (sync ${JSON.stringify(sync)})`, () =>
    withDir(async (dir) => {
      const db = await open(dir, { sync });
      await db.set("a", "1");
      // The file begun after the streamed value's cannot be written until the disk has room.
      let full = true;
      faults.beforeWrite = (path) => {
        if (full && path.endsWith("data.2")) throw new Error("ENOSPC: no space left on device");
      };
      try {
        const outcome = new Map<string, string>();
        let i = 0;
        const timer = setInterval(() => {
          const v = `x${i++}`;
          db.set("k", v).then(() => outcome.set(v, "ok"), (e) => outcome.set(v, e.name));
        }, 0);
        const stream = db.setStream("s", new Blob([new Uint8Array(2 << 20).fill(7)]).stream());
        await new Promise((r) => setTimeout(r, 300));
        clearInterval(timer);
        full = false;
        await stream;
        await db.sync();
        const acked = [...outcome].filter(([, o]) => o === "ok").map(([v]) => v);
        const last = acked.sort((a, b) => Number(a.slice(1)) - Number(b.slice(1))).at(-1);
        assert.equal(await db.getString("k"), last, "the store holds the last acknowledged set");
        const seq = db.sequence;
        await db.close();
        await using again = await open(dir);
        assert.equal(await again.getString("k"), last, "a rejected write never comes back");
        assert.equal((await again.get("s"))?.length, 2 << 20);
        assert.equal(again.sequence, seq);
      } finally {
        faults.beforeWrite = undefined;
      }
    }));
}

Deno.test('after a close() that failed, nothing more is written: a later open\'s acknowledged writes stay (sync "never")', () =>
  withDir(async (dir) => {
    const db = await open(dir, { sync: "never", maxFileSize: 4096, checkpoint: false });
    await db.set("a", "1");
    await db.sync();
    // The next file cannot be created while a directory holds its name.
    Deno.mkdirSync(`${dir}/data.1`);
    for (let i = 0; i < 40; i++) await db.set(`k${i}`, "v".repeat(100)).catch(() => {});
    await assert.rejects(db.close(), IOError);
    Deno.removeSync(`${dir}/data.1`);
    {
      await using again = (await openQuiet(dir, { sync: "always", checkpoint: false })).db;
      await again.set("x", "1");
      // The closed store's retry (every second) used to write its buffer here.
      await new Promise((r) => setTimeout(r, 1500));
      await again.set("y", "2");
    }
    await using strict = await open(dir, { strict: true });
    assert.equal(await strict.getString("x"), "1");
    assert.equal(await strict.getString("y"), "2");
  }));

Deno.test("a small streamed value is answered by its own write: resolved when stored, as a retry stores it or another write fails", () =>
  withDir(async (dir) => {
    for (const sync of ["never", "always"] as const) {
      const path = `${dir}/${sync}`;
      const db = await open(path, { sync, onWarning: () => {} });
      await db.set("a", "1");
      await db.sync();
      let calls = 0;
      let other: Promise<unknown> | undefined;
      faults.beforeWrite = () => {
        calls++;
        // "never": the value's own first write fails and is retried. "always":
        // another caller's write, appended while the value's is written, fails.
        if (sync === "never" && calls === 1) throw new Error("ENOSPC (injected)");
        if (sync === "always" && calls === 1) other = db.set("c", "x");
        if (sync === "always" && calls === 2) throw new Error("ENOSPC (injected)");
      };
      try {
        await db.setStream("s", new Blob(["small streamed value"]).stream());
      } finally {
        faults.beforeWrite = undefined;
      }
      assert.equal(await db.getString("s"), "small streamed value", sync);
      if (sync === "always") await assert.rejects(other!, IOError);
      await db.close();
      await using again = await open(path, { strict: true });
      assert.equal(await again.getString("s"), "small streamed value", sync);
    }
  }));
