/**
 * Per-key ordering of the server's writes. Redis runs each command
 * atomically; here a command awaits the store between its steps, so a
 * read-modify-write (SET NX/XX, DEL and its count) could otherwise interleave
 * with another write to the same key.
 *
 * Blind writes (plain SET, MSET) need no such care among themselves: the
 * store appends writes in call order, so they only have to be *issued* after
 * the writes queued before them, and many can share one fsync, even on one
 * hot key. A read-modify-write instead waits until every earlier write to its
 * keys has *completed*, so its read sees them, and later writes wait for it.
 * Between read-modify-writes of known keys (INCR after INCR) it waits only
 * until the earlier one's write is issued and readable through the server's
 * record of writes in flight (pending_writes.ts): so a hot counter's
 * increments share group commits as blind writes do, where each used to wait
 * for the fsync of the one before.
 *
 * Per-key bookkeeping is kept only where a read-modify-write is involved. A
 * blind write to keys no such command is queued on goes straight to the
 * store and is merely counted; a read-modify-write waits for all blind
 * writes issued before it, whatever their keys (at most one group commit).
 * That made blind writes about 10% cheaper in CPU than queueing each one by
 * key, which profiling showed as the hot spot of pipelined SETs.
 *
 * A command whose keys are only known once it runs (FLUSHDB, whose keys are
 * whatever exists then) locks `"all"`: it waits like any read-modify-write,
 * and every command queued after it, on any key, waits for it to finish. Its
 * place in line is taken when it is called, so it cannot miss, or undo, a
 * write that comes after it.
 * @module
 */

import { byteString } from "./words.ts";

// One queued command's progress on a key. Promises are made only when some
// later command actually has to wait.
class Turn {
  issued = false;
  readable = false;
  done = false;
  #issued?: PromiseWithResolvers<void>;
  #readable?: PromiseWithResolvers<void>;
  #done?: PromiseWithResolvers<void>;

