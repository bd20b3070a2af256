/**
 * Opening the store from the command line: `--dir` (or `CASK_DIR`) and `--sync`, shared by
 * every command that touches data. Commands that only read take a store that
 * another process holds (`cask serve`, say) read-only, and refuse a directory
 * that holds no store rather than create one at a mistyped path.
 * @module
 */

import {
  type Cask,
  InvalidArgumentError,
  LockedError,
  open,
  type OpenOptions,
  type ProblemKind,
  type RecoveryWarning,
  type SyncMode,
} from "../../mod.ts";
import { holdsStore, requireStore } from "../base/store_dir.ts";
import {
  type FlagDef,
  type FlagDefs,
  type ParsedArgs,
  parseInteger,
  stringFlag,
  UsageError,
} from "./args.ts";
import { wholeText } from "./encoding.ts";

/**
 * The largest limits a store takes (16 MiB keys, 1 GiB values): what commands
 * that must handle any stored key or value open it with. `cask set` streams
 * values past the default maxValueSize, and a store opened through the API may
 * have taken keys past the default maxKeySize.
 */
export const LARGEST_LIMITS = { maxKeySize: 16 * 1024 * 1024, maxValueSize: 1024 * 1024 * 1024 };

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
  const flag = stringFlag(args, "dir");
  if (flag !== undefined) return wholeText(flag, "--dir");
  let env: string | undefined;
  try {
    env = Deno.env.get(DIR_ENV);
  } catch {
    // Deno refuses a variable that is not UTF-8.
    throw new UsageError(`$${DIR_ENV} holds bytes that are not UTF-8`);
  }
  // An empty CASK_DIR (`CASK_DIR= cask ...`) means unset, not the working directory.
  return env ? wholeText(env, `$${DIR_ENV}`) : DEFAULT_DIR;
}

/** Parses a `--sync` value. */
export function parseSync(text: string): SyncMode {
  if (text === "always" || text === "never") return text;
  if (/^\d+$/.test(text)) {
    return { intervalMs: parseInteger(text, "--sync (always, never or ms)", 1, 3_600_000) };
  }
  throw new UsageError(`--sync must be always, never or a number of ms, got '${text}'`);
}

/** Opens the store the command line names; `options` adds command-specific settings. */
export async function openStore(args: ParsedArgs, options: OpenOptions = {}): Promise<Cask> {
  const dir = storeDir(args);
  await refuseFile(dir);
  return await open(dir, storeOptions(args, options));
}

// A mistyped --dir, as read commands treat one (exit 2), not an I/O failure.
async function refuseFile(dir: string): Promise<void> {
  if ((await Deno.stat(dir).catch(() => undefined))?.isFile) {
    throw new InvalidArgumentError(`${dir} is a file, not a store directory`);
  }
}

function storeOptions(args: ParsedArgs, options: OpenOptions): OpenOptions {
  const sync = stringFlag(args, "sync");
  return {
    onWarning: printWarning,
    ...options,
    ...(sync === undefined ? {} : { sync: parseSync(sync) }),
  };
}

// Warnings that data of the store is gone or cannot be read. A torn tail or a
// batch cut short is what any crash leaves (nothing acknowledged is lost), a
// bad hint is read past (its data file is scanned), and a foreign file is not
// the store's.
const LOSSES: ReadonlySet<ProblemKind> = new Set(["damaged", "missing-file", "bad-file-header"]);

// How many such warnings the stores opened by this run gave (the command's
// output may lack what they name, so the run ends with the corruption exit
// code, see main.ts, as verify's does), and how many warnings in all.
let losses = 0;
let printed = 0;

/** Prints a store's warning on stderr, counting those that say data is lost. */
export function printWarning(w: RecoveryWarning): void {
  console.warn(`cask: ${w.message}`);
  printed++;
  if (LOSSES.has(w.kind)) losses++;
}

/**
 * How many warnings the stores opened since the last call printed, when any
 * of them told of lost data (0 when none did): the exit message counts them
 * all, the batches a damaged record cut short included.
 */
export function takeLosses(): number {
  const n = losses > 0 ? printed : 0;
  losses = printed = 0;
  return n;
}

/**
 * Opens the store the command line names for a command that has nothing to do
 * in an empty store (`del`, `compact`): one that is not there is not created.
 * @throws {InvalidArgumentError} the directory holds no store.
 */
export async function openExisting(args: ParsedArgs, options: OpenOptions = {}): Promise<Cask> {
  await requireStore(storeDir(args));
  return await openStore(args, options);
}

/**
 * For a command that creates the store if need be from its input (`load`):
 * the store opened now when the directory holds one, so a lock held by
 * another process fails before any input is read; else undefined, and the
 * caller opens it once it has something to write, so input that fails before
 * that leaves no new store behind.
 */
export async function openIfPresent(
  args: ParsedArgs,
  options: OpenOptions = {},
): Promise<Cask | undefined> {
  // Its options and directory are checked now either way: a mistake is a usage error at once.
  const resolved = storeOptions(args, options), dir = storeDir(args);
  await refuseFile(dir);
  return await holdsStore(dir) ? await open(dir, resolved) : undefined;
}

/**
 * Opens the store the command line names for a command that only reads: as
 * the writer when it can be (so a torn tail is repaired as on any open),
 * read-only, saying so on stderr, when another process holds it or the
 * process may not write there (file modes, or Deno's `--allow-write` not
 * granted).
 * @throws {InvalidArgumentError} the directory holds no store (nothing is created).
 */
export async function openForReading(args: ParsedArgs): Promise<Cask> {
  const dir = storeDir(args);
  const options = storeOptions(args, {});
  await requireStore(dir);
  let why: string;
  try {
    return await open(dir, options);
  } catch (e) {
    if (e instanceof LockedError) why = "is in use by another process";
    else if (writeDenied(e)) why = "cannot be written by this process";
    else throw e;
  }
  console.error(`cask: ${dir} ${why}; reading it read-only`);
  return await open(dir, { onWarning: printWarning, readOnly: true });
}

// Whether `e`, or an error it was caused by, says the process may not write:
// file modes, Deno's permissions, or a read-only file system (EROFS, which
// Deno gives no class of its own).
function writeDenied(e: unknown): boolean {
  for (let c = e; c instanceof Error; c = c.cause) {
    if (
      c instanceof Deno.errors.PermissionDenied || c instanceof Deno.errors.NotCapable ||
      (c as { code?: unknown }).code === "EROFS"
    ) return true;
  }
  return false;
}
