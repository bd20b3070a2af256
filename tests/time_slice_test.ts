import assert from "node:assert/strict";
import { TimeSlicer } from "../src/log/time_slice.ts";

// A task queued now: whether it ran by the time a pause returns shows whether the
// pause yielded to the event loop.
function queuedTask(): { ran: boolean; close(): void } {
  const ch = new MessageChannel();
  const t = { ran: false, close: () => ch.port1.close() };
  ch.port1.onmessage = () => t.ran = true;
  ch.port2.postMessage(null);
  return t;
}

async function yields(slicer: TimeSlicer, work: () => void): Promise<boolean> {
  const task = queuedTask();
  try {
    work();
    await slicer.pause();
    return task.ran;
  } finally {
    task.close();
    slicer.close();
  }
}

const spin = (ms: number) => () => {
  const end = performance.now() + ms;
  while (performance.now() < end) { /* work */ }
};

Deno.test("time slicer: a pause within the slice goes on without yielding", async () => {
  assert.equal(await yields(new TimeSlicer(60_000), spin(2)), false);
});

Deno.test("time slicer: a pause after the slice lets queued tasks run", async () => {
  assert.equal(await yields(new TimeSlicer(1), spin(3)), true);
});

Deno.test("time slicer: the next slice starts at the yield", async () => {
  const slicer = new TimeSlicer(50);
  spin(60)();
  await slicer.pause();
  assert.equal(await yields(slicer, () => {}), false);
});

Deno.test("time slicer: a nudge ends a yield that waited long enough, and only such a yield", async () => {
  const slicer = new TimeSlicer(0);
  try {
    let done = false;
    const pending = slicer.yield().then(() => done = true);
    // Not yet waited 60 s: the yield goes on waiting for its task.
    slicer.nudge(60_000);
    await null;
    await null;
    assert.equal(done, false);
    // Waited 0 ms or more: ended at once, before the event loop runs its task.
    slicer.nudge(0);
    await null;
    await null;
    assert.equal(done, true);
    await pending;
    // With no yield pending, a nudge does nothing.
    slicer.nudge(0);
  } finally {
    slicer.close();
  }
});
