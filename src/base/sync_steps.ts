/**
 * The key under which an async iterator over synchronous steps (a store scan,
 * api/async_steps.ts) offers those steps, for a caller that must read several
 * at one point without awaiting between them (a Deno KV list batch, kv/).
 * @module
 */

/** See the module doc. */
export const SYNC_STEPS: unique symbol = Symbol("sync steps");
