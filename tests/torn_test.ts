/**
 * Torn writes and damage, simulated on the files of a closed store: cuts of the
 * newest file at every offset of its last records, zero-filled tails, short
 * files, and bit flips anywhere (compacted files, indexed from their hints,
 * included). Every op of the store is known with the byte range of each of its
 * records, so each reopen is checked against the exact state the damage should
 * leave: every op whose records are intact and reachable is there, an op with a
 * damaged record is gone whole (a batch included), and no value is one never
 * written for its key.
 */
import assert from "node:assert/strict";
import { type Cask, CorruptionError, open, verify } from "../mod.ts";
import { formatV2, recordSize } from "../src/codec/codec.ts";

// Record sizes depend only on the header size, not on the salt.
const F = formatV2(1);
import { FILE_HEADER_SIZE, HEADER_SIZE } from "../src/codec/format.ts";
import { bytesToKey } from "../src/base/keys.ts";
import { dataFiles, openQuiet, prng, randomBytes, withDir } from "./helpers.ts";

const OPTS = { maxFileSize: 4096 };
const SEED = Number(Deno.env.get("CASK_TORN_SEED") ?? ((Math.random() * 2 ** 32) >>> 0));

interface Change {
  key: string;
  /** Undefined: a delete. */
  value?: Uint8Array;
}

/** One op of the built store and where its records are. */
interface Step {
  changes: Change[];
  atomic: boolean;
  path: string;
  /** Offset of each record (a batch: its members, then its commit record). */
  starts: number[];
  end: number;
}

interface Built {
  steps: Step[];
  /** Every value ever written per key (as a binary string), with the index of its step. */
  written: Map<string, Map<string, number>>;
  /** The data files as built, by path. */
  files: Map<string, Uint8Array>;
  newest: string;
}

/**
 * Writes a store of a dozen files with sets, deletes and batches; the last
 * ops have small values, so cutting at every offset of them stays quick, and
 * go on until the newest file holds a few of them (a rotation may have just
 * left it with one).
 */
async function build(dir: string, rand: () => number): Promise<Built> {
  const steps: Step[] = [];
  const written = new Map<string, Map<string, number>>();
  const present = new Set<string>();
  const pick = () => `t${(rand() * 30) | 0}`;
  const db = await open(dir, OPTS);
  const inNewest = () => steps.filter((s) => s.path === steps.at(-1)!.path).length;
  for (let i = 0; i < 160 || inNewest() < 4; i++) {
    const value = () => randomBytes(rand, (rand() * (i < 150 ? 600 : 24)) | 0);
    const r = rand();
    const atomic = r < 0.25;
    let changes: Change[];
    if (atomic) {
      const keys = new Set<string>();
      const n = 2 + ((rand() * 3) | 0);
      while (keys.size < n) keys.add(pick());
      changes = [...keys].map((key) => (rand() < 0.8 ? { key, value: value() } : { key }));
    } else if (r < 0.4 && present.size > 0) {
      changes = [{ key: [...present][(rand() * present.size) | 0] }];
    } else changes = [{ key: pick(), value: value() }];
    await write(db, atomic, changes);
    for (const { key, value } of changes) {
      if (value === undefined) present.delete(key);
      else {
        present.add(key);
        written.set(key, (written.get(key) ?? new Map()).set(bytesToKey(value), i));
      }
    }
    const sizes = changes.map((c) => recordSize(F, c.key.length, c.value?.length ?? 0));
    if (atomic) sizes.push(recordSize(F, 0, 4));
    const active = db.stats().files.at(-1)!;
    let at = active.size - sizes.reduce((a, b) => a + b);
    const starts = sizes.map((s) => (at += s) - s);
    const path = `${dir}/data.${active.id}`;
    const prev = steps.at(-1);
    assert.equal(
      starts[0],
      prev?.path === path ? prev.end : FILE_HEADER_SIZE,
      "records are laid out as expected",
    );
    steps.push({ changes, atomic, path, starts, end: active.size });
  }
  await db.close();
  const paths = await dataFiles(dir);
  const files = new Map<string, Uint8Array>();
  for (const p of paths) files.set(p, await Deno.readFile(p));
  assert.ok(paths.length >= 8, `only ${paths.length} data files`);
  return { steps, written, files, newest: paths.at(-1)! };
}

function write(db: Cask, atomic: boolean, changes: Change[]): Promise<unknown> {
  if (atomic) {
    return db.atomic(
      changes.map(({ key, value }) =>
        value === undefined ? { type: "delete", key } : { type: "set", key, value }
      ),
    );
  }
  const [{ key, value }] = changes;
  return value === undefined ? db.delete(key) : db.set(key, value);
}

