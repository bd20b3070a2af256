/**
 * `cask verify`: checks every record and hint file without opening the store
 * (no lock, nothing repaired), so it can also run beside a live server.
 * @module
 */

import { verify, type VerifyReport } from "../../mod.ts";
import { booleanFlag, expectPositionals } from "./args.ts";
import type { Command } from "./command.ts";
import { EXIT_FAILURE, EXIT_OK } from "./exit_codes.ts";
import { count, formatBytes } from "../base/human.ts";
import { DIR_FLAG, storeDir } from "./store.ts";
import { requireStore } from "../base/store_dir.ts";

/** `cask verify [--json]` */
export const verifyCommand: Command = {
  name: "verify",
  synopsis: "",
  summary: "check every record's checksum; exit 3 and list the damage if any",
  details: "Reads only: nothing is repaired or truncated and the store is not locked.\n" +
    "Each problem is printed as <kind> <file> at offset <n> (<bytes> bytes), then what it\n" +
    "means on an indented line (a missing file is named there: <file> is the one after it). A\n" +
    "torn tail of the newest file is what an interrupted write leaves; open() cuts it off.",
  flags: {
    dir: DIR_FLAG,
    json: { type: "boolean", description: "print the report as one JSON object" },
  },
  async run(args) {
    expectPositionals(args, 0, 0, "no arguments");
    const dir = storeDir(args);
    // A mistyped path, missing or not, is a usage error here (exit 2).
    await requireStore(dir);
    const report = await verify(dir);
    console.log(booleanFlag(args, "json") ? JSON.stringify(report) : formatReport(report));
    return report.issues.length === 0 ? EXIT_OK : EXIT_FAILURE;
  },
};

function formatReport(r: VerifyReport): string {
  const summary = `checked ${count(r.files, "data file")}, ${count(r.records, "record")}, ` +
    `${formatBytes(r.bytes)}: ` +
    (r.issues.length === 0 ? "no problems" : count(r.issues.length, "problem"));
  return [
    summary,
    ...r.issues.flatMap((i) => [
      `${i.kind} ${i.file} at offset ${i.offset} (${i.bytes} bytes)`,
      `  ${i.message}`,
    ]),
  ].join("\n");
}
