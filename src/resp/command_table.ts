/**
 * Every supported command, by upper-case name: arity, key positions, flags,
 * help line and handler.
 * @module
 */

import type {
  CommandSpec,
  ImmediateHandler,
  KeyHandler,
  ReadHandler,
  ReadSpec,
  ServerSpec,
  SessionHandler,
  SubcommandSpec,
  WriteSpec,
} from "./command_spec.ts";
import { commandReply } from "./command_info.ts";
import { auth, client, echo, hello, ping, quit, select } from "./connection_commands.ts";
import { expire, persist, ttl } from "./expire_commands.ts";
import { copy, del, exists, flush, rename, type } from "./key_commands.ts";
import { keys, randomkey, scan } from "./scan.ts";
import {
  bgrewriteaof,
  bgsave,
  config,
  dbsize,
  info,
  lastsave,
  save,
  time,
} from "./server_commands.ts";
import {
  append,
  blindSet,
  blindSetex,
  get,
  getCached,
  getdel,
  getex,
  getrange,
  getset,
  incrBy,
  incrByFloat,
  mget,
  mset,
  msetnx,
  msetOps,
  set,
  setex,
  setnx,
  setrange,
  setRepliesValue,
  strlen,
} from "./string_commands.ts";
import { discard, exec, multi, unwatch, watch } from "./transaction_commands.ts";

type Keys = readonly [number, number, number];
const NONE: Keys = [0, 0, 0];
const ONE: Keys = [1, 1, 1];
const ALL: Keys = [1, -1, 1];
const PAIRS: Keys = [1, -1, 2];
const TWO: Keys = [1, 2, 1];

function read(
  arity: number,
  keys: Keys,
  group: string,
  syntax: string,
  summary: string,
  run: ReadHandler,
  immediate?: ImmediateHandler,
): ReadSpec {
  return {
    kind: "read",
    arity,
    keys,
    flags: ["readonly", "fast"],
    group,
    syntax,
    summary,
    run,
    immediate,
  };
}

function write(
  arity: number,
  keys: Keys,
  group: string,
  syntax: string,
  summary: string,
  run: KeyHandler,
  blind?: WriteSpec["blind"],
  repliesValue?: WriteSpec["repliesValue"],
): WriteSpec {
  return {
    kind: "write",
    arity,
    keys,
    flags: ["write"],
    group,
    syntax,
    summary,
    run,
    blind,
    repliesValue,
  };
}

// The reply of GETSET, GETDEL and GETEX is a stored value.
const VALUE = () => true;

function server(
  arity: number,
  flags: string[],
  group: string,
  syntax: string,
  summary: string,
  run: SessionHandler,
): ServerSpec {
  return { kind: "server", arity, keys: NONE, flags, group, syntax, summary, run };
}

const S = "string";
const G = "generic";
const C = "connection";
const T = "transactions";
const A = "server";

// Every container command's HELP.
const HELP: SubcommandSpec = {
  arity: 2,
  syntax: "",
  summary: "Show helpful text about the different subcommands",
};

