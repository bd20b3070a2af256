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
  const absolute = word.endsWith("AT");
  // Past 2^53 ms the store keeps no exact time (see README): refused in
  // Redis' words, a relative time once it is added to now.
  if (
    n <= 0 || !Number.isSafeInteger(ms) || !Number.isSafeInteger(absolute ? ms : ms + Date.now())
  ) {
    throw new CommandError(`ERR invalid expire time in '${command}' command`);
  }
  return absolute ? { at: ms } : { ttl: ms };
}

// Which option words each one excludes, as in Redis' parser of SET and GETEX
// options. A word may repeat (the last expiry given counts); NX and XX, an
// expiry and KEEPTTL (SET) or PERSIST (GETEX), and expiries of different kinds
// exclude each other.
const EXCLUDES: Record<string, string[]> = {
  NX: ["XX"],
  XX: ["NX"],
  GET: [],
  KEEPTTL: ["EX", "PX", "EXAT", "PXAT"],
  PERSIST: ["EX", "PX", "EXAT", "PXAT"],
  EX: ["KEEPTTL", "PERSIST", "PX", "EXAT", "PXAT"],
  PX: ["KEEPTTL", "PERSIST", "EX", "EXAT", "PXAT"],
  EXAT: ["KEEPTTL", "PERSIST", "EX", "PX", "PXAT"],
  PXAT: ["KEEPTTL", "PERSIST", "EX", "PX", "EXAT"],
};
const SET_WORDS = new Set(["NX", "XX", "GET", "KEEPTTL", "EX", "PX", "EXAT", "PXAT"]);
const GETEX_WORDS = new Set(["PERSIST", "EX", "PX", "EXAT", "PXAT"]);

/**
 * Reads the option words of SET (from index 3) or GETEX (from 2): the words
 * given, and where the last expiry's word is. Numbers are not looked at: as in
 * Redis, a syntax error anywhere is reported before a bad number.
 */
function optionWords(args: Uint8Array[], getex: boolean): { words: Set<string>; expiry?: number } {
  const allowed = getex ? GETEX_WORDS : SET_WORDS;
  const words = new Set<string>();
  let expiry: number | undefined;
  for (let i = getex ? 2 : 3; i < args.length; i++) {
    const word = asciiUpper(args[i]);
    const takesNumber = EXPIRY_WORDS.has(word);
    if (
      !allowed.has(word) || EXCLUDES[word].some((w) => words.has(w)) ||
      (takesNumber && i + 1 === args.length)
    ) {
      throw new CommandError("ERR syntax error");
    }
    words.add(word);
    if (takesNumber) expiry = i++;
  }
  return { words, expiry };
}

/** Parses SET's words from index 3 on, then the expiry's number. */
export function parseSetOptions(args: Uint8Array[]): SetOptions {
  const { words, expiry } = optionWords(args, false);
  const condition = words.has("NX") ? "NX" : words.has("XX") ? "XX" : undefined;
  return {
    condition,
    keepTtl: words.has("KEEPTTL"),
    get: words.has("GET"),
    expiry: expiry === undefined
      ? undefined
      : parseExpiry(asciiUpper(args[expiry]), args[expiry + 1], "set"),
  };
}

/** The absolute expiry `e` means at time `now`. */
export function expireAt(e: Expiry, now: number): number {
  return "at" in e ? e.at : now + e.ttl;
}

/**
 * GETEX's words from index 2 on: an expiry, PERSIST (null), or nothing
 * (undefined). The syntax is checked at once and the expiry's number only when
 * `expiry()` is called: Redis answers nil for an absent key before it looks at
 * the number.
 */
export function parseGetExOptions(args: Uint8Array[]): (() => Expiry) | null | undefined {
  const { words, expiry } = optionWords(args, true);
  if (expiry !== undefined) {
    return () => parseExpiry(asciiUpper(args[expiry]), args[expiry + 1], "getex");
  }
  return words.has("PERSIST") ? null : undefined;
}
