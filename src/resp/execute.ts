/**
 * Running one command: read-only ones read the store directly, blind writes
 * go straight to the store in call order, and read-modify-writes run under
 * their keys' locks on an {@link Overlay} whose writes are committed as one
 * atomic batch. Every write touches the WATCH counters of its keys.
 * @module
 */

import { type BatchOp, CaskError, IOError } from "../../mod.ts";
import { CommandError } from "./command_error.ts";
import { type CommandSpec, keysOf, type WriteSpec } from "./command_spec.ts";
import type { ServerState, Session } from "./context.ts";
import { OK, type Reply } from "./encoder.ts";
import type { LockScope } from "./key_locks.ts";
import { type KeyView, Overlay } from "./keyspace.ts";

/** Runs `spec` for the client of `s`; resolves to its reply, errors included (never rejects). */
export async function runCommand(
  spec: CommandSpec,
  s: Session,
  args: Uint8Array[],
): Promise<Reply> {
  s.server.stats.totalCommands++;
  try {
    if (spec.kind === "server") return await spec.run(s, args);
    if (spec.kind === "read") return await spec.run(s.server.reader, args, s);
    const ops = spec.blind?.(args);
    return ops === undefined ? await lockedWrite(spec, s, args) : await blindWrite(s.server, ops);
  } catch (e) {
    return errorReply(e);
  }
}

/** Runs `spec` inside a transaction on `view`; resolves to its reply, errors included. */
export async function runInView(
  spec: CommandSpec,
  view: KeyView,
  s: Session,
  args: Uint8Array[],
): Promise<Reply> {
  s.server.stats.totalCommands++;
  try {
    return spec.kind === "server" ? await spec.run(s, args, view) : await spec.run(view, args, s);
  } catch (e) {
    return errorReply(e);
  }
}

/**
 * The keys a write of `spec` must lock: FLUSHDB (no key positions) locks every
 * key. Known without waiting, so that a command takes its place in line when
 * it is called, ahead of every command called after it.
 */
export function lockKeys(spec: CommandSpec, args: Uint8Array[]): LockScope {
  return spec.kind === "write" && spec.keys[0] === 0 ? "all" : keysOf(spec, args);
}

/**
 * Writes what `view` buffered as one atomic batch and touches the WATCH
 * counters; the value cache hears of it before it is issued. `readable` is
 * called as soon as a read through another Overlay sees the writes: once
 * they are applied, or recorded in `st.pending` while their fsync runs.
 */
export async function commit(
  st: ServerState,
  view: Overlay,
  readable?: () => void,
): Promise<void> {
  const ops = view.ops();
  if (ops.length === 0) return;
  // Checked in the same step as the write is issued: once a dropped write's
  // rejection is out, nothing may be appended on top of what it wrote.
  if (view.builtOnDropped()) throw new Rebuild();
  st.cache.issued(view.written());
  const before = st.pending.appended(st.db);
  const done = st.db.atomic(ops);
  const records = st.pending.issued(st.db, view.changes(), before, done);
  // Appended is readable: recorded while it waits for its fsync, or applied
  // at once. A write refused or queued appended nothing.
  if (st.pending.appended(st.db) !== before) readable?.();
  try {
    await done;
  } finally {
    st.cache.settled();
    if (records !== undefined) st.pending.settled(records);
  }
  st.watches.touch(view.written());
}

/** The reply for a failed command. */
export function errorReply(e: unknown): Reply {
  if (e instanceof CommandError) return { error: e.message };
  // The store refused or failed this one operation; the client may go on.
  if (e instanceof CaskError) return { error: `ERR ${e.message}` };
  // A bug: say so in the log, but keep serving this client and the others.
  console.error("cask serve: command failed:", e);
  return { error: "ERR internal error" };
}

// Thrown by commit() when the view read a write in flight that was dropped
// since: the command runs again, on what the store and the writes in flight
// hold now.
class Rebuild extends Error {}

// A command that locks every key reads the store's key list, which has no
// writes in flight: it waits for them to complete. The others read the
// writes in flight before them (see commit()).
async function lockedWrite(spec: WriteSpec, s: Session, args: Uint8Array[]): Promise<Reply> {
  const keys = lockKeys(spec, args);
  return await s.server.locks.exclusive(
    keys,
    (readable) => runLocked(s, [{ spec, args }], readable).then((r) => r[0]),
    keys !== "all",
  );
}

// A read-modify-write to run once its keys are locked.
interface LockedRun {
  spec: WriteSpec;
  args: Uint8Array[];
}

/** A read-modify-write of known keys, as {@link lockedWrites} takes it. */
export interface LockedCommand extends LockedRun {
  keys: readonly Uint8Array[];
}

/**
 * Runs consecutive read-modify-writes of one pipeline under one lock of all
 * their keys, in order on one {@link Overlay}, and commits what they wrote
 * as one atomic batch: one turn of the key locks and one commit where each
 * would take its own (a pipeline of INCRs of one key spent most of its time
 * there). No other command runs among them, and none of their replies goes
 * out before the batch is readable, so no client can tell the difference. A
 * command that fails writes nothing and answers its error, as alone; a batch
 * the store refuses (a value past maxValueSize) sends them back to run one
 * by one, still under the lock, so that only the culprit fails.
 */
