/**
 * Differential test: the same seeded random operations on Deno KV and on
 * Cask's openKv, every result compared. Versionstamps differ in digits, so
 * each store's stamps are mapped to the step that committed them and
 * compared by that (success and order).
 */

import assert from "node:assert/strict";
import { type KvKey, KvU64, openKv } from "../mod.ts";
import { prng, withDir } from "./helpers.ts";
import { openDenoKv, outcome, plain } from "./kv_peer.ts";

type Store = Deno.Kv | Awaited<ReturnType<typeof openKv>>;

const STEPS = Number(Deno.env.get("KV_DIFF_STEPS") ?? 4000);
const SEEDS = (Deno.env.get("KV_DIFF_SEEDS") ?? "1,2").split(",").map(Number);

function generators(rand: () => number) {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
  const parts: (() => unknown)[] = [
    () => pick(["", "a", "b", "a\0b", "ä", "zz", "a\u{1F600}"]),
    () => pick([-Infinity, -1e300, -1.5, -0, 0, 5e-324, 1, 2.5, 1e300, Infinity, NaN]),
    () =>
      pick([
        -(2n ** 70n),
        -(2n ** 64n),
        -256n,
        -255n,
        -1n,
        0n,
        1n,
        255n,
        256n,
        2n ** 64n,
        2n ** 70n,
      ]),
    () => pick([true, false]),
    () => new Uint8Array(pick([[], [0], [0, 0], [0, 255], [1], [255], [255, 0]])),
  ];
  const key = (): KvKey => {
    const head = pick<string | number | boolean>(["t", "u", 1, true]);
    const rest = Array.from(
      { length: Math.floor(rand() * 3) },
      () => pick(parts)() as KvKey[number],
    );
    return [head, ...rest];
  };
  const u64Key = (): KvKey => ["n", Math.floor(rand() * 6)];
  // A value drawn from its own seed `r`, so both stores get equal values without extra draws.
  const valueFor = (r: number, cask: boolean): unknown => {
    const vr = prng(Math.floor(r * 2 ** 32));
    const kind = vr();
    if (kind < 0.2) return Math.floor(vr() * 1000) - 500;
    if (kind < 0.4) return ["x", "", "héllo"][Math.floor(vr() * 3)];
    if (kind < 0.55) {
      return { a: [1, "b", null], d: new Date(1_700_000_000_000), m: new Map([[1, 2n]]) };
    }
    if (kind < 0.7) return new Uint8Array([Math.floor(vr() * 256), 0, 7]);
    const n = BigInt(Math.floor(vr() * 2 ** 32)) * (vr() < 0.2 ? 2n ** 31n : 1n);
    return cask ? new KvU64(n) : new Deno.KvU64(n);
  };
  return { pick, key, u64Key, valueFor };
}

/** Maps a store's versionstamps to the step that committed them. */
class Stamps {
  byStamp = new Map<string, number>();
  last = "";
  record(stamp: string, step: number): void {
    assert.ok(stamp > this.last, `versionstamp ${stamp} after ${this.last}`);
    this.last = stamp;
    this.byStamp.set(stamp, step);
  }
  step(stamp: string | null): number | null {
    if (stamp === null) return null;
    const s = this.byStamp.get(stamp);
    assert.notEqual(s, undefined, `unknown versionstamp ${stamp}`);
    return s!;
  }
}

function normEntry(e: Deno.KvEntryMaybe<unknown>, stamps: Stamps) {
  return { key: plain(e.key), value: plain(e.value), step: stamps.step(e.versionstamp) };
}

/** Both stores, reopened in place by `reopen` (a restart of the process using them). */
interface Pair {
  stores: [Deno.Kv, Store];
  reopen(): Promise<void>;
}

