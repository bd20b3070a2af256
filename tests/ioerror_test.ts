/**
 * Disk full: stores on a 256 KiB tmpfs are written until the disk fills. The
 * failing write must reject with IOError and never be acknowledged, the store
 * must then refuse every write, and once space is freed a reopen must hold
 * everything acknowledged and no half record. Needs root (to mount); skipped
 * otherwise.
 */
import assert from "node:assert/strict";
import { type Cask, IOError, open, type OpenOptions } from "../mod.ts";
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

/** After a failure every write is refused, and sync() and close() report it. */
async function assertStopped(db: Cask): Promise<void> {
  await assert.rejects(db.set("small", "x"), IOError);
  await assert.rejects(db.atomic([{ type: "set", key: "a", value: "1" }]), IOError);
  await assert.rejects(db.delete(key(0)), IOError);
  await assert.rejects(db.sync(), IOError);
  await assert.rejects(db.close(), IOError);
}

/**
 * Reopens (strict: only a torn tail may be cut) and checks that keys 0..issued-1,
 * written in that order, are a prefix of them with their exact values, holding
 * at least the first `durable`; then that the store takes writes again.
 */
async function assertRecovered(dir: string, issued: number, durable: number): Promise<void> {
  const { db } = await openQuiet(dir, { strict: true });
  try {
    let present = 0;
    while (present < issued && await db.has(key(present))) present++;
    assert.ok(present >= durable, `${durable - present} acknowledged writes lost`);
    for (let i = 0; i < issued; i++) {
      assert.deepEqual(await db.get(key(i)), i < present ? values[i] : undefined, key(i));
    }
    assert.equal(db.size, present);
    await db.set("after", "recovery");
    assert.equal(await db.getString("after"), "recovery");
  } finally {
    await db.close();
  }
}

for (const maxFileSize of [64 << 20, 16 * 1024]) {
  const opts: OpenOptions = { maxFileSize, onWarning: () => {} };
  const files = maxFileSize > 1 << 20 ? "one file" : "16 KiB files";

  Deno.test({
    name: `disk full under sync "always" (${files}): rejected, never acknowledged, nothing lost`,
    ignore: !mountable,
    fn: () =>
      withTinyDisk(async (dir, ballast) => {
        const db = await open(dir, opts);
        let issued = 0, lastAck = -1;
        const failures: unknown[] = [];
        // Concurrent writers, so the failing flush carries several writes.
        const writer = async () => {
          while (failures.length === 0) {
            const i = issued++;
            assert.ok(i < values.length, "the disk never filled up");
            try {
              await db.set(key(i), values[i]);
              lastAck = Math.max(lastAck, i);
            } catch (e) {
              failures.push(e);
            }
          }
        };
        await Promise.all(Array.from({ length: 8 }, writer));
        for (const e of failures) assertIOError(e, "the failing write");
        // A failed write is not visible either.
        for (let i = lastAck + 1; i < issued; i++) assert.equal(await db.has(key(i)), false);
        assert.deepEqual(await db.get(key(0)), values[0]);
        await assertStopped(db);
        await Deno.remove(ballast);
        await assertRecovered(dir, issued, lastAck + 1);
      }),
  });

  Deno.test({
    name:
      `disk full under sync "never" (${files}): sync() and close() report it, nothing synced lost`,
    ignore: !mountable,
    fn: () =>
      withTinyDisk(async (dir, ballast) => {
        const db = await open(dir, { ...opts, sync: "never" });
        let issued = 0, durable = 0;
        let failure: unknown;
        while (failure === undefined) {
          for (let n = 0; n < 4 && failure === undefined; n++) {
            const i = issued++;
            assert.ok(i < values.length, "the disk never filled up");
            // A background flush may hit the full disk first: then writes reject.
            await db.set(key(i), values[i]).catch((e) => failure = e);
          }
          const before = issued;
          await db.sync().then(() => durable = before, (e) => failure ??= e);
        }
        assertIOError(failure, "the failure");
        await assertStopped(db);
        await Deno.remove(ballast);
        await assertRecovered(dir, issued, durable);
      }),
  });
}