  whenIssued(): Promise<void> | undefined {
    return this.issued ? undefined : (this.#issued ??= Promise.withResolvers()).promise;
  }

  whenReadable(): Promise<void> | undefined {
    return this.readable ? undefined : (this.#readable ??= Promise.withResolvers()).promise;
  }

  whenDone(): Promise<void> | undefined {
    return this.done ? undefined : (this.#done ??= Promise.withResolvers()).promise;
  }

  markIssued(): void {
    this.issued = true;
    this.#issued?.resolve();
  }

  markReadable(): void {
    this.markIssued();
    this.readable = true;
    this.#readable?.resolve();
  }

  markDone(): void {
    this.markReadable();
    this.done = true;
    this.#done?.resolve();
  }
}

const issued = (t: Turn) => t.whenIssued();
const readable = (t: Turn) => t.whenReadable();
const done = (t: Turn) => t.whenDone();

// What to await until every one of `turns` got that far: nothing, its one
// promise, or all of them (a Promise.all and a flatMap for every command
// were measurable on a hot key's INCRs).
function whenAll(
  turns: readonly Turn[],
  when: (t: Turn) => Promise<void> | undefined,
): Promise<unknown> | undefined {
  let one: Promise<void> | undefined;
  let all: Promise<void>[] | undefined;
  for (const t of turns) {
    const p = when(t);
    if (p === undefined) continue;
    if (one === undefined) one = p;
    else (all ??= [one]).push(p);
  }
  return all === undefined ? one : Promise.all(all);
}

/** The keys a command locks: those named, or `"all"` for every key, existing or not. */
export type LockScope = readonly Uint8Array[] | "all";

interface Queued {
  /** The distinct keys, as byteString. */
  ids: string[];
  earlier: Turn[];
}

// Blind writes that went to the store without a Turn, in issue order, so a
// read-modify-write can wait for all those issued before it.
class UnqueuedWrites {
  #issued = 0;
  // Sequence numbers of the writes still running; a Set keeps insertion
  // order, so its first element is the oldest.
  readonly #running = new Set<number>();
  readonly #waiters: { upTo: number; resolve: () => void }[] = [];

  /** Runs `fn` as the next write, counted until its promise settles. */
  run<T>(fn: () => Promise<T>): Promise<T> {
    const seq = ++this.#issued;
    this.#running.add(seq);
    let result: Promise<T>;
    try {
      result = fn();
    } catch (e) {
      this.#settled(seq);
      return Promise.reject(e);
    }
    return result.then(
      (value) => {
        this.#settled(seq);
        return value;
      },
      (e) => {
        this.#settled(seq);
        throw e;
      },
    );
  }

  /** Resolves once every write issued so far has settled; undefined when they all have. */
  drained(): Promise<void> | undefined {
    if (this.#running.size === 0) return undefined;
    const waiter = { upTo: this.#issued, resolve: () => {} };
    const promise = new Promise<void>((resolve) => waiter.resolve = resolve);
    this.#waiters.push(waiter);
    return promise;
  }

  #settled(seq: number): void {
    this.#running.delete(seq);
    if (this.#waiters.length === 0) return;
    const oldest = this.#running.values().next().value ?? Infinity;
    // Waiters were added with non-decreasing upTo, so the ready ones lead.
    while (this.#waiters.length > 0 && this.#waiters[0].upTo < oldest) {
      this.#waiters.shift()!.resolve();
    }
  }
}

/** Orders the writes of all clients per key; see the module doc. */
export class KeyLocks {
  // Per key, the last command queued on it.
  readonly #tails = new Map<string, Turn>();
  // The last command queued on every key, until it finishes.
  #all?: Turn;
  readonly #unqueued = new UnqueuedWrites();

  /**
   * Runs a blind write. `fn` must hand its write to the store before its
   * first await; it is called synchronously when no earlier write to these
   * keys is still waiting to be issued.
   */
  write<T>(keys: readonly Uint8Array[], fn: () => Promise<T>): Promise<T> {
    if (!this.#anyQueued(keys)) return this.#unqueued.run(fn);
    const turn = new Turn();
    return this.#writeAfter(this.#queue(keys, turn), turn, fn);
  }

  #anyQueued(keys: readonly Uint8Array[]): boolean {
    if (this.#all !== undefined) return true;
    if (this.#tails.size === 0) return false;
    for (const key of keys) if (this.#tails.has(byteString(key))) return true;
    return false;
  }

  async #writeAfter<T>(queued: Queued, turn: Turn, fn: () => Promise<T>): Promise<T> {
    try {
      const waits = whenAll(queued.earlier, issued);
      if (waits !== undefined) await waits;
      const result = fn();
      turn.markIssued();
      return await result;
    } finally {
      // "Done" promises that every earlier write to these keys is applied too
      // (a write refused at once finishes before the ones ahead of it), which
      // is what a later read-modify-write relies on.
      const ahead = whenAll(queued.earlier, done);
      if (ahead !== undefined) await ahead;
      this.#finish(queued.ids, turn);
    }
  }

  /**
   * Runs a read-modify-write alone on `keys`, after every earlier write to
   * them completed. With `early`, it need only wait until the earlier
   * read-modify-writes are *readable*: their writes issued and visible to a
   * read (see pending_writes.ts); `fn` calls its argument once its own writes
   * are. It still finishes (and so counts as done) only after them.
   */
  async exclusive<T>(
    keys: LockScope,
    fn: (readable: () => void) => Promise<T>,
    early = false,
  ): Promise<T> {
    const turn = new Turn();
    const queued = keys === "all" ? this.#queueAll(turn) : this.#queue(keys, turn);
    try {
      const unqueued = this.#unqueued.drained();
      if (unqueued !== undefined) await unqueued;
      const waits = whenAll(queued.earlier, early ? readable : done);
      if (waits !== undefined) await waits;
      return await fn(() => turn.markReadable());
    } finally {
      const ahead = early ? whenAll(queued.earlier, done) : undefined;
      if (ahead !== undefined) await ahead;
      this.#finish(queued.ids, turn);
    }
  }

  // Puts `turn` last on each of its keys and returns the turns queued before
  // it. Commands wait only for commands queued earlier, so none can deadlock.
  #queue(keys: readonly Uint8Array[], turn: Turn): Queued {
    const ids = keys.length === 1 ? [byteString(keys[0])] : [...new Set(keys.map(byteString))];
    const earlier: Turn[] = this.#all === undefined ? [] : [this.#all];
    for (const id of ids) {
      const last = this.#tails.get(id);
      if (last !== undefined) earlier.push(last);
      this.#tails.set(id, turn);
    }
    return { ids, earlier };
  }

  // Puts `turn` last on every key: after every command queued so far, and
  // before every command queued until it finishes.
  #queueAll(turn: Turn): Queued {
    const earlier = new Set(this.#tails.values());
    if (this.#all !== undefined) earlier.add(this.#all);
    this.#all = turn;
    return { ids: [], earlier: [...earlier] };
  }

  #finish(ids: readonly string[], turn: Turn): void {
    turn.markDone();
    for (const id of ids) if (this.#tails.get(id) === turn) this.#tails.delete(id);
    if (this.#all === turn) this.#all = undefined;
  }
}
