/**
 * `cask serve`: the store behind a Redis-protocol (RESP2/RESP3) TCP server,
 * shut down cleanly on SIGINT/SIGTERM so every acknowledged write is on disk.
 * @module
 */

import { DEFAULT_LIMITS } from "../resp/parser.ts";
import { RespServer } from "../resp/server.ts";
import { MAX_VALUE_CACHE_BYTES } from "../resp/value_cache.ts";
import { DEFAULT_MAX_KEY_SIZE, DEFAULT_MAX_VALUE_SIZE, IOError } from "../../mod.ts";
import { booleanFlag, expectPositionals, integerFlag, stringFlag, UsageError } from "./args.ts";
import type { Command } from "./command.ts";
import { EXIT_FAILURE, EXIT_OK } from "./exit_codes.ts";
import { openStore, STORE_FLAGS, takeLosses } from "./store.ts";
import { VERSION } from "./version.ts";

const DEFAULT_PORT = 6380;
const MiB = 1024 * 1024;
const DEFAULT_CLIENT_BUFFER = 128 * MiB;
const DEFAULT_TOTAL_BUFFER = 1024 * MiB;
const DEFAULT_MAX_CLIENTS = 10_000;
const DEFAULT_VALUE_CACHE = 64 * MiB;
const SIGNALS: Deno.Signal[] = ["SIGINT", "SIGTERM"];
const PASSWORD_ENV = "CASK_PASSWORD";

/** `cask serve [--host H] [--port P] [--requirepass PW] ...` */
export const serveCommand: Command = {
  name: "serve",
  synopsis: "",
  summary: "serve the store over the Redis protocol (RESP2/RESP3)",
  details: "Strings, counters, expiries, MULTI/EXEC/WATCH, SCAN and more: see COMMAND.\n" +
    `The password comes from --requirepass or $${PASSWORD_ENV}; a --host other than a\n` +
    "loopback address is refused without one unless --insecure is given. Prints\n" +
    "`listening on host:port` once ready. SIGINT/SIGTERM: stop accepting, finish running\n" +
    "commands, close the store.",
  flags: {
    ...STORE_FLAGS,
    host: { type: "string", value: "H", description: "address to bind (default 127.0.0.1)" },
    port: {
      type: "string",
      value: "P",
      description: `port to listen on, 0 for any free one (default ${DEFAULT_PORT})`,
    },
    requirepass: {
      type: "string",
      value: "password",
      description: `password clients must AUTH with (or set $${PASSWORD_ENV})`,
    },
    insecure: {
      type: "boolean",
      description: "allow a non-loopback --host without a password",
    },
    maxclients: {
      type: "string",
      value: "n",
      description: `most clients at once (default ${DEFAULT_MAX_CLIENTS})`,
    },
    timeout: {
      type: "string",
      value: "s",
      description: "disconnect clients idle this many seconds (default 0: never)",
    },
    "client-query-buffer-limit": {
      type: "string",
      value: "bytes",
      description: "most request bytes one client may have buffered (default 128 MiB)",
    },
    "total-query-buffer-limit": {
      type: "string",
      value: "bytes",
      description: "most request bytes all clients may have buffered (default 1 GiB)",
    },
    "max-key-size": {
      type: "string",
      value: "bytes",
      description: `largest key accepted, at most 16 MiB (default ${DEFAULT_MAX_KEY_SIZE})`,
    },
    "max-value-size": {
      type: "string",
      value: "bytes",
      description: `largest value accepted (default ${DEFAULT_MAX_VALUE_SIZE})`,
    },
    "no-auto-compact": {
      type: "boolean",
      description: "do not compact in the background (BGREWRITEAOF still does)",
    },
    "no-inline-fsync": {
      type: "boolean",
      description:
        "fsync on a separate thread: the server goes on reading and answering during an fsync",
    },
    "point-cache": {
      type: "boolean",
      description:
        "keep the store's point cache (GETs the value cache misses are faster, SETs slower)",
    },
    "value-cache": {
      type: "string",
      value: "bytes",
      description:
        `memory for recently read values, 0 for none, at most ${MAX_VALUE_CACHE_BYTES} ` +
        `(default ${DEFAULT_VALUE_CACHE})`,
    },
  },
  async run(args) {
    expectPositionals(args, 0, 0, "no arguments");
    // "[::1]" is how the server prints an IPv6 address; binding takes it bare.
    const hostname = stringFlag(args, "host", "127.0.0.1").replace(/^\[(.*)\]$/, "$1");
    const port = integerFlag(args, "port", 0, 65535) ?? DEFAULT_PORT;
    const password = stringFlag(args, "requirepass") ?? (Deno.env.get(PASSWORD_ENV) || undefined);
    if (password === "") throw new UsageError("--requirepass must not be empty");
    if (!isLoopback(hostname) && password === undefined && !booleanFlag(args, "insecure")) {
      throw new UsageError(
        `refusing to listen on ${hostname} without a password: anyone who can reach it could ` +
          `read and write the store. Set --requirepass or $${PASSWORD_ENV}, bind 127.0.0.1, ` +
          "or pass --insecure if a firewall guards the port",
      );
    }
    const maxValueSize = integerFlag(args, "max-value-size", 0, 1024 * MiB) ??
      DEFAULT_MAX_VALUE_SIZE;
    const maxKeySize = integerFlag(args, "max-key-size", 1, 16 * MiB) ?? DEFAULT_MAX_KEY_SIZE;
    // At least 64 KiB, room for a key, a password or a timestamp whatever the store's limits.
    const maxBulk = Math.min(
      Math.max(maxValueSize, maxKeySize, 64 * 1024),
      DEFAULT_LIMITS.maxBulkLength,
    );
    // One client must be able to send the largest value the store accepts.
    const clientBuffer = integerFlag(args, "client-query-buffer-limit", MiB) ??
      Math.max(DEFAULT_CLIENT_BUFFER, maxBulk + MiB);
    const sync = stringFlag(args, "sync", "always");
    const autoCompact = !booleanFlag(args, "no-auto-compact");
    // Every option is read before the store is opened: a bad one must leave no
    // new store behind, nor fail as "locked" beside a running server.
    const options = {
      hostname,
      port,
      version: VERSION,
      password,
      sync,
      autoCompact,
      maxClients: integerFlag(args, "maxclients", 1) ?? DEFAULT_MAX_CLIENTS,
      valueCacheBytes: integerFlag(args, "value-cache", 0, MAX_VALUE_CACHE_BYTES) ??
        DEFAULT_VALUE_CACHE,
      idleTimeoutMs: (integerFlag(args, "timeout", 0, 100 * 365 * 86400) ?? 0) * 1000,
      clientQueryBufferLimit: clientBuffer,
      totalQueryBufferLimit: integerFlag(args, "total-query-buffer-limit", MiB) ??
        Math.max(DEFAULT_TOTAL_BUFFER, clientBuffer),
      // A request argument larger than any value the store accepts is refused
      // while its length is read, before its bytes are buffered.
      limits: { ...DEFAULT_LIMITS, maxBulkLength: maxBulk },
    };
    checkPortFree(hostname, port);
    // Off by default: the value cache already answers repeated GETs, and the
    // point cache's upkeep cost pipelined SETs 6-10% of server CPU (2.53-2.71
    // us a request with it in 5 servers, 2.37-2.45 without in 3, alternating).
    const pointCache = booleanFlag(args, "point-cache");
    // On by default, as redis-server fsyncs under appendfsync always: a group
    // commit then skips two hand-offs between threads, and the requests that
    // came during the fsync are read in one turn of the loop (-c 50 durable
    // SETs 25.9-34.3k against 21.7-26.0k a second; GETs wait for the fsync,
    // as they do in redis-server).
    const inlineFsync = !booleanFlag(args, "no-inline-fsync");
    await using db = await openStore(args, {
      maxKeySize,
      maxValueSize,
      autoCompact,
      pointCache,
      inlineFsync,
    });
    const server = new RespServer(db, options);
    const stop = Promise.withResolvers<Deno.Signal>();
    let stopping = false;
    const handler = (signal: Deno.Signal) => () => {
      // A client that never reads its replies can stall a graceful stop; a
      // second signal gives up on it. Acknowledged writes are already synced
      // as far as --sync promised.
      if (stopping) {
        console.error("cask serve: second signal, exiting without waiting");
        Deno.exit(EXIT_FAILURE);
      }
      stopping = true;
      stop.resolve(signal);
    };
    const listeners = SIGNALS.map((signal) => [signal, handler(signal)] as const);
    for (const [signal, listener] of listeners) Deno.addSignalListener(signal, listener);
    // An IPv6 address is bracketed, as in a URL, so the port stays apart from it.
    const host = server.addr.hostname.includes(":")
      ? `[${server.addr.hostname}]`
      : server.addr.hostname;
    console.log(`listening on ${host}:${server.addr.port}`);
    const signal = await stop.promise;
    console.error(`cask serve: ${signal}, shutting down`);
    await server.shutdown();
    for (const [signal, listener] of listeners) Deno.removeSignalListener(signal, listener);
    // What the store reported lost, at the open or in a compaction while it
    // served, was said on stderr as it came: the exit code tells how the
    // server stopped, as a supervisor restarting it on failure reads it.
    takeLosses();
    return EXIT_OK;
  },
};

