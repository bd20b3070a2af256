/**
 * kill -9 crash suite. Each round a child process (children/crash_writer.ts)
 * writes to the store, printing every acknowledged op, and is SIGKILLed at a
 * random moment; the store is then reopened (strict: a killed process leaves at
 * most a torn tail, never damage) and checked.
 *
 * The check: the data files are an append-only log written in op order, so
 * what a crash leaves must be exactly the state after some prefix of the ops,
 * and that prefix must hold every op known to be durable: every acknowledged
 * op under sync "always", every op issued before the last completed sync()
 * otherwise. Matching a prefix key for key covers each property at once:
 * acknowledged sets present with their exact bytes unless a later op changed
 * the key, acknowledged deletes absent, an op in flight at the kill either
 * applied or not, a batch (its keys share one tag) all there or all gone, and
 * no value that was never written for its key.
 *
 * One directory serves all rounds of a test, so stores recovered from a crash
 * (and compacted ones) are crashed again. CASK_CRASH_ROUNDS sets the rounds of
 * the sync "always" test (the other modes run a quarter as many each);
 * CASK_CRASH_SEED replays the random choices of a failed run (not its timing).
 */
import assert from "node:assert/strict";
import type { Cask } from "../mod.ts";
import {
  KEYS,
  type Op,
  type RoundConfig,
  tagOf,
  valueOf,
  workload,
} from "./children/crash_workload.ts";
import { openQuiet, prng, text, withDir } from "./helpers.ts";

const ROUNDS = Number(Deno.env.get("CASK_CRASH_ROUNDS") ?? 60);
const SEED = Number(Deno.env.get("CASK_CRASH_SEED") ?? ((Math.random() * 2 ** 32) >>> 0));
const CHILD = new URL("./children/crash_writer.ts", import.meta.url).pathname;
// Small files, so rounds rotate often and values over 64 KiB fill files of their own.
const MAX_FILE_SIZE = 128 * 1024;
// Compact between rounds past this many bytes of files, so reopens stay quick.
const COMPACT_PAST = 8 << 20;

/** Key -> tag of the value it holds. */
type State = Map<string, string>;

/** What the parent saw of a round before the child died. */
interface Seen {
  acks: number;
  lastAck: number;
  /** Ops 0..synced-1 were fsynced (a sync() issued after them resolved). */
  synced: number;
}

/** Runs a child round, kills it after `killAfterAcks` acks or `killAfterMs`, whichever is first. */
async function crashRound(cfg: RoundConfig, killAfterAcks: number, killAfterMs: number) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CHILD, JSON.stringify(cfg)],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  let killed = false;
  const kill = () => {
    if (killed) return;
    killed = true;
    try {
      child.kill("SIGKILL");
    } catch {
      // Already gone; its exit status tells how.
    }
  };
  const timer = setTimeout(kill, killAfterMs);
  const seen: Seen = { acks: 0, lastAck: -1, synced: 0 };
  let pending = "";
  // Lines already in the pipe at the kill were printed after their op resolved: they count.
  for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
    const lines = (pending + chunk).split("\n");
    pending = lines.pop()!;
    for (const line of lines) {
      const [what, n] = line.split(" ");
      if (what === "a") {
        seen.acks++;
        seen.lastAck = Math.max(seen.lastAck, Number(n));
      } else if (what === "s") seen.synced = Math.max(seen.synced, Number(n));
      if (what !== "s" && seen.acks >= killAfterAcks) kill();
    }
  }
  clearTimeout(timer);
  const status = await child.status;
  assert.equal(status.signal, "SIGKILL", `child died by itself:\n${await stderr}`);
  return seen;
}

/** Reads the whole store, by scan and by get, checking that every value is one written for its key. */
async function readState(db: Cask): Promise<State> {
  const state: State = new Map();
  for await (const [k, v] of db.scan()) {
    const key = text(k)!;
    const tag = tagOf(key, v);
    assert.ok(tag !== undefined, `${key} holds a value never written for it (${v.length} bytes)`);
    state.set(key, tag);
  }
  for (const key of KEYS) {
    const v = await db.get(key);
    assert.equal(v && tagOf(key, v), state.get(key), `get and scan disagree on ${key}`);
  }
  return state;
}

function apply(state: State, op: Op): void {
  for (const { key, tag } of op.changes) {
    if (tag === undefined) state.delete(key);
    else state.set(key, tag);
  }
}

