/**
 * get, set, del, has and scan: single-key operations and ordered listing.
 * @module
 */

import { fstatSync } from "node:fs";
import {
  booleanFlag,
  expectPositionals,
  integerFlag,
  type ParsedArgs,
  stringFlag,
  UsageError,
} from "./args.ts";
import { DEFAULT_MAX_KEY_SIZE } from "../../mod.ts";
import type { Command } from "./command.ts";
import { decodeArg, encodeOutput, type Encoding, ENCODING_FLAGS, encodingOf } from "./encoding.ts";
import { EXIT_NOT_FOUND, EXIT_OK } from "./exit_codes.ts";
import { Output } from "./output.ts";
import { LARGEST_LIMITS, openExisting, openForReading, openStore, STORE_FLAGS } from "./store.ts";

const DATA_FLAGS = { ...STORE_FLAGS, ...ENCODING_FLAGS };

// The store refuses an empty key too, but only once it is open (and created).
function keyArg(args: ParsedArgs, encoding: Encoding): Uint8Array {
  const key = decodeArg(args.positionals[0], encoding, "key");
  if (key.length === 0) throw new UsageError("key must not be empty");
  return key;
}

// A key the store (opened with the default limits, as the CLI opens it) refuses
// to write. Only set checks it: reads take any key, since `cask load` writes
// keys past the default. (A value argument cannot pass maxValueSize: the kernel
// caps one argument at 128 KiB.)
function checkKeySize(key: Uint8Array): void {
  if (key.length > DEFAULT_MAX_KEY_SIZE) {
    throw new UsageError(`key is ${key.length} bytes; maxKeySize is ${DEFAULT_MAX_KEY_SIZE}`);
  }
}

// Bytes of a streamed value read at a time.
const STREAM_CHUNK = 1024 * 1024;

/** `cask get <key>` */
export const getCommand: Command = {
  name: "get",
  synopsis: "<key>",
  summary: "print the value of a key (exit 1 if absent)",
  flags: DATA_FLAGS,
  async run(args) {
    expectPositionals(args, 1, 1, "<key>");
    const encoding = encodingOf(args);
    const key = keyArg(args, encoding);
    await using db = await openForReading(args);
    // Raw bytes stream straight to stdout, so a value of any size never sits in memory.
    const stream = encoding === "utf8" ? await db.getStream(key) : undefined;
    const value = stream ? undefined : await db.get(key);
    if (!stream && value === undefined) {
      console.error(`not found: ${args.positionals[0]}`);
      return EXIT_NOT_FOUND;
    }
    // Raw bytes go out as they are, so `cask get k > file` gives back what was
    // stored; a terminal still gets its line end.
    const out = new Output();
    if (stream) {
      // Read into one buffer, written out before it is read into again: a fresh
      // buffer per chunk let V8 pile up some 64 MiB of spent ones (a 400 MB
      // value: 130 MB of RSS, against 57 for a 1-byte one).
      const reader = stream.getReader({ mode: "byob" });
      let room = new Uint8Array(STREAM_CHUNK);
      for (let r = await reader.read(room); !r.done; r = await reader.read(room)) {
        await out.write([r.value]);
        await out.flush();
        room = new Uint8Array(r.value.buffer);
      }
      if (!Deno.stdout.isTerminal()) return EXIT_OK;
    }
    if (value) await out.write(encodeOutput(value, encoding));
    await out.line();
    await out.flush();
    return EXIT_OK;
  },
};

