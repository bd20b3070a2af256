/**
 * Commands on keys whatever their value: DEL/UNLINK, EXISTS/TOUCH, TYPE,
 * RENAME, COPY, FLUSHDB.
 * @module
 */

import { CommandError } from "./command_error.ts";
import { OK, type Reply } from "./encoder.ts";
import type { KeyView, ReadView } from "./keyspace.ts";
import { parseInt64 } from "./numbers.ts";
import { asciiUpper, byteString } from "./words.ts";

/** DEL/UNLINK key [key ...]: how many existed. */
export async function del(v: KeyView, args: Uint8Array[]): Promise<Reply> {
  let n = 0;
  const seen = new Set<string>();
  for (const key of args.slice(1)) {
    const id = byteString(key);
    if (seen.has(id)) continue;
    seen.add(id);
    if (await v.has(key)) {
      v.remove(key);
      n++;
    }
  }
  return n;
}

/**
 * EXISTS key [key ...], and TOUCH (there is no access time to update):
 * repeated keys count each time, as in Redis.
 */
export async function exists(v: ReadView, args: Uint8Array[]): Promise<Reply> {
  // Every has() is called before any is awaited: the keys are read at one
  // point, with no commit (a RENAME's, an EXEC's) applied between two of them.
  const present = await Promise.all(args.slice(1).map((key) => v.has(key)));
  return present.filter((p) => p).length;
}

/** TYPE key: every value is a string. */
export async function type(v: ReadView, args: Uint8Array[]): Promise<Reply> {
  return { status: (await v.has(args[1])) ? "string" : "none" };
}

/** RENAME key newkey (`nx` false) and RENAMENX key newkey; the expiry moves along. */
export function rename(nx: boolean) {
  return async (v: KeyView, args: Uint8Array[]): Promise<Reply> => {
    const [, from, to] = args;
    const entry = await v.entry(from);
    if (entry === undefined) throw new CommandError("ERR no such key");
    if (nx && await v.has(to)) return 0;
    if (byteString(from) !== byteString(to)) {
      v.remove(from);
      v.put(to, entry);
    }
    return nx ? 1 : OK;
  };
}

/** COPY source destination [DB 0] [REPLACE]: 1 when copied, the expiry along; 0 otherwise. */
export async function copy(v: KeyView, args: Uint8Array[]): Promise<Reply> {
  let replace = false;
  for (let i = 3; i < args.length; i++) {
    const option = asciiUpper(args[i]);
    if (option === "REPLACE") replace = true;
    else if (option === "DB" && i + 1 < args.length) {
      if (parseInt64(args[++i]) !== 0n) throw new CommandError("ERR DB index is out of range");
    } else throw new CommandError("ERR syntax error");
  }
  const [, from, to] = args;
  if (byteString(from) === byteString(to)) {
    throw new CommandError("ERR source and destination objects are the same");
  }
  const entry = await v.entry(from);
  if (entry === undefined || (!replace && await v.has(to))) return 0;
  v.put(to, entry);
  return 1;
}

/** FLUSHDB/FLUSHALL [ASYNC|SYNC] */
export async function flush(v: KeyView, args: Uint8Array[]): Promise<Reply> {
  const mode = args[1] === undefined ? "SYNC" : new TextDecoder().decode(args[1]).toUpperCase();
  if (args.length > 2 || (mode !== "SYNC" && mode !== "ASYNC")) {
    throw new CommandError("ERR syntax error");
  }
  await v.clear();
  return OK;
}
