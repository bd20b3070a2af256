/**
 * The operations of one crash-test round, derived from a seed: the child that
 * performs them and the parent that checks the store after killing it build the
 * same list, so only op numbers cross the pipe. Every value names the write that
 * made it (its tag) and the key it was written for, and the rest of its bytes
 * follow from those two, so a value read back is either exactly one that was
 * written for that key or recognisably not.
 */
import { prng, randomBytes } from "../helpers.ts";

/** A small key space, so ops overwrite and delete each other's keys. */
export const KEYS: readonly string[] = Array.from({ length: 48 }, (_, i) => `k${i}`);

/** One key an op touches: `tag` names the value it sets; undefined deletes the key. */
export interface Change {
  key: string;
  tag?: string;
}

/** A `set` or `delete` (one change) or an `atomic` batch (changes on distinct keys). */
export interface Op {
  atomic: boolean;
  changes: Change[];
}

/** What the child needs to run a round. */
export interface RoundConfig {
  dir: string;
  sync: "always" | "never" | { intervalMs: number };
  maxFileSize: number;
  round: number;
  seed: number;
  /** Ops in flight at once. */
  writers: number;
  /** Fsync on the JavaScript thread (the `inlineFsync` option). */
  inlineFsync?: boolean;
}

/**
 * Op `i` of a round. Every op sets values tagged `<round>.<i>`: the keys of a
 * batch share one tag, which is how a half-applied batch would show.
 */
export function workload(round: number, seed: number): (i: number) => Op {
  const rand = prng(seed);
  const ops: Op[] = [];
  const pick = () => KEYS[(rand() * KEYS.length) | 0];
  return (i) => {
    while (ops.length <= i) {
      const tag = `${round}.${ops.length}`;
      const r = rand();
      if (r < 0.3) {
        const keys = new Set<string>();
        const n = 2 + ((rand() * 5) | 0);
        while (keys.size < n) keys.add(pick());
        const changes = [...keys].map((key) => ({ key, tag: rand() < 0.8 ? tag : undefined }));
        ops.push({ atomic: true, changes });
      } else {
        ops.push({ atomic: false, changes: [{ key: pick(), tag: r < 0.85 ? tag : undefined }] });
      }
    }
    return ops[i];
  };
}

const ascii = new TextEncoder();
const latin1 = new TextDecoder("latin1");

/** The value write `tag` stores under `key`: mostly small, some KiBs, a few over 64 KiB. */
export function valueOf(tag: string, key: string): Uint8Array {
  const head = ascii.encode(`${tag}|${key}|`);
  const rand = prng(fnv1a(head));
  const r = rand();
  const size = r < 0.04
    ? 65_537 + ((rand() * 100_000) | 0)
    : r < 0.2
    ? 1024 + ((rand() * 8192) | 0)
    : (rand() * 200) | 0;
  const value = new Uint8Array(head.length + size);
  value.set(head);
  value.set(randomBytes(rand, size), head.length);
  return value;
}

/** The tag of `value` if it is exactly what valueOf made for `key`, else undefined. */
export function tagOf(key: string, value: Uint8Array): string | undefined {
  const [tag, forKey] = latin1.decode(value.subarray(0, 64)).split("|");
  if (forKey !== key) return undefined;
  const want = valueOf(tag, key);
  return want.length === value.length && want.every((b, i) => b === value[i]) ? tag : undefined;
}

function fnv1a(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (const b of bytes) h = Math.imul(h ^ b, 0x01000193);
  return h >>> 0;
}
