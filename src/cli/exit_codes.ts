/**
 * Exit codes of `cask` and which failure gets which, so scripts can tell a
 * missing key from a typo from a damaged store.
 * @module
 */

import { CaskError, CorruptionError } from "../../mod.ts";
import { UsageError } from "./args.ts";
import { DumpFormatError } from "./dump_error.ts";
import { LoadError } from "./load_error.ts";

/** Success. */
export const EXIT_OK = 0;
/** The key asked for (get, has) does not exist. */
export const EXIT_NOT_FOUND = 1;
/** Bad command line or dump to load, or an argument the store refuses (key too long...). */
export const EXIT_USAGE = 2;
/** Corruption, I/O failure, locked store or an input file that cannot be read. */
export const EXIT_FAILURE = 3;

/** The exit code for an error that ended a command. */
export function exitCodeFor(e: unknown): number {
  if (e instanceof LoadError) return exitCodeFor(e.cause);
  if (e instanceof UsageError || e instanceof DumpFormatError) return EXIT_USAGE;
  if (e instanceof CaskError && e.code === "INVALID_ARGUMENT") return EXIT_USAGE;
  return EXIT_FAILURE;
}

/** One line for stderr; unexpected errors keep their stack, since they are bugs. */
export function describeError(e: unknown): string {
  if (e instanceof LoadError) return `${describeError(e.cause)}; ${e.message}`;
  if (e instanceof CorruptionError && e.file !== undefined && !e.message.includes(e.file)) {
    return `${e.message} (${e.file}${e.offset === undefined ? "" : ` at offset ${e.offset}`})`;
  }
  // The store's own errors say what failed, their cause (EACCES, EROFS...) why.
  if (e instanceof CaskError && e.cause instanceof Error && !e.message.includes(e.cause.message)) {
    return `${e.message}: ${e.cause.message}`;
  }
  // Operating-system errors (missing file, port in use, disk full...) explain
  // themselves; those Deno has no class for (ENOSPC) end in their errno.
  const osError = Object.values(Deno.errors).some((kind) => e instanceof kind) ||
    (e instanceof Error && /\(os error \d+\)$/.test(e.message));
  if (
    e instanceof UsageError || e instanceof CaskError || e instanceof DumpFormatError || osError
  ) {
    return (e as Error).message;
  }
  return e instanceof Error ? (e.stack ?? e.message) : String(e);
}
