/**
 * MULTI/EXEC/DISCARD and WATCH/UNWATCH. EXEC runs the queued commands on one
 * overlay under the locks of every key involved and commits their writes in
 * one atomic batch: all or nothing, even across a crash. WATCH is optimistic:
 * EXEC answers nil when a watched key was written, or expired, since.
 * @module
 */

import { WATCHED_KEY_OVERHEAD } from "./argument_cost.ts";
import { CommandError } from "./command_error.ts";
import type { QueuedCommand, Session } from "./context.ts";
import { NULL_ARRAY, OK, type Reply } from "./encoder.ts";
import { commit, errorReply } from "./execute.ts";
import type { LockScope } from "./key_locks.ts";
import { expiryAt, Overlay } from "./keyspace.ts";
import { byteString } from "./words.ts";

/** MULTI */
export function multi(s: Session): Reply {
  if (s.transaction !== undefined) throw new CommandError("ERR MULTI calls can not be nested");
  s.transaction = { commands: [], aborted: false, cost: 0 };
  return OK;
}

/** DISCARD */
export function discard(s: Session): Reply {
  if (s.transaction === undefined) throw new CommandError("ERR DISCARD without MULTI");
  endTransaction(s);
  return OK;
}

/**
 * The reply to an EXEC refused before it could run (wrong arity, NOAUTH):
 * as in Redis, the transaction ends there, if there is one, and so do the
 * watches.
 */
export function refusedExec(s: Session, error: string): Reply {
  endTransaction(s);
  return { error: `EXECABORT Transaction discarded because of: ${error.replace(/^ERR /, "")}` };
}

function endTransaction(s: Session): void {
  s.transaction = undefined;
  unwatchAll(s);
}

/**
 * WATCH key [key ...]. A key's expiry is noted too: as in Redis 7.0, a key
 * present at WATCH that expires before EXEC counts as changed, one already
 * gone does not.
 */
export function watch(s: Session, args: Uint8Array[]): Reply {
  if (s.transaction !== undefined) throw new CommandError("ERR WATCH inside MULTI is not allowed");
  const st = s.server;
  // A WATCH that answers an error watches none of its keys.
  const added: string[] = [];
  try {
    for (const key of args.slice(1)) {
      const id = byteString(key);
      if (s.watched.has(id)) continue;
      // Watched, and its expiry read, in one step: no write comes between.
      const w = { key: key.slice(), version: st.watches.watch(id), expiresAt: Infinity };
      s.watched.set(id, w);
      s.watchedCost += key.length + WATCHED_KEY_OVERHEAD;
      added.push(id);
      w.expiresAt = expiryAt(st.db, key) ?? Infinity;
    }
  } catch (e) {
    for (const id of added) {
      st.watches.unwatch(id);
      s.watchedCost -= s.watched.get(id)!.key.length + WATCHED_KEY_OVERHEAD;
      s.watched.delete(id);
    }
    throw e;
  }
  return OK;
}

/** UNWATCH */
export function unwatch(s: Session): Reply {
  unwatchAll(s);
  return OK;
}

/** Forgets every key `s` watches (also when its connection closes). */
export function unwatchAll(s: Session): void {
  for (const id of s.watched.keys()) s.server.watches.unwatch(id);
  s.watched.clear();
  s.watchedCost = 0;
}

/** EXEC */
export async function exec(s: Session): Promise<Reply> {
  const tx = s.transaction;
  if (tx === undefined) throw new CommandError("ERR EXEC without MULTI");
  s.transaction = undefined;
  const st = s.server;
  try {
    if (tx.aborted) {
      throw new CommandError("EXECABORT Transaction discarded because of previous errors.");
    }
    return await st.locks.exclusive(lockScope(s, tx.commands), async (readable) => {
      const now = Date.now();
      for (const [id, w] of s.watched) {
        if (st.watches.version(id) !== w.version || w.expiresAt <= now) return NULL_ARRAY;
      }
      const view = new Overlay(st.db, st.pending);
      const replies: Reply[] = [];
      // HELLO may switch protocols midway; Redis encodes each reply in the
      // protocol of its time.
      const protocols: (2 | 3)[] = [];
      for (const c of tx.commands) {
        replies.push(await c.run(view));
        protocols.push(s.protocol);
      }
      try {
        await commit(st, view, readable);
      } catch (e) {
        const reply = errorReply(e) as { error: string };
        return { error: `EXECABORT Transaction discarded: ${reply.error}` };
      }
      return replies.map((r, i) =>
        protocols[i] === s.protocol ? r : { protocol: protocols[i], reply: r }
      );
    });
  } finally {
    unwatchAll(s);
  }
}

// What EXEC locks: the watched keys and those of every queued command, or
// every key when one of them needs that.
function lockScope(s: Session, commands: QueuedCommand[]): LockScope {
  const keys = [...s.watched.values()].map((w) => w.key);
  for (const c of commands) {
    if (c.keys === "all") return "all";
    keys.push(...c.keys);
  }
  return keys;
}