/** `cask set <key> [value] [--ttl ms]` */
export const setCommand: Command = {
  name: "set",
  synopsis: "<key> [value]",
  summary: "store a value (read from stdin when not given)",
  details: "Without [value] the raw bytes of stdin are stored, which suits binary data.",
  flags: {
    ...DATA_FLAGS,
    ttl: { type: "string", value: "ms", description: "expire the key after this many ms" },
  },
  async run(args) {
    expectPositionals(args, 1, 2, "<key> [value]");
    // Every argument is checked before the open: a bad one must not leave a new store behind.
    const encoding = encodingOf(args);
    const ttl = integerFlag(args, "ttl", 1, Number.MAX_SAFE_INTEGER);
    // The store refuses a ttl whose expiry passes the largest safe timestamp.
    if (ttl !== undefined && ttl > Number.MAX_SAFE_INTEGER - Date.now()) {
      throw new UsageError(`--ttl ${ttl} puts the expiry past the largest timestamp (2^53 - 1 ms)`);
    }
    const key = keyArg(args, encoding);
    checkKeySize(key);
    const given = args.positionals[1];
    const value = given === undefined ? undefined : decodeArg(given, encoding, "value");
    const options = ttl === undefined ? undefined : { ttl };
    if (value !== undefined) {
      await using db = await openStore(args);
      await db.set(key, value, options);
      return EXIT_OK;
    }
    // Someone who typed `cask set k` at a terminal would otherwise face a silent wait.
    if (Deno.stdin.isTerminal()) {
      console.error("cask set: reading the value from stdin; end it with Ctrl-D");
    } else if (stdinIsDirectory()) {
      // Found before the open: the read would fail with the store made.
      throw new UsageError("stdin is a directory, not the value (`cask set KEY < FILE`)");
    }
    await using db = await openStore(args);
    // The raw bytes of stdin, streamed: a value of any size (up to 4 GiB) never sits whole in memory.
    await db.setStream(key, Deno.stdin.readable, options);
    return EXIT_OK;
  },
};

/** `cask del <key>` */
export const delCommand: Command = {
  name: "del",
  synopsis: "<key>",
  summary: "delete a key; prints true if it existed, false if not",
  flags: DATA_FLAGS,
  async run(args) {
    expectPositionals(args, 1, 1, "<key>");
    // Checked before the open: a bad key must not leave a new store behind.
    const key = keyArg(args, encodingOf(args));
    // Any key get and has read: one `cask load` wrote past the default limit too.
    await using db = await openExisting(args, { maxKeySize: LARGEST_LIMITS.maxKeySize });
    console.log(await db.delete(key));
    return EXIT_OK;
  },
};

/** `cask has <key>` */
export const hasCommand: Command = {
  name: "has",
  synopsis: "<key>",
  summary: "print whether a key exists (exit 1 if not)",
  flags: DATA_FLAGS,
  async run(args) {
    expectPositionals(args, 1, 1, "<key>");
    const key = keyArg(args, encodingOf(args));
    await using db = await openForReading(args);
    const found = await db.has(key);
    console.log(found);
    return found ? EXIT_OK : EXIT_NOT_FOUND;
  },
};

/** `cask scan [--prefix P] [--start S] [--end E] [--reverse] [--limit N] [--keys-only]` */
export const scanCommand: Command = {
  name: "scan",
  synopsis: "",
  summary: "list keys (and values) in key order",
  details: "Each line is <key><TAB><value>, or <key> with --keys-only. Keys or values\n" +
    "holding tabs, newlines or binary data are best listed with --hex or --base64.",
  flags: {
    ...DATA_FLAGS,
    prefix: { type: "string", value: "P", description: "only keys starting with P" },
    start: { type: "string", value: "S", description: "first key to list (inclusive)" },
    end: { type: "string", value: "E", description: "stop before this key (exclusive)" },
    reverse: { type: "boolean", description: "descending key order" },
    limit: { type: "string", value: "N", description: "list at most N keys" },
    "keys-only": { type: "boolean", description: "print keys without values" },
  },
  async run(args) {
    expectPositionals(args, 0, 0, "no arguments");
    const encoding = encodingOf(args);
    const bound = (name: string) => {
      const text = stringFlag(args, name);
      return text === undefined ? undefined : decodeArg(text, encoding, `--${name}`);
    };
    const options = {
      prefix: bound("prefix"),
      start: bound("start"),
      end: bound("end"),
      reverse: booleanFlag(args, "reverse"),
      limit: integerFlag(args, "limit", 0),
    };
    await using db = await openForReading(args);
    const out = new Output();
    // A damaged record ends the scan with an error; the lines before it still go out.
    try {
      if (booleanFlag(args, "keys-only")) {
        for await (const key of db.keys(options)) {
          await out.write(encodeOutput(key, encoding));
          await out.line();
        }
      } else {
        for await (const [key, value] of db.scan(options)) {
          await out.write(encodeOutput(key, encoding));
          await out.write(["\t"]);
          await out.write(encodeOutput(value, encoding));
          await out.line();
        }
      }
    } finally {
      await out.flush();
    }
    return EXIT_OK;
  },
};

// Whether stdin is a directory (`cask set k < /tmp`); a closed stdin fails later, as a read.
function stdinIsDirectory(): boolean {
  try {
    return fstatSync(0).isDirectory();
  } catch {
    return false;
  }
}
