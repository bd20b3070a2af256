/**
 * The command table: each supported command's arity, whether it writes, and
 * its handler. Handlers return their {@link Reply} as data, so a failing
 * store call can never leave half a reply on the wire.
 * @module
 */

import { CaskError } from "../../mod.ts";
import { CommandError } from "./command_error.ts";
import type { Session } from "./context.ts";
import { OK, type Reply } from "./encoder.ts";
import { globMatch } from "./glob.ts";
import { keys, scan } from "./scan.ts";
import { asciiUpper, byteString, parseInteger } from "./words.ts";

type Handler = (s: Session, args: Uint8Array[]) => Reply | Promise<Reply>;

interface CommandSpec {
  /** Redis convention: N means exactly N words (name included), -N at least N. */
  arity: number;
  /** Writes go through the key locks and may overlap with the writes sent before them. */
  write: boolean;
  run: Handler;
}

/** A command looked up and checked, ready to start. */
export interface PreparedCommand {
  /**
   * Whether it may start while earlier writes of the same client are still in
   * flight. Anything else must wait for them, or it could miss their effects.
   */
  write: boolean;
  /** Starts the command; resolves to its reply, errors included (it never rejects). */
  run(s: Session): Promise<Reply>;
}

const NOT_INTEGER = "ERR value is not an integer or out of range";
const utf8 = new TextEncoder();

// What CONFIG GET answers; redis-benchmark asks for these two before it starts.
const CONFIG: ReadonlyArray<[string, string]> = [["save", ""], ["appendonly", "no"]];

const read = (arity: number, run: Handler): CommandSpec => ({ arity, write: false, run });
const write = (arity: number, run: Handler): CommandSpec => ({ arity, write: true, run });

const COMMANDS = new Map<string, CommandSpec>([
  ["PING", read(-1, ping)],
  ["ECHO", read(2, (_, a) => a[1])],
  ["GET", read(2, (s, a) => s.server.db.get(a[1]).then((v) => v ?? null))],
  ["SET", write(-3, set)],
  ["DEL", write(-2, del)],
  ["EXISTS", read(-2, exists)],
  ["MGET", read(-2, mget)],
  ["MSET", write(-3, mset)],
  ["KEYS", read(2, keys)],
  ["SCAN", read(-2, scan)],
  ["TTL", read(2, (s, a) => ttl(s, a, 1000))],
  ["PTTL", read(2, (s, a) => ttl(s, a, 1))],
  ["DBSIZE", read(1, (s) => s.server.db.size)],
  ["INFO", read(-1, info)],
  ["COMMAND", read(-1, command)],
  ["CONFIG", read(-2, config)],
  ["SELECT", read(2, select)],
  ["QUIT", read(-1, quit)],
]);

/** Looks up `args[0]`; unknown names and wrong arity prepare an error reply. */
export function prepare(args: Uint8Array[]): PreparedCommand {
  const name = asciiUpper(args[0]);
  const spec = COMMANDS.get(name);
  if (spec === undefined) {
    const rest = args.slice(1, 4).map((a) => `'${byteString(a).slice(0, 128)}'`).join(" ");
    const error = `ERR unknown command '${byteString(args[0]).slice(0, 128)}', ` +
      `with args beginning with: ${rest}`;
    return failed(error);
  }
  if (spec.arity > 0 ? args.length !== spec.arity : args.length < -spec.arity) {
    return failed(`ERR wrong number of arguments for '${name.toLowerCase()}' command`);
  }
  return { write: spec.write, run: (s) => run(spec, s, args) };
}

function failed(error: string): PreparedCommand {
  return { write: false, run: () => Promise.resolve({ error }) };
}

async function run(spec: CommandSpec, s: Session, args: Uint8Array[]): Promise<Reply> {
  s.server.totalCommands++;
  try {
    return await spec.run(s, args);
  } catch (e) {
    if (e instanceof CommandError) return { error: e.message };
    // The store refused or failed this one operation; the client may go on.
    if (e instanceof CaskError) return { error: `ERR ${e.message}` };
    // A bug: say so in the log, but keep serving this client and the others.
    console.error("cask serve: command failed:", e);
    return { error: "ERR internal error" };
  }
}

function ping(_: Session, args: Uint8Array[]): Reply {
  if (args.length > 2) throw new CommandError("ERR wrong number of arguments for 'ping' command");
  return args.length === 2 ? args[1] : { status: "PONG" };
}

/** SET key value [NX|XX] [EX s|PX ms|EXAT s|PXAT ms] */
function set(s: Session, args: Uint8Array[]): Promise<Reply> {
  const [, key, value] = args;
  let condition: "NX" | "XX" | undefined;
  let expiry: { ttl?: number; expireAt?: number } | undefined;
  for (let i = 3; i < args.length; i++) {
    const option = asciiUpper(args[i]);
    if ((option === "NX" || option === "XX") && condition === undefined) {
      condition = option;
    } else if (
      (option === "EX" || option === "PX" || option === "EXAT" || option === "PXAT") &&
      expiry === undefined && i + 1 < args.length
    ) {
      const n = parseInteger(args[++i], NOT_INTEGER, Number.MIN_SAFE_INTEGER);
      const ms = option === "EX" || option === "EXAT" ? n * 1000 : n;
      if (n <= 0 || !Number.isSafeInteger(ms)) {
        throw new CommandError("ERR invalid expire time in 'set' command");
      }
      expiry = option.endsWith("AT") ? { expireAt: ms } : { ttl: ms };
    } else {
      throw new CommandError("ERR syntax error");
    }
  }
  const db = s.server.db;
  if (condition === undefined) {
    return s.server.locks.write([key], () => db.set(key, value, expiry).then(() => OK));
  }
  return s.server.locks.exclusive([key], async () => {
    if ((await db.has(key)) !== (condition === "XX")) return null;
    await db.set(key, value, expiry);
    return OK;
  });
}

