/**
 * KEYS, SCAN and RANDOMKEY. A pattern's literal prefix narrows the walk to a
 * prefix scan of the ordered index; the rest of the pattern filters what that
 * yields. SCAN resumes where a cursor says, through scan_cursors.ts.
 * @module
 */

import { syncSteps } from "../base/sync_steps.ts";
import { CommandError } from "./command_error.ts";
import type { Session } from "./context.ts";
import type { Reply } from "./encoder.ts";
import { compileGlob, type Glob } from "./glob.ts";
import type { KeyRange, KeyView } from "./keyspace.ts";
import { parseInt64 } from "./numbers.ts";
import { asciiUpper, byteString } from "./words.ts";

const DEFAULT_COUNT = 10;
const MATCH_ALL = compileGlob(new TextEncoder().encode("*"));
const INVALID_CURSOR = "ERR invalid cursor";
// Redis reads a cursor with strtoul: a sign, then digits (none: 0), then nothing.
const CURSOR = /^([+-]?\d+)?$/;
const UINT64 = 2n ** 64n;

/** KEYS pattern: every matching key at once, as in Redis; inside EXEC, as `view` has them. */
export function keys(s: Session, args: Uint8Array[], view?: KeyView): Reply {
  const glob = compileGlob(args[1]);
  const found: Uint8Array[] = [];
  // Walked in one step, as Redis' KEYS runs: no commit applies between two
  // keys, so a RENAME or an EXEC is seen whole or not at all. The store's
  // keys(), and a view's, always step synchronously (api/async_steps.ts).
  for (const key of syncSteps(keysIn(s, view, { prefix: glob.prefix }))!) {
    if (glob.prefixOnly || glob.matches(key)) found.push(key);
  }
  return found;
}

/**
 * SCAN cursor [MATCH pattern] [COUNT n] [TYPE type]: examines up to n keys per
 * call. Every value is a string, so TYPE string filters nothing and any other
 * type finds nothing (as Redis 7.0 does for an unknown type name). A cursor
 * the server does not know (never handed out, or forgotten) starts the walk
 * over: keys may come twice then, which Redis allows, but none present
 * throughout the iteration is missed.
 */
export async function scan(s: Session, args: Uint8Array[]): Promise<Reply> {
  const cursor = parseCursor(args[1]);
  let glob: Glob = MATCH_ALL;
  let count = DEFAULT_COUNT;
  let strings = true;
  for (let i = 2; i < args.length; i += 2) {
    const option = asciiUpper(args[i]);
    if (i + 1 >= args.length) throw new CommandError("ERR syntax error");
    if (option === "MATCH") glob = compileGlob(args[i + 1]);
    else if (option === "COUNT") count = parseCount(args[i + 1]);
    else if (option === "TYPE") strings = asciiUpper(args[i + 1]) === "STRING";
    else throw new CommandError("ERR syntax error");
  }
  const start = cursor === 0n ? undefined : s.server.cursors.resume(cursor);
  // One key beyond COUNT tells whether the walk is done and where to resume.
  const batch: Uint8Array[] = [];
  for await (const key of s.server.db.keys({ prefix: glob.prefix, start, limit: count + 1 })) {
    batch.push(key);
  }
  const next = batch.length > count ? s.server.cursors.save(batch.pop()!) : 0;
  const found = !strings ? [] : glob.prefixOnly ? batch : batch.filter((key) => glob.matches(key));
  return [String(next), found];
}

// An unsigned 64-bit cursor, read as Redis' strtoul reads it: "-1" is 2^64 - 1.
function parseCursor(arg: Uint8Array): bigint {
  const text = byteString(arg);
  if (!CURSOR.test(text)) throw new CommandError(INVALID_CURSOR);
  const n = text === "" ? 0n : BigInt(text);
  if (n >= UINT64 || n <= -UINT64) throw new CommandError(INVALID_CURSOR);
  return (n + UINT64) % UINT64;
}

// COUNT is a signed 64-bit integer, at least 1; a count past what the store
// could hold means every key.
function parseCount(arg: Uint8Array): number {
  const n = parseInt64(arg);
  if (n < 1n) throw new CommandError("ERR syntax error");
  return Math.min(Number(n), Number.MAX_SAFE_INTEGER - 1);
}

/**
 * RANDOMKEY: the first key at or after a random point between the first key
 * and the last, or nil when there are none; inside EXEC, of the keys as `view`
 * has them. The index has no random access, so the pick is not uniform: a key
 * after a wide gap comes up more often.
 */
export async function randomkey(s: Session, _args: Uint8Array[], view?: KeyView): Promise<Reply> {
  const first = await firstOf(keysIn(s, view, {}));
  if (first === undefined) return null;
  const last = (await firstOf(keysIn(s, view, { reverse: true })))!;
  return await firstOf(keysIn(s, view, { start: pointBetween(first, last) })) ?? first;
}

// The keys of `range` as a transaction's view has them, or as the store does.
function keysIn(s: Session, view: KeyView | undefined, range: KeyRange): AsyncIterable<Uint8Array> {
  return view === undefined ? s.server.db.keys(range) : view.keys(range);
}

async function firstOf(keys: AsyncIterable<Uint8Array>): Promise<Uint8Array | undefined> {
  for await (const key of keys) return key;
  return undefined;
}

// A random key in [a, b]: their common prefix, a random byte from a's to b's
// at the first byte that differs, then random bytes.
function pointBetween(a: Uint8Array, b: Uint8Array): Uint8Array {
  let p = 0;
  while (p < a.length && p < b.length && a[p] === b[p]) p++;
  if (p === b.length) return a;
  const point = new Uint8Array(p + 1 + 8);
  point.set(b.subarray(0, p));
  const lo = p < a.length ? a[p] : 0;
  point[p] = lo + Math.floor(Math.random() * (b[p] - lo + 1));
  crypto.getRandomValues(point.subarray(p + 1));
  return point;
}
