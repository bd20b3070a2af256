/**
 * `Kv.watch`: a stream of the watched keys' entries, first as they are, then
 * after each commit that changed one of them.
 * @module
 */

import type { EngineChange, KvEngine } from "./engine.ts";
import type { KvEntryMaybe } from "./entry.ts";
import { encodeKey, type KvKey } from "./key_codec.ts";

/** Reads the current entries of keys (one consistent read). */
export type ReadMany = (keys: readonly KvKey[]) => Promise<KvEntryMaybe<unknown>[]>;

/**
 * The stream of `keys`. Without `raw`, an array is emitted only when some
 * versionstamp differs from the last array emitted. `closed` ends the stream.
 */
export function watchStream(
  engine: KvEngine,
  keys: readonly KvKey[],
  raw: boolean,
  readMany: ReadMany,
  closed: Promise<void>,
): ReadableStream<KvEntryMaybe<unknown>[]> {
  const encoded = keys.map((k) => encodeKey(k));
  // Subscribe before the first read, so no commit falls between the two.
  const subscribe = () => engine.watch({ keys: encoded })[Symbol.asyncIterator]();
  let changes: AsyncIterator<EngineChange> = subscribe();
  const ended = closed.then(() => ({ done: true as const, value: undefined }));
  let last: (string | null)[] | undefined;
  // Changes up to this sequence are already in the last read; one commit can report several keys.
  let readAt = -1;
  return new ReadableStream({
    async pull(controller) {
      for (;;) {
        let stale = false;
        if (last !== undefined) {
          let change: IteratorResult<EngineChange>;
          try {
            change = await Promise.race([changes.next(), ended]);
          } catch (e) {
            // The store ends a feed that fell too far behind (nobody read the stream):
            // subscribe again and read the keys afresh, which covers what was missed.
            if ((e as { code?: string }).code !== "WATCH_OVERFLOW") throw e;
            changes = subscribe();
            readAt = -1;
            continue;
          }
          if (change.done) {
            void changes.return?.();
            controller.close();
            return;
          }
          // A change the last read already saw: skip it. An expiry is reported with the
          // sequence current when it was noticed, so a removal is read again to be sure.
          stale = change.value.sequence <= readAt;
          if (stale && change.value.value !== undefined) continue;
        }
        readAt = engine.sequence;
        const entries = await readMany(keys);
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
      void changes.return?.();
    },
  });
}
