/**
 * Server commands: INFO, DBSIZE, CONFIG GET/HELP, BGREWRITEAOF,
 * SAVE/BGSAVE/LASTSAVE and TIME.
 * @module
 */

import { CommandError } from "./command_error.ts";
import type { ServerState, Session } from "./context.ts";
import { OK, type Reply } from "./encoder.ts";
import { globMatch } from "./glob.ts";
import { helpReply } from "./help.ts";
import { expiryAt, type KeyView } from "./keyspace.ts";
import { asciiUpper, byteString } from "./words.ts";
import { formatBytes } from "../base/human.ts";

const utf8 = new TextEncoder();

/** DBSIZE; inside EXEC, as `view` has the keyspace. */
export function dbsize(s: Session, _args: Uint8Array[], view?: KeyView): Reply | Promise<Reply> {
  return view ? view.size() : s.server.db.size;
}

/**
 * CONFIG GET pattern [pattern ...]: the few settings clients (redis-benchmark)
 * ask for; CONFIG HELP.
 */
export function config(s: Session, args: Uint8Array[]): Reply {
  // The command table checked the sub-command: GET and at least one pattern, or HELP.
  if (asciiUpper(args[1]) === "HELP") return helpReply("CONFIG", CONFIG_HELP);
  const st = s.server;
  const settings = new Map([
    ["save", ""],
    ["appendonly", "yes"],
    ["appendfsync", st.sync === "always" ? "always" : st.sync === "never" ? "no" : "everysec"],
    ["maxclients", String(st.maxClients)],
    ["databases", "1"],
    ["port", String(st.port)],
    // Redis counts whole seconds; a part of one counts as one, as 0 is never.
    ["timeout", String(Math.ceil(st.idleTimeoutMs / 1000))],
  ]);
  // As in Redis 7.0, case is ignored: a name without wildcards is answered
  // as it was asked for, once, and a pattern with the names it matches.
  const shown = new Map<string, Reply>();
  for (const p of args.slice(2)) {
    if (!p.some((c) => c === 0x2a || c === 0x3f || c === 0x5b)) {
      const name = byteString(p).toLowerCase();
      if (settings.has(name) && !shown.has(name)) shown.set(name, p);
      continue;
    }
    for (const name of settings.keys()) {
      if (!shown.has(name) && globMatch(p, utf8.encode(name), true)) shown.set(name, name);
    }
  }
  return { map: [...shown].map(([name, as]) => [as, settings.get(name)!]) };
}

// Redis 7.0's words for the sub-command Cask has.
const CONFIG_HELP = [
  "GET <pattern>",
  "    Return parameters matching the glob-like <pattern> and their values.",
];

/** BGREWRITEAOF: a compaction in the background. */
export function bgrewriteaof(s: Session): Reply {
  const st = s.server;
  if (st.compaction !== undefined) {
    throw new CommandError("ERR Background append only file rewriting already in progress");
  }
  st.compaction = st.db.compact().then(
    () => {},
    (e) => console.error(`cask serve: compaction failed: ${e instanceof Error ? e.message : e}`),
  ).finally(() => st.compaction = undefined);
  return { status: "Background append only file rewriting started" };
}

/**
 * SAVE: every write acknowledged so far is made durable (fsynced). The log is
 * the store's only copy, so there is no snapshot to write.
 */
export async function save(s: Session): Promise<Reply> {
  await s.server.db.sync();
  s.server.lastSave = Date.now();
  return OK;
}

/** BGSAVE [SCHEDULE]: SAVE in the background. */
export function bgsave(s: Session, args: Uint8Array[]): Reply {
  if (args.length > 2 || (args.length === 2 && asciiUpper(args[1]) !== "SCHEDULE")) {
    throw new CommandError("ERR syntax error");
  }
  s.server.db.sync().then(
    () => s.server.lastSave = Date.now(),
    (e) => console.error(`cask serve: BGSAVE failed: ${e instanceof Error ? e.message : e}`),
  );
  return { status: "Background saving started" };
}

/** LASTSAVE: when the last SAVE or BGSAVE finished, in Unix seconds (until then: the start). */
export function lastsave(s: Session): Reply {
  return Math.floor(s.server.lastSave / 1000);
}

/** TIME: the server's clock, as Unix seconds and microseconds. */
export function time(): Reply {
  const us = BigInt(Math.floor((performance.timeOrigin + performance.now()) * 1000));
  return [String(us / 1_000_000n), String(us % 1_000_000n)];
}

