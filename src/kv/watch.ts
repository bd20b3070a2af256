/**
 * `Kv.watch`: a stream of the watched keys' entries, first as they are, then
 * after each commit that changed one of them, and when one of them expires.
 * @module
 */

import type { CloseGate } from "./close_gate.ts";
import type { EngineChange, KvEngine } from "./engine.ts";
import { absentEntry, entryOf, type KvEntryMaybe } from "./entry.ts";
import { encodeKey, type KvKey } from "./key_codec.ts";
import { checkReadBound, type KvLimits } from "./limits.ts";
import { isSerdeArray, readEach, serdeError } from "./serde.ts";
import { readAtOnce } from "./read.ts";

type Wake = IteratorResult<EngineChange> | "expired";

/** The longest delay setTimeout takes (a longer one fires at once). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Resolves "expired" once `at` (ms since the epoch by `clock`) should have
 * come; `cancel` clears the timer. A timer waits on real time, so it only
 * says when to look: the caller reads the keys again, and the store judges
 * their expiry by `clock`. With no expiry ahead it still runs, at the longest
 * delay: a stream waiting for a change keeps the process alive, as Deno KV's
 * does (a top-level `for await` over it would end the program otherwise).
 */
function expiryTimer(
  at: number,
  clock: () => number,
): { fired: Promise<Wake>; cancel: () => void } {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const fired = new Promise<Wake>((resolve) => {
    // +1: a timer may fire a little early by the clock.
    const ms = Math.min(Math.max(0, at - clock() + 1), MAX_TIMER_MS);
    timer = setTimeout(() => resolve("expired"), ms);
  });
  return { fired, cancel: () => clearTimeout(timer) };
}

/**
 * The stream of `keys`; `clock` is the store's, which judges expiry. Without `raw`, an array is emitted only when some
 * versionstamp differs from the last array emitted. Closing `gate` ends the
 * stream, one not yet read included, as Deno KV's does.
 */
export function watchStream(
  engine: KvEngine,
  keys: readonly KvKey[],
  raw: boolean,
  gate: CloseGate,
  clock: () => number,
  limits: KvLimits,
): ReadableStream<KvEntryMaybe<unknown>[]> {
  if (!isSerdeArray(keys)) throw serdeError("array", keys);
  const encoded = readEach(keys, (k) => encodeKey(k as KvKey), "array");
  // Closed, it throws at once, as Deno KV's does (there a BadResource): after
  // the type errors of its arguments, before the checks of their values.
  gate.check();
  // Each key is read (now, and at every change), so each must fit a read, as in Deno KV.
  for (const kb of encoded) checkReadBound(limits, kb.length);
  // The empty key is never written (the store refuses it), so it is not subscribed to.
  const written = encoded.filter((k) => k.length > 0);
  // Subscribed at the first pull, before the first read, so no commit falls between the two
  // (and a stream first read after close never reaches the store).
  const subscribe = () => engine.watch({ keys: written })[Symbol.asyncIterator]();
  let changes: AsyncIterator<EngineChange> | undefined;
  const ended: Wake = { done: true, value: undefined };
  let last: (string | null)[] | undefined;
  // Changes up to this sequence are already in the last read; one commit can report several keys.
  let readAt = -1;
  // The store notices an expiry only when the key is read: read it then.
  let nextExpiry = Infinity;

  // The feed's next() still waiting when a timer woke the stream first: it is
  // the feed's next answer, so it is raced again rather than asked anew (each
  // abandoned call would take a change no one reads).
  let asked: Promise<IteratorResult<EngineChange>> | undefined;

  /** The next reason to read again; false when the stream is over. */
  async function wake(feed: AsyncIterator<EngineChange>): Promise<{ stale: boolean } | false> {
    for (;;) {
      const timer = expiryTimer(nextExpiry, clock);
      let woke: Wake;
      try {
        asked ??= feed.next();
        // Both raced promises end with this wait; the gate's signal lives as long as the store.
        woke = await gate.closed.race(Promise.race([asked, timer.fired]), ended);
        if (woke !== "expired") asked = undefined;
      } catch (e) {
        asked = undefined;
        // The store ends a feed that fell too far behind (nobody read the stream):
        // subscribe again and read the keys afresh, which covers what was missed.
        if ((e as { code?: string }).code !== "WATCH_OVERFLOW") throw e;
        changes = subscribe();
        return { stale: false };
      } finally {
        timer.cancel();
      }
      if (woke === "expired") return { stale: true };
      if (woke.done) return false;
      // An expiry is reported with the sequence current when it was noticed, so a
      // removal is read again even when its sequence was already read.
      const stale = woke.value.sequence <= readAt;
      if (!stale || woke.value.value === undefined) return { stale };
    }
  }

  function end(controller: ReadableStreamDefaultController<KvEntryMaybe<unknown>[]>): void {
    void changes?.return?.();
    controller.close();
  }

  return new ReadableStream({
    async pull(controller) {
      for (;;) {
        let stale = false;
        if (changes === undefined) {
          // Deno KV ends the watch of no keys at once, and one the close came before.
          if (keys.length === 0 || gate.isClosed) return end(controller);
          changes = subscribe();
        } else {
          const why = await wake(changes);
          if (!why) return end(controller);
          stale = why.stale;
        }
        readAt = engine.sequence;
        const records = await readAtOnce(engine, encoded);
        nextExpiry = Math.min(Infinity, ...records.map((r) => r?.expireAt || Infinity));
        // An absent key's entry gets a copy of the key in each array, as in
        // Deno KV: a consumer changing one must not change the caller's or
        // the next array's.
        const entries = records.map((r, i) =>
          r === undefined ? absentEntry([...keys[i]]) : entryOf(encoded[i], r)
        );
        const stamps = entries.map((e) => e.versionstamp);
        const changed = last === undefined || stamps.some((s, i) => s !== last![i]);
        last = stamps;
        if (changed || (raw && !stale)) {
          controller.enqueue(entries);
          return;
        }
      }
    },
    cancel() {
      void changes?.return?.();
    },
    // No read-ahead: each array is read when asked for, so it is never older than the ask.
  }, { highWaterMark: 0 });
}
