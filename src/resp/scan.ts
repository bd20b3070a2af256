/**
 * KEYS and SCAN. A pattern's literal prefix narrows the walk to a prefix scan
 * of the ordered index; the rest of the pattern filters what that yields.
 * SCAN resumes where the previous call stopped, through scan_cursors.ts.
 * @module
 */

import { CommandError } from "./command_error.ts";
import type { Session } from "./context.ts";
import type { Reply } from "./encoder.ts";
import { compileGlob, type Glob } from "./glob.ts";
import { asciiUpper, parseInteger } from "./words.ts";

const DEFAULT_COUNT = 10;
const MATCH_ALL = compileGlob(new TextEncoder().encode("*"));

/** KEYS pattern: every matching key at once, as in Redis. */
export async function keys(s: Session, args: Uint8Array[]): Promise<Reply> {
  const glob = compileGlob(args[1]);
  const found: Uint8Array[] = [];
  for await (const key of s.server.db.keys({ prefix: glob.prefix })) {
    if (glob.prefixOnly || glob.matches(key)) found.push(key);
  }
  return found;
}

/** SCAN cursor [MATCH pattern] [COUNT n]: examines up to n keys per call. */
export async function scan(s: Session, args: Uint8Array[]): Promise<Reply> {
  const cursor = parseInteger(args[1], "ERR invalid cursor", 0);
  let glob: Glob = MATCH_ALL;
  let count = DEFAULT_COUNT;
  for (let i = 2; i < args.length; i += 2) {
    const option = asciiUpper(args[i]);
    if (i + 1 >= args.length) throw new CommandError("ERR syntax error");
    if (option === "MATCH") glob = compileGlob(args[i + 1]);
    else if (option === "COUNT") count = parseInteger(args[i + 1], "ERR syntax error", 1);
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
  const found = glob.prefixOnly ? batch : batch.filter((key) => glob.matches(key));
  return [String(next), found];
}
