/**
 * The shape every subcommand has, so the dispatcher and `--help` treat them alike.
 * @module
 */

import type { FlagDefs, ParsedArgs } from "./args.ts";

/** One `cask <name>` subcommand. */
export interface Command {
  /** The word after `cask`. */
  name: string;
  /** Positional arguments for the usage line, e.g. `<key> [value]`. */
  synopsis: string;
  /** One line for the command list. */
  summary: string;
  /** Further paragraphs for `cask <name> --help`. */
  details?: string;
  /** Accepted flags (`--help` is added for every command). */
  flags: FlagDefs;
  /** What to say of the `n` warnings of lost data its store gave (see main.ts). */
  lossMessage?: (n: number) => string;
  /** Runs the command; resolves to the process exit code. */
  run(args: ParsedArgs): Promise<number>;
}
