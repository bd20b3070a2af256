/**
 * Debian's Redis tools in tests: whether one is installed, and a throwaway
 * redis-server to compare replies with.
 * @module
 */

import { freePort, waitForPort } from "./ports.ts";

/** Whether `tool` can be started (it is on PATH). */
export async function installed(tool: string, flag = "--version"): Promise<boolean> {
  try {
    await new Deno.Command(tool, { args: [flag], stdout: "null", stderr: "null" }).output();
    return true;
  } catch {
    return false;
  }
}

/**
 * Runs `fn` against a fresh redis-server on a free loopback port, no
 * persistence, given `extra` arguments besides (`--requirepass pw`).
 */
export async function withRedis(
  fn: (port: number) => Promise<void>,
  extra: string[] = [],
): Promise<void> {
  const port = freePort();
  const dir = await Deno.makeTempDir({ prefix: "cask-redis-" });
  const args = [
    ...["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    ...extra,
  ];
  const child = new Deno.Command("redis-server", {
    args: [...args, "--dir", dir],
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    await waitForPort(port);
    await fn(port);
  } finally {
    child.kill("SIGKILL");
    await child.status;
    await Deno.remove(dir, { recursive: true });
  }
}