function isLoopback(host: string): boolean {
  const h = host.toLowerCase();
  if (h === "localhost" || IPV4_LOOPBACK.test(h)) return true;
  const g = ipv6Groups(h);
  if (g === undefined || g.slice(0, 5).some((x) => x !== 0)) return false;
  // ::1 however it is spelt, or an IPv4 loopback address mapped (::ffff:127.x.x.x).
  return (g[5] === 0 && g[6] === 0 && g[7] === 1) || (g[5] === 0xffff && g[6] >> 8 === 127);
}

const IPV4_LOOPBACK = /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/;

// The eight 16-bit groups of an IPv6 address (a dotted IPv4 tail counts as
// two); undefined when `h` is not one.
function ipv6Groups(h: string): number[] | undefined {
  const v4 = /^(.*:)(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(h);
  let text = h;
  if (v4) {
    const b = v4.slice(2).map(Number);
    if (b.some((x) => x > 255)) return undefined;
    text = `${v4[1]}${((b[0] << 8) | b[1]).toString(16)}:${((b[2] << 8) | b[3]).toString(16)}`;
  }
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const part = (s: string) => s === "" ? [] : s.split(":");
  const head = part(halves[0]), tail = halves.length === 2 ? part(halves[1]) : [];
  const fill = 8 - head.length - tail.length;
  if (halves.length === 2 ? fill < 1 : fill !== 0) return undefined;
  const groups = [...head, ...Array(fill).fill("0"), ...tail];
  if (!groups.every((x) => /^[0-9a-f]{1,4}$/.test(x))) return undefined;
  return groups.map((x) => parseInt(x, 16));
}

// Binding comes after the open (the server needs the store), so a busy port is
// found out first: failing then leaves no new store behind at a fresh --dir.
function checkPortFree(hostname: string, port: number): void {
  try {
    Deno.listen({ hostname, port, transport: "tcp" }).close();
  } catch (e) {
    throw new IOError(`cannot listen on ${hostname}:${port}: ${(e as Error).message}`, {
      cause: e,
    });
  }
}
