// The RESP server as a hostile or careless client meets it: HTTP sent to the
// port, missing passwords, oversized and slow requests, too many clients.
import assert from "node:assert/strict";
import { withDir } from "./helpers.ts";
import { Client, concat, frame, type Reply, withServer } from "./resp_client.ts";
import { serveArgs } from "./ports.ts";

const MiB = 1024 * 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("security: HTTP requests are dropped unanswered and write nothing", async () => {
  await withServer(async (port, db) => {
    // What a web page can make a browser send with fetch(..., { mode: "no-cors" }).
    const requests = [
      "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 17\r\n\r\nSET pwned yes\r\n",
      "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\nSET pwned yes\r\n",
      // HTTP's version is case-sensitive, but a careless client's need not be.
      "GET / http/1.1\r\nHost: 127.0.0.1\r\n\r\nSET pwned yes\r\n",
      "Host: 127.0.0.1\r\nSET pwned yes\r\n",
      // HTTP/1.0 needs no Host: line; every method's request line is dropped.
      ...["HEAD", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE", "PROPFIND"].map((method) =>
        `${method} /x HTTP/1.0\r\n\r\nSET pwned yes\r\n`
      ),
      "OPTIONS * HTTP/1.1\r\n\r\nSET pwned yes\r\n",
      "CONNECT 127.0.0.1:6379 HTTP/1.0\r\n\r\nSET pwned yes\r\n",
    ];
    for (const request of requests) {
      const c = await Client.connect(port);
      try {
        await c.write(request);
        assert.ok(await c.closedByServer(), request.split("\r\n")[0]);
      } finally {
        c.close();
      }
    }
    // The same through a real HTTP client.
    await assert.rejects(
      fetch(`http://127.0.0.1:${port}/`, { method: "POST", body: "SET pwned yes\r\n" }),
    );
    // Redis also drops a client that sends `Host:` after valid commands.
    const c = await Client.connect(port);
    try {
      assert.equal(await c.call("SET", "ok", "1"), "OK");
      await c.write("Host: evil\r\n");
      assert.ok(await c.closedByServer());
    } finally {
      c.close();
    }
    // A first command that merely ends in `HTTP/...` is no request line.
    const d = await Client.connect(port);
    try {
      assert.equal(await d.call("SET", "ok", "HTTP/1.1"), "OK");
      // Nor is a later line: only Redis' own POST and Host: close then.
      assert.deepEqual(await d.call("PUT", "/x", "HTTP/1.0"), {
        err: "ERR unknown command 'PUT', with args beginning with: '/x' 'HTTP/1.0' ",
      });
    } finally {
      d.close();
    }
    assert.equal(await db.has("pwned"), false);
    assert.equal(await db.has("ok"), true);
  });
});

Deno.test("security: with a password, only PING, QUIT, AUTH and HELLO work before AUTH", async () => {
  await withServer(async (port) => {
    const c = await Client.connect(port);
    const d = await Client.connect(port);
    try {
      const noauth = { err: "NOAUTH Authentication required." };
      assert.deepEqual(await c.call("GET", "k"), noauth);
      assert.deepEqual(await c.call("SET", "k", "v"), noauth);
      // As in Redis 7.0, a command that does not exist, or has the wrong
      // number of arguments, is named as such before AUTH is asked for.
      assert.deepEqual(await c.call("NOSUCHCOMMAND"), {
        err: "ERR unknown command 'NOSUCHCOMMAND', with args beginning with: ",
      });
      assert.deepEqual(await c.call("GET"), {
        err: "ERR wrong number of arguments for 'get' command",
      });
      assert.deepEqual(await c.call("MULTI"), noauth);
      assert.equal(await c.call("PING"), "PONG");
      const wrongpass = { err: "WRONGPASS invalid username-password pair or user is disabled." };
      assert.deepEqual(await c.call("AUTH", "guess"), wrongpass);
      assert.deepEqual(await c.call("AUTH", "admin", "s3cret"), wrongpass);
      assert.deepEqual(await c.call("GET", "k"), noauth);
      assert.match(
        JSON.stringify(await c.call("HELLO", "2")),
        /NOAUTH HELLO must be called with the client already authenticated/,
      );
      assert.equal(await c.call("AUTH", "s3cret"), "OK");
      assert.equal(await c.call("SET", "k", "v"), "OK");
      // HELLO with AUTH authenticates and switches protocol in one step.
      const hello = await d.call(
        "HELLO",
        "2",
        "AUTH",
        "default",
        "s3cret",
        "SETNAME",
        "d",
      ) as Reply[];
      assert.deepEqual(hello.slice(0, 6), ["server", "redis", "version", "7.0.0", "proto", 2]);
      assert.equal(await d.call("GET", "k"), "v");
      assert.equal(await d.call("CLIENT", "GETNAME"), "d");
      assert.equal(await d.call("QUIT"), "OK");
    } finally {
      c.close();
      d.close();
    }
  }, { password: "s3cret" });
});

