/**
 * The key under which an async iterator over synchronous steps (a store scan,
 * api/async_steps.ts) offers those steps, for a caller that must read several
 * at one point without awaiting between them (a Deno KV list batch, kv/; the
 * RESP server's KEYS, resp/).
 * @module
 */

/** See the module doc. */
export const SYNC_STEPS: unique symbol = Symbol("sync steps");

/** `steps` as an async iterable that also offers them under {@link SYNC_STEPS}. */
export function offerSteps<T>(
  steps: Iterable<T>,
): AsyncIterable<T> & { [SYNC_STEPS]: Iterable<T> } {
  return {
    [SYNC_STEPS]: steps,
    async *[Symbol.asyncIterator]() {
      yield* steps;
    },
  };
}

/** The synchronous steps `it` offers under {@link SYNC_STEPS}, if it offers them. */
export function syncSteps<T>(it: AsyncIterable<T>): Iterable<T> | undefined {
  return (it as { [SYNC_STEPS]?: Iterable<T> })[SYNC_STEPS];
}
