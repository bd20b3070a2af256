/**
 * The errors Deno KV's argument conversion (serde_v8) raises for a value of
 * the wrong type, in its words, so code matching on them keeps working.
 * @module
 */

/** How serde_v8 names the type of `v`. */
export function serdeType(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  if (typeof v === "boolean") return "Boolean";
  if (typeof v === "number") return "Number";
  if (typeof v === "object" || typeof v === "function") return "unknown";
  return typeof v;
}

/** serde_v8's TypeError for `v` where a value of type `expected` was wanted. */
export function serdeError(expected: string, v: unknown): TypeError {
  return new TypeError(`serde_v8 error: invalid type; expected: ${expected}, got: ${serdeType(v)}`);
}
