/**
 * The option words of SET and GETEX: conditions, expiries, GET and KEEPTTL,
 * with Redis' rules on which may be combined.
 * @module
 */

import { CommandError } from "./command_error.ts";
import { parseInt64 } from "./numbers.ts";
import { asciiUpper } from "./words.ts";

/** An expiry as given: relative (`ttl`) or absolute (`at`), in ms. */
export type Expiry = { ttl: number } | { at: number };

/** What SET's options asked for. */
export interface SetOptions {
  condition?: "NX" | "XX";
  expiry?: Expiry;
  keepTtl: boolean;
  get: boolean;
}

const EXPIRY_WORDS = new Set(["EX", "PX", "EXAT", "PXAT"]);

/** Reads the expiry option `word` with its number `arg`; `command` names it in errors. */
export function parseExpiry(word: string, arg: Uint8Array, command: string): Expiry {
  const n = Number(parseInt64(arg));
  const ms = word === "EX" || word === "EXAT" ? n * 1000 : n;
  if (n <= 0 || !Number.isSafeInteger(ms)) {
    throw new CommandError(`ERR invalid expire time in '${command}' command`);
  }
  return word.endsWith("AT") ? { at: ms } : { ttl: ms };
}

/** Parses SET's words from index 3 on. */
export function parseSetOptions(args: Uint8Array[]): SetOptions {
  const o: SetOptions = { keepTtl: false, get: false };
  for (let i = 3; i < args.length; i++) {
    const word = asciiUpper(args[i]);
    if ((word === "NX" || word === "XX") && o.condition === undefined) {
      o.condition = word;
    } else if (word === "GET" && !o.get) {
      o.get = true;
    } else if (word === "KEEPTTL" && !o.keepTtl && o.expiry === undefined) {
      o.keepTtl = true;
    } else if (
      EXPIRY_WORDS.has(word) && o.expiry === undefined && !o.keepTtl && i + 1 < args.length
    ) {
      o.expiry = parseExpiry(word, args[++i], "set");
    } else {
      throw new CommandError("ERR syntax error");
    }
  }
  return o;
}

/** The absolute expiry `e` means at time `now`. */
export function expireAt(e: Expiry, now: number): number {
  return "at" in e ? e.at : now + e.ttl;
}

/** GETEX's words from index 2 on: an expiry, PERSIST (null), or nothing (undefined). */
export function parseGetExOptions(args: Uint8Array[]): Expiry | null | undefined {
  if (args.length === 2) return undefined;
  const word = asciiUpper(args[2]);
  if (word === "PERSIST" && args.length === 3) return null;
  if (EXPIRY_WORDS.has(word) && args.length === 4) return parseExpiry(word, args[3], "getex");
  throw new CommandError("ERR syntax error");
}
