/**
 * `--help` texts, generated from the command table so they cannot drift from
 * the flags actually accepted.
 * @module
 */

import type { FlagDefs } from "./args.ts";
import type { Command } from "./command.ts";
import { EXIT_FAILURE, EXIT_NOT_FOUND, EXIT_OK, EXIT_USAGE } from "./exit_codes.ts";
import { VERSION } from "./version.ts";

/** Flags every command accepts. */
export const HELP_FLAGS: FlagDefs = {
  help: { type: "boolean", description: "show this help" },
};

const EXIT_CODES = `Exit codes:
  ${EXIT_OK}  success
  ${EXIT_NOT_FOUND}  key not found (get, has)
  ${EXIT_USAGE}  usage error (bad arguments, or a key/value the store refuses)
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
    "Options for all commands:",
    "  --help     show help",
    "  --version  print the version",
    "",
    EXIT_CODES,
  ].join("\n");
}

/** The text printed by `cask <command> --help`. */
export function commandHelp(command: Command): string {
  const flags = Object.entries({ ...command.flags, ...HELP_FLAGS }).map(([name, def]) => [
    `--${name}${def.value === undefined ? "" : ` <${def.value}>`}`,
    def.description,
  ]);
  const width = Math.max(...flags.map(([usage]) => usage.length));
  return [
    `Usage: cask ${command.name}${command.synopsis ? ` ${command.synopsis}` : ""} [options]`,
    "",
    `${command.summary[0].toUpperCase()}${command.summary.slice(1)}.`,
    ...(command.details === undefined ? [] : ["", command.details]),
    "",
    "Options:",
    ...flags.map(([usage, description]) => `  ${usage.padEnd(width)}  ${description}`),
  ].join("\n");
}
