/**
 * `cask dump` and `cask load`: copy a store's contents to and from the
 * portable JSON-lines format (see dump_format.ts).
 * @module
 */

import { count } from "../base/human.ts";
import { type BatchOp, type Cask, CorruptionError, type VersionedEntry } from "../../mod.ts";
import { booleanFlag, expectPositionals, integerFlag, UsageError } from "./args.ts";
import type { Command } from "./command.ts";
import { DumpFormatError } from "./dump_error.ts";
import { type DumpRecord, formatDumpLine, readDumpLine } from "./dump_format.ts";
import { wholeText } from "./encoding.ts";
import { EXIT_FAILURE, EXIT_OK } from "./exit_codes.ts";
import { readLines, withoutBom } from "./lines.ts";
import { LoadError } from "./load_error.ts";
import { Output } from "./output.ts";
import { LARGEST_LIMITS, openForReading, openIfPresent, openStore, STORE_FLAGS } from "./store.ts";

const DEFAULT_BATCH = 1000;
// A batch is also cut at this many bytes, so a dump of big values is not
// held in memory a thousand values at a time.
const BATCH_BYTES = 16 * 1024 * 1024;

/** `cask dump` */
export const dumpCommand: Command = {
  name: "dump",
  synopsis: "",
  summary: "print every key as a JSON line (base64 key/value, expireAt)",
  details: 'Line format: {"key":"<base64>","value":"<base64>","expireAt":<ms since epoch>}\n' +
    "expireAt appears only for keys that expire. Restore with `cask load`.",
  flags: STORE_FLAGS,
  async run(args) {
    expectPositionals(args, 0, 0, "no arguments");
    await using db = await openForReading(args);
    const out = new Output();
    // The entries carry each key's exact expiry: one computed from ttl() and the
    // clock moved up to a millisecond later at every dump and load.
    const write = async ({ key, value, expireAt }: VersionedEntry) => {
      const record: DumpRecord = { key, value };
      if (expireAt !== 0) record.expireAt = expireAt;
      await out.write(formatDumpLine(record));
      await out.line();
    };
    // A damaged record stops the scan: the key after the last line is read
    // alone, written if it reads, named on stderr if it does not, and the
    // scan goes on after it. A dump is what saves a damaged store's data.
    let from: Uint8Array | undefined, skipped = 0;
    try {
      for (;;) {
        let last: Uint8Array | undefined;
        try {
          for await (const entry of db.scanEntries(from && { start: from })) {
            await write(entry);
            last = entry.key;
          }
          break;
        } catch (e) {
          if (!(e instanceof CorruptionError)) throw e;
          const start = last === undefined ? from : after(last);
          const [next] = await Array.fromAsync(db.keys({ start, limit: 1 }));
          if (next === undefined) throw e;
          const entry = await db.getEntry(next).catch((e) => e);
          if (entry instanceof CorruptionError) {
            console.error(`cask dump: key ${next.toHex()} (hex) left out: ${entry.message}`);
            skipped++;
          } else if (entry instanceof Error) throw entry;
          else if (entry !== undefined) await write(entry);
          from = after(next);
        }
      }
    } finally {
      await out.flush();
    }
    if (skipped === 0) return EXIT_OK;
    console.error(
      `cask dump: ${count(skipped, "damaged key")} left out; every other key is dumped`,
    );
    return EXIT_FAILURE;
  },
};

// The least key after `key` in byte order.
function after(key: Uint8Array): Uint8Array {
  const k = new Uint8Array(key.length + 1);
  k.set(key);
  return k;
}

/** `cask load [file] [--batch N | --atomic]` */
export const loadCommand: Command = {
  name: "load",
  synopsis: "[file]",
  summary: "store the keys of a dump read from a file or stdin",
  details: "Keys are written in atomic batches: after a crash or a bad line, every\n" +
    "batch is either fully stored or not at all, and a bad line exits 2 saying how\n" +
    "many keys were stored. --atomic makes the whole dump one batch (held in memory):\n" +
    "all of it is stored or none. Keys already expired are skipped.",
  flags: {
    ...STORE_FLAGS,
    batch: {
      type: "string",
      value: "N",
      description: `keys per atomic batch (default ${DEFAULT_BATCH})`,
    },
    atomic: { type: "boolean", description: "store the whole dump or nothing (one batch)" },
  },
  async run(args) {
    expectPositionals(args, 0, 1, "[file]");
    const atomic = booleanFlag(args, "atomic");
    const batchSize = integerFlag(args, "batch", 1);
    if (atomic && batchSize !== undefined) {
      throw new UsageError("--atomic and --batch exclude each other (--atomic is one batch)");
    }
    const path = args.positionals[0] && wholeText(args.positionals[0], "[file]");
    const file = path === undefined || path === "-" ? undefined : await Deno.open(path);
    if (file && (await file.stat()).isDirectory) {
      file.close();
      throw new UsageError(`${path} is a directory, not a dump`);
    }
    let db = await openIfPresent(args, LARGEST_LIMITS);
    const limits = atomic
      ? { keys: Infinity, bytes: Infinity }
      : { keys: batchSize ?? DEFAULT_BATCH, bytes: BATCH_BYTES };
    const tally = { loaded: 0, expired: 0 };
    try {
      const store = async () => db ??= await openStore(args, LARGEST_LIMITS);
      await loadLines(store, readLines((file ?? Deno.stdin).readable), limits, tally);
    } catch (e) {
      throw new LoadError(e, tally.loaded, atomic);
    } finally {
      await db?.close();
    }
    console.log(
      `loaded ${count(tally.loaded, "key")}` +
        (tally.expired > 0 ? ` (${tally.expired} already expired, skipped)` : ""),
    );
    return EXIT_OK;
  },
};

// Stores the keys of dump `lines` in atomic batches cut at `limits`, counting
// into `tally` as batches commit, so a failure can say how far it got. The
// store comes from `store()` at the first commit (see openIfPresent).
async function loadLines(
  store: () => Promise<Cask>,
  lines: AsyncIterable<Uint8Array[]>,
  limits: { keys: number; bytes: number },
  tally: { loaded: number; expired: number },
): Promise<void> {
  let ops: BatchOp[] = [];
  let bytes = 0;
  const commit = async () => {
    await (await store()).atomic(ops);
    tally.loaded += ops.length;
    ops = [];
    bytes = 0;
  };
  let lineNumber = 0;
  for await (const line of lines) {
    lineNumber++;
    const record = readDumpLine(lineNumber === 1 ? withoutBom(line) : line, lineNumber);
    if (record === undefined) continue;
    const { key, value, expireAt } = record;
    // Checked here, not left to the store, which refuses a whole batch without naming the line.
    for (
      const [what, bytes, max] of [
        ["key", key, LARGEST_LIMITS.maxKeySize],
        ["value", value, LARGEST_LIMITS.maxValueSize],
      ] as const
    ) {
      if (bytes.length > max) {
        throw new DumpFormatError(
          lineNumber,
          `${what} is ${bytes.length} bytes; a store takes at most ${max}`,
        );
      }
    }
    if (expireAt !== undefined && expireAt <= Date.now()) {
      tally.expired++;
      continue;
    }
    ops.push({ type: "set", key, value, expireAt });
    bytes += key.length + value.length;
    if (ops.length >= limits.keys || bytes >= limits.bytes) await commit();
  }
  // A dump that stores nothing (empty, or all expired) opens no store either.
  if (ops.length > 0) await commit();
}
