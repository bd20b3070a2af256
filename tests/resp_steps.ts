/**
 * Scripts of pipelines and pauses, on one or more connections, run against
 * Debian's redis-server and against cask; what each server sends back is
 * kept byte for byte, to be compared.
 * @module
 */

import assert from "node:assert/strict";
import { Client, withServer } from "./resp_client.ts";
import { withRedis } from "./redis_tools.ts";

/**
 * Sends `send` in one write on connection `on` (0 unless said), then reads
 * `read` replies (by default as many as were sent; fewer leave the rest for a
 * later step), or waits `sleep` ms.
 */
export type Step = { on?: number; send?: string[][]; read?: number } | { sleep: number };

const latin1 = new TextDecoder("latin1");

/** What `steps` got back, each step's replies on a line of its own. */
export async function transcript(port: number, steps: Step[]): Promise<string[]> {
  const clients: Client[] = [];
  const out: string[] = [];
  try {
    // Every script starts on an empty keyspace.
    clients.push(await Client.connect(port));
    assert.equal(await clients[0].call("FLUSHALL"), "OK");
    for (const step of steps) {
      if ("sleep" in step) {
        await new Promise((resolve) => setTimeout(resolve, step.sleep));
        continue;
      }
      const on = step.on ?? 0;
      while (clients.length <= on) clients.push(await Client.connect(port));
      const c = clients[on];
      if (step.send !== undefined) await c.send(...step.send);
      const n = step.read ?? step.send?.length ?? 0;
      if (n > 0) out.push(`${on}: ${latin1.decode(await c.raw(n))}`);
    }
    return out;
  } finally {
    for (const c of clients) c.close();
  }
}

/** Runs each script on redis-server and on cask and asserts the same bytes came back. */
export function assertSameAsRedis(scripts: Step[][]): Promise<void> {
  return assertSameRuns(scripts, transcript, (steps) => steps.map(describe).join("; "));
}

/**
 * Runs each script with `run` against redis-server and against cask, and
 * asserts the results are the same, listing every script that differs, so
 * that one failure does not hide the next.
 */
export async function assertSameRuns<S>(
  scripts: S[],
  run: (port: number, script: S) => Promise<unknown>,
  name: (script: S) => string,
): Promise<void> {
  const runAll = async (port: number) => {
    const all: unknown[] = [];
    for (const script of scripts) all.push(await run(port, script));
    return all;
  };
  let expected: unknown[] = [];
  await withRedis(async (port) => {
    expected = await runAll(port);
  });
  await withServer(async (port) => {
    const got = await runAll(port);
    const differing = scripts.flatMap((script, i) =>
      JSON.stringify(got[i]) === JSON.stringify(expected[i])
        ? []
        : [{ script: name(script), cask: got[i], redis: expected[i] }]
    );
    assert.deepEqual(differing, []);
  });
}

function describe(step: Step): string {
  if ("sleep" in step) return `<${step.sleep} ms>`;
  const sent = (step.send ?? []).map((c) => c.join(" ").slice(0, 40)).join(" | ");
  return `${step.on ?? 0}> ${sent}${step.read === undefined ? "" : ` (read ${step.read})`}`;
}