/** Puts the data files back as built and removes any other. */
async function restore(b: Built, dir: string): Promise<void> {
  for (const p of await dataFiles(dir)) if (!b.files.has(p)) await Deno.remove(p);
  for (const [p, bytes] of b.files) await Deno.writeFile(p, bytes);
}

/** The state after the steps that `keep` accepts, as binary strings. */
function stateOf(steps: Step[], keep: (s: Step) => boolean): Map<string, string> {
  const state = new Map<string, string>();
  for (const s of steps.filter(keep)) {
    for (const { key, value } of s.changes) {
      if (value === undefined) state.delete(key);
      else state.set(key, bytesToKey(value));
    }
  }
  return state;
}

/** Checks the whole store, by scan and by get, against `want`. */
async function assertState(db: Cask, b: Built, want: Map<string, string>, what: string) {
  const got = new Map<string, string>();
  for await (const [k, v] of db.scan()) {
    const key = bytesToKey(k), value = bytesToKey(v);
    assert.ok(b.written.get(key)?.has(value), `${what}: ${key} holds a value never written for it`);
    got.set(key, value);
  }
  const differ: string[] = [];
  for (const [key, values] of b.written) {
    const v = await db.get(key);
    assert.equal(v && bytesToKey(v), got.get(key), `${what}: get and scan disagree on ${key}`);
    const step = (m: Map<string, string>) =>
      m.has(key) ? `step ${values.get(m.get(key)!)}` : "absent";
    if (got.get(key) !== want.get(key)) differ.push(`${key}: ${step(got)}, want ${step(want)}`);
  }
  assert.deepEqual(differ, [], what);
}

/** Opens strictly (damage at the tail of the newest file is no error) and checks the state. */
async function assertRecovers(dir: string, b: Built, want: Map<string, string>, what: string) {
  const { db, warnings } = await openQuiet(dir, { ...OPTS, strict: true });
  try {
    await assertState(db, b, want, what);
  } finally {
    await db.close();
  }
  return warnings;
}

// Runs `fn` on a freshly built store; a failure names the seed that replays it.
function tornTest(name: string, fn: (dir: string, b: Built, rand: () => number) => Promise<void>) {
  Deno.test(name, () =>
    withDir(async (dir) => {
      const rand = prng(SEED);
      const b = await build(dir, rand);
      try {
        await fn(dir, b, rand);
      } catch (e) {
        throw new Error(`CASK_TORN_SEED=${SEED}: ${(e as Error).message}`, { cause: e });
      }
    }));
}

tornTest(
  "the newest file cut at every offset of its last records, and anywhere",
  async (dir, b, rand) => {
    const size = b.files.get(b.newest)!.length;
    const tail = b.steps.filter((s) => s.path === b.newest).slice(-4);
    const cuts = new Set<number>();
    for (let c = 0; c <= FILE_HEADER_SIZE; c++) cuts.add(c);
    for (let c = tail[0].starts[0]; c < size; c++) cuts.add(c);
    for (let i = 0; i < 40; i++) cuts.add((rand() * size) | 0);
    for (const cut of cuts) {
      await restore(b, dir);
      await Deno.truncate(b.newest, cut);
      const kept = (s: Step) => s.path !== b.newest || s.end <= cut;
      const ends = b.steps.filter((s) => s.path === b.newest && kept(s)).map((s) => s.end);
      const boundary = Math.max(FILE_HEADER_SIZE, ...ends);
      const warnings = await assertRecovers(dir, b, stateOf(b.steps, kept), `cut at ${cut}`);
      assert.equal(warnings.length === 0, cut === boundary, `cut at ${cut}: ${warnings}`);
      if (cut >= FILE_HEADER_SIZE) {
        assert.equal((await Deno.stat(b.newest)).size, boundary, `cut at ${cut}: tail not cut off`);
      }
      // Writes after the recovery land where a later open finds them.
      {
        await using db = await open(dir, OPTS);
        await db.set("probe", String(cut));
      }
      const { db, warnings: again } = await openQuiet(dir, { ...OPTS, strict: true });
      assert.deepEqual(again, [], `cut at ${cut}: reopen`);
      assert.equal(await db.getString("probe"), String(cut));
      await db.close();
    }
  },
);