/** INFO [section ...]: Redis' layout, with Cask's own figures; inside EXEC, as `view` has the keyspace. */
export async function info(s: Session, args: Uint8Array[], view?: KeyView): Promise<Reply> {
  const wanted = new Set(args.slice(1).map((a) => asciiUpper(a)));
  const all = wanted.size === 0 || ["ALL", "EVERYTHING", "DEFAULT"].some((w) => wanted.has(w));
  const sections: string[] = [];
  for (const [name, lines] of Object.entries(SECTIONS)) {
    if (all || wanted.has(name.toUpperCase())) {
      sections.push([`# ${name}`, ...await lines(s.server, view)].join("\r\n") + "\r\n");
    }
  }
  return utf8.encode(sections.join("\r\n"));
}

const SECTIONS: Record<
  string,
  (st: ServerState, view?: KeyView) => string[] | Promise<string[]>
> = {
  Server: (st) => {
    const uptime = Math.floor((Date.now() - st.startedAt) / 1000);
    return [
      "redis_version:7.0.0",
      `cask_version:${st.version}`,
      "redis_mode:standalone",
      `os:${Deno.build.os} ${Deno.build.arch}`,
      `process_id:${Deno.pid}`,
      `tcp_port:${st.port}`,
      `uptime_in_seconds:${uptime}`,
      `uptime_in_days:${Math.floor(uptime / 86400)}`,
    ];
  },
  Clients: (st) => [
    `connected_clients:${st.stats.connectedClients}`,
    `maxclients:${st.maxClients}`,
    `client_query_buffers_bytes:${st.stats.bufferedBytes}`,
    // No command blocks and none tracks keys for clients: true zeros, which
    // redis-cli --stat and monitoring read (a missing field shows as garbage).
    "blocked_clients:0",
    "tracking_clients:0",
  ],
  Memory: (st) => {
    const m = Deno.memoryUsage();
    return [
      `used_memory:${m.heapUsed + m.external}`,
      `used_memory_human:${formatBytes(m.heapUsed + m.external)}`,
      `used_memory_rss:${m.rss}`,
      `used_memory_rss_human:${formatBytes(m.rss)}`,
      `cask_index_bytes:${st.db.stats().index.bytes}`,
    ];
  },
  Persistence: (st) => {
    const stats = st.db.stats();
    const last = stats.lastCompaction;
    return [
      "loading:0",
      "aof_enabled:1",
      `aof_rewrite_in_progress:${st.compaction === undefined ? 0 : 1}`,
      `cask_sync:${st.sync}`,
      `cask_auto_compact:${st.autoCompact ? 1 : 0}`,
      `cask_data_files:${stats.files.length}`,
      `cask_live_bytes:${stats.liveBytes}`,
      `cask_dead_bytes:${stats.deadBytes}`,
      ...(last === undefined ? [] : [`cask_last_compaction:${JSON.stringify(last)}`]),
    ];
  },
  Stats: (st) => [
    `total_connections_received:${st.stats.totalConnections}`,
    `total_commands_processed:${st.stats.totalCommands}`,
    `total_net_input_bytes:${st.stats.netInputBytes}`,
    `total_net_output_bytes:${st.stats.netOutputBytes}`,
    `rejected_connections:${st.stats.rejectedConnections}`,
    `keyspace_hits:${st.stats.keyspaceHits}`,
    `keyspace_misses:${st.stats.keyspaceMisses}`,
    `expired_keys:${st.db.stats().expiredKeys}`,
    // Nothing is ever evicted: the store is not a cache.
    "evicted_keys:0",
  ],
  Keyspace: async (st, view) => {
    // Expiries live in the index only, so counting them walks every key.
    let keys = 0;
    let expires = 0;
    let ttlSum = 0;
    const now = Date.now();
    for await (const key of view ? view.keys({}) : st.db.keys()) {
      const at = view ? view.expiryAt(key) : expiryAt(st.db, key);
      if (at === undefined) continue;
      keys++;
      if (at !== Infinity) {
        expires++;
        ttlSum += Math.max(at - now, 0);
      }
    }
    if (keys === 0) return [];
    const avg = expires === 0 ? 0 : Math.round(ttlSum / expires);
    return [`db0:keys=${keys},expires=${expires},avg_ttl=${avg}`];
  },
};
