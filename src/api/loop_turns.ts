/**
 * Promises of results a call has at once (a read answered from the index and
 * one positional read). They settle in a microtask, which makes reads fast,
 * but a loop of awaited reads then never lets the event loop turn: an fsync a
 * durable write waits for never completes, and the write never resolves (a
 * loop polling `has("ready")` for another task's `set` polled forever). So
 * after a run of such results with no turn of the loop between them, one
 * settles after a turn.
 * @module
 */

import { setImmediate } from "node:timers";

// Results settled in microtasks before one waits for a turn of the loop: one
// immediate per run costs about 1 us, against 256 reads of 3-7 us.
const RUN = 256;

let sinceTurn = 0;
// The next turn of the loop, while one is watched for: every result past the
// run waits for it, so a burst of reads (a Promise.all of thousands) takes
// one immediate, not one each.
let turn: PromiseWithResolvers<void> | undefined;

function turned(): void {
  sinceTurn = 0;
  const t = turn!;
  turn = undefined;
  t.resolve();
}

/** `value` as a settled promise; after a run of them without a turn of the event loop, settled after one. */
export function settled<T>(value: T): Promise<T> {
  if (turn === undefined) {
    turn = Promise.withResolvers();
    setImmediate(turned);
  }
  if (++sinceTurn < RUN) return Promise.resolve(value);
  return turn.promise.then(() => value);
}