tornTest("a zero-filled tail of the newest file is cut off like a torn one", async (dir, b) => {
  const original = b.files.get(b.newest)!;
  const size = original.length;
  for (const zeros of [1, HEADER_SIZE - 1, HEADER_SIZE, HEADER_SIZE + 1, 4096, 10_000]) {
    await restore(b, dir);
    const grown = new Uint8Array(size + zeros);
    grown.set(original);
    await Deno.writeFile(b.newest, grown);
    await assertRecovers(dir, b, stateOf(b.steps, () => true), `${zeros} zeros appended`);
    assert.equal((await Deno.stat(b.newest)).size, size);
  }
  const last = b.steps.filter((s) => s.path === b.newest);
  const overwrites = [1, HEADER_SIZE, size - last.at(-2)!.starts[0], size - FILE_HEADER_SIZE, size];
  for (const zeros of overwrites) {
    await restore(b, dir);
    await Deno.writeFile(b.newest, original.slice().fill(0, size - zeros));
    // Zeros over bytes that were zero already (a commit record's count ends so) change nothing.
    const intact = (s: Step) =>
      s.path !== b.newest || original.subarray(size - zeros, s.end).every((x) => x === 0);
    const want = stateOf(b.steps, intact);
    await assertRecovers(dir, b, want, `last ${zeros} bytes zeroed`);
    // What recovery left is a clean store, the file header included.
    assert.deepEqual(
      await assertRecovers(dir, b, want, `reopen`),
      [],
      `last ${zeros} bytes zeroed`,
    );
  }
});

tornTest("an older file cut short, in its header or inside a record", async (dir, b, rand) => {
  const older = [...b.files.keys()].slice(0, -1);
  for (let i = 0; i < 30; i++) {
    const path = older[(rand() * older.length) | 0];
    const steps = b.steps.filter((s) => s.path === path);
    // Inside the header, or strictly inside a record: a cut between records
    // leaves a file that merely looks shorter.
    const s = steps[(rand() * steps.length) | 0];
    const r = (rand() * s.starts.length) | 0;
    const recordEnd = s.starts[r + 1] ?? s.end;
    const cut = i < 5 ? i * 3 : s.starts[r] + 1 + ((rand() * (recordEnd - s.starts[r] - 1)) | 0);
    await restore(b, dir);
    await Deno.truncate(path, cut);
    const what = `${path} cut at ${cut}`;
    const err = await open(dir, { ...OPTS, strict: true }).catch((e) => e);
    assert.ok(err instanceof CorruptionError, `${what}: strict open gave ${err}`);
    assert.equal(err.file, path, what);
    assert.equal(err.offset, cut < FILE_HEADER_SIZE ? 0 : s.starts[r], what);
    const { db, warnings } = await openQuiet(dir, OPTS);
    try {
      assert.ok(warnings.length > 0, what);
      const kept = (x: Step) => x.path !== path || (cut >= FILE_HEADER_SIZE && x.end <= cut);
      await assertState(db, b, stateOf(b.steps, kept), what);
    } finally {
      await db.close();
    }
  }
});

tornTest(
  "the file a rotation just left, cut in its last records, behind a newest file of a header only: a torn tail",
  async (dir, b) => {
    // The writer begins the next file before the fsync of the one it leaves
    // completes: a power cut can tear that file's last writes, none of them
    // acknowledged, and leave the new file with its header alone.
    const left = [...b.files.keys()].at(-2)!;
    const size = b.files.get(left)!.length;
    const last = b.steps.filter((s) => s.path === left).slice(-2);
    const cuts = new Set<number>();
    for (let c = last[0].starts[0]; c < size; c += 5) cuts.add(c);
    for (const s of last) for (const at of [...s.starts, s.end - 1]) cuts.add(at);
    for (const cut of cuts) {
      await restore(b, dir);
      await Deno.truncate(left, cut);
      await Deno.truncate(b.newest, FILE_HEADER_SIZE);
      const what = `${left} cut at ${cut}`;
      const kept = (s: Step) => s.path !== b.newest && (s.path !== left || s.end <= cut);
      // What a crash leaves: a torn tail, and the batch it cut short.
      const crashed = (kinds: string[]) =>
        kinds.includes("torn-tail") &&
        kinds.every((k) => k === "torn-tail" || k === "incomplete-batch");
      // (verify walks again until a report holds more than torn tails: a few cuts do.)
      if (cut % 6 === 0) {
        const report = await verify(dir);
        assert.ok(crashed(report.issues.map((i) => i.kind)), `${what}: ${report.issues}`);
      }
      const warnings = await assertRecovers(dir, b, stateOf(b.steps, kept), what);
      assert.ok(crashed(warnings), `${what}: ${warnings}`);
      // Writes after the recovery land where a later open finds them.
      {
        await using db = await open(dir, OPTS);
        await db.set("probe", String(cut));
      }
      const { db, warnings: again } = await openQuiet(dir, { ...OPTS, strict: true });
      assert.deepEqual(again, [], `${what}: reopen`);
      assert.equal(await db.getString("probe"), String(cut));
      await db.close();
    }
    // With a record in the newest file, a write after the tear was acknowledged: damage.
    await restore(b, dir);
    const cut = last[1].starts[0] + 1;
    await Deno.truncate(left, cut);
    const first = b.steps.find((s) => s.path === b.newest)!;
    await Deno.truncate(b.newest, first.end);
    const err = await open(dir, { ...OPTS, strict: true }).catch((e) => e);
    assert.ok(err instanceof CorruptionError, `strict open gave ${err}`);
    assert.equal(err.file, left);
  },
);

