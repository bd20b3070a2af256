/**
 * `cask dump` and `cask load`: copy a store's contents to and from the
 * portable JSON-lines format (see dump_format.ts).
 * @module
 */

import type { BatchOp } from "../../mod.ts";
import { expectPositionals, integerFlag } from "./args.ts";
import type { Command } from "./command.ts";
import { type DumpRecord, formatDumpLine, parseDumpLine } from "./dump_format.ts";
import { EXIT_OK } from "./exit_codes.ts";
import { readLines } from "./lines.ts";
import { Output } from "./output.ts";
import { openForReading, openStore, STORE_FLAGS } from "./store.ts";

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
    for await (const [key, value] of db.scan()) {
      const ttl = await db.ttl(key);
      // Expired between the scan and the ttl lookup: it is gone, skip it.
      if (ttl === undefined) continue;
      const record: DumpRecord = { key, value };
      if (ttl !== Infinity) record.expireAt = Date.now() + ttl;
      await out.line(formatDumpLine(record));
    }
    await out.flush();
    return EXIT_OK;
  },
};

/** `cask load [file]` */
export const loadCommand: Command = {
  name: "load",
  synopsis: "[file]",
  summary: "store the keys of a dump read from a file or stdin",
  details: "Keys are written in atomic batches: after a crash or a bad line, every\n" +
    "batch is either fully stored or not at all. Keys already expired are skipped.",
  flags: {
    ...STORE_FLAGS,
    batch: {
      type: "string",
      value: "N",
      description: `keys per atomic batch (default ${DEFAULT_BATCH})`,
    },
  },
  async run(args) {
    expectPositionals(args, 0, 1, "[file]");
    const batchSize = integerFlag(args, "batch", 1) ?? DEFAULT_BATCH;
    const path = args.positionals[0];
    const file = path === undefined || path === "-" ? undefined : await Deno.open(path);
    await using db = await openStore(args);
    let ops: BatchOp[] = [];
    let bytes = 0;
    let loaded = 0;
    let expired = 0;
    const commit = async () => {
      await db.atomic(ops);
      loaded += ops.length;
      ops = [];
      bytes = 0;
    };
    let lineNumber = 0;
    for await (const line of readLines((file ?? Deno.stdin).readable)) {
      lineNumber++;
      if (line.trim() === "") continue;
      const { key, value, expireAt } = parseDumpLine(line, lineNumber);
      if (expireAt !== undefined && expireAt <= Date.now()) {
        expired++;
        continue;
      }
      ops.push({ type: "set", key, value, expireAt });
      bytes += key.length + value.length;
      if (ops.length >= batchSize || bytes >= BATCH_BYTES) await commit();
    }
    await commit();
    console.log(
      `loaded ${loaded} keys` + (expired > 0 ? ` (${expired} already expired, skipped)` : ""),
    );
    return EXIT_OK;
  },
};
