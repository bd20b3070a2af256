/**
 * `cask stats`: how much of the store is live and how much compaction would
 * reclaim, as a table for people or JSON for tools.
 * @module
 */

import type { Stats } from "../../mod.ts";
import { booleanFlag, expectPositionals } from "./args.ts";
import type { Command } from "./command.ts";
import { EXIT_OK } from "./exit_codes.ts";
import { formatBytes } from "../base/human.ts";
import { openForReading, STORE_FLAGS } from "./store.ts";

/** `cask stats [--json]` */
export const statsCommand: Command = {
  name: "stats",
  synopsis: "",
  summary: "show key count and live/dead bytes per data file",
  flags: {
    ...STORE_FLAGS,
    json: { type: "boolean", description: "print the figures as one JSON object" },
  },
  async run(args) {
    expectPositionals(args, 0, 0, "no arguments");
    await using db = await openForReading(args);
    const stats = db.stats();
    console.log(booleanFlag(args, "json") ? JSON.stringify(stats) : formatStats(stats));
    return EXIT_OK;
  },
};

function formatStats(s: Stats): string {
  const total = s.liveBytes + s.deadBytes;
  const lines = [
    `keys        ${s.keys}`,
    `live bytes  ${formatBytes(s.liveBytes)}`,
    `dead bytes  ${formatBytes(s.deadBytes)}${
      total > 0 ? ` (${percent(s.deadBytes / total)})` : ""
    }`,
    `data files  ${s.files.length}`,
  ];
  for (const f of s.files) {
    lines.push(
      `  data.${f.id}`.padEnd(14) + `${formatBytes(f.size).padStart(10)}  ` +
        `live ${formatBytes(f.liveBytes).padStart(10)}  dead ${percent(f.deadRatio)}`,
    );
  }
  return lines.join("\n");
}

function percent(ratio: number): string {
  return `${(ratio * 100).toFixed(1)}%`;
}