async function runSeed(seed: number, pair: Pair): Promise<Record<string, number>> {
  const rand = prng(seed);
  const g = generators(rand);

  const stamps = [new Stamps(), new Stamps()];
  const seen = [new Map<string, string | null>(), new Map<string, string | null>()];
  const counts: Record<string, number> = {};
  const keyId = (k: KvKey) => Deno.inspect(k);

  for (let step = 0; step < STEPS; step++) {
    if (rand() < 0.003) {
      // Close and reopen both: state, versionstamp order and cursors must survive it.
      await pair.reopen();
      counts.reopen = (counts.reopen ?? 0) + 1;
      continue;
    }
    const r = rand();
    let kind: string;
    // Each store's side of one operation; `s` is 0 for Deno KV, 1 for Cask.
    let op: (kv: Store, s: number) => Promise<unknown>;
    const commitOutcome = (s: number, res: { ok: boolean; versionstamp?: string }) => {
      if (res.ok) stamps[s].record(res.versionstamp!, step);
      return res.ok;
    };
    if (r < 0.25) {
      kind = "set";
      const key = g.key(), v = rand();
      // Sometimes through mutate(), sometimes with an expiry far beyond the test.
      const viaMutate = rand() < 0.2, expireIn = rand() < 0.1 ? 3_600_000 : undefined;
      op = async (kv, s) => {
        const value = g.valueFor(v, s === 1);
        const res = viaMutate
          ? await kv.atomic().mutate({ type: "set", key, value, expireIn }).commit() as {
            ok: true;
            versionstamp: string;
          }
          : await kv.set(key, value, { expireIn });
        seen[s].set(keyId(key), res.versionstamp);
        return commitOutcome(s, res);
      };
    } else if (r < 0.33) {
      kind = "delete";
      const key = g.key();
      op = async (kv) => await kv.delete(key);
    } else if (r < 0.43) {
      kind = "get";
      const key = g.key();
      op = async (kv, s) => {
        const e = await kv.get(key);
        seen[s].set(keyId(key), e.versionstamp);
        return normEntry(e, stamps[s]);
      };
    } else if (r < 0.48) {
      kind = "getMany";
      const keys = Array.from({ length: 1 + Math.floor(rand() * 10) }, () => g.key());
      op = async (kv, s) => (await kv.getMany(keys)).map((e) => normEntry(e, stamps[s]));
    } else if (r < 0.63) {
      kind = "atomic+check";
      const checked = Array.from({ length: 1 + Math.floor(rand() * 3) }, () => g.key());
      const stale = checked.map(() => rand() < 0.25);
      const writes = Array.from(
        { length: 1 + Math.floor(rand() * 4) },
        () => ({ key: g.key(), del: rand() < 0.3, v: rand() }),
      );
      op = async (kv, s) => {
        const a = kv.atomic();
        checked.forEach((key, i) => {
          const vs = seen[s].get(keyId(key)) ?? null;
          // A stale check names a stamp the key no longer (or never) has.
          a.check({
            key,
            versionstamp: stale[i] ? (vs === null ? stamps[s].last || null : null) : vs,
          });
        });
        for (const w of writes) w.del ? a.delete(w.key) : a.set(w.key, g.valueFor(w.v, s === 1));
        const res = await a.commit();
        if (res.ok) {
          for (const w of writes) seen[s].set(keyId(w.key), w.del ? null : res.versionstamp);
        }
        return commitOutcome(s, res);
      };
    } else if (r < 0.75) {
      kind = "sum/min/max";
      // A mutation on a non-U64 value throws in both stores, but Deno KV 2.9 has then already
      // written the mutations before it (Cask writes nothing), so such a mutation goes alone.
      const onAnyKey = rand() < 0.1;
      const muts = Array.from({ length: onAnyKey ? 1 : 1 + Math.floor(rand() * 3) }, () => ({
        type: g.pick(["sum", "min", "max"] as const),
        key: onAnyKey ? g.key() : g.u64Key(),
        n: BigInt(Math.floor(rand() * 2 ** 32)) * (rand() < 0.3 ? 2n ** 32n : 1n),
      }));
      const check = rand() < 0.3 ? g.u64Key() : undefined;
      op = async (kv, s) => {
        const a = kv.atomic();
        if (check) a.check({ key: check, versionstamp: seen[s].get(keyId(check)) ?? null });
        for (const m of muts) a[m.type](m.key, m.n);
        return commitOutcome(s, await a.commit());
      };
    } else if (r < 0.78) {
      kind = "get u64";
      const key = g.u64Key();
      op = async (kv, s) => {
        const e = await kv.get(key);
        seen[s].set(keyId(key), e.versionstamp);
        return normEntry(e, stamps[s]);
      };
    } else {
      kind = "list";
      const shape = Math.floor(rand() * 4);
      const head = g.pick<string | number | boolean>(["t", "u", 1, true]);
      const a = [head, ...g.key().slice(1)], b = [head, ...g.key().slice(1)];
      const selector = shape === 0
        ? { prefix: rand() < 0.2 ? [] : [head] }
        : shape === 1
        ? { prefix: [head], start: a }
        : shape === 2
        ? { prefix: [head], end: b }
        : { start: a.length ? a : [head], end: rand() < 0.3 ? [head, true, true] : b };
      const limit = rand() < 0.5 ? 1 + Math.floor(rand() * 20) : undefined;
      const batchSize = rand() < 0.5 ? 1 + Math.floor(rand() * 7) : undefined;
      const reverse = rand() < 0.4;
      const resumeAfter = rand() < 0.5 ? Math.floor(rand() * 10) : -1;
      op = async (kv, s) => {
        const it = kv.list(selector as Deno.KvListSelector, { limit, batchSize, reverse });
        const out: unknown[] = [];
        let cursor: string | undefined;
        for await (const e of it) {
          out.push(normEntry(e, stamps[s]));
          if (out.length === resumeAfter) {
            cursor = it.cursor;
            break;
          }
        }
        if (cursor !== undefined) {
          const rest = kv.list(selector as Deno.KvListSelector, { cursor, batchSize, reverse });
          for await (const e of rest) out.push(normEntry(e, stamps[s]));
          out.push({ cursorAtEnd: rest.cursor, resumedFrom: cursor });
        } else out.push({ cursorAtEnd: out.length ? it.cursor : "" });
        return out;
      };
    }
    counts[kind] = (counts[kind] ?? 0) + 1;
    const [want, got] = [
      await outcome(() => op(pair.stores[0], 0)),
      await outcome(() => op(pair.stores[1], 1)),
    ];
    assert.deepEqual(got, want, `seed ${seed} step ${step} (${kind})`);
    const tally = (what: string) => counts[what] = (counts[what] ?? 0) + 1;
    if ("error" in want) tally("threw"), tally(want.error.slice(0, 60));
    else if (want.ok === false) tally("check failed");
    else if (want.ok === true) tally("committed");
    else if (kind === "list" && Array.isArray(want.ok) && want.ok.length > 3) tally("long list");
  }
  return counts;
}

