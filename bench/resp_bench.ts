// redis-benchmark against `cask serve` and Debian's redis-server in the same
// run, with the same durability on both sides:
//   fsync every write:  cask --sync always  vs  redis appendonly yes, appendfsync always
//   no fsync:           cask --sync never   vs  redis appendonly yes, appendfsync no
// and, for the rows without fsync, against redis-server as it comes (no AOF,
// RDB snapshots now and then), the baseline issue 14 names: it writes nothing
// per write at all, so it does less than either.
// The servers of a durability run side by side, and each run of a workload
// goes to each of them in turn: drift of a shared machine lands on both sides.
// Workloads: SET and GET with 16-deep pipelines (-P 16, 50 clients), and
// unpipelined with 50 clients (-c 50); INCR of one key (redis-benchmark's own
// INCR test, which has no -r), where every command reads what the one before
// it wrote. Each cell is the median of RUNS runs.
// Besides requests per second, the server's own CPU time per request (from
// /proc/<pid>/stat) is reported: on a shared machine it is steadier than
// throughput, which also depends on how much CPU redis-benchmark gets.
//
//   node_modules/deno/deno run -A bench/resp_bench.ts [--runs 3] [--requests 1000000]
//     [--only always|never] [--workload <part of a workload's name>]
//
// A million pipelined requests make a run last about a second or more. Runs of 100,000
// last a tenth of that, and startup weighs on them: in one session, -P 16 GET against
// `cask serve --sync never` gave 478k req/s over 100,000 requests and 1.09M over a million.
//
// Needs redis-server and redis-benchmark (apt-get install redis-server redis-tools).
import { parseArgs } from "node:util";
import { freePort, serveArgs, waitForPort } from "../tests/ports.ts";

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "3" },
    requests: { type: "string", default: "1000000" },
    only: { type: "string" },
    workload: { type: "string" },
  },
});
const RUNS = Number(values.runs);
const REQUESTS = Number(values.requests);

interface Server {
  name: string;
  port: number;
  pid: number;
  stop(): Promise<void>;
}

async function start(name: string, cmd: string, args: string[], dir: string, port: number) {
  const child = new Deno.Command(cmd, { args, stdout: "null", stderr: "inherit" }).spawn();
  await waitForPort(port);
  return {
    name,
    port,
    pid: child.pid,
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
    serveArgs(port, dir, "--sync", sync),
    dir,
    port,
  );
}

// redis-server with an AOF fsynced as `fsync` says, or with its defaults.
async function redis(fsync: "always" | "no" | "defaults"): Promise<Server> {
  const dir = await Deno.makeTempDir({ prefix: "resp-bench-redis-" });
  const port = freePort();
  const aof = ["--save", "", "--appendonly", "yes", "--appendfsync", fsync];
  return await start(
    fsync === "defaults" ? "redis defaults (no AOF, RDB snapshots)" : `appendfsync ${fsync}`,
    "redis-server",
    [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--dir",
      dir,
      ...(fsync === "defaults" ? [] : aof),
    ],
    dir,
    port,
  );
}

interface Workload {
  name: string;
  args: string[];
  /** Requests of a run; by default --requests pipelined, a fifth of it unpipelined. */
  requests?: number;
}

// INCR rows of one key: enough requests that -P 16 from 50 clients makes 25
// pipelines each, few enough that a run under fsync lasts seconds, not minutes.
const INCR_REQUESTS = 20_000;

const WORKLOADS: Workload[] = [
  { name: "-P 16 SET", args: ["-t", "set", "-P", "16", "-c", "50"] },
  { name: "-P 16 GET", args: ["-t", "get", "-P", "16", "-c", "50"] },
  { name: "-c 50 SET", args: ["-t", "set", "-c", "50"] },
  { name: "-c 50 GET", args: ["-t", "get", "-c", "50"] },
  // No store work at all: what one request costs in the network and dispatch paths.
  { name: "-c 50 PING", args: ["-t", "ping_mbulk", "-c", "50"] },
  // One key (no -r): each INCR reads what the one before it on that key wrote.
  { name: "-c 50 INCR (one key)", args: ["-t", "incr", "-c", "50"], requests: INCR_REQUESTS },
  {
    name: "-P 16 INCR (one key)",
    args: ["-t", "incr", "-P", "16", "-c", "50"],
    requests: INCR_REQUESTS,
  },
].filter((w) => values.workload === undefined || w.name.includes(values.workload));
if (WORKLOADS.length === 0) {
  console.error(`--workload ${values.workload} names no workload`);
  Deno.exit(2);
}

interface Result {
  rps: number;
  /** Server CPU (user + system) per request, in microseconds. */
  cpuUs: number;
}