tornTest("flipped bits in random records of random files", async (dir, b, rand) => {
  const paths = [...b.files.keys()];
  const lastRecord = b.steps.at(-1)!.starts.at(-1)!;
  for (let trial = 0; trial < 80; trial++) {
    await restore(b, dir);
    const damaged = new Set<Step>();
    // Damaged record starts, per file.
    const hits = new Map<string, number[]>();
    // One flip in each of 1 to 3 distinct ops (two flips in one spot would cancel).
    const n = 1 + ((rand() * 3) | 0);
    while (damaged.size < n) {
      const s = b.steps[(rand() * b.steps.length) | 0];
      if (damaged.has(s)) continue;
      const r = (rand() * s.starts.length) | 0;
      const len = (s.starts[r + 1] ?? s.end) - s.starts[r];
      const at = s.starts[r] + ((rand() * len) | 0);
      const bytes = await Deno.readFile(s.path);
      bytes[at] ^= 1 << ((rand() * 8) | 0);
      await Deno.writeFile(s.path, bytes);
      damaged.add(s);
      hits.set(s.path, [...(hits.get(s.path) ?? []), s.starts[r]]);
    }
    const what = `trial ${trial}: ${JSON.stringify([...hits])}`;
    const want = stateOf(b.steps, (s) => !damaged.has(s));
    // Strict mode fails on the first damage that is not the newest file's last record.
    const fatal = paths.find((p) => hits.get(p)?.some((at) => p !== b.newest || at < lastRecord));
    if (fatal === undefined) {
      assert.notDeepEqual(await assertRecovers(dir, b, want, what), [], what);
      continue;
    }
    const err = await open(dir, { ...OPTS, strict: true }).catch((e) => e);
    assert.ok(err instanceof CorruptionError, `${what}: strict open gave ${err}`);
    assert.equal(err.file, fatal, what);
    assert.equal(err.offset, Math.min(...hits.get(fatal)!), what);
    const { db, warnings } = await openQuiet(dir, OPTS);
    try {
      assert.ok(warnings.length > 0, what);
      await assertState(db, b, want, what);
    } finally {
      await db.close();
    }
  }
});

Deno.test("a flipped bit in a compacted file, indexed from its hint, is never read back", () =>
  withDir(async (dir) => {
    const rand = prng(SEED);
    const b = await build(dir, rand);
    {
      await using db = await open(dir, OPTS);
      await db.compact();
    }
    const want = stateOf(b.steps, () => true);
    const hinted: string[] = [];
    for (const p of await dataFiles(dir)) {
      if (await Deno.stat(p.replace(/data\.(\d+)$/, "hint.$1")).catch(() => null)) hinted.push(p);
    }
    assert.ok(hinted.length > 0, "no compacted files");
    for (let trial = 0; trial < 30; trial++) {
      const path = hinted[(rand() * hinted.length) | 0];
      const original = await Deno.readFile(path);
      const records = recordsOf(original);
      const r = records[(rand() * records.length) | 0];
      const bytes = original.slice();
      bytes[r.start + ((rand() * r.size) | 0)] ^= 1 << ((rand() * 8) | 0);
      await Deno.writeFile(path, bytes);
      const what = `CASK_TORN_SEED=${SEED}, ${path} at ${r.start}`;
      // Whether open checks the record or trusts the hint, the damaged value never comes back.
      const { db } = await openQuiet(dir, OPTS);
      try {
        for (const [key, value] of want) {
          const got = await db.get(key).then((v) => v && bytesToKey(v), (e) => e);
          if (key !== r.key) assert.equal(got, value, `${what}: ${key}`);
          else assert.ok(got === undefined || got instanceof CorruptionError, `${what}: ${got}`);
        }
      } finally {
        await db.close();
      }
      await Deno.writeFile(path, original);
    }
  }));

/** The records of a valid data file's bytes: offset, size and key. */
function recordsOf(file: Uint8Array): { start: number; size: number; key: string }[] {
  const v = new DataView(file.buffer, file.byteOffset, file.length);
  const out = [];
  for (let at = FILE_HEADER_SIZE; at < file.length;) {
    const keyLen = v.getUint32(at + 12, true);
    const size = recordSize(F, keyLen, v.getUint32(at + 16, true));
    out.push({
      start: at,
      size,
      key: bytesToKey(file, at + HEADER_SIZE, at + HEADER_SIZE + keyLen),
    });
    at += size;
  }
  return out;
}