interface Run {
  started: boolean;
  code: number;
  stderr: string;
}

async function serve(args: string[], env: Record<string, string> = {}): Promise<Run> {
  let run: Run | undefined;
  await withDir(async (dir) => {
    const child = new Deno.Command(Deno.execPath(), {
      args: serveArgs(0, dir, ...args),
      env,
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    // A server that starts prints its address; stop it there.
    const reader = child.stdout.getReader();
    const first = await reader.read();
    const started = first.value !== undefined &&
      new TextDecoder().decode(first.value).startsWith("listening on");
    reader.releaseLock();
    if (started) child.kill("SIGTERM");
    const out = await child.output();
    run = { started, code: out.code, stderr: new TextDecoder().decode(out.stderr) };
  });
  return run!;
}

Deno.test("security: a non-loopback --host needs a password or --insecure", async () => {
  const refused = await serve(["--host", "0.0.0.0"]);
  assert.equal(refused.started, false);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /refusing to listen on 0\.0\.0\.0 without a password/);
  const [insecure, withEnv, withFlag] = await Promise.all([
    serve(["--host", "0.0.0.0", "--insecure"]),
    serve(["--host", "0.0.0.0"], { CASK_PASSWORD: "pw" }),
    serve(["--host", "0.0.0.0", "--requirepass", "pw"]),
  ]);
  for (const run of [insecure, withEnv, withFlag]) {
    assert.equal(run.started, true, run.stderr);
    assert.equal(run.code, 0, run.stderr);
  }
});

Deno.test("security: every spelling of a loopback address counts as loopback, and only those", async () => {
  const loopback = [
    "127.0.0.1",
    "127.1.2.3",
    "localhost",
    "::1",
    "[::1]",
    "0:0:0:0:0:0:0:1",
    "::ffff:127.0.0.1",
  ];
  const other = ["0.0.0.0", "0", "::", "[::]", "::2", "1::1", "::ffff:10.0.0.1", "128.0.0.1"];
  const runs = await Promise.all([...loopback, ...other].map((h) => serve(["--host", h])));
  runs.forEach((run, i) => {
    const host = [...loopback, ...other][i];
    const refused = /refusing to listen on .* without a password/.test(run.stderr);
    // A loopback address this machine lacks (IPv6) fails to bind instead: not a refusal.
    assert.equal(refused, i >= loopback.length, `${host}: ${run.stderr}`);
    if (refused) assert.equal(run.code, 2, host);
  });
});

async function reading(c: Client): Promise<Reply> {
  return await c.reply();
}

Deno.test("security: one client's query buffer is capped; the client is told and dropped", async () => {
  await withServer(async (port, db) => {
    const c = await Client.connect(port);
    const other = await Client.connect(port);
    try {
      // A bulk allowed by the length limit but bigger than the buffer cap.
      await c.write(`*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$${3 * MiB}\r\n`);
      const sending = c.write(new Uint8Array(2 * MiB)).catch(() => {});
      assert.deepEqual(await reading(c), {
        err: `ERR client query buffer exceeds its limit of ${MiB} bytes; closing the connection`,
      });
      assert.ok(await c.closedByServer());
      await sending;
      assert.equal(await other.call("PING"), "PONG");
      assert.equal(await db.has("k"), false);
      // What the dropped client held is given back.
      const info = String(await other.call("INFO", "clients"));
      assert.match(info, /client_query_buffers_bytes:\d{1,3}\r\n/);
    } finally {
      c.close();
      other.close();
    }
  }, { clientQueryBufferLimit: MiB });
});

Deno.test("security: all clients' query buffers together are capped too", async () => {
  await withServer(async (port) => {
    const a = await Client.connect(port);
    const b = await Client.connect(port);
    const watcher = await Client.connect(port);
    try {
      // Each stays under its own cap; together they pass the total one.
      await a.write(`*3\r\n$3\r\nSET\r\n$1\r\na\r\n$${MiB}\r\n`);
      await a.write(new Uint8Array(900 * 1024));
      for (let tries = 0;; tries++) {
        const info = String(await watcher.call("INFO", "clients"));
        if (Number(/client_query_buffers_bytes:(\d+)/.exec(info)![1]) >= 900 * 1024) break;
        assert.ok(tries < 1000, "the server never buffered the first client's bytes");
        await sleep(5);
      }
      await b.write(`*3\r\n$3\r\nSET\r\n$1\r\nb\r\n$${MiB}\r\n`);
      const sending = b.write(new Uint8Array(900 * 1024)).catch(() => {});
      assert.deepEqual(await b.reply(), {
        err: `ERR query buffers of all clients exceed their limit of ${1.5 * MiB} bytes; ` +
          "closing the connection",
      });
      assert.ok(await b.closedByServer());
      await sending;
      // The first client finishes its command normally.
      await a.write(new Uint8Array(MiB - 900 * 1024));
      await a.write("\r\n");
      assert.equal(await a.reply(), "OK");
    } finally {
      a.close();
      b.close();
      watcher.close();
    }
  }, { clientQueryBufferLimit: 1.2 * MiB, totalQueryBufferLimit: 1.5 * MiB });
});

Deno.test("security: idle clients are disconnected after the timeout, busy ones are not", async () => {
  await withServer(async (port) => {
    const idle = await Client.connect(port);
    const busy = await Client.connect(port);
    try {
      const started = Date.now();
      const closed = idle.closedByServer();
      // Pings every 50 ms: even a loaded machine stays far below the timeout.
      while (Date.now() - started < 1500) {
        assert.equal(await busy.call("PING"), "PONG");
        await sleep(50);
      }
      assert.equal(await closed, true);
      assert.equal(await busy.call("PING"), "PONG");
      // Redis' setting is in whole seconds: a part of one is one, as 0 is never.
      assert.deepEqual(await busy.call("CONFIG", "GET", "timeout"), ["timeout", "1"]);
    } finally {
      idle.close();
      busy.close();
    }
  }, { idleTimeoutMs: 600 });
});

Deno.test("security: the timeout disconnects a client that reads none of its replies; a slow reader stays", async () => {
  await withServer(async (port) => {
    const watcher = await Client.connect(port);
    // Far more replies than the server queues for a client (32 MiB).
    const value = "x".repeat(200_000);
    assert.equal(await watcher.call("SET", "big", value), "OK");
    const request = concat(Array.from({ length: 400 }, () => frame("GET", "big")));
    const greedy = await Deno.connect({ hostname: "127.0.0.1", port });
    const slow = await Deno.connect({ hostname: "127.0.0.1", port });
    try {
      for (const conn of [greedy, slow]) {
        for (let at = 0; at < request.length;) at += await conn.write(request.subarray(at));
      }
      // The slow client reads up to 8 MiB every 300 ms, well inside the 2 s timeout:
      // it gets every reply.
      const expected = 400 * (`$${value.length}\r\n`.length + value.length + 2);
      const chunk = new Uint8Array(8 << 20);
      let got = 0;
      while (got < expected) {
        await sleep(300);
        const n = await slow.read(chunk);
        assert.ok(n !== null, `the slow reader was dropped after ${got} of ${expected} bytes`);
        got += n;
      }
      assert.equal(got, expected);
      // The greedy client, which read nothing, was dropped at its timeout: what
      // it can still read ends early.
      let greedyGot = 0;
      for (;;) {
        const n = await Promise.race([
          greedy.read(chunk).catch(() => null),
          sleep(3000).then(() => "open" as const),
        ]);
        assert.notEqual(
          n,
          "open",
          `the server still holds the greedy client after ${greedyGot} bytes`,
        );
        if (n === null || n === "open") break;
        greedyGot += n;
      }
      assert.ok(greedyGot < expected, `${greedyGot} of ${expected} bytes`);
    } finally {
      greedy.close();
      slow.close();
      watcher.close();
    }
  }, { idleTimeoutMs: 2000 });
});

Deno.test("security: past maxclients, new clients are refused with Redis' error", async () => {
  await withServer(async (port) => {
    const a = await Client.connect(port);
    const b = await Client.connect(port);
    const c = await Client.connect(port);
    try {
      assert.equal(await a.call("PING"), "PONG");
      assert.equal(await b.call("PING"), "PONG");
      assert.deepEqual(await c.reply(), { err: "ERR max number of clients reached" });
      assert.ok(await c.closedByServer());
      a.close();
      // The freed slot is taken by the next client.
      for (let tries = 0;; tries++) {
        const d = await Client.connect(port);
        const reply = await d.call("PING").catch(() => undefined);
        d.close();
        if (reply === "PONG") break;
        assert.ok(tries < 500, "the freed slot was never given to a new client");
        await sleep(10);
      }
      const info = String(await b.call("INFO", "stats"));
      assert.match(info, /rejected_connections:[1-9]/);
    } finally {
      a.close();
      b.close();
      c.close();
    }
  }, { maxClients: 2 });
});

Deno.test("security: a client not yet authenticated that reads none of its replies is dropped early", async () => {
  await withServer(async (port) => {
    const stranger = await Deno.connect({ hostname: "127.0.0.1", port });
    const signedIn = await Client.connect(port);
    try {
      assert.equal(await signedIn.call("AUTH", "s3cret"), "OK");
      // PINGs of 16 KB each, allowed before AUTH, echo as much back, and the
      // client reads none of it. The server used to read on until it held
      // 32 MiB of replies for it (for each such client), then stop reading.
      const batch = concat(Array.from({ length: 64 }, () => frame("PING", "x".repeat(16_000))));
      let sent = 0;
      const dropped = async () => {
        for (;;) {
          for (let at = 0; at < batch.length;) at += await stranger.write(batch.subarray(at));
          sent += batch.length;
        }
      };
      const outcome = await Promise.race([
        dropped().catch(() => "dropped" as const),
        sleep(20_000).then(() => "stalled" as const),
      ]);
      assert.equal(outcome, "dropped", `after ${sent} bytes sent`);
      // What the socket buffers hold aside, it went well before 32 MiB.
      assert.ok(sent < 24 * MiB, `dropped only after ${sent} bytes`);
      assert.equal(await signedIn.call("PING"), "PONG");
    } finally {
      stranger.close();
      signedIn.close();
    }
  }, { password: "s3cret" });
});

Deno.test("security: at maxclients, a client dropped with an error or gone of itself gives its slot back at once", async () => {
  await withServer(async (port) => {
    const a = await Client.connect(port);
    const b = await Client.connect(port);
    try {
      assert.equal(await a.call("PING"), "PONG");
      assert.equal(await b.call("PING"), "PONG");
      for (let round = 0; round < 20; round++) {
        // Dropped for a protocol error: the server shuts its side and lingers
        // a while for the client to read the error, a second at most.
        const bad = await Client.connect(port);
        await bad.write("*1\r\n$-5\r\n");
        assert.deepEqual(await bad.reply(), { err: "ERR Protocol error: invalid bulk length" });
        assert.ok(await bad.closedByServer());
        bad.close();
        const next = await Client.connect(port);
        assert.equal(await next.call("PING"), "PONG", `round ${round}: after a drop`);
        // Gone of itself: its end comes in with the next client's connect.
        next.close();
        const again = await Client.connect(port);
        assert.equal(await again.call("PING"), "PONG", `round ${round}: after a close`);
        again.close();
      }
    } finally {
      a.close();
      b.close();
    }
  }, { maxClients: 3 });
});

Deno.test("security: a client not yet authenticated that reads its replies is kept", async () => {
  await withServer(async (port) => {
    const c = await Client.connect(port);
    try {
      // 160 KiB of PING echoes in one go, each PING within the limits before AUTH.
      const pings = Array.from({ length: 10 }, () => frame("PING", "x".repeat(16_384)));
      await c.write(concat(pings));
      for (let i = 0; i < 10; i++) assert.equal(await c.reply(), "x".repeat(16_384), `ping ${i}`);
      assert.equal(await c.call("AUTH", "s3cret"), "OK");
      assert.equal(await c.call("PING"), "PONG");
    } finally {
      c.close();
    }
  }, { password: "s3cret" });
});

Deno.test("security: clients dropped with an error hold at most maxclients lingering sockets", async () => {
  await withServer(async (port) => {
    const fds = () => [...Deno.readDirSync("/proc/self/fd")].length;
    const before = fds();
    const bad: Client[] = [];
    try {
      // Each reads its error and keeps its socket open, so the server's side
      // would linger for it a second.
      for (let i = 0; i < 40; i++) {
        const c = await Client.connect(port);
        bad.push(c);
        await c.write("*1\r\n$-5\r\n");
        assert.deepEqual(await c.reply(), { err: "ERR Protocol error: invalid bulk length" });
      }
      // The 40 clients' own sockets, and at most 2 of the server's, with room
      // for the runtime's own (a full suite's run on a loaded machine once saw
      // 49); lingering sockets unbounded would hold about 80.
      const held = fds() - before;
      assert.ok(held <= 40 + 2 + 10, `${held} descriptors held for 40 dropped clients`);
    } finally {
      for (const c of bad) c.close();
    }
  }, { maxClients: 2 });
});
