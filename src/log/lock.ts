/**
 * One writer per directory. An exclusive advisory lock on `LOCK` is held for the
 * store's lifetime; the kernel drops it when the process dies, so a crashed
 * writer never leaves a stale lock behind (unlike pid files).
 * @module
 */

import { join } from "node:path";
import { IOError, LockedError } from "../base/errors.ts";
import { LOCK_FILE } from "../base/store_dir.ts";
// Total wait is about twice this before a held lock is reported.
const LOCK_PATIENCE_MS = 256;

/** Takes the directory's lock or throws LockedError; returns the held file. */
export async function acquireLock(dir: string): Promise<Deno.FsFile> {
  const path = join(dir, LOCK_FILE);
  for (;;) {
    let file: Deno.FsFile;
    try {
      file = await Deno.open(path, { read: true, write: true, create: true });
    } catch (e) {
      throw new IOError(`cannot open lock file in ${dir}`, { cause: e });
    }
    if (!(await lockOrWait(file, path))) {
      file.close();
      throw new LockedError(dir);
    }
    // A lock file its holder removed before letting go (a backup's, see
    // lockWhileWriting) can be locked here once it is gone from the directory:
    // only the file under the name counts.
    if (sameFile(file, path)) return file;
    file.close();
  }
}

// flock locks belong to the open file description, so a second open() in this
// same process conflicts too, which is what a second store on the dir needs.
// The flip side: a child process forked by this one holds a copy of the
// descriptor until it execs, which in a large process can take milliseconds,
// and keeps a just-released lock held meanwhile. So a conflict is retried for
// a moment before it counts; a real second writer holds the lock for longer.
async function lockOrWait(file: Deno.FsFile, path: string): Promise<boolean> {
  try {
    for (let wait = 1; wait <= LOCK_PATIENCE_MS; wait *= 2) {
      if (await file.tryLock(true)) return true;
      await new Promise((r) => setTimeout(r, wait));
    }
    return await file.tryLock(true);
  } catch (e) {
    file.close();
    throw new IOError(`cannot lock ${path}`, { cause: e });
  }
}

function sameFile(file: Deno.FsFile, path: string): boolean {
  try {
    return file.statSync().ino === Deno.statSync(path).ino;
  } catch {
    return false;
  }
}

/**
 * Takes the lock of `dir`, a directory a backup writes into, as a store's
 * writer would; the returned function releases it, removing the lock file
 * unless a store's writer has recorded its id there (a backup leaves no lock
 * file of its own, even when another backup's lock file was there first and
 * went before this one got it).
 */
export async function lockWhileWriting(dir: string): Promise<() => void> {
  const file = await acquireLock(dir);
  return () => {
    // Removed while still held: a waiter then finds it gone (see acquireLock).
    if (lockedStoreId(dir) === undefined) Deno.removeSync(join(dir, LOCK_FILE));
    releaseLock(file);
  };
}

/**
 * The store id the writer that last opened `dir` wrote in its lock file (see
 * {@link recordStoreId}); undefined when there is none.
 */
export function lockedStoreId(dir: string): string | undefined {
  try {
    const id = Deno.readTextFileSync(join(dir, LOCK_FILE)).trim();
    return /^[0-9a-f]{16}$/.test(id) ? id : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Writes `storeId` into the held lock file `lock` of `dir`: which store the
 * directory's data files are, evidence a later open weighs when files of
 * another store were copied in beside them.
 */
export function recordStoreId(lock: Deno.FsFile, dir: string, storeId: string): void {
  if (lockedStoreId(dir) === storeId) return;
  try {
    lock.truncateSync(0);
    lock.seekSync(0, Deno.SeekMode.Start);
    const bytes = new TextEncoder().encode(storeId + "\n");
    for (let at = 0; at < bytes.length;) at += lock.writeSync(bytes.subarray(at));
    lock.syncDataSync();
  } catch (e) {
    throw new IOError(`cannot write ${join(dir, LOCK_FILE)}`, { cause: e });
  }
}

/** Releases a lock taken by acquireLock. */
export function releaseLock(file: Deno.FsFile): void {
  file.close();
}
