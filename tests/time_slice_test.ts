import assert from "node:assert/strict";
import { TimeSlicer } from "../src/log/time_slice.ts";

// A timer due by the time the work ends: whether it ran by the time a pause
// returns shows whether the pause yielded to the event loop.
async function yields(slicer: TimeSlicer, work: () => void): Promise<boolean> {
  let ran = false;
  const timer = setTimeout(() => ran = true, 0);
  try {
    work();
    await slicer.pause();
    return ran;
  } finally {
    clearTimeout(timer);
  }
}

const spin = (ms: number) => () => {
  const end = performance.now() + ms;
  while (performance.now() < end) { /* work */ }
};

Deno.test("time slicer: a pause within the slice goes on without yielding", async () => {
  assert.equal(await yields(new TimeSlicer(60_000), spin(2)), false);
});

Deno.test("time slicer: a pause after the slice lets due timers run", async () => {
  assert.equal(await yields(new TimeSlicer(1), spin(3)), true);
});

Deno.test("time slicer: a 1 ms interval beside sliced work runs at about its rate", async () => {
  // A hot loop tests `due` and yields only then, as compaction's loops do.
  // Yields through a MessageChannel let Deno run timers only now and then: 12-14
  // ticks in 200 ms of such work, and a compaction of 1M keys held a 1 ms
  // interval for up to 42 ms at a time. Measured here: 184-187 ticks.
  const slicer = new TimeSlicer();
  let ticks = 0;
  const interval = setInterval(() => ticks++, 1);
  try {
    const start = performance.now();
    while (performance.now() - start < 200) {
      spin(0.05)();
      if (slicer.due) await slicer.yield();
    }
  } finally {
    clearInterval(interval);
  }
  assert.ok(ticks >= 60, `${ticks} ticks of a 1 ms interval in 200 ms`);
});

Deno.test("time slicer: the next slice starts at the yield", async () => {
  const slicer = new TimeSlicer(50);
  spin(60)();
  await slicer.pause();
  assert.equal(await yields(slicer, () => {}), false);
});

Deno.test("time slicer: a nudge ends a yield that waited long enough, and only such a yield", async () => {
  const slicer = new TimeSlicer(0);
  let done = false;
  const pending = slicer.yield().then(() => done = true);
  // Not yet waited 60 s: the yield goes on waiting for the event loop.
  slicer.nudge(60_000);
  await null;
  await null;
  assert.equal(done, false);
  // Waited 0 ms or more: ended at once, before the event loop runs its immediate.
  slicer.nudge(0);
  await null;
  await null;
  assert.equal(done, true);
  await pending;
  // With no yield pending, a nudge does nothing.
  slicer.nudge(0);
});

Deno.test("time slicer: the slice after a yield starts when the work runs again", async () => {
  // A nudged yield's continuation can run only after its caller's microtasks;
  // a slice started at the yield's end was used up before the work ran, and
  // the work then ran one step per nudge.
  const slicer = new TimeSlicer(10);
  const pending = slicer.yield();
  slicer.nudge(0);
  await pending;
  spin(20)();
  assert.equal(slicer.due, false);
  spin(12)();
  assert.equal(slicer.due, true);
});

Deno.test("time slicer: a nudged slice lasts its share of the wait, a plain one a slice", async () => {
  const slicer = new TimeSlicer(0);
  let pending = slicer.yield();
  // 20 ms waited: half of it is 10 ms, capped at 5.
  spin(20)();
  slicer.nudge(0, 0.5);
  await pending;
  assert.equal(slicer.due, false);
  // 1 ms of the 5: the margin is for a loaded machine's scheduling.
  spin(1)();
  assert.equal(slicer.due, false);
  spin(5)();
  assert.equal(slicer.due, true);
  // A yield the event loop ends gets the usual slice.
  pending = slicer.yield();
  await pending;
  assert.equal(slicer.due, false);
  assert.equal(slicer.due, true);
});
