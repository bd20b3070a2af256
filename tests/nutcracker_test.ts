// Scale-out behind twemproxy (Debian package nutcracker): three `cask serve`
// processes behind one proxy with ketama hashing. redis-cli and
// redis-benchmark go through the proxy; keys must spread over the nodes; a
// node killed with SIGKILL and restarted must come back with its data, while
// the other nodes keep serving. Skips when nutcracker or redis-tools is missing.
import assert from "node:assert/strict";
import { withDir } from "./helpers.ts";
import { Client } from "./resp_client.ts";
import { freePort, serveArgs, waitForPort } from "./ports.ts";
import { installed } from "./redis_tools.ts";

const PASSWORD = "proxy-secret";
const dec = new TextDecoder();

const missing = [];
for (const tool of ["nutcracker", "redis-cli", "redis-benchmark"]) {
  if (!await installed(tool)) missing.push(tool);
}
if (missing.length > 0) {
  console.log(
    `${missing.join(", ")} not on PATH (apt-get install nutcracker redis-tools): skipping`,
  );
}

class Node {
  child?: Deno.ChildProcess;
  constructor(readonly name: string, readonly port: number, readonly dir: string) {}

  async start(): Promise<void> {
    this.child = new Deno.Command(Deno.execPath(), {
      args: serveArgs(this.port, this.dir),
      env: { CASK_PASSWORD: PASSWORD },
      stdout: "null",
      stderr: "null",
    }).spawn();
    await waitForPort(this.port);
  }

  async stop(signal: Deno.Signal): Promise<void> {
    if (this.child === undefined) return;
    this.child.kill(signal);
    await this.child.status;
    this.child = undefined;
  }

  /** A direct client to this node, authenticated. */
  async client(): Promise<Client> {
    const c = await Client.connect(this.port);
    assert.equal(await c.call("AUTH", PASSWORD), "OK");
    return c;
  }
}

// What README "More than one machine" says nutcracker 0.5.0 closes the client's
// connection on (QUIT aside), among the commands Cask has.
const CLOSED_BY_PROXY: string[][] = [
  ["MULTI"],
  ["EXEC"],
  ["DISCARD"],
  ["WATCH", "a"],
  ["UNWATCH"],
  ["KEYS", "*"],
  ["SCAN", "0"],
  ["RANDOMKEY"],
  ["DBSIZE"],
  ["FLUSHDB"],
  ["FLUSHALL"],
  ["INFO"],
  ["CONFIG", "GET", "maxclients"],
  ["COMMAND", "COUNT"],
  ["CLIENT", "ID"],
  ["HELLO", "2"],
  ["ECHO", "x"],
  ["SELECT", "0"],
  ["TIME"],
  ["SAVE"],
  ["BGSAVE"],
  ["BGREWRITEAOF"],
  ["LASTSAVE"],
  ["MSETNX", "a", "1", "b", "2"],
  ["RENAME", "a", "z"],
  ["RENAMENX", "a", "z"],
  ["SUBSTR", "a", "0", "1"],
  ["EXPIRETIME", "a"],
  ["PEXPIRETIME", "a"],
  ["EXPIRE", "a", "100", "NX"],
  ["PEXPIRE", "a", "100000", "XX"],
  ["EXPIREAT", "a", "4102444800", "GT"],
  ["PEXPIREAT", "a", "4102444800000", "LT"],
];

Deno.test("nutcracker: the README lists every command the proxy closes the connection on", async () => {
  const readme = await Deno.readTextFile(new URL("../README.md", import.meta.url));
  const start = readme.indexOf("**What the proxy does not do.**");
  const text = readme.slice(start, readme.indexOf("\n- **", start + 1)).replace(/\s+/g, " ");
  for (const [name] of CLOSED_BY_PROXY) assert.ok(text.includes(`\`${name}\``), name);
  assert.match(text, /with an option \(`NX`, `XX`, `GT`, `LT`\)/);
});

// The README's claims about the proxy, one by one: which commands close the
// connection, and the two that answer wrongly when their keys live on
// different nodes.
async function checkProxiedCommands(
  proxyPort: number,
  keys: string[],
  owner: Map<string, Node>,
): Promise<void> {
  const client = async () => {
    const c = await Client.connect(proxyPort);
    assert.equal(await c.call("AUTH", PASSWORD), "OK");
    return c;
  };
  for (const command of CLOSED_BY_PROXY) {
    const c = await client();
    try {
      await assert.rejects(c.call(...command), /connection closed/, command.join(" "));
    } finally {
      c.close();
    }
  }
  const c = await client();
  try {
    for (const command of [["EXPIRE", "a", "100"], ["EXPIREAT", "b", "4102444800"]]) {
      assert.equal(await c.call(...command), 1, command.join(" "));
    }
    assert.deepEqual(await c.call("SET", "a", "1", "GET"), "1");
    assert.equal(await c.call("GETEX", "a", "PERSIST"), "1");
    // Two keys on different nodes: EXISTS goes to the first key's node only.
    const first = keys[0];
    const other = keys.find((k) => owner.get(k) !== owner.get(first))!;
    assert.equal(await c.call("EXISTS", first, other), 1);
    assert.equal(await c.call("DEL", first, other), 2, "DEL is split per node");
    // COPY writes the copy on the source's node, where the proxy never looks.
    const source = keys[1];
    const target = keys.find((k) =>
      owner.get(k) !== owner.get(source) && k !== first && k !== other
    )!;
    assert.equal(await c.call("DEL", target), 1);
    assert.equal(await c.call("COPY", source, target), 1);
    assert.equal(await c.call("GET", target), null);
    const direct = await owner.get(source)!.client();
    assert.equal(await direct.call("GET", target), `value of ${source}`);
    assert.equal(await direct.call("DEL", target), 1);
    direct.close();
    // Put back what the later checks read.
    for (const key of [first, other, target]) {
      assert.equal(await c.call("SET", key, `value of ${key}`), "OK");
    }
  } finally {
    c.close();
  }
}

