/**
 * How many clients the process' open-file limit leaves room for. Past that
 * limit accept() fails and clients wait unanswered, so maxclients is lowered
 * to fit it at start, as Redis does.
 * @module
 */

// Descriptors left for the store's files and the runtime's own, as Redis
// reserves 32 for its files.
const RESERVED_FDS = 32;
const LIMITS_FILE = "/proc/self/limits";

/**
 * `wanted` clients, or fewer when the soft RLIMIT_NOFILE has no room for them
 * (logged then). Unchanged where the limit cannot be read (not Linux, or no
 * read permission, which is checked rather than prompted for).
 */
export function fitOpenFiles(wanted: number): number {
  const limit = openFileLimit();
  if (limit === undefined || limit - RESERVED_FDS >= wanted) return wanted;
  const fitted = Math.max(1, limit - RESERVED_FDS);
  console.error(
    `cask serve: maxclients ${wanted} lowered to ${fitted} to fit the open file limit of ` +
      `${limit} less ${RESERVED_FDS} kept for files; raise it with ulimit -n`,
  );
  return fitted;
}

function openFileLimit(): number | undefined {
  if (Deno.permissions.querySync({ name: "read", path: LIMITS_FILE }).state !== "granted") {
    return undefined;
  }
  try {
    // "Max open files  <soft>  <hard>  files"; the soft limit may be "unlimited".
    const soft = /^Max open files\s+(\d+)\s/m.exec(Deno.readTextFileSync(LIMITS_FILE));
    return soft === null ? undefined : Number(soft[1]);
  } catch {
    return undefined;
  }
}
