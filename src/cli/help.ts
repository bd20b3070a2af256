/**
 * `--help` texts, generated from the command table so they cannot drift from
 * the flags actually accepted.
 * @module
 */

import type { FlagDef, FlagDefs } from "./args.ts";
import type { Command } from "./command.ts";
import { ENCODING_FLAGS } from "./encoding.ts";
import { EXIT_FAILURE, EXIT_NOT_FOUND, EXIT_OK, EXIT_USAGE } from "./exit_codes.ts";
import { DEFAULT_DIR, DIR_ENV, STORE_FLAGS } from "./store.ts";
import { VERSION } from "./version.ts";

/** Flags every command accepts. */
export const HELP_FLAGS: FlagDefs = {
  help: { type: "boolean", description: "show this help" },
};

// The flags the overview lists, each with the commands that take it, so a
// newcomer learns of --dir or --hex without opening every command's help.
const SHARED_FLAGS: FlagDefs = { ...STORE_FLAGS, ...ENCODING_FLAGS };

const EXIT_CODES = `Exit codes:
  ${EXIT_OK}  success
  ${EXIT_NOT_FOUND}  key not found (get, has)
  ${EXIT_USAGE}  usage error (bad arguments, a key/value the store refuses, a malformed dump)
  ${EXIT_FAILURE}  corruption, I/O error, store locked by another process`;

/** The overview printed by `cask --help`. */
export function mainHelp(commands: readonly Command[]): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    `cask ${VERSION}: a Bitcask-style key-value store`,
    "",
    "Usage: cask <command> [options]    (cask <command> --help for details)",
    "",
    "Commands:",
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    "",
    ...sharedFlagHelp(commands),
    "Other options:",
    "  -h, --help     show this help (after a command: that command's help)",
    "  -V, --version  print the version",
    "",
    "Environment:",
    `  ${DIR_ENV}  store directory when --dir is not given (default ${DEFAULT_DIR})`,
    "",
    EXIT_CODES,
  ].join("\n");
}

/** The text printed by `cask <command> --help`. */
export function commandHelp(command: Command): string {
  return [
    `Usage: cask ${command.name}${command.synopsis ? ` ${command.synopsis}` : ""} [options]`,
    "",
    `${command.summary[0].toUpperCase()}${command.summary.slice(1)}.`,
    ...(command.details === undefined ? [] : ["", command.details]),
    "",
    "Options:",
    ...flagLines({ ...command.flags, ...HELP_FLAGS }),
  ].join("\n");
}

// One block per set of commands, e.g. "Options of get, set, del, has, scan:".
function sharedFlagHelp(commands: readonly Command[]): string[] {
  const blocks = new Map<string, Record<string, FlagDef>>();
  for (const [name, def] of Object.entries(SHARED_FLAGS)) {
    const heading = takers(commands, (c) => name in c.flags);
    blocks.set(heading, { ...blocks.get(heading), [name]: def });
  }
  const lines: string[] = [];
  for (const [heading, flags] of blocks) {
    lines.push(`Options of ${heading}:`, ...flagLines(flags), "");
  }
  return lines;
}

// "every command", "every command but verify" or "get, set, del".
function takers(commands: readonly Command[], takes: (c: Command) => boolean): string {
  const yes = commands.filter(takes).map((c) => c.name);
  const no = commands.filter((c) => !takes(c)).map((c) => c.name);
  if (no.length === 0) return "every command";
  return no.length < yes.length ? `every command but ${no.join(", ")}` : yes.join(", ");
}

function flagLines(flags: FlagDefs): string[] {
  const rows = Object.entries(flags).map(([name, def]) => [
    `--${name}${def.value === undefined ? "" : ` <${def.value}>`}`,
    def.description,
  ]);
  const width = Math.max(...rows.map(([usage]) => usage.length));
  return rows.map(([usage, description]) => `  ${usage.padEnd(width)}  ${description}`);
}
