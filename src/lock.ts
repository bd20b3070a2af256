/**
 * One writer per directory. An exclusive advisory lock on `LOCK` is held for the
 * store's lifetime; the kernel drops it when the process dies, so a crashed
 * writer never leaves a stale lock behind (unlike pid files).
 * @module
 */

import { join } from "node:path";
import { IOError, LockedError } from "./errors.ts";

/** Name of the lock file inside a store directory. */
export const LOCK_FILE = "LOCK";

/** Takes the directory's lock or throws LockedError; returns the held file. */
export async function acquireLock(dir: string): Promise<Deno.FsFile> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(join(dir, LOCK_FILE), { read: true, write: true, create: true });
  } catch (e) {
    throw new IOError(`cannot open lock file in ${dir}`, { cause: e });
  }
  // flock locks belong to the open file description, so a second open() in this
  // same process conflicts too, which is what a second store on the dir needs.
  let locked = false;
  try {
    locked = await file.tryLock(true);
  } finally {
    if (!locked) file.close();
  }
  if (!locked) throw new LockedError(dir);
  return file;
}

/** Releases a lock taken by acquireLock. */
export function releaseLock(file: Deno.FsFile): void {
  file.close();
}
