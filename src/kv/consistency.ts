/**
 * The read consistency option of `get`, `getMany` and `list`.
 * @module
 */

import { serdeVariant } from "./serde.ts";

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
  const variant = serdeVariant(level);
  if (variant === "strong" || variant === "eventual") return;
  // Deno KV's exact words, so code matching on them keeps working.
  throw new TypeError(`unknown variant \`${variant}\`, expected \`strong\` or \`eventual\``);
}