function del(s: Session, args: Uint8Array[]): Promise<Reply> {
  const db = s.server.db;
  const unique = [...new Map(args.slice(1).map((k) => [byteString(k), k])).values()];
  // One atomic write for all keys: one fsync, and an exact count under the locks.
  return s.server.locks.exclusive(unique, async () => {
    const present: Uint8Array[] = [];
    for (const key of unique) if (await db.has(key)) present.push(key);
    await db.atomic(present.map((key) => ({ type: "delete", key })));
    return present.length;
  });
}

async function exists(s: Session, args: Uint8Array[]): Promise<Reply> {
  let n = 0;
  for (const key of args.slice(1)) if (await s.server.db.has(key)) n++;
  return n;
}

async function mget(s: Session, args: Uint8Array[]): Promise<Reply> {
  const values = await Promise.all(args.slice(1).map((key) => s.server.db.get(key)));
  return values.map((v) => v ?? null);
}

function mset(s: Session, args: Uint8Array[]): Promise<Reply> {
  if (args.length % 2 === 0) {
    throw new CommandError("ERR wrong number of arguments for 'mset' command");
  }
  const ops: { type: "set"; key: Uint8Array; value: Uint8Array }[] = [];
  for (let i = 1; i < args.length; i += 2) {
    ops.push({ type: "set", key: args[i], value: args[i + 1] });
  }
  return s.server.locks.write(
    ops.map((op) => op.key),
    () => s.server.db.atomic(ops).then(() => OK),
  );
}

/** TTL and PTTL: -2 absent, -1 no expiry, else the remaining time in `unit` ms. */
async function ttl(s: Session, args: Uint8Array[], unit: number): Promise<Reply> {
  const ms = await s.server.db.ttl(args[1]);
  if (ms === undefined) return -2;
  if (ms === Infinity) return -1;
  // Redis rounds seconds to the nearest one.
  return Math.floor((Math.max(ms, 0) + unit / 2) / unit);
}

/** INFO [section ...]: Redis' layout, with the figures Cask has. */
function info(s: Session, args: Uint8Array[]): Reply {
  const st = s.server;
  const stats = st.db.stats();
  const sections: [string, string[]][] = [
    ["Server", [
      "redis_version:7.0.0",
      `cask_version:${st.version}`,
      "redis_mode:standalone",
      `process_id:${Deno.pid}`,
      `tcp_port:${st.port}`,
      `uptime_in_seconds:${Math.floor((Date.now() - st.startedAt) / 1000)}`,
    ]],
    ["Clients", [`connected_clients:${st.connectedClients}`]],
    ["Stats", [
      `total_connections_received:${st.totalConnections}`,
      `total_commands_processed:${st.totalCommands}`,
    ]],
    ["Cask", [
      `live_bytes:${stats.liveBytes}`,
      `dead_bytes:${stats.deadBytes}`,
      `data_files:${stats.files.length}`,
    ]],
    ["Keyspace", [`db0:keys=${stats.keys},expires=0,avg_ttl=0`]],
  ];
  const wanted = new Set(args.slice(1).map((a) => asciiUpper(a)));
  const all = wanted.size === 0 || ["ALL", "EVERYTHING", "DEFAULT"].some((w) => wanted.has(w));
  const chosen = sections.filter(([name]) => all || wanted.has(name.toUpperCase()));
  return utf8.encode(
    chosen.map(([name, lines]) => [`# ${name}`, ...lines, ""].join("\r\n")).join("\r\n"),
  );
}

// redis-cli asks COMMAND DOCS for its hints and copes with an empty answer;
// COMMAND COUNT is the one sub-command whose reply is not a list.
function command(_: Session, args: Uint8Array[]): Reply {
  return args.length > 1 && asciiUpper(args[1]) === "COUNT" ? COMMANDS.size : [];
}

function config(_: Session, args: Uint8Array[]): Reply {
  if (asciiUpper(args[1]) !== "GET" || args.length !== 3) {
    throw new CommandError("ERR only CONFIG GET <parameter> is supported");
  }
  return CONFIG.filter(([name]) => globMatch(args[2], utf8.encode(name))).flat();
}

function select(_: Session, args: Uint8Array[]): Reply {
  if (parseInteger(args[1], NOT_INTEGER, Number.MIN_SAFE_INTEGER) !== 0) {
    throw new CommandError("ERR DB index is out of range");
  }
  return OK;
}

function quit(s: Session): Reply {
  s.quit = true;
  return OK;
}