async function cli(port: number, ...args: string[]): Promise<string> {
  const out = await new Deno.Command("redis-cli", {
    args: ["-h", "127.0.0.1", "-p", String(port), "--no-auth-warning", "-a", PASSWORD, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, dec.decode(out.stderr));
  return dec.decode(out.stdout);
}

Deno.test({
  name: "nutcracker: three cask nodes behind twemproxy, one killed and restarted",
  ignore: missing.length > 0,
  async fn() {
    await withDir(async (dir) => {
      const nodes = [1, 2, 3].map((i) => new Node(`cask-${i}`, freePort(), `${dir}/node${i}`));
      const proxyPort = freePort();
      const conf = `${dir}/nutcracker.yml`;
      // The shipped example, pointed at this test's ports and password.
      const example = await Deno.readTextFile(
        new URL("../examples/nutcracker.yml", import.meta.url),
      );
      await Deno.writeTextFile(
        conf,
        example
          .replace("127.0.0.1:6380", `127.0.0.1:${proxyPort}`)
          .replace("redis_auth: change-me", `redis_auth: ${PASSWORD}`)
          .replace(/127\.0\.0\.1:638(\d):1 cask-\d/g, (_, i) => {
            const node = nodes[Number(i) - 1];
            return `127.0.0.1:${node.port}:1 ${node.name}`;
          }),
      );
      await Promise.all(nodes.map((n) => n.start()));
      const proxy = new Deno.Command("nutcracker", {
        args: ["-c", conf, "-s", String(freePort()), "-a", "127.0.0.1", "-o", `${dir}/proxy.log`],
        stdout: "null",
        stderr: "null",
      }).spawn();
      try {
        await waitForPort(proxyPort);

        // redis-cli through the proxy.
        assert.equal(await cli(proxyPort, "SET", "greeting", "hello"), "OK\n");
        assert.equal(await cli(proxyPort, "GET", "greeting"), "hello\n");
        assert.equal(await cli(proxyPort, "INCRBY", "counter", "5"), "5\n");
        assert.equal(await cli(proxyPort, "MSET", "a", "1", "b", "2", "c", "3"), "OK\n");
        assert.equal(await cli(proxyPort, "MGET", "a", "b", "c", "nope"), "1\n2\n3\n\n");

        // A pipelined client through the proxy writes 600 keys.
        const c = await Client.connect(proxyPort);
        assert.equal(await c.call("AUTH", PASSWORD), "OK");
        const keys = Array.from({ length: 600 }, (_, i) => `user:${i}`);
        await c.send(...keys.map((k) => ["SET", k, `value of ${k}`]));
        for (const _ of keys) assert.equal(await c.reply(), "OK");
        c.close();

        // redis-benchmark through the proxy (it warns that CONFIG is not proxied).
        const bench = await new Deno.Command("redis-benchmark", {
          args: ["-p", String(proxyPort), "-a", PASSWORD, "-t", "set,get", "-n", "2000", "-q"],
          stdout: "piped",
          stderr: "piped",
        }).output();
        const report = dec.decode(bench.stdout);
        assert.equal(bench.code, 0, dec.decode(bench.stderr));
        assert.match(report, /SET: [\d.]+ requests per second/);
        assert.match(report, /GET: [\d.]+ requests per second/);

        // Every node holds a fair share of the user keys.
        const owner = new Map<string, Node>();
        for (const node of nodes) {
          const direct = await node.client();
          const held = (await direct.call("KEYS", "user:*")) as string[];
          direct.close();
          assert.ok(held.length > 100, `${node.name} holds only ${held.length} of 600 keys`);
          for (const key of held) owner.set(key, node);
        }
        assert.equal(owner.size, 600, "every key lives on exactly one node");

        await checkProxiedCommands(proxyPort, keys, owner);

        // Kill node 2 outright: its acknowledged writes are on disk (--sync always).
        const [n1, n2, n3] = nodes;
        await n2.stop("SIGKILL");
        const p = await Client.connect(proxyPort);
        assert.equal(await p.call("AUTH", PASSWORD), "OK");
        for (const key of keys.slice(0, 60)) {
          const reply = await p.call("GET", key);
          if (owner.get(key) === n2) {
            assert.ok(typeof reply === "object" && reply !== null && "err" in reply, key);
          } else {
            assert.equal(reply, `value of ${key}`, `${key} on ${owner.get(key)!.name}`);
          }
        }
        p.close();
        for (const node of [n1, n3]) {
          const direct = await node.client();
          assert.equal(await direct.call("PING"), "PONG");
          direct.close();
        }

        // Restart it on the same directory and port: its keys are back.
        await n2.start();
        const q = await Client.connect(proxyPort);
        assert.equal(await q.call("AUTH", PASSWORD), "OK");
        // The proxy reconnects to the node on the first request for it.
        for (let i = 0;; i++) {
          const probe = keys.find((k) => owner.get(k) === n2)!;
          if ((await q.call("GET", probe)) === `value of ${probe}`) break;
          assert.ok(i < 100, "the proxy never reached the restarted node");
          await new Promise((r) => setTimeout(r, 50));
        }
        for (const key of keys) assert.equal(await q.call("GET", key), `value of ${key}`, key);
        q.close();
      } finally {
        proxy.kill("SIGTERM");
        await proxy.status;
        await Promise.all(nodes.map((n) => n.stop("SIGTERM")));
      }
    });
  },
});
