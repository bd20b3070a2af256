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
  // interval for up to 42 ms at a time; measured on a quiet machine: 184-187.
  // The rate is compared with that of the same loop yielding to a timer each
  // time, in alternating rounds, so a loaded machine slows both alike.
  const rounds = { slicer: 0, timer: 0 };
  for (let round = 0; round < 8; round++) {
    const kind = round % 2 === 0 ? "slicer" : "timer";
    const slicer = new TimeSlicer();
    let ticks = 0;
    const interval = setInterval(() => ticks++, 1);
    try {
      const start = performance.now();
      while (performance.now() - start < 50) {
        spin(0.05)();
        if (!slicer.due) continue;
        if (kind === "slicer") await slicer.yield();
        else await new Promise((r) => setTimeout(r, 0));
      }
    } finally {
      clearInterval(interval);
    }
    rounds[kind] += ticks;
  }
  assert.ok(
    rounds.slicer >= 0.5 * rounds.timer,
    `${rounds.slicer} ticks beside the slicer, ${rounds.timer} beside timer yields`,
  );
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
  // The slice starts at this first look.
  assert.equal(slicer.due, false);
  const start = performance.now();
  spin(1)();
  // Unless the machine held the thread past the 5 ms meanwhile.
  const due = slicer.due;
  if (performance.now() - start < 4.5) assert.equal(due, false);
  spin(6 - (performance.now() - start))();
  assert.equal(slicer.due, true);
  // A yield the event loop ends gets the usual slice.
  pending = slicer.yield();
  await pending;
  assert.equal(slicer.due, false);
  assert.equal(slicer.due, true);
});
