/**
 * `cask backup`: an online, consistent copy of the store into another
 * directory, taken beside a running writer (`cask serve`) if need be.
 * @module
 */

import { expectPositionals } from "./args.ts";
import type { Command } from "./command.ts";
import { EXIT_OK } from "./exit_codes.ts";
import { count, formatBytes } from "../base/human.ts";
import { wholeText } from "./encoding.ts";
import { openForReading, STORE_FLAGS } from "./store.ts";

/** `cask backup <target>` */
export const backupCommand: Command = {
  name: "backup",
  synopsis: "<target>",
  summary: "copy a consistent snapshot of the store into directory <target>",
  details: "Sealed data files are hard-linked when <target> is on the same file system\n" +
    "(copied otherwise); the file being written is copied up to the snapshot. Run it\n" +
    "again into the same <target> to copy only what changed. Open <target> like any store.",
  flags: STORE_FLAGS,
  async run(args) {
    expectPositionals(args, 1, 1, "<target>");
    const target = wholeText(args.positionals[0], "<target>");
    await using db = await openForReading(args);
    const r = await db.backup(target);
    console.log(
      `backed up sequence ${r.sequence} into ${target}: ${count(r.files, "file")} ` +
        `(${r.filesLinked} linked, ${r.filesKept} unchanged), ${
          formatBytes(r.bytesCopied)
        } copied` +
        (r.filesRemoved > 0 ? `, ${count(r.filesRemoved, "old file")} removed` : ""),
    );
    return EXIT_OK;
  },
};
