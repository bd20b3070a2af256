/**
 * Expiry commands: EXPIRE and its variants with NX/XX/GT/LT, PERSIST, and the
 * TTL / EXPIRETIME readers. Changing an expiry rewrites the value (a log
 * record carries both), under the key's lock like any read-modify-write.
 * @module
 */

import { CommandError } from "./command_error.ts";
import type { Reply } from "./encoder.ts";
import type { KeyView, ReadView } from "./keyspace.ts";
import { INT64_MAX, INT64_MIN, parseInt64 } from "./numbers.ts";
import { asciiUpper, quoted } from "./words.ts";

/**
 * EXPIRE/PEXPIRE/EXPIREAT/PEXPIREAT key time [NX|XX|GT|LT]: `unit` is 1000
 * for seconds, `absolute` for the AT forms.
 */
export function expire(name: string, unit: number, absolute: boolean) {
  return async (v: KeyView, args: Uint8Array[]): Promise<Reply> => {
    // Redis reads the options before the number.
    const flags = new Set<string>();
    for (const arg of args.slice(3)) {
      const f = asciiUpper(arg);
      if (!["NX", "XX", "GT", "LT"].includes(f)) {
        throw new CommandError(`ERR Unsupported option ${quoted(arg)}`);
      }
      flags.add(f);
    }
    if (flags.has("NX") && (flags.has("XX") || flags.has("GT") || flags.has("LT"))) {
      throw new CommandError("ERR NX and XX, GT or LT options at the same time are not compatible");
    }
    if (flags.has("GT") && flags.has("LT")) {
      throw new CommandError("ERR GT and LT options at the same time are not compatible");
    }
    const now = v.now();
    const at = expireTime(name, parseInt64(args[2]), unit, absolute ? 0 : now);
    const old = await v.entry(args[1]);
    if (old === undefined) return 0;
    // No expiry counts as an infinite one for GT and LT, as in Redis.
    const current = old.expireAt ?? Infinity;
    if (flags.has("NX") && old.expireAt !== undefined) return 0;
    if (flags.has("XX") && old.expireAt === undefined) return 0;
    if (flags.has("GT") && !(at > current)) return 0;
    if (flags.has("LT") && !(at < current)) return 0;
    // A time already past deletes the key, as in Redis.
    if (at <= now) v.remove(args[1]);
    else v.put(args[1], { value: old.value, expireAt: at });
    return 1;
  };
}

// The absolute expiry in ms, checked as Redis checks it in its 64-bit
// arithmetic: a time far in the past is fine (the key goes at once), but the
// unit and the base must not overflow. Past 2^53 ms (year 287396) the store
// keeps no exact time, so such times are refused too.
function expireTime(name: string, n: bigint, unit: number, base: number): number {
  let when = n;
  if (unit !== 1) {
    const u = BigInt(unit);
    if (when > INT64_MAX / u || when < INT64_MIN / u) throw invalidTime(name);
    when *= u;
  }
  if (when > INT64_MAX - BigInt(base)) throw invalidTime(name);
  when += BigInt(base);
  if (when > BigInt(Number.MAX_SAFE_INTEGER)) throw invalidTime(name);
  return Number(when);
}

function invalidTime(name: string): CommandError {
  return new CommandError(`ERR invalid expire time in '${name}' command`);
}

/** PERSIST key: 1 when an expiry was removed. */
export async function persist(v: KeyView, args: Uint8Array[]): Promise<Reply> {
  const old = await v.entry(args[1]);
  if (old?.expireAt === undefined) return 0;
  v.put(args[1], { value: old.value });
  return 1;
}

/** TTL/PTTL (`absolute` false) and EXPIRETIME/PEXPIRETIME: -2 absent, -1 no expiry. */
export function ttl(unit: number, absolute: boolean) {
  return async (v: ReadView, args: Uint8Array[]): Promise<Reply> => {
    const e = await v.entry(args[1]);
    if (e === undefined) return -2;
    if (e.expireAt === undefined) return -1;
    const ms = absolute ? e.expireAt : Math.max(e.expireAt - v.now(), 0);
    // Redis rounds seconds to the nearest one.
    return Math.floor((ms + (unit > 1 ? unit / 2 : 0)) / unit);
  };
}
