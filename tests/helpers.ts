/** Shared test helpers: temp dirs, byte helpers, a seeded PRNG. */

import { open, type OpenOptions } from "../mod.ts";
import type { Cask } from "../mod.ts";

/** A fresh temp dir (the caller removes it). */
export async function tempDir(): Promise<string> {
  return await Deno.makeTempDir({ prefix: "cask-test-" });
}

/** Runs `fn` with a fresh temp dir and removes it afterwards. */
export async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await tempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Opens a store with warnings collected instead of printed. */
export async function openQuiet(
  dir: string,
  options: OpenOptions = {},
): Promise<{ db: Cask; warnings: string[] }> {
  const warnings: string[] = [];
  const db = await open(dir, { onWarning: (w) => warnings.push(w.kind), ...options });
  return { db, warnings };
}

/** UTF-8 decode. */
export const text = (b: Uint8Array | undefined): string | undefined =>
  b === undefined ? undefined : new TextDecoder().decode(b);

/** Deterministic PRNG (mulberry32): same seed, same sequence. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `n` pseudo-random bytes from `rand`. */
export function randomBytes(rand: () => number, n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (rand() * 256) | 0;
  return b;
}

/** Paths of the data files in `dir`, ascending by id. */
export async function dataFiles(dir: string): Promise<string[]> {
  const ids: number[] = [];
  for await (const e of Deno.readDir(dir)) {
    const m = /^data\.(\d+)$/.exec(e.name);
    if (m) ids.push(Number(m[1]));
  }
  return ids.sort((a, b) => a - b).map((id) => `${dir}/data.${id}`);
}

/**
 * MB of memory a store still holds after the workload `mode` of
 * children/held_memory.ts, in a child process that can force collection.
 */
export async function heldMemoryMB(mode: "stream" | "watch" | "queued"): Promise<number> {
  const child = new URL("./children/held_memory.ts", import.meta.url).pathname;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--v8-flags=--expose-gc", child, mode],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error(`held_memory.ts ${mode} failed`);
  return JSON.parse(new TextDecoder().decode(out.stdout)).grewMB;
}

/**
 * Runs `source` as a script of its own (it may import `mod`, the project's
 * mod.ts URL), waits for the first line it prints, then says whether it still
 * runs `ms` later (it is killed then) or what it ended with.
 */
export async function stillRunning(
  dir: string,
  source: (mod: string) => string,
  ms = 1000,
): Promise<{ first: string; after: "running" | Deno.CommandStatus }> {
  const script = `${dir}/script.ts`;
  await Deno.writeTextFile(
    script,
    source(JSON.stringify(new URL("../mod.ts", import.meta.url).href)),
  );
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", script],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const first = (await lines.read()).value ?? "";
  let timer: ReturnType<typeof setTimeout> | undefined;
  const after = await Promise.race([
    child.status,
    new Promise<"running">((r) => timer = setTimeout(() => r("running"), ms)),
  ]);
  clearTimeout(timer);
  if (after === "running") child.kill("SIGKILL");
  await child.status;
  await lines.cancel();
  return { first, after };
}
