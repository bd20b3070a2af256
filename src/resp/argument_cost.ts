/**
 * What a request's arguments cost the server's memory, as the query-buffer
 * limits count it: each argument's bytes plus the object that holds it (and,
 * for a command queued in MULTI, the record kept until EXEC). The
 * object is counted so that a command of a million empty arguments, a few MB
 * on the wire, is not free while it costs the heap a hundred times that.
 * @module
 */

/**
 * Heap bytes one argument takes besides its bytes: a Uint8Array view and its
 * slot in the argument array, 120 bytes as measured with Deno 2.9 (the
 * parser holding a million empty arguments grew the heap by 120 MB).
 */
export const ARGUMENT_OVERHEAD = 128;

/**
 * Heap bytes a command queued in MULTI takes besides its arguments: its copy's
 * buffer, its record and closure, its key list. 3-argument SETs measure 870
 * bytes each, arguments included (Deno 2.9).
 */
export const QUEUED_COMMAND_OVERHEAD = 512;

/** What `args` count toward the query-buffer limits. */
export function argumentsCost(args: Uint8Array[]): number {
  let cost = 0;
  for (const a of args) cost += a.length + ARGUMENT_OVERHEAD;
  return cost;
}

/**
 * Heap bytes a watched key takes besides its bytes: its copy, its map entry
 * and record, and its id string (a client could otherwise WATCH new keys
 * without end).
 */
export const WATCHED_KEY_OVERHEAD = 256;
