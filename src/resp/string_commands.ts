/**
 * Commands on string values: GET/SET and their variants, counters, APPEND,
 * GETRANGE/SETRANGE.
 * Each reads and writes through a {@link KeyView}; the runner commits the
 * writes and holds the key locks, so read-modify-writes are atomic against
 * other clients.
 * @module
 */

import type { BatchOp } from "../../mod.ts";
import { CommandError } from "./command_error.ts";
import type { Session } from "./context.ts";
import { OK, type Reply } from "./encoder.ts";
import type { KeyView, ReadView, StoreView } from "./keyspace.ts";
import { addLongDouble, formatLongDouble } from "./long_double.ts";
import { addInt64, int64Bytes, parseFloatArg, parseInt64 } from "./numbers.ts";
import { expireAt, parseExpiry, parseGetExOptions, parseSetOptions } from "./set_options.ts";
import { asciiUpper } from "./words.ts";

const utf8 = new TextEncoder();
const EMPTY = new Uint8Array(0);

/** GET key */
export async function get(v: ReadView, args: Uint8Array[], s: Session): Promise<Reply> {
  const value = await v.get(args[1]);
  count(s, value);
  return value ?? null;
}

/** GET key, when its value is in memory; undefined otherwise. */
export function getCached(v: StoreView, args: Uint8Array[], s: Session): Reply | undefined {
  const value = v.cached(args[1]);
  if (value !== undefined) count(s, value ?? undefined);
  return value;
}

/** MGET key [key ...] */
export async function mget(v: ReadView, args: Uint8Array[], s: Session): Promise<Reply> {
  const values = await Promise.all(args.slice(1).map((key) => v.get(key)));
  for (const value of values) count(s, value);
  return values.map((value) => value ?? null);
}

// INFO's keyspace_hits / keyspace_misses.
function count(s: Session, value: Uint8Array | undefined): void {
  if (value === undefined) s.server.stats.keyspaceMisses++;
  else s.server.stats.keyspaceHits++;
}

/** GETRANGE key start end (and SUBSTR): bytes start..end, both included; negative ones count from the end. */
export async function getrange(v: ReadView, args: Uint8Array[]): Promise<Reply> {
  const from = parseInt64(args[2]), to = parseInt64(args[3]);
  const value = await v.get(args[1]) ?? EMPTY;
  const len = value.length;
  // Redis' rules: a range wholly before the start is empty, the rest is clamped.
  // Compared as 64-bit integers: two of them can round to one double.
  if (from < 0n && to < 0n && from > to) return EMPTY;
  let start = Number(from), end = Number(to);
  if (start < 0) start = Math.max(len + start, 0);
  if (end < 0) end = Math.max(len + end, 0);
  end = Math.min(end, len - 1);
  return start > end ? EMPTY : value.subarray(start, end + 1);
}

/** STRLEN key */
export async function strlen(v: ReadView, args: Uint8Array[]): Promise<Reply> {
  return (await v.get(args[1]))?.length ?? 0;
}

/** SET key value [NX|XX] [GET] [EX s|PX ms|EXAT s|PXAT ms|KEEPTTL] */
export async function set(v: KeyView, args: Uint8Array[]): Promise<Reply> {
  const [, key, value] = args;
  const o = parseSetOptions(args);
  const old = o.get || o.keepTtl || o.condition !== undefined ? await v.entry(key) : undefined;
  const reply: Reply = o.get ? old?.value ?? null : OK;
  if (o.condition !== undefined && (old !== undefined) !== (o.condition === "XX")) {
    return o.get ? reply : null;
  }
  const at = o.expiry !== undefined
    ? expireAt(o.expiry, v.now())
    : o.keepTtl
    ? old?.expireAt
    : undefined;
  v.put(key, { value, expireAt: at });
  return reply;
}

/** The writes of a SET that needs no read, for the blind-write fast path. */
export function blindSet(args: Uint8Array[]): BatchOp[] | undefined {
  if (args.length === 3) return [{ type: "set", key: args[1], value: args[2] }];
  const o = parseSetOptions(args);
  if (o.condition !== undefined || o.get || o.keepTtl) return undefined;
  const e = o.expiry!;
  return [
    "at" in e
      ? { type: "set", key: args[1], value: args[2], expireAt: e.at }
      : { type: "set", key: args[1], value: args[2], ttl: e.ttl },
  ];
}

/** Whether a SET asks for the old value back (GET), which its reply then holds. */
export function setRepliesValue(args: Uint8Array[]): boolean {
  return args.slice(3).some((word) => asciiUpper(word) === "GET");
}

/** SETNX key value: 1 when set, 0 when the key existed. */
export async function setnx(v: KeyView, args: Uint8Array[]): Promise<Reply> {
  if (await v.has(args[1])) return 0;
  v.put(args[1], { value: args[2] });
  return 1;
}

/** SETEX key seconds value, PSETEX key ms value */
export function setex(unit: number, name: string) {
  return (v: KeyView, args: Uint8Array[]): Reply => {
    v.put(args[1], { value: args[3], expireAt: expireAt(setexExpiry(unit, name, args), v.now()) });
    return OK;
  };
}

/** The blind writes of SETEX/PSETEX. */
export function blindSetex(unit: number, name: string) {
  return (args: Uint8Array[]): BatchOp[] => [
    {
      type: "set",
      key: args[1],
      value: args[3],
      ttl: (setexExpiry(unit, name, args) as { ttl: number }).ttl,
    },
  ];
}

