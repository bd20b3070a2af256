// redis-benchmark against `cask serve` and Debian's redis-server in the same
// run, with the same durability on both sides:
//   fsync every write:  cask --sync always  vs  redis appendonly yes, appendfsync always
//   no fsync:           cask --sync never   vs  redis appendonly yes, appendfsync no
// Workloads: SET and GET with 16-deep pipelines (-P 16, 50 clients), and
// unpipelined with 50 clients (-c 50). Each cell is the median of RUNS runs.
//
//   node_modules/deno/deno run -A bench/resp_bench.ts [--runs 3] [--requests 100000]
//
// Needs redis-server and redis-benchmark (apt-get install redis-server redis-tools).
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "3" },
    requests: { type: "string", default: "100000" },
    only: { type: "string" },
  },
});
const RUNS = Number(values.runs);
const REQUESTS = Number(values.requests);
const CLI = new URL("../cli.ts", import.meta.url).pathname;

interface Server {
  name: string;
  port: number;
  stop(): Promise<void>;
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = l.addr.port;
  l.close();
  return port;
}

async function waitForPort(port: number): Promise<void> {
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

async function start(name: string, cmd: string, args: string[], dir: string, port: number) {
  const child = new Deno.Command(cmd, { args, stdout: "null", stderr: "inherit" }).spawn();
  await waitForPort(port);
  return {
    name,
    port,
    async stop() {
      child.kill("SIGTERM");
      await child.status;
      await Deno.remove(dir, { recursive: true });
    },
  };
}

async function cask(sync: "always" | "never"): Promise<Server> {
  const dir = await Deno.makeTempDir({ prefix: "resp-bench-cask-" });
  const port = freePort();
  return await start(
    `cask --sync ${sync}`,
    Deno.execPath(),
    [
      "run",
      "-A",
      CLI,
      "serve",
      "--port",
      String(port),
      "--dir",
      dir,
      "--sync",
      sync,
    ],
    dir,
    port,
  );
}

async function redis(fsync: "always" | "no"): Promise<Server> {
  const dir = await Deno.makeTempDir({ prefix: "resp-bench-redis-" });
  const port = freePort();
  return await start(
    `redis AOF appendfsync ${fsync}`,
    "redis-server",
    [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--dir",
      dir,
      "--save",
      "",
      "--appendonly",
      "yes",
      "--appendfsync",
      fsync,
    ],
    dir,
    port,
  );
}

interface Workload {
  name: string;
  args: string[];
}

const WORKLOADS: Workload[] = [
  { name: "-P 16 SET", args: ["-t", "set", "-P", "16", "-c", "50"] },
  { name: "-P 16 GET", args: ["-t", "get", "-P", "16", "-c", "50"] },
  { name: "-c 50 SET", args: ["-t", "set", "-c", "50"] },
  { name: "-c 50 GET", args: ["-t", "get", "-c", "50"] },
];

async function rps(port: number, w: Workload): Promise<number> {
  // Unpipelined runs do a fifth of the requests: same wall time, roughly.
  const n = w.args.includes("-P") ? REQUESTS : REQUESTS / 5;
  const out = await new Deno.Command("redis-benchmark", {
    args: [
      "-h",
      "127.0.0.1",
      "-p",
      String(port),
      "-n",
      String(n),
      "-r",
      "10000",
      "--csv",
      ...w.args,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  const line = text.split("\n").find((l) => /^"(SET|GET)"/.test(l));
  if (!out.success || line === undefined) {
    throw new Error(`redis-benchmark failed: ${new TextDecoder().decode(out.stderr)}${text}`);
  }
  return Number(JSON.parse(`[${line}]`)[1]);
}

const median = (xs: number[]) => xs.toSorted((a, b) => a - b)[Math.floor(xs.length / 2)];

async function measure(server: Server): Promise<Map<string, number[]>> {
  const results = new Map<string, number[]>();
  try {
    for (const w of WORKLOADS) {
      // A first unmeasured run fills the keyspace so GETs find their keys.
      if (w.name.includes("GET") && !results.has("warm")) {
        await rps(server.port, WORKLOADS[0]);
        results.set("warm", []);
      }
      const runs: number[] = [];
      for (let i = 0; i < RUNS; i++) runs.push(await rps(server.port, w));
      results.set(w.name, runs);
    }
  } finally {
    await server.stop();
  }
  results.delete("warm");
  return results;
}

const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
const pairs: ["always" | "never", "always" | "no"][] = [["always", "always"], ["never", "no"]];
const rows: string[] = [];
for (const [sync, fsync] of pairs) {
  if (values.only !== undefined && values.only !== sync) continue;
  const c = await measure(await cask(sync));
  const r = await measure(await redis(fsync));
  for (const w of WORKLOADS) {
    const cm = median(c.get(w.name)!);
    const rm = median(r.get(w.name)!);
    rows.push(
      `| ${w.name} | cask --sync ${sync} vs redis appendfsync ${fsync} | ${fmt(cm)} | ${
        fmt(rm)
      } | ` +
        `${(cm / rm).toFixed(2)}x | ${c.get(w.name)!.map(fmt).join(" / ")} | ` +
        `${r.get(w.name)!.map(fmt).join(" / ")} |`,
    );
  }
}
const load = (await Deno.readTextFile("/proc/loadavg").catch(() => "?")).split(" ")[0];
console.log(
  `redis-benchmark, ${REQUESTS} requests pipelined (${REQUESTS / 5} unpipelined), ` +
    `-r 10000, 3-byte values, median of ${RUNS}; ${navigator.hardwareConcurrency} cores, ` +
    `1-min load ${load} at the end; ${(await redisVersion()).trim()}\n`,
);
console.log("| test | durability | cask req/s | redis req/s | ratio | cask runs | redis runs |");
console.log("| --- | --- | --- | --- | --- | --- | --- |");
for (const row of rows) console.log(row);

async function redisVersion(): Promise<string> {
  const out = await new Deno.Command("redis-server", { args: ["--version"], stdout: "piped" })
    .output();
  return new TextDecoder().decode(out.stdout);
}
