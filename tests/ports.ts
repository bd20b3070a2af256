/**
 * Loopback ports for tests and benchmarks that start servers (cask serve,
 * redis-server, nutcracker).
 * @module
 */

/** A port on 127.0.0.1 that was free a moment ago. */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = l.addr.port;
  l.close();
  return port;
}

/** Resolves once something accepts connections on 127.0.0.1:`port` (about 10 s at most). */
export async function waitForPort(port: number): Promise<void> {
  for (let i = 0; i < 400; i++) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  throw new Error(`nothing listens on ${port}`);
}

const CLI = new URL("../cli.ts", import.meta.url).pathname;

/** Deno's arguments to run `cask serve` on `port` over the store in `dir`, with `more` options. */
export function serveArgs(port: number, dir: string, ...more: string[]): string[] {
  return ["run", "-A", CLI, "serve", "--port", String(port), "--dir", dir, ...more];
}

/**
 * `cask serve` over the store in `dir` on a free port, with `more` options,
 * once it listens: the child (its stdout past the first line is left unread;
 * cancel it after the child ends) and the port it printed.
 */
export async function startServe(
  dir: string,
  ...more: string[]
): Promise<{ child: Deno.ChildProcess; port: number }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: serveArgs(0, dir, ...more),
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = child.stdout.getReader();
  const line = new TextDecoder().decode((await reader.read()).value);
  reader.releaseLock();
  return { child, port: Number(/listening on [^:]+:(\d+)/.exec(line)![1]) };
}