export function lockedWrites(s: Session, commands: LockedCommand[]): Promise<Reply[]> {
  s.server.stats.totalCommands += commands.length;
  return s.server.locks.exclusive(
    commands.flatMap((c) => c.keys),
    (readable) => runLocked(s, commands, readable),
    true,
  ).catch((e) => commands.map(() => errorReply(e)));
}

// The body of a read-modify-write once its keys are locked: `commands` run on
// one view, and what they wrote is committed as one batch. A view built on a
// write in flight that was dropped since is thrown away and built again. In a
// batch of several, one that throws writes nothing and answers its error, as
// alone; a batch the store refuses makes them run one by one, and `readable`
// then waits for the last of them, as every write before it must be readable
// first.
async function runLocked(
  s: Session,
  commands: LockedRun[],
  readable: () => void,
): Promise<Reply[]> {
  const st = s.server, batch = commands.length > 1;
  rebuild: for (;;) {
    const view = new Overlay(st.db, st.pending);
    if (batch) view.steps();
    const replies: Reply[] = [];
    for (const c of commands) {
      try {
        replies.push(await c.spec.run(view, c.args, s));
        if (batch) view.step();
      } catch (e) {
        // An error found in a value that was dropped is no answer either.
        if (await view.answeredFromDropped()) continue rebuild;
        if (!batch) throw e;
        view.undo();
        replies.push(errorReply(e));
      }
    }
    // A reply with no write of its own to wait for goes out at once: first
    // make sure the writes it read were not dropped.
    if (!view.writes()) {
      if (await view.answeredFromDropped()) continue;
      return replies;
    }
    try {
      await commit(st, view, readable);
    } catch (e) {
      if (e instanceof Rebuild) continue;
      // A refusal (a value grown past maxValueSize) may rest on a dropped
      // value too; a failure of the command's own write is its answer.
      if (!(e instanceof IOError) && await view.answeredFromDropped()) continue;
      if (!(e instanceof IOError) && batch) {
        return await oneByOne(s, commands, readable);
      }
      throw e;
    }
    return replies;
  }
}

async function oneByOne(
  s: Session,
  commands: LockedRun[],
  readable: () => void,
): Promise<Reply[]> {
  const replies: Reply[] = [];
  for (let i = 0; i < commands.length; i++) {
    const last = i === commands.length - 1;
    try {
      replies.push((await runLocked(s, [commands[i]], last ? readable : () => {}))[0]);
    } catch (e) {
      replies.push(errorReply(e));
    }
  }
  return replies;
}

/**
 * Issues a blind write (ops that read nothing) and resolves to its reply
 * (`+OK`); rejects when the store refused it. The store appends in call
 * order, so it only has to be issued after the writes queued before it on
 * its keys; it need not wait for them.
 */
export function blindWrite(st: ServerState, ops: BatchOp[]): Promise<Reply> {
  return lockedBlind(st, ops, () => storeWrite(st, ops), () => OK);
}

/**
 * Blind writes issued as one atomic batch, with a reply each. A write the
 * store would refuse for its sizes never joins one (WriteBatch.alone). When
 * the store refuses a batch anyway (a closed store refuses every write),
 * nothing of it was applied and each write is issued alone, in order, so only
 * the bad one fails; writes issued behind the batch may have gone to the
 * store before them by then.
 */
export function blindWrites(st: ServerState, writes: BatchOp[][]): Promise<Reply[]> {
  const all = writes.flat();
  return lockedBlind(
    st,
    all,
    () =>
      st.db.atomic(all).then(
        () => writes.map(() => OK),
        () => Promise.all(writes.map((ops) => storeWrite(st, ops).then(() => OK, errorReply))),
      ),
    (replies) => replies,
    (replies) => writes.flatMap((ops, i) => replies[i] === OK ? opKeys(ops) : []),
  );
}

// Runs `write` as a blind write of `ops`' keys; `reply` makes the answer of
// its result in the same step (a promise hop per SET is measurable). The keys
// `written` names (all of them by default) count as changed for WATCH once
// the write resolved: a write the store refused changed nothing. An EXEC
// cannot look in between, since it waits for the keys' lock.
function lockedBlind<T, R>(
  st: ServerState,
  ops: BatchOp[],
  write: () => Promise<T>,
  reply: (result: T) => R,
  written?: (result: T) => readonly Uint8Array[],
): Promise<R> {
  const keys = opKeys(ops);
  return st.locks.write(keys, () => {
    st.cache.issued(keys);
    return write().then(
      (result) => {
        st.cache.settled();
        st.watches.touch(written ? written(result) : keys);
        return reply(result);
      },
      (e) => {
        st.cache.settled();
        throw e;
      },
    );
  });
}

function opKeys(ops: readonly BatchOp[]): Uint8Array[] {
  return ops.map((op) => op.key as Uint8Array);
}

// One write handed to the store: a lone SET as a set (cheaper than a batch of one).
function storeWrite(st: ServerState, ops: BatchOp[]): Promise<unknown> {
  const op = ops[0];
  if (ops.length !== 1 || op.type !== "set") return st.db.atomic(ops);
  const timed = op.ttl !== undefined || op.expireAt !== undefined;
  return st.db.set(op.key, op.value, timed ? { ttl: op.ttl, expireAt: op.expireAt } : undefined);
}
