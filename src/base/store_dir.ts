/**
 * What a store's directory holds, by name: shared by the files layer and the
 * command line, which refuses to treat a mistyped path as an empty store.
 * @module
 */

import { InvalidArgumentError } from "./errors.ts";

/** The names of a store's log files: data files and their hints. */
export const LOG_FILE = /^(data|hint)\.\d+$/;
/** The name of the lock file, which names the store. */
export const LOCK_FILE = "LOCK";
/** The name of the index checkpoint. */
export const CHECKPOINT_FILE = "checkpoint";

/**
 * Throws when `dir` holds no store, so that a command that only reads neither
 * creates one nor reports an empty store where the user mistyped a path.
 * @throws {InvalidArgumentError} the directory holds no store.
 */
export async function requireStore(dir: string): Promise<void> {
  if (!(await holdsStore(dir))) throw new InvalidArgumentError(`no Cask store at ${dir}`);
}

/**
 * Whether `dir` holds a store: its lock file, a data or hint file, or its
 * index checkpoint (a fresh store may have only the lock, and one that lost
 * its lock and every data file still has its damage to report).
 */
export async function holdsStore(dir: string): Promise<boolean> {
  try {
    for await (const e of Deno.readDir(dir)) {
      if (e.name === LOCK_FILE || e.name === CHECKPOINT_FILE || LOG_FILE.test(e.name)) return true;
    }
  } catch (e) {
    if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory) return false;
    throw e;
  }
  return false;
}