function setexExpiry(unit: number, name: string, args: Uint8Array[]) {
  return parseExpiry(unit === 1000 ? "EX" : "PX", args[2], name);
}

/** GETSET key value: the old value; the new one has no expiry, as after SET. */
export async function getset(v: KeyView, args: Uint8Array[]): Promise<Reply> {
  const old = await v.get(args[1]);
  v.put(args[1], { value: args[2] });
  return old ?? null;
}

/** GETDEL key */
export async function getdel(v: KeyView, args: Uint8Array[]): Promise<Reply> {
  const old = await v.get(args[1]);
  if (old !== undefined) v.remove(args[1]);
  return old ?? null;
}

/** GETEX key [EX s|PX ms|EXAT s|PXAT ms|PERSIST] */
export async function getex(v: KeyView, args: Uint8Array[]): Promise<Reply> {
  const change = parseGetExOptions(args);
  const old = await v.entry(args[1]);
  if (old === undefined) return null;
  if (change === null && old.expireAt !== undefined) v.put(args[1], { value: old.value });
  if (change) v.put(args[1], { value: old.value, expireAt: expireAt(change(), v.now()) });
  return old.value;
}

/** MSET key value [key value ...] */
export function mset(v: KeyView, args: Uint8Array[]): Reply {
  for (const op of msetOps(args)) v.put(op.key, { value: op.value });
  return OK;
}

/** The blind writes of MSET. */
export function msetOps(args: Uint8Array[]): { type: "set"; key: Uint8Array; value: Uint8Array }[] {
  if (args.length % 2 === 0) {
    throw new CommandError(`ERR wrong number of arguments for 'mset' command`);
  }
  const ops: { type: "set"; key: Uint8Array; value: Uint8Array }[] = [];
  for (let i = 1; i < args.length; i += 2) {
    ops.push({ type: "set", key: args[i], value: args[i + 1] });
  }
  return ops;
}

/** MSETNX key value [key value ...]: sets all, or none when any key exists. */
export async function msetnx(v: KeyView, args: Uint8Array[]): Promise<Reply> {
  if (args.length % 2 === 0) {
    throw new CommandError(`ERR wrong number of arguments for 'msetnx' command`);
  }
  for (let i = 1; i < args.length; i += 2) if (await v.has(args[i])) return 0;
  for (let i = 1; i < args.length; i += 2) v.put(args[i], { value: args[i + 1] });
  return 1;
}

// Checked before a string is made, as Redis checks proto-max-bulk-len.
function checkLength(s: Session, length: number): void {
  if (length > s.server.maxString) {
    throw new CommandError("ERR string exceeds maximum allowed size (proto-max-bulk-len)");
  }
}

/** APPEND key value: the new length; the expiry is kept. */
export async function append(v: KeyView, args: Uint8Array[], s: Session): Promise<Reply> {
  const old = await v.entry(args[1]);
  checkLength(s, (old?.value.length ?? 0) + args[2].length);
  const value = new Uint8Array((old?.value.length ?? 0) + args[2].length);
  if (old) value.set(old.value);
  value.set(args[2], old?.value.length ?? 0);
  v.put(args[1], { value, expireAt: old?.expireAt });
  return value.length;
}

/**
 * SETRANGE key offset value: the new length. Zero bytes pad the value up to
 * `offset`; the expiry is kept; an empty `value` changes nothing.
 */
export async function setrange(v: KeyView, args: Uint8Array[], s: Session): Promise<Reply> {
  const offset = parseInt64(args[2]);
  if (offset < 0n) throw new CommandError("ERR offset is out of range");
  const patch = args[3];
  const old = await v.entry(args[1]);
  const len = old?.value.length ?? 0;
  if (patch.length === 0) return len;
  const end = Number(offset) + patch.length;
  checkLength(s, end);
  const value = new Uint8Array(Math.max(len, end));
  if (old) value.set(old.value);
  value.set(patch, Number(offset));
  v.put(args[1], { value, expireAt: old?.expireAt });
  return value.length;
}

/** INCR, DECR, INCRBY, DECRBY: `sign` and the increment's argument index (0: by one). */
export function incrBy(sign: 1n | -1n, deltaArg: number) {
  return async (v: KeyView, args: Uint8Array[]): Promise<Reply> => {
    let delta = deltaArg === 0 ? 1n : parseInt64(args[deltaArg]);
    if (sign < 0n) {
      // -(-2^63) does not fit: Redis refuses DECRBY by INT64_MIN.
      if (delta === -(2n ** 63n)) throw new CommandError("ERR decrement would overflow");
      delta = -delta;
    }
    const old = await v.entry(args[1]);
    const next = addInt64(old === undefined ? 0n : parseInt64(old.value), delta);
    v.put(args[1], { value: int64Bytes(next), expireAt: old?.expireAt });
    // Integer replies are JS numbers; past 2^53 the exact digits go as a status line.
    return Number.isSafeInteger(Number(next)) ? Number(next) : { integer: next.toString() };
  };
}

/** INCRBYFLOAT key increment */
export async function incrByFloat(v: KeyView, args: Uint8Array[]): Promise<Reply> {
  const delta = parseFloatArg(args[2]);
  const old = await v.entry(args[1]);
  const next = old === undefined ? delta : addLongDouble(parseFloatArg(old.value), delta);
  if (next === undefined || next.inf) {
    throw new CommandError("ERR increment would produce NaN or Infinity");
  }
  const value = utf8.encode(formatLongDouble(next));
  v.put(args[1], { value, expireAt: old?.expireAt });
  return value;
}
