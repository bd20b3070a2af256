/** Shared by the KV tests: the real Deno KV as the reference, and result normalization. */

import assert from "node:assert/strict";
import { isKvU64 } from "../src/kv/u64.ts";
import { KvU64 } from "../mod.ts";

/** Deno KV itself; fails with the fix when the runtime lacks it. */
export async function openDenoKv(path: string): Promise<Deno.Kv> {
  assert.equal(
    typeof Deno.openKv,
    "function",
    'Deno.openKv is missing: run the KV tests with --unstable-kv (deno.json has "unstable": ["kv"])',
  );
  return await Deno.openKv(path);
}

/** Comparable form of a value or key part: KvU64 of either class -> { u64 }. */
export function plain(x: unknown): unknown {
  if (x instanceof KvU64 || isKvU64(x)) return { u64: (x as { value: bigint }).value };
  if (Array.isArray(x)) return x.map(plain);
  return x;
}

/** Outcome of a call: its value or its error's class and message. */
export async function outcome<T>(f: () => T | Promise<T>): Promise<{ ok: T } | { error: string }> {
  try {
    return { ok: await f() };
  } catch (e) {
    return { error: `${(e as Error).constructor.name}: ${(e as Error).message}` };
  }
}