// utime + stime of `pid`, in seconds.
async function cpuSeconds(pid: number): Promise<number> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function run(server: Server, w: Workload): Promise<Result> {
  // Unpipelined runs do a fifth of the requests: same wall time, roughly.
  const n = w.requests ?? (w.args.includes("-P") ? REQUESTS : REQUESTS / 5);
  const before = await cpuSeconds(server.pid);
  const out = await new Deno.Command("redis-benchmark", {
    args: [
      "-h",
      "127.0.0.1",
      "-p",
      String(server.port),
      "-n",
      String(n),
      // Without -r redis-benchmark's INCR names one key: that is the workload.
      ...(w.name.includes("one key") ? [] : ["-r", "10000"]),
      "--csv",
      ...w.args,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  const line = text.split("\n").find((l) => /^"(SET|GET|PING_MBULK|INCR)"/.test(l));
  if (!out.success || line === undefined) {
    throw new Error(`redis-benchmark failed: ${new TextDecoder().decode(out.stderr)}${text}`);
  }
  const cpu = await cpuSeconds(server.pid) - before;
  return { rps: Number(JSON.parse(`[${line}]`)[1]), cpuUs: (cpu * 1e6) / n };
}

const median = (xs: number[]) => xs.toSorted((a, b) => a - b)[Math.floor(xs.length / 2)];

// Each workload's runs on every server, run i of each in turn; by server, then workload.
async function measure(servers: Server[]): Promise<Map<string, Result[]>[]> {
  const results = servers.map(() => new Map<string, Result[]>());
  try {
    for (const w of WORKLOADS) {
      // An unmeasured first run of each workload, for every server alike: it
      // warms Cask's JIT for that path (a cold first run measured 0.4x of a
      // warm one), and the first fills the keyspace, so GETs find their keys.
      for (const s of servers) await run(s, w);
      for (const r of results) r.set(w.name, []);
      for (let i = 0; i < RUNS; i++) {
        for (const [j, s] of servers.entries()) results[j].get(w.name)!.push(await run(s, w));
      }
    }
  } finally {
    for (const s of servers) await s.stop();
  }
  return results;
}

const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
const groups: { sync: "always" | "never"; redis: ("always" | "no" | "defaults")[] }[] = [
  { sync: "always", redis: ["always"] },
  { sync: "never", redis: ["no", "defaults"] },
];
const rows: string[] = [];
for (const { sync, redis: kinds } of groups) {
  if (values.only !== undefined && values.only !== sync) continue;
  const servers = [await cask(sync)];
  for (const kind of kinds) servers.push(await redis(kind));
  const [c, ...others] = await measure(servers);
  for (const w of WORKLOADS) {
    for (const [j, r] of others.entries()) {
      const cr = c.get(w.name)!;
      const rr = r.get(w.name)!;
      const rps = [median(cr.map((x) => x.rps)), median(rr.map((x) => x.rps))];
      const cpu = [median(cr.map((x) => x.cpuUs)), median(rr.map((x) => x.cpuUs))];
      rows.push(
        `| ${w.name} | --sync ${sync} / ${servers[j + 1].name} | ${fmt(rps[0])} | ${
          fmt(rps[1])
        } | ` +
          `${(rps[0] / rps[1]).toFixed(2)}x | ${cpu[0].toFixed(1)} | ${cpu[1].toFixed(1)} | ` +
          `${(cpu[1] / cpu[0]).toFixed(2)}x | ${cr.map((x) => fmt(x.rps)).join(" / ")} | ` +
          `${rr.map((x) => fmt(x.rps)).join(" / ")} |`,
      );
    }
  }
}
const load = (await Deno.readTextFile("/proc/loadavg").catch(() => "?")).split(" ")[0];
console.log(
  `redis-benchmark, ${REQUESTS} requests pipelined (${REQUESTS / 5} unpipelined, ` +
    `${INCR_REQUESTS} INCR), -r 10000 (INCR: one key), 3-byte values, median of ${RUNS}; ` +
    `${navigator.hardwareConcurrency} cores, ` +
    `1-min load ${load} at the end; ${(await redisVersion()).trim()}\n`,
);
console.log(
  "| test | durability (cask / redis) | cask req/s | redis req/s | ratio | cask CPU us/req | " +
    "redis CPU us/req | CPU ratio (redis/cask) | cask runs | redis runs |",
);
console.log("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
for (const row of rows) console.log(row);

async function redisVersion(): Promise<string> {
  const out = await new Deno.Command("redis-server", { args: ["--version"], stdout: "piped" })
    .output();
  return new TextDecoder().decode(out.stdout);
}