/**
 * Checks that applying some prefix of the ops, at least `from` and at most `to`
 * long, to `start` gives `got`.
 */
function assertPrefix(start: State, got: State, op: (i: number) => Op, from: number, to: number) {
  const model = new Map(start);
  for (let i = 0; i < from; i++) apply(model, op(i));
  const differs = (key: string) => model.get(key) !== got.get(key);
  // How many keys differ, kept up to date op by op.
  let diff = KEYS.filter(differs).length;
  let closest = from, least = diff;
  for (let p = from; diff > 0; p++) {
    if (p === to) throw mismatch(start, got, op, `${from}..${to}`, closest);
    const keys = op(p).changes.map((c) => c.key);
    diff -= keys.filter(differs).length;
    apply(model, op(p));
    diff += keys.filter(differs).length;
    if (diff < least) [closest, least] = [p + 1, diff];
  }
}

// Names the keys in which the closest prefix (`closest` ops) and the store differ.
function mismatch(start: State, got: State, op: (i: number) => Op, range: string, closest: number) {
  const near = new Map(start);
  for (let i = 0; i < closest; i++) apply(near, op(i));
  const keys = KEYS.filter((k) => near.get(k) !== got.get(k));
  return new assert.AssertionError({
    message: `no prefix of ${range} ops gives the recovered store; after ${closest}:\n` +
      keys.map((k) => `${k}: ${near.get(k)} in the log, ${got.get(k)} in the store`).join("\n"),
  });
}

/** Reopens the store after a crash, checks it and writes to it; returns its state. */
async function checkRound(
  dir: string,
  before: State,
  cfg: RoundConfig,
  seen: Seen,
  rand: () => number,
): Promise<State> {
  // Every close writes an index checkpoint, so the next round's child and this
  // check open from it and replay only the log after it.
  const { db } = await openQuiet(dir, {
    strict: true,
    maxFileSize: MAX_FILE_SIZE,
    checkpoint: { minKeys: 0 },
  });
  try {
    const state = await readState(db);
    const from = cfg.sync === "always" ? seen.lastAck + 1 : seen.synced;
    assertPrefix(before, state, workload(cfg.round, cfg.seed), from, seen.acks + cfg.writers);
    // The recovered store takes new writes, and they read back.
    const key = KEYS[(rand() * KEYS.length) | 0];
    const tag = `${cfg.round}.probe`;
    await db.set(key, valueOf(tag, key));
    state.set(key, tag);
    assert.deepEqual(await readState(db), state);
    const bytes = db.stats().files.reduce((n, f) => n + f.size, 0);
    if (bytes > COMPACT_PAST) await db.compact();
    return state;
  } finally {
    await db.close();
  }
}

function crashTest(
  name: string,
  rounds: number,
  sync: (rand: () => number) => RoundConfig["sync"],
  inlineFsync = false,
) {
  Deno.test(`kill -9 at random moments, sync ${name}: ${rounds} rounds`, () =>
    withDir(async (dir) => {
      const rand = prng(SEED);
      let state: State = new Map();
      for (let round = 0; round < rounds; round++) {
        const cfg: RoundConfig = {
          dir,
          sync: sync(rand),
          maxFileSize: MAX_FILE_SIZE,
          round,
          seed: (rand() * 2 ** 32) >>> 0,
          writers: 1 + ((rand() * 64) | 0),
          inlineFsync,
        };
        // Half the rounds die after a number of acks (0: just after open), half
        // after a delay from spawn (which may fall in the child's startup or recovery).
        const byAcks = rand() < 0.5;
        const seen = byAcks
          ? await crashRound(cfg, (rand() * 300) | 0, 5000)
          : await crashRound(cfg, Infinity, rand() * 500);
        const where = `CASK_CRASH_SEED=${SEED}, round ${round} (${JSON.stringify(seen)})`;
        try {
          state = await checkRound(dir, state, cfg, seen, rand);
        } catch (e) {
          throw new Error(`${where}: ${(e as Error).message}`, { cause: e });
        }
      }
    }));
}

crashTest('"always"', ROUNDS, () => "always");
crashTest("{ intervalMs }", Math.ceil(ROUNDS / 4), (rand) => ({
  intervalMs: 1 + ((rand() * 30) | 0),
}));
crashTest('"never"', Math.ceil(ROUNDS / 4), () => "never");
crashTest('"always", inlineFsync', Math.ceil(ROUNDS / 4), () => "always", true);
