/**
 * Opening the store from the command line: `--dir` and `--sync`, shared by
 * every command that touches data.
 * @module
 */

import { type Cask, open, type OpenOptions, type SyncMode } from "../../mod.ts";
import { type FlagDefs, type ParsedArgs, parseInteger, stringFlag, UsageError } from "./args.ts";

/** Default store directory, relative to the working directory. */
export const DEFAULT_DIR = "./cask-data";

/** `--dir` and `--sync`. */
export const STORE_FLAGS: FlagDefs = {
  dir: { type: "string", value: "path", description: `store directory (default ${DEFAULT_DIR})` },
  sync: {
    type: "string",
    value: "always|never|<ms>",
    description: "fsync every write, leave it to the OS, or fsync every <ms> (default always)",
  },
};

/** Parses a `--sync` value. */
export function parseSync(text: string): SyncMode {
  if (text === "always" || text === "never") return text;
  if (/^\d+$/.test(text)) return { intervalMs: parseInteger(text, "--sync", 1, 3_600_000) };
  throw new UsageError(`--sync must be always, never or a number of ms, got '${text}'`);
}

/** Opens the store the command line names; `options` adds command-specific settings. */
export function openStore(args: ParsedArgs, options: OpenOptions = {}): Promise<Cask> {
  const sync = stringFlag(args, "sync");
  return open(stringFlag(args, "dir", DEFAULT_DIR), {
    ...options,
    ...(sync === undefined ? {} : { sync: parseSync(sync) }),
  });
}
