/**
 * `cask compact`: rewrites live records into fresh files and drops the dead
 * ones, with a progress bar when a person is watching.
 * @module
 */

import { expectPositionals } from "./args.ts";
import type { Command } from "./command.ts";
import { EXIT_FAILURE, EXIT_OK } from "./exit_codes.ts";
import { count, formatBytes } from "../base/human.ts";
import { ProgressBar } from "./progress.ts";
import { openExisting, STORE_FLAGS } from "./store.ts";

/** `cask compact` */
export const compactCommand: Command = {
  name: "compact",
  synopsis: "",
  summary: "reclaim the space of overwritten, deleted and expired records",
  details: "Shows a progress bar when stderr is a terminal; prints one summary line. Damaged\n" +
    "records are dropped and reported, and the command then exits 3.",
  flags: STORE_FLAGS,
  async run(args) {
    expectPositionals(args, 0, 0, "no arguments");
    // Damage the open skips, or the compaction finds, is dropped for good by
    // the compaction: reported, and the run then ends with the corruption exit
    // code, as verify does.
    let damaged = 0;
    await using db = await openExisting(args, {
      onWarning: (w) => {
        console.warn(`cask: ${w.message}`);
        if (w.kind === "damaged") damaged++;
      },
    });
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
    if (damaged > 0) {
      console.error(
        `cask compact: damaged data was dropped for good (${count(damaged, "place")}, see above)`,
      );
      return EXIT_FAILURE;
    }
    return EXIT_OK;
  },
};
