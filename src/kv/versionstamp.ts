/**
 * Versionstamps: the 20 hex digits Deno KV shows for a commit. Cask's are
 * the store's commit sequence number in 16 hex digits followed by "0000", so
 * they sort (as strings) in commit order, across restarts.
 * @module
 */

const HEX20 = /^[0-9a-fA-F]{20}$/;

/** The versionstamp of commit sequence `sequence`. */
export function versionstampOf(sequence: number): string {
  return sequence.toString(16).padStart(16, "0") + "0000";
}

/**
 * The sequence a versionstamp names, for a check. A well-formed stamp Cask
 * never issued gives undefined: no key has it, so its check fails as in
 * Deno KV. A malformed one throws TypeError("Invalid check") as Deno KV does.
 */
export function sequenceOf(versionstamp: string): number | undefined {
  if (typeof versionstamp !== "string" || !HEX20.test(versionstamp)) {
    throw new TypeError("Invalid check");
  }
  if (!versionstamp.endsWith("0000")) return undefined;
  const n = parseInt(versionstamp.slice(0, 16), 16);
  return Number.isSafeInteger(n) ? n : undefined;
}
