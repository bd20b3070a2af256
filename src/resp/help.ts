/**
 * The HELP sub-command's reply, laid out as Redis lays it out.
 * @module
 */

import type { Reply } from "./encoder.ts";

/**
 * `command`'s HELP: Redis' first line, then `entries` (each a line naming a
 * sub-command and indented lines saying what it does), then HELP's own.
 */
export function helpReply(command: string, entries: readonly string[]): Reply {
  return [
    `${command} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:`,
    ...entries,
    "HELP",
    "    Prints this help.",
  ].map((status) => ({ status }));
}