/** The command table. */
export const COMMANDS: ReadonlyMap<string, CommandSpec> = new Map<string, CommandSpec>([
  ["GET", read(2, ONE, S, "key", "Returns the string value of a key.", get, getCached)],
  [
    "MGET",
    read(
      -2,
      ALL,
      S,
      "key [key ...]",
      "Atomically returns the string values of one or more keys.",
      mget,
    ),
  ],
  ["STRLEN", read(2, ONE, S, "key", "Returns the length of a string value.", strlen)],
  [
    "GETRANGE",
    read(
      4,
      ONE,
      S,
      "key start end",
      "Returns a substring of the string stored at a key.",
      getrange,
    ),
  ],
  [
    "SUBSTR",
    read(4, ONE, S, "key start end", "Returns a substring from a string value.", getrange),
  ],
  [
    "SETRANGE",
    write(
      4,
      ONE,
      S,
      "key offset value",
      "Overwrites a part of a string value with another by an offset.",
      setrange,
    ),
  ],
  [
    "SET",
    write(
      -3,
      ONE,
      S,
      "key value [NX|XX] [GET] [EX seconds|PX milliseconds|EXAT unix-time-seconds|PXAT unix-time-milliseconds|KEEPTTL]",
      "Sets the string value of a key.",
      set,
      blindSet,
      setRepliesValue,
    ),
  ],
  [
    "SETNX",
    write(
      3,
      ONE,
      S,
      "key value",
      "Sets the string value of a key only when the key doesn't exist.",
      setnx,
    ),
  ],
  [
    "SETEX",
    write(
      4,
      ONE,
      S,
      "key seconds value",
      "Sets the value and expiration time (s) of a key.",
      setex(1000, "setex"),
      blindSetex(1000, "setex"),
    ),
  ],
  [
    "PSETEX",
    write(
      4,
      ONE,
      S,
      "key milliseconds value",
      "Sets the value and expiration time (ms) of a key.",
      setex(1, "psetex"),
      blindSetex(1, "psetex"),
    ),
  ],
  [
    "GETSET",
    write(
      3,
      ONE,
      S,
      "key value",
      "Returns the previous value of a key after setting it.",
      getset,
      undefined,
      VALUE,
    ),
  ],
  [
    "GETDEL",
    write(
      2,
      ONE,
      S,
      "key",
      "Returns the value of a key after deleting it.",
      getdel,
      undefined,
      VALUE,
    ),
  ],
  [
    "GETEX",
    write(
      -2,
      ONE,
      S,
      "key [EX seconds|PX milliseconds|EXAT unix-time-seconds|PXAT unix-time-milliseconds|PERSIST]",
      "Returns the value of a key after setting its expiration time.",
      getex,
      undefined,
      VALUE,
    ),
  ],
  [
    "MSET",
    write(
      -3,
      PAIRS,
      S,
      "key value [key value ...]",
      "Atomically sets the values of one or more keys.",
      mset,
      msetOps,
    ),
  ],
  [
    "MSETNX",
    write(
      -3,
      PAIRS,
      S,
      "key value [key value ...]",
      "Sets several keys only when none of them exists.",
      msetnx,
    ),
  ],
  ["APPEND", write(3, ONE, S, "key value", "Appends a string to the value of a key.", append)],
  ["INCR", write(2, ONE, S, "key", "Increments the integer value of a key by one.", incrBy(1n, 0))],
  [
    "DECR",
    write(2, ONE, S, "key", "Decrements the integer value of a key by one.", incrBy(-1n, 0)),
  ],
  [
    "INCRBY",
    write(
      3,
      ONE,
      S,
      "key increment",
      "Increments the integer value of a key by a number.",
      incrBy(1n, 2),
    ),
  ],
  [
    "DECRBY",
    write(
      3,
      ONE,
      S,
      "key decrement",
      "Decrements the integer value of a key by a number.",
      incrBy(-1n, 2),
    ),
  ],
  [
    "INCRBYFLOAT",
    write(
      3,
      ONE,
      S,
      "key increment",
      "Increments the float value of a key by a number.",
      incrByFloat,
    ),
  ],
  ["DEL", write(-2, ALL, G, "key [key ...]", "Deletes one or more keys.", del)],
  ["UNLINK", write(-2, ALL, G, "key [key ...]", "Deletes one or more keys.", del)],
  [
    "EXISTS",
    read(-2, ALL, G, "key [key ...]", "Determines whether one or more keys exist.", exists),
  ],
  [
    "TOUCH",
    read(
      -2,
      ALL,
      G,
      "key [key ...]",
      "Returns the number of existing keys out of those specified.",
      exists,
    ),
  ],
  ["TYPE", read(2, ONE, G, "key", "Determines the type of value stored at a key.", type)],
  [
    "COPY",
    write(
      -3,
      TWO,
      G,
      "source destination [DB destination-db] [REPLACE]",
      "Copies the value of a key to a new key.",
      copy,
    ),
  ],
  [
    "RENAME",
    write(3, TWO, G, "key newkey", "Renames a key and overwrites the destination.", rename(false)),
  ],
  [
    "RENAMENX",
    write(
      3,
      TWO,
      G,
      "key newkey",
      "Renames a key only when the target key name doesn't exist.",
      rename(true),
    ),
  ],
  [
    "EXPIRE",
    write(
      -3,
      ONE,
      G,
      "key seconds [NX|XX|GT|LT]",
      "Sets the expiration time of a key in seconds.",
      expire("expire", 1000, false),
    ),
  ],
  [
    "PEXPIRE",
    write(
      -3,
      ONE,
      G,
      "key milliseconds [NX|XX|GT|LT]",
      "Sets the expiration time of a key in milliseconds.",
      expire("pexpire", 1, false),
    ),
  ],
  [
    "EXPIREAT",
    write(
      -3,
      ONE,
      G,
      "key unix-time-seconds [NX|XX|GT|LT]",
      "Sets the expiration time of a key to a Unix timestamp.",
      expire("expireat", 1000, true),
    ),
  ],
  [
    "PEXPIREAT",
    write(
      -3,
      ONE,
      G,
      "key unix-time-milliseconds [NX|XX|GT|LT]",
      "Sets the expiration time of a key to a Unix ms timestamp.",
      expire("pexpireat", 1, true),
    ),
  ],
  ["PERSIST", write(2, ONE, G, "key", "Removes the expiration time of a key.", persist)],
  [
    "TTL",
    read(2, ONE, G, "key", "Returns the expiration time in seconds of a key.", ttl(1000, false)),
  ],
  [
    "PTTL",
    read(2, ONE, G, "key", "Returns the expiration time in milliseconds of a key.", ttl(1, false)),
  ],
  [
    "EXPIRETIME",
    read(
      2,
      ONE,
      G,
      "key",
      "Returns the expiration time of a key as a Unix timestamp.",
      ttl(1000, true),
    ),
  ],
  [
    "PEXPIRETIME",
    read(
      2,
      ONE,
      G,
      "key",
      "Returns the expiration time of a key as a Unix ms timestamp.",
      ttl(1, true),
    ),
  ],
  [
    "FLUSHDB",
    write(-1, NONE, A, "[ASYNC|SYNC]", "Removes all keys from the current database.", flush),
  ],
  ["FLUSHALL", write(-1, NONE, A, "[ASYNC|SYNC]", "Removes all keys from all databases.", flush)],
  [
    "KEYS",
    server(2, ["readonly"], G, "pattern", "Returns all key names that match a pattern.", keys),
  ],
  [
    "SCAN",
    server(
      -2,
      ["readonly"],
      G,
      "cursor [MATCH pattern] [COUNT count] [TYPE type]",
      "Iterates over the key names in the database.",
      scan,
    ),
  ],
  [
    "RANDOMKEY",
    server(1, ["readonly"], G, "", "Returns a random key name from the database.", randomkey),
  ],
  [
    "DBSIZE",
    server(1, ["readonly", "fast"], A, "", "Returns the number of keys in the database.", dbsize),
  ],
  [
    "INFO",
    server(
      -1,
      ["loading", "stale"],
      A,
      "[section [section ...]]",
      "Returns information and statistics about the server.",
      info,
    ),
  ],
  [
    "CONFIG",
    {
      ...server(
        -2,
        ["admin"],
        A,
        "",
        "A container for server configuration commands",
        config,
      ),
      subcommands: {
        GET: {
          arity: -3,
          syntax: "parameter [parameter ...]",
          summary: "Get the values of configuration parameters",
        },
        HELP,
      },
    },
  ],
  [
    "BGREWRITEAOF",
    server(
      1,
      ["admin", "noscript"],
      A,
      "",
      "Compacts the data files in the background.",
      bgrewriteaof,
    ),
  ],
  [
    "SAVE",
    {
      ...server(1, ["admin", "noscript"], A, "", "Makes every write so far durable.", save),
      notInMulti: true,
    },
  ],
  [
    "BGSAVE",
    server(
      -1,
      ["admin", "noscript"],
      A,
      "[SCHEDULE]",
      "Makes every write so far durable, in the background.",
      bgsave,
    ),
  ],
  [
    "LASTSAVE",
    server(1, ["fast"], A, "", "Returns the Unix timestamp of the last successful save.", lastsave),
  ],
  ["TIME", server(1, ["fast"], A, "", "Returns the server time.", time)],
  [
    "COMMAND",
    {
      ...server(
        -1,
        ["loading", "stale"],
        A,
        "",
        "Get array of Redis command details",
        (_, a) => commandReply(COMMANDS, a),
      ),
      subcommands: {
        COUNT: { arity: 2, syntax: "", summary: "Get total number of Redis commands" },
        LIST: {
          arity: -2,
          syntax: "[FILTERBY MODULE module-name|ACLCAT category|PATTERN pattern]",
          summary: "Get an array of Redis command names",
        },
        INFO: {
          arity: -2,
          syntax: "[command-name [command-name ...]]",
          summary: "Get array of specific Redis command details, or all when no argument is given.",
        },
        DOCS: {
          arity: -2,
          syntax: "[command-name [command-name ...]]",
          summary: "Get array of specific Redis command documentation",
        },
        HELP,
      },
    },
  ],
  [
    "PING",
    server(
      -1,
      ["fast", "noauth"],
      C,
      "[message]",
      "Returns the server's liveliness response.",
      ping,
    ),
  ],
  ["ECHO", server(2, ["fast"], C, "message", "Returns the given string.", echo)],
  ["QUIT", server(-1, ["fast", "noauth", "no-multi"], C, "", "Closes the connection.", quit)],
  [
    "SELECT",
    server(2, ["fast"], C, "index", "Changes the selected database (only 0 exists).", select),
  ],
  [
    "AUTH",
    server(
      -2,
      ["fast", "noauth"],
      C,
      "[username] password",
      "Authenticates the connection.",
      auth,
    ),
  ],
  [
    "HELLO",
    server(
      -1,
      ["fast", "noauth"],
      C,
      "[protover [AUTH username password] [SETNAME clientname]]",
      "Handshakes with the server.",
      hello,
    ),
  ],
  [
    "CLIENT",
    {
      ...server(
        -2,
        ["admin"],
        C,
        "",
        "A container for client connection commands",
        client,
      ),
      subcommands: {
        ID: { arity: 2, syntax: "", summary: "Returns the client ID for the current connection" },
        GETNAME: { arity: 2, syntax: "", summary: "Get the current connection name" },
        SETNAME: {
          arity: 3,
          syntax: "connection-name",
          summary: "Set the current connection name",
        },
        // Redis 7.2's, which client libraries send on connect.
        SETINFO: {
          arity: 4,
          syntax: "LIB-NAME libname|LIB-VER libver",
          summary: "Set client or connection specific info",
        },
        INFO: {
          arity: 2,
          syntax: "",
          summary: "Returns information about the current client connection.",
        },
        HELP,
      },
    },
  ],
  ["MULTI", server(1, ["fast", "no-multi"], T, "", "Starts a transaction.", multi)],
  ["EXEC", server(1, ["no-multi"], T, "", "Executes all commands in a transaction.", exec)],
  ["DISCARD", server(1, ["fast", "no-multi"], T, "", "Discards a transaction.", discard)],
  [
    "WATCH",
    // Its keys are named for COMMAND INFO (clients route by them); a server
    // command takes no key locks, so they change nothing else.
    {
      ...server(
        -2,
        ["fast", "no-multi"],
        T,
        "key [key ...]",
        "Monitors changes to keys to determine the execution of a transaction.",
        watch,
      ),
      keys: ALL,
    },
  ],
  [
    "UNWATCH",
    server(1, ["fast"], T, "", "Forgets about watched keys of a transaction.", unwatch),
  ],
]);
