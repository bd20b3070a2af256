/**
 * Opening the store from the command line: `--dir` (or `CASK_DIR`) and
 * `--sync`, shared by every command that touches data.
 * @module
 */

import { type Cask, open, type OpenOptions, type SyncMode } from "../../mod.ts";
import {
  type FlagDef,
  type FlagDefs,
  type ParsedArgs,
  parseInteger,
  stringFlag,
  UsageError,
} from "./args.ts";

/** Store directory when neither `--dir` nor `CASK_DIR` names one (relative to the working dir). */
export const DEFAULT_DIR = "./cask-data";

/** The environment variable that sets the store directory when `--dir` is absent. */
export const DIR_ENV = "CASK_DIR";

/** `--dir`, accepted by every command. */
export const DIR_FLAG: FlagDef = {
  type: "string",
  value: "path",
  description: `store directory (default $${DIR_ENV}, else ${DEFAULT_DIR})`,
};

/** `--dir` and `--sync`. */
export const STORE_FLAGS: FlagDefs = {
  dir: DIR_FLAG,
  sync: {
    type: "string",
    value: "always|never|<ms>",
    description: "fsync every write, leave it to the OS, or fsync every <ms> (default always)",
  },
};

/** The directory the command line names: `--dir`, else `$CASK_DIR`, else {@link DEFAULT_DIR}. */
export function storeDir(args: ParsedArgs): string {
  // An empty CASK_DIR (`CASK_DIR= cask ...`) means unset, not the working directory.
  return stringFlag(args, "dir") ?? (Deno.env.get(DIR_ENV) || DEFAULT_DIR);
}

/** Parses a `--sync` value. */
export function parseSync(text: string): SyncMode {
  if (text === "always" || text === "never") return text;
  if (/^\d+$/.test(text)) return { intervalMs: parseInteger(text, "--sync", 1, 3_600_000) };
  throw new UsageError(`--sync must be always, never or a number of ms, got '${text}'`);
}

/** Opens the store the command line names; `options` adds command-specific settings. */
export function openStore(args: ParsedArgs, options: OpenOptions = {}): Promise<Cask> {
  const sync = stringFlag(args, "sync");
  return open(storeDir(args), {
    ...options,
    ...(sync === undefined ? {} : { sync: parseSync(sync) }),
  });
}
