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
