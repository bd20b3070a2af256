/**
 * `openKv(":memory:")`: as in Deno KV, each open gets its own empty, private
 * store that is gone once it closes. Cask has no in-memory store, so it is a
 * store in a fresh directory under the OS temp dir, removed at close (a crash
 * leaves only that temp dir behind, never a `:memory:` directory in the cwd).
 * @module
 */

import type { KvEngine } from "./engine.ts";
import { type Kv, newKv } from "./kv.ts";
import type { KvLimits } from "./limits.ts";

/** The path that asks for a private, temporary store, as in `Deno.openKv`. */
export const MEMORY_PATH = ":memory:";

/** A store `open`ed in a fresh temp directory that its `close()` removes. */
export async function temporaryEngine(
  open: (dir: string) => Promise<KvEngine>,
): Promise<KvEngine> {
  const dir = await Deno.makeTempDir({ prefix: "cask-kv-memory-" });
  const removeDir = () => Deno.remove(dir, { recursive: true });
  let engine: KvEngine;
  try {
    engine = await open(dir);
  } catch (e) {
    await removeDir();
    throw e;
  }
  // Delegation, not a prototype: the store's methods use private fields.
  return {
    get sequence() {
      return engine.sequence;
    },
    get readOnly() {
      return engine.readOnly;
    },
    atomic: (ops, options) => engine.atomic(ops, options),
    getEntry: (key) => engine.getEntry(key),
    scanEntries: (options) => engine.scanEntries(options),
    watch: (target) => engine.watch(target),
    async close() {
      try {
        await engine.close();
      } finally {
        await removeDir();
      }
    },
  };
}

/**
 * The Kv for `openKv(path)`: on the store `open` opens at `path`, or, for
 * {@link MEMORY_PATH}, on a temporary one. `limits` and `clock` are that
 * store's (the engine interface carries neither).
 */
export async function openKvOn(
  path: string,
  open: (dir: string) => Promise<KvEngine>,
  limits: KvLimits,
  clock: () => number,
): Promise<Kv> {
  // Deno KV's words: its path names a file.
  if (path === "") throw new TypeError("Filename cannot be empty");
  const engine = path === MEMORY_PATH ? await temporaryEngine(open) : await open(path);
  return newKv(engine, limits, clock);
}
