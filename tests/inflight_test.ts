// The writes-in-flight table against a plain Map kept the eager way: the
// answers must be the same whenever it is asked, built or not.
import assert from "node:assert/strict";
import { type InFlight, type InFlightOp, InFlightWrites } from "../src/index/inflight.ts";
import { prng } from "./helpers.ts";

Deno.test("in-flight writes: asked at random points, the lazy table answers as an eager map", () => {
  for (let seed = 1; seed <= 200; seed++) {
    const rand = prng(seed);
    const lazy = new InFlightWrites();
    const model = new Map<string, InFlight>();
    const pending: { ops: InFlightOp[]; seq: number }[] = [];
    let seq = 0;
    for (let step = 0; step < 300; step++) {
      const r = rand();
      if (r < 0.45) {
        const ops: InFlightOp[] = Array.from({ length: 1 + Math.floor(rand() * 3) }, () => ({
          k: `k${Math.floor(rand() * 6)}`,
          expireAt: Math.floor(rand() * 3),
          tombstone: rand() < 0.3,
          range: rand() < 0.1,
        }));
        seq++;
        lazy.add(ops, seq);
        for (const o of ops) {
          if (!o.range) model.set(o.k, { seq: o.tombstone ? -seq : seq, expireAt: o.expireAt });
        }
        pending.push({ ops, seq });
      } else if (r < 0.85 && pending.length > 0) {
        // Mostly in order; now and then one rejected out of turn.
        const i = rand() < 0.9 ? 0 : Math.floor(rand() * pending.length);
        const [b] = pending.splice(i, 1);
        lazy.landed(b.ops, b.seq);
        for (const o of b.ops) {
          if (!o.range && Math.abs(model.get(o.k)?.seq ?? 0) === b.seq) model.delete(o.k);
        }
      } else if (r < 0.98) {
        const k = `k${Math.floor(rand() * 6)}`;
        assert.deepEqual(lazy.get(k), model.get(k), `seed ${seed} step ${step} get ${k}`);
        assert.equal(lazy.has(k), model.has(k), `seed ${seed} step ${step} has ${k}`);
        assert.deepEqual([...lazy.keys()].sort(), [...model.keys()].sort(), `seed ${seed}`);
      } else {
        lazy.clear();
        model.clear();
        pending.length = 0;
      }
    }
  }
});