for (const seed of SEEDS) {
  Deno.test(`openKv behaves as Deno KV on ${STEPS} random operations (seed ${seed})`, async () => {
    await withDir(async (dir) => {
      const open = async (): Promise<[Deno.Kv, Store]> => [
        await openDenoKv(`${dir}/deno.sqlite3`),
        await openKv(`${dir}/cask`),
      ];
      const pair: Pair = {
        stores: await open(),
        async reopen() {
          pair.stores[0].close();
          await pair.stores[1].close();
          pair.stores = await open();
        },
      };
      try {
        const counts = await runSeed(seed, pair);
        if (Deno.env.get("KV_DIFF_VERBOSE")) console.log(counts);
        // Every kind of operation ran often enough to matter.
        const kinds = ["set", "delete", "get", "getMany", "atomic+check", "sum/min/max", "list"];
        // ... and each outcome: errors, failed checks, commits, lists with several entries.
        for (const kind of [...kinds, "threw", "check failed", "committed", "long list"]) {
          assert.ok((counts[kind] ?? 0) > STEPS / 50, `${kind} ran ${counts[kind]} times`);
        }
        assert.ok((counts.reopen ?? 0) > 2, `reopened ${counts.reopen} times`);
      } finally {
        pair.stores[0].close();
        await pair.stores[1].close();
      }
    });
  });
}
