import assert from "node:assert/strict";
import { open } from "../mod.ts";
import { Follower, type FollowTarget } from "../src/index/follower.ts";
import { type Entry, KeyDir } from "../src/index/keydir.ts";
import type { DataFile } from "../src/log/datafile.ts";
import { withDir } from "./helpers.ts";

// A follower over a bare index that notes, for each entry it applies, how many
// microtasks had run since the first one: applies done in one synchronous step
// all note the same count.
function countingTarget(dir: string) {
  const index = new KeyDir();
  const files = new Map<number, DataFile>();
  let seq = 0, ticks = 0, counting = false;
  const seen = new Set<number>();
  let applied = 0;
  const note = () => {
    applied++;
    if (!counting) {
      counting = true;
      // A bounded chain: it must not starve the follower's I/O.
      let hops = 0;
      const hop = () => {
        ticks++;
        if (++hops < 10_000) queueMicrotask(hop);
      };
      queueMicrotask(hop);
    }
    seen.add(ticks);
  };
  const target: FollowTarget = {
    dir,
    options: { strict: false, onWarning: () => {} },
    clock: Date.now,
    files,
    sequence: () => seq,
    setSequence: (s) => seq = s,
    entries: () => index.range(),
    put: (k: string, e: Entry) => {
      note();
      index.set(k, e);
    },
    remove: (k: string) => {
      note();
      index.delete(k);
    },
    removeRange: (a, b) => {
      for (const [k] of [...index.range(a, b)]) index.delete(k);
    },
    liveBytes: () => 1,
    dropFiles: (fs) => fs.forEach((f) => f.close()),
  };
  return {
    target,
    index,
    // How many distinct steps the applies since the last reset took, and how many there were.
    steps: () => ({ steps: seen.size, applied }),
    reset: () => {
      seen.clear();
      applied = 0;
      counting = false;
      ticks = 0;
    },
  };
}

Deno.test("a follower applies one catch-up in one synchronous step, however many windows it loads", async () => {
  await withDir(async (dir) => {
    const writer = await open(dir, { sync: "never" });
    await writer.set("first", "x");
    await writer.sync();
    const t = countingTarget(dir);
    const follower = new Follower(t.target);
    await follower.start();
    t.reset();
    // More records than one window of the bulk loader (131,072), in batches of
    // 1,000: one batch straddles the window's end.
    for (let i = 0; i < 140_000; i += 1_000) {
      await writer.atomic(
        Array.from({ length: 1_000 }, (_, j) => ({ type: "set", key: `k:${i + j}`, value: "v" })),
      );
    }
    await writer.sync();
    await follower.refresh();
    const { steps, applied } = t.steps();
    assert.equal(applied, 140_000);
    assert.equal(steps, 1, `the catch-up was applied in ${steps} steps with awaits between them`);
    assert.equal(t.index.size, 140_001);
    await follower.close();
    for (const f of t.target.files.values()) f.close();
    await writer.close();
  });
});
