/**
 * The read consistency option of `get`, `getMany` and `list`.
 * @module
 */

/**
 * Read consistency. Cask reads are always strong (one process owns the
 * store), so both levels behave the same.
 *
 * @example
 * ```ts
 * import { type KvConsistencyLevel, openKv } from "@cask/cask";
 * const kv = await openKv("./kv-data");
 * const consistency: KvConsistencyLevel = "eventual";
 * await kv.get(["k"], { consistency });
 * await kv.close();
 * ```
 */
export type KvConsistencyLevel = "strong" | "eventual";

/** Throws TypeError for a level other than the two (or none), as Deno KV does. */
export function checkConsistency(level: unknown): void {
  if (level === undefined || level === null || level === "strong" || level === "eventual") return;
  if (typeof level === "string") {
    // Deno KV's exact words, so code matching on them keeps working.
    throw new TypeError(`unknown variant \`${level}\`, expected \`strong\` or \`eventual\``);
  }
  throw new TypeError(`consistency must be "strong" or "eventual": received ${typeof level}`);
}
