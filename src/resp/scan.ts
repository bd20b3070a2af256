/**
 * KEYS, SCAN and RANDOMKEY. A pattern's literal prefix narrows the walk to a
 * prefix scan of the ordered index; the rest of the pattern filters what that
 * yields. SCAN resumes where the previous call stopped, through scan_cursors.ts.
 * @module
 */

import { CommandError } from "./command_error.ts";
import type { Session } from "./context.ts";
import type { Reply } from "./encoder.ts";
import { compileGlob, type Glob } from "./glob.ts";
import type { KeyView } from "./keyspace.ts";
import { asciiUpper, parseInteger } from "./words.ts";

const DEFAULT_COUNT = 10;
const MATCH_ALL = compileGlob(new TextEncoder().encode("*"));

/** KEYS pattern: every matching key at once, as in Redis; inside EXEC, as `view` has them. */
export async function keys(s: Session, args: Uint8Array[], view?: KeyView): Promise<Reply> {
  const glob = compileGlob(args[1]);
  const found: Uint8Array[] = [];
  const source = view ? view.keys(glob.prefix) : s.server.db.keys({ prefix: glob.prefix });
  for await (const key of source) {
    if (glob.prefixOnly || glob.matches(key)) found.push(key);
  }
  return found;
}

/**
 * SCAN cursor [MATCH pattern] [COUNT n] [TYPE type]: examines up to n keys per
 * call. Every value is a string, so TYPE string filters nothing and any other
 * type finds nothing (as Redis 7.0 does for an unknown type name).
 */
export async function scan(s: Session, args: Uint8Array[]): Promise<Reply> {
  const cursor = parseInteger(args[1], "ERR invalid cursor", 0);
  let glob: Glob = MATCH_ALL;
  let count = DEFAULT_COUNT;
  let strings = true;
  for (let i = 2; i < args.length; i += 2) {
    const option = asciiUpper(args[i]);
    if (i + 1 >= args.length) throw new CommandError("ERR syntax error");
    if (option === "MATCH") glob = compileGlob(args[i + 1]);
    else if (option === "COUNT") count = parseInteger(args[i + 1], "ERR syntax error", 1);
    else if (option === "TYPE") strings = asciiUpper(args[i + 1]) === "STRING";
    else throw new CommandError("ERR syntax error");
  }
  let start: Uint8Array | undefined;
  if (cursor !== 0) {
    start = s.server.cursors.take(cursor);
    if (start === undefined) throw new CommandError("ERR invalid cursor");
  }
  // One key beyond COUNT tells whether the walk is done and where to resume.
  const batch: Uint8Array[] = [];
  for await (const key of s.server.db.keys({ prefix: glob.prefix, start, limit: count + 1 })) {
    batch.push(key);
  }
  const next = batch.length > count ? s.server.cursors.save(batch.pop()!) : 0;
  const found = !strings ? [] : glob.prefixOnly ? batch : batch.filter((key) => glob.matches(key));
  return [String(next), found];
}

/**
 * RANDOMKEY: the first key at or after a random point between the first key
 * and the last, or nil when there are none. The index has no random access,
 * so the pick is not uniform: a key after a wide gap comes up more often.
 */
export async function randomkey(s: Session): Promise<Reply> {
  const db = s.server.db;
  const first = await firstOf(db.keys({ limit: 1 }));
  if (first === undefined) return null;
  const last = (await firstOf(db.keys({ reverse: true, limit: 1 })))!;
  return await firstOf(db.keys({ start: pointBetween(first, last), limit: 1 })) ?? first;
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
