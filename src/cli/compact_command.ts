/**
 * `cask compact`: rewrites live records into fresh files and drops the dead
 * ones, with a progress bar when a person is watching.
 * @module
 */

import { expectPositionals } from "./args.ts";
import type { Command } from "./command.ts";
import { EXIT_OK } from "./exit_codes.ts";
import { count, formatBytes } from "../base/human.ts";
import { ProgressBar } from "./progress.ts";
import { openExisting, STORE_FLAGS } from "./store.ts";

/** `cask compact` */
export const compactCommand: Command = {
  name: "compact",
  synopsis: "",
  summary: "reclaim the space of overwritten, deleted and expired records",
  details: "Shows a progress bar when stderr is a terminal; prints one summary line. Damaged\n" +
    "records, and records of missing files, are dropped for good and reported, and the command\n" +
    "then exits 3.",
  flags: STORE_FLAGS,
  lossMessage: (n) => `damaged data was dropped for good (${count(n, "warning")} above)`,
  async run(args) {
    expectPositionals(args, 0, 0, "no arguments");
    await using db = await openExisting(args);
    const bar = Deno.stderr.isTerminal() ? new ProgressBar("compacting") : undefined;
    let result;
    try {
      result = await db.compact({
        onProgress: bar && (({ bytesDone, bytesTotal }) => bar.update(bytesDone, bytesTotal)),
      });
    } finally {
      bar?.finish();
    }
    console.log(
      `compacted ${count(result.filesIn, "file")} (${formatBytes(result.bytesIn)}) into ` +
        `${result.filesOut} (${formatBytes(result.bytesOut)}) in ${
          Math.round(result.durationMs)
        } ms`,
    );
    return EXIT_OK;
  },
};
