import assert from "node:assert/strict";
import { open } from "../mod.ts";
import { formatDumpLine, parseDumpLine, readDumpLine } from "../src/cli/dump_format.ts";
import { encodeOutput } from "../src/cli/encoding.ts";
import { dataFiles, prng, randomBytes, text, withDir } from "./helpers.ts";
import { serveArgs, startServe } from "./ports.ts";
import { Client } from "./resp_client.ts";

const CLI = new URL("../cli.ts", import.meta.url).pathname;
const dec = new TextDecoder();

interface Run {
  code: number;
  stdout: string;
  stdoutBytes: Uint8Array;
  stderr: string;
}

/** Runs `cask <args>` as a real subprocess, the way a user would; `env` adds variables. */
async function cask(
  args: string[],
  stdin?: Uint8Array | string,
  env: Record<string, string> = {},
  permissions = ["-A"],
): Promise<Run> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...permissions, CLI, ...args],
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", ...env },
  }).spawn();
  if (stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(typeof stdin === "string" ? new TextEncoder().encode(stdin) : stdin);
    await writer.close();
  }
  const out = await child.output();
  return {
    code: out.code,
    stdout: dec.decode(out.stdout),
    stdoutBytes: out.stdout,
    stderr: dec.decode(out.stderr),
  };
}

function ok(run: Run, what: string): Run {
  assert.equal(run.code, 0, `${what}: exit ${run.code}, stderr: ${run.stderr}`);
  return run;
}

Deno.test("cli: --version, --help, -V, -h and every command's --help", async () => {
  const version = ok(await cask(["--version"]), "version").stdout;
  assert.match(version, /^cask \d+\.\d+\.\d+\n$/);
  assert.equal(ok(await cask(["-V"]), "-V").stdout, version);
  const help = ok(await cask(["--help"]), "help").stdout;
  assert.equal(ok(await cask(["-h"]), "-h").stdout, help);
  for (const args of [["help"], ["help", "--help"], ["help", "-h"]]) {
    assert.equal(ok(await cask(args), args.join(" ")).stdout, help, args.join(" "));
  }
  // The overview names the options several commands share, and which take them.
  for (const flag of ["--dir <path>", "--sync <always|never|<ms>>", "--base64", "--hex"]) {
    assert.ok(help.includes(`\n  ${flag} `), `cask --help lists ${flag}:\n${help}`);
  }
  assert.match(help, /^Options of get, set, del, has, scan:\n {2}--base64 /m);
  assert.match(help, /^ {2}CASK_DIR /m);
  assert.match(help, /^ {2}-V, --version /m);
  const names = [
    "get",
    "set",
    "del",
    "has",
    "scan",
    "compact",
    "stats",
    "verify",
    "dump",
    "load",
    "backup",
    "serve",
  ];
  for (const name of names) {
    assert.match(help, new RegExp(`^  ${name} `, "m"));
    const sub = ok(await cask([name, "--help"]), `${name} --help`).stdout;
    assert.match(sub, new RegExp(`^Usage: cask ${name}`));
    assert.match(sub, /--dir <path>/);
    assert.equal(ok(await cask([name, "-h"]), `${name} -h`).stdout, sub);
  }
  assert.equal(
    ok(await cask(["help", "get"]), "help get").stdout.split("\n")[0],
    "Usage: cask get <key> [options]",
  );
});

Deno.test("cli: CASK_DIR names the store when --dir is absent; --dir wins", async () => {
  await withDir(async (dir) => {
    const env = { CASK_DIR: `${dir}/env` };
    ok(await cask(["set", "k", "from env"], undefined, env), "set with CASK_DIR");
    ok(await cask(["set", "k", "from flag", "--dir", `${dir}/flag`], undefined, env), "set --dir");
    assert.equal(ok(await cask(["get", "k"], undefined, env), "get").stdout, "from env");
    const verified = ok(await cask(["verify"], undefined, env), "verify with CASK_DIR").stdout;
    assert.match(verified, /^checked 1 data file, 1 record,/);
    for (const sub of ["env", "flag"]) {
      await using db = await open(`${dir}/${sub}`);
      assert.equal(await db.getString("k"), `from ${sub}`);
    }
  });
});

Deno.test("cli: set, get, has, del with exit codes", async () => {
  await withDir(async (dir) => {
    const d = ["--dir", dir];
    assert.equal(ok(await cask(["set", "greeting", "hello world", ...d]), "set").stdout, "");
    assert.equal(ok(await cask(["get", "greeting", ...d]), "get").stdout, "hello world");
    assert.equal(ok(await cask(["has", "greeting", ...d]), "has").stdout, "true\n");
    const missing = await cask(["get", "nope", ...d]);
    assert.equal(missing.code, 1);
    assert.equal(missing.stdout, "");
    assert.match(missing.stderr, /not found: nope/);
    const hasMissing = await cask(["has", "nope", ...d]);
    assert.deepEqual([hasMissing.code, hasMissing.stdout], [1, "false\n"]);
    assert.equal(ok(await cask(["del", "greeting", ...d]), "del").stdout, "true\n");
    assert.equal(ok(await cask(["del", "greeting", ...d]), "del again").stdout, "false\n");
    assert.equal((await cask(["get", "greeting", ...d])).code, 1);
    // Values that look like options are still values.
    ok(await cask(["set", "temp", "-5", ...d]), "negative value");
    assert.equal(ok(await cask(["get", "temp", ...d]), "get").stdout, "-5");
  });
});

Deno.test("cli: binary keys and values through --hex, --base64 and stdin", async () => {
  await withDir(async (dir) => {
    const d = ["--dir", dir];
    const value = Uint8Array.from({ length: 256 }, (_, i) => 255 - i);
    ok(await cask(["set", "--hex", "00ff0a", ...d], value), "set from stdin");
    const hex = ok(await cask(["get", "--hex", "00ff0a", ...d]), "get --hex").stdout;
    assert.equal(hex, value.toHex() + "\n");
    const b64 = ok(await cask(["get", "--base64", "AP8K", ...d]), "get --base64").stdout;
    assert.equal(b64, value.toBase64() + "\n");
    const raw = ok(await cask(["get", "--hex", "00ff0a", ...d]), "get").stdoutBytes;
    assert.equal(raw.length, 256 * 2 + 1);
    // Raw, a value comes back byte for byte: no line end is added off a terminal.
    const blob = randomBytes(prng(7), 300_000);
    ok(await cask(["set", "blob", ...d], blob), "set from stdin");
    assert.deepEqual(ok(await cask(["get", "blob", ...d]), "get blob").stdoutBytes, blob);
    ok(await cask(["set", "--base64", "a2V5", "dmFsdWU=", ...d]), "set --base64");
    assert.equal(ok(await cask(["get", "key", ...d]), "get").stdout, "value");
    const db = await open(dir);
    try {
      assert.deepEqual(await db.get(Uint8Array.fromHex("00ff0a")), value);
    } finally {
      await db.close();
    }
  });
});

// `script` (util-linux) runs a command on a pseudo-terminal: the one way to
// give `cask set` a real terminal as stdin.
const hasScript = await new Deno.Command("script", { args: ["--version"], stdout: "null" })
  .output().then((o) => o.success, () => false);
if (!hasScript) console.log("script (util-linux) not on PATH: skipping the terminal test");

/**
 * Runs `cask <args>` on a pseudo-terminal; once the screen shows `prompt`,
 * types `input`. Returns what the screen showed before the typing, and the exit code.
 */
async function atTerminal(
  args: string[],
  prompt: string,
  input: string,
): Promise<{ screen: string; code: number }> {
  const command = [Deno.execPath(), "run", "-A", CLI, ...args].map((w) => `'${w}'`).join(" ");
  const child = new Deno.Command("script", {
    args: ["-qec", command, "/dev/null"],
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
    env: { NO_COLOR: "1" },
  }).spawn();
  // Without the prompt cask would wait for input for ever: give up after a while.
  const giveUp = setTimeout(() => child.kill(), 10_000);
  const keyboard = child.stdin.getWriter();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  try {
    let screen = "";
    while (!screen.includes(prompt)) {
      const { value, done } = await reader.read();
      if (done) break;
      screen += value;
    }
    await keyboard.write(new TextEncoder().encode(input)).catch(() => {});
    await keyboard.close().catch(() => {});
    // Read the screen to its end: a closed pipe would kill `script` with SIGPIPE.
    while (!(await reader.read()).done);
    return { screen, code: (await child.status).code };
  } finally {
    clearTimeout(giveUp);
  }
}

Deno.test({
  name: "cli: set without a value says on a terminal that it reads stdin, and not when piped",
  ignore: !hasScript,
  async fn() {
    await withDir(async (dir) => {
      const run = await atTerminal(["set", "k", "--dir", dir], "Ctrl-D", "typed value\n\x04");
      // The notice comes while cask waits for input, before any is typed.
      assert.match(run.screen, /cask set: reading the value from stdin; end it with Ctrl-D/);
      assert.equal(run.code, 0);
      await using db = await open(dir);
      assert.equal(await db.getString("k"), "typed value\n");
    });
    await withDir(async (dir) => {
      const piped = ok(await cask(["set", "k", "--dir", dir], "piped value"), "set from a pipe");
      assert.equal(piped.stderr, "");
    });
  },
});

Deno.test("cli: scan with prefix, bounds, reverse, limit and keys-only", async () => {
  await withDir(async (dir) => {
    const d = ["--dir", dir];
    const db = await open(dir);
    try {
      for (const k of ["a:1", "a:2", "a:3", "b:1", "c:1"]) await db.set(k, `v-${k}`);
    } finally {
      await db.close();
    }
    assert.equal(
      ok(await cask(["scan", ...d]), "scan").stdout,
      "a:1\tv-a:1\na:2\tv-a:2\na:3\tv-a:3\nb:1\tv-b:1\nc:1\tv-c:1\n",
    );
    assert.equal(
      ok(await cask(["scan", "--prefix", "a:", "--keys-only", ...d]), "prefix").stdout,
      "a:1\na:2\na:3\n",
    );
    assert.equal(
      ok(await cask(["scan", "--start", "a:2", "--end", "b:2", "--keys-only", ...d]), "range")
        .stdout,
      "a:2\na:3\nb:1\n",
    );
    assert.equal(
      ok(await cask(["scan", "--reverse", "--limit", "2", "--keys-only", ...d]), "reverse").stdout,
      "c:1\nb:1\n",
    );
    assert.equal(
      ok(await cask(["scan", "--prefix", "62", "--hex", ...d]), "hex").stdout,
      "623a31\t762d623a31\n",
    );
  });
});

Deno.test("cli: stats as text and JSON", async () => {
  await withDir(async (dir) => {
    const d = ["--dir", dir];
    ok(await cask(["set", "k", "v1", ...d]), "set");
    ok(await cask(["set", "k", "v2", ...d]), "set");
    const stats = JSON.parse(ok(await cask(["stats", "--json", ...d]), "stats --json").stdout);
    assert.equal(stats.keys, 1);
    assert.ok(stats.deadBytes > 0 && stats.liveBytes > 0);
    assert.ok(Array.isArray(stats.files) && stats.files.length >= 1);
    const human = ok(await cask(["stats", ...d]), "stats").stdout;
    assert.match(human, /^keys +1$/m);
    assert.match(human, /^dead bytes +\d/m);
    assert.match(human, /^ {2}data\.\d+ /m);
  });
});

Deno.test("cli: compact keeps the data and prints no progress when not on a terminal", async () => {
  await withDir(async (dir) => {
    const d = ["--dir", dir, "--sync", "never"];
    const db = await open(dir, { maxFileSize: 4096, sync: "never" });
    try {
      for (let round = 0; round < 5; round++) {
        for (let i = 0; i < 50; i++) await db.set(`k${i}`, `round ${round} ${"x".repeat(40)}`);
      }
    } finally {
      await db.close();
    }
    const run = ok(await cask(["compact", ...d]), "compact");
    assert.match(run.stdout, /^compacted /);
    assert.ok(!run.stderr.includes("\r") && !run.stderr.includes("\x1b"), run.stderr);
    assert.match(ok(await cask(["get", "k49", ...d]), "get").stdout, /^round 4 x+$/);
    const stats = JSON.parse(ok(await cask(["stats", "--json", ...d]), "stats").stdout);
    assert.equal(stats.keys, 50);
  });
});

Deno.test("cli: scan that meets a damaged record prints every line before it, dump every key but it; both exit 3", async () => {
  await withDir(async (dir) => {
    {
      // With an index checkpoint the open trusts the records; the scan meets the damage.
      await using db = await open(dir, { checkpoint: { minKeys: 0 } });
      for (let i = 0; i < 100; i++) await db.set(`k${String(i).padStart(2, "0")}`, `value ${i}`);
    }
    const file = (await dataFiles(dir))[0];
    const b = await Deno.readFile(file);
    // The last byte of "value 50", found after its key: "value 5" alone can
    // also end the record of k05 when the next record's CRC begins with "0".
    // latin1 keeps offsets equal to bytes.
    const at = new TextDecoder("latin1").decode(b).indexOf("k50value 50");
    assert.ok(at > 0);
    b[at + "k50value 5".length] ^= 1;
    await Deno.writeFile(file, b);
    for (const command of ["scan", "dump"]) {
      const run = await cask([command, "--dir", dir]);
      assert.equal(run.code, 3, run.stderr);
      assert.match(run.stderr, /checksum|damaged/, command);
      const lines = run.stdout.split("\n").filter((l) => l !== "");
      // A dump goes on past the damaged key, and names it.
      const want = command === "dump" ? 99 : 50;
      assert.equal(lines.length, want, `${command}: ${lines.length} lines: ${run.stderr}`);
    }
    const dump = await cask(["dump", "--dir", dir]);
    const k50 = new TextEncoder().encode("k50").toHex();
    assert.match(dump.stderr, new RegExp(`cask dump: key ${k50} \\(hex\\) left out: `));
    assert.match(dump.stderr, /cask dump: 1 damaged key left out; every other key is dumped\n$/);
    const keys = dump.stdout.trim().split("\n").map((l) => atob(JSON.parse(l).key));
    assert.deepEqual(
      keys,
      Array.from({ length: 100 }, (_, i) => `k${String(i).padStart(2, "0")}`).filter((k) =>
        k !== "k50"
      ),
    );
  });
});

Deno.test("cli: compact that drops damaged records says so and exits 3", async () => {
  // With an index checkpoint the open trusts the records it covers and the
  // compaction finds the damage; without one the open's scan skips it.
  for (const checkpoint of [{ minKeys: 0 }, false]) {
    await withDir(async (dir) => {
      {
        await using db = await open(dir, { maxFileSize: 4096, checkpoint });
        for (let i = 0; i < 100; i++) await db.set(`k${i}`, `value ${i} ${"x".repeat(40)}`);
      }
      const first = (await dataFiles(dir))[0];
      const b = await Deno.readFile(first);
      b[b.lastIndexOf("x".charCodeAt(0))] ^= 1;
      await Deno.writeFile(first, b);
      const run = await cask(["compact", "--dir", dir]);
      assert.equal(run.code, 3, run.stderr);
      assert.match(run.stdout, /^compacted /);
      assert.match(run.stderr, /damaged/);
      assert.match(
        run.stderr,
        /\ncask compact: damaged data was dropped for good \(\d+ warnings? above\)\n$/,
      );
    });
  }
});

Deno.test("cli: verify passes a clean store and reports damage by file and offset (exit 3)", async () => {
  await withDir(async (dir) => {
    const db = await open(dir, { maxFileSize: 2048 });
    try {
      for (let i = 0; i < 60; i++) await db.set(`k${i}`, "v".repeat(50));
    } finally {
      await db.close();
    }
    const clean = ok(await cask(["verify", "--dir", dir]), "verify clean");
    assert.match(clean.stdout, /^checked \d+ data files, 60 records, .*: no problems\n$/);

    const [first] = await dataFiles(dir);
    const bytes = await Deno.readFile(first);
    bytes[300] ^= 0xff;
    await Deno.writeFile(first, bytes);
    const damaged = await cask(["verify", "--dir", dir]);
    assert.equal(damaged.code, 3, damaged.stderr);
    assert.match(damaged.stdout, /: 1 problem\n/);
    const line = damaged.stdout.split("\n")[1];
    assert.match(line, /^damaged (.+) at offset (\d+) \(\d+ bytes\)$/);
    assert.ok(line.includes(first), line);
    const offset = Number(/at offset (\d+)/.exec(line)![1]);
    assert.ok(offset > 0 && offset <= 300, line);

    const json = await cask(["verify", "--json", "--dir", dir]);
    assert.equal(json.code, 3);
    const report = JSON.parse(json.stdout);
    assert.deepEqual(report.issues.map((i: { kind: string }) => i.kind), ["damaged"]);

    const missing = await cask(["verify", "--dir", `${dir}/nope`]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /no Cask store at/);
  });
});

Deno.test("cli: dump then load round-trips binary data and expiry", async () => {
  await withDir(async (src) => {
    await withDir(async (dst) => {
      const db = await open(src);
      const binaryKey = Uint8Array.from([0, 1, 2, 255, 10, 13]);
      const binaryValue = Uint8Array.from({ length: 1000 }, (_, i) => (i * 7) & 255);
      const hour = Date.now() + 3_600_000;
      try {
        await db.set(binaryKey, binaryValue);
        await db.set("text", "héllo\nworld\t!");
        await db.set("empty", "");
        await db.set("expiring", "soon", { ttl: 3_600_000 });
      } finally {
        await db.close();
      }
      const dump = ok(await cask(["dump", "--dir", src]), "dump").stdout;
      const lines = dump.trimEnd().split("\n").map((l) => JSON.parse(l));
      assert.equal(lines.length, 4);
      const expiring = lines.find((l) => l.key === btoa("expiring"));
      assert.ok(Math.abs(expiring.expireAt - hour) < 60_000, "expireAt is kept");
      assert.ok(lines.filter((l) => "expireAt" in l).length === 1);

      const loaded = ok(await cask(["load", "--dir", dst], dump), "load").stdout;
      assert.equal(loaded, "loaded 4 keys\n");
      const copy = await open(dst);
      try {
        assert.deepEqual(await copy.get(binaryKey), binaryValue);
        assert.equal(text(await copy.get("text")), "héllo\nworld\t!");
        assert.equal(text(await copy.get("empty")), "");
        const ttl = await copy.ttl("expiring");
        assert.ok(ttl !== undefined && ttl > 3_000_000 && ttl <= 3_600_000, `ttl ${ttl}`);
      } finally {
        await copy.close();
      }
      // Loading from a file gives the same store; keys already expired are skipped.
      const file = `${dst}.jsonl`;
      await Deno.writeTextFile(
        file,
        dump + JSON.stringify({ key: btoa("old"), value: "", expireAt: 1000 }) + "\n",
      );
      try {
        const again = ok(await cask(["load", file, "--dir", dst, "--batch", "2"]), "load file");
        assert.equal(again.stdout, "loaded 4 keys (1 already expired, skipped)\n");
      } finally {
        await Deno.remove(file);
      }
      assert.equal(
        ok(await cask(["dump", "--dir", dst]), "dump copy").stdout.split("\n").length,
        5,
      );
    });
  });
});

Deno.test("cli: a key that load wrote past the default maxKeySize is deleted by del, as get and has read it", async () => {
  await withDir(async (dir) => {
    const key = btoa("k".repeat(70_000));
    ok(
      await cask(["load", "--dir", dir], `${JSON.stringify({ key, value: btoa("v") })}\n`),
      "load",
    );
    assert.equal(ok(await cask(["has", "--dir", dir, "--base64", key]), "has").stdout, "true\n");
    assert.equal(ok(await cask(["del", "--dir", dir, "--base64", key]), "del").stdout, "true\n");
    assert.equal((await cask(["has", "--dir", dir, "--base64", key])).code, 1);
  });
});

Deno.test({
  name:
    "cli: an argument with bytes that are not UTF-8 is refused (exit 2), never folded into U+FFFD",
  ignore: Deno.build.os === "windows",
  async fn() {
    await withDir(async (dir) => {
      // Only a shell can pass such bytes: Deno's own arguments are strings.
      const run = (key: string) =>
        new Deno.Command("bash", {
          args: ["-c", `"$0" run -A "$1" set --dir "$2" $'${key}' v`, Deno.execPath(), CLI, dir],
          stdout: "piped",
          stderr: "piped",
        }).output();
      for (const key of ["k\\xff", "k\\xfe"]) {
        const out = await run(key);
        assert.equal(out.code, 2, dec.decode(out.stderr));
        assert.match(dec.decode(out.stderr), /--hex or --base64/);
      }
      // Nor a directory named so: two such names would be one store.
      const bad = await new Deno.Command("bash", {
        args: ["-c", `"$0" run -A "$1" set --dir "$2"/$'a\\xff' k v`, Deno.execPath(), CLI, dir],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(bad.code, 2, dec.decode(bad.stderr));
      // Nor a backup target or a load file named so, nor $CASK_DIR (which Deno refuses to read).
      const shell = (script: string) =>
        new Deno.Command("bash", {
          args: ["-c", script, Deno.execPath(), CLI, dir],
          stdout: "piped",
          stderr: "piped",
        }).output();
      for (
        const script of [
          `"$0" run -A "$1" load --dir "$2" "$2"/$'f\\xff'`,
          `CASK_DIR="$2"/$'e\\xff' "$0" run -A "$1" set k v`,
        ]
      ) {
        const out = await shell(script);
        assert.equal(out.code, 2, `${script}: ${dec.decode(out.stderr)}`);
      }
      // Nothing was stored, nor a store made.
      assert.deepEqual([...Deno.readDirSync(dir)], []);
      await withDir(async (src) => {
        await (await open(src)).close();
        const out = await shell(`"$0" run -A "$1" backup --dir "${src}" "$2"/$'t\\xff'`);
        assert.equal(out.code, 2, dec.decode(out.stderr));
        assert.deepEqual([...Deno.readDirSync(dir)], []);
      });
    });
  },
});

Deno.test("cli: load refuses a malformed dump line with its number (exit 2)", async () => {
  await withDir(async (dir) => {
    const good = JSON.stringify({ key: btoa("a"), value: btoa("1") });
    for (
      const [bad, message] of [
        ["{not json", /line 2: not valid JSON/],
        [JSON.stringify({ key: "%%%", value: "" }), /line 2: 'key' is not valid base64/],
        [JSON.stringify({ key: btoa("k"), value: "", extra: 1 }), /line 2: unknown field 'extra'/],
        [JSON.stringify({ key: btoa("k"), value: "", expireAt: -1 }), /line 2: expireAt/],
        [JSON.stringify({ value: "" }), /line 2: missing base64 string 'key'/],
        [JSON.stringify({ key: "", value: "" }), /line 2: key must not be empty/],
        [
          JSON.stringify({ key: new Uint8Array(16 * 1024 * 1024 + 1).toBase64(), value: "" }),
          /line 2: key is 16777217 bytes; a store takes at most 16777216/,
        ],
      ] as const
    ) {
      const run = await cask(["load", "--dir", dir], `${good}\n${bad}\n`);
      assert.equal(run.code, 2, run.stderr);
      assert.match(run.stderr, message);
      assert.match(run.stderr, /; stopped after loading 0 keys\n/);
    }
  });
});

/** A dump of `n` good lines `k0..k<n-1>`, then a line that is not JSON. */
function dumpWithBadLine(n: number): string {
  const lines = Array.from(
    { length: n },
    (_, i) => JSON.stringify({ key: btoa(`k${i}`), value: btoa(`v${i}`) }),
  );
  return [...lines, "{oops", ""].join("\n");
}

async function keysIn(dir: string): Promise<number> {
  await using db = await open(dir);
  return db.size;
}

Deno.test("cli: load stopped by a bad line says how many keys it stored, and stored them", async () => {
  await withDir(async (dir) => {
    const run = await cask(["load", "--dir", dir, "--batch", "1"], dumpWithBadLine(3));
    assert.equal(run.code, 2, run.stderr);
    assert.equal(
      run.stderr,
      "cask load: dump line 4: not valid JSON; stopped after loading 3 keys\n",
    );
    assert.equal(await keysIn(dir), 3);
  });
});

Deno.test("cli: load --atomic stores the whole dump or none of it", async () => {
  // More good lines than one default batch (1000), so a batched load would keep some.
  const dump = dumpWithBadLine(1500);
  await withDir(async (dir) => {
    const batched = await cask(["load", "--dir", dir], dump);
    assert.equal(batched.code, 2, batched.stderr);
    assert.match(batched.stderr, /stopped after loading 1000 keys/);
    assert.equal(await keysIn(dir), 1000);
  });
  await withDir(async (dir) => {
    const atomic = await cask(["load", "--atomic", "--dir", dir], dump);
    assert.equal(atomic.code, 2, atomic.stderr);
    assert.match(atomic.stderr, /dump line 1501: not valid JSON; nothing loaded \(--atomic\)/);
    assert.equal(await keysIn(dir), 0);
    const whole = dump.slice(0, dump.lastIndexOf("{oops"));
    assert.equal(
      ok(await cask(["load", "--atomic", "--dir", dir], whole), "load").stdout,
      "loaded 1500 keys\n",
    );
    await using db = await open(dir);
    assert.equal(db.size, 1500);
    assert.equal(await db.getString("k1499"), "v1499");
    const both = await cask(["load", "--atomic", "--batch", "5", "--dir", `${dir}/other`], "");
    assert.equal(both.code, 2);
    assert.match(both.stderr, /--atomic and --batch exclude each other/);
  });
});

Deno.test("cli: usage errors exit 2 and say what is wrong", async () => {
  await withDir(async (dir) => {
    const d = ["--dir", dir];
    const cases: [string[], RegExp][] = [
      [[], /Usage: cask <command>/],
      [["frobnicate"], /unknown command 'frobnicate'/],
      [["get", ...d], /missing argument: expected <key>/],
      [["get", "a", "b", ...d], /unexpected argument 'b'/],
      [["get", "k", "--bogus", ...d], /unknown option '--bogus'/],
      [["set", "k", "v", "--ttl", "soon", ...d], /--ttl must be an integer >= 1, got 'soon'/],
      [["set", "k", "v", "--ttl", "0", ...d], /--ttl must be an integer >= 1, got '0'/],
      [
        ["set", "k", "v", "--ttl", "9007199254740000", ...d],
        /--ttl 9007199254740000 puts the expiry past the largest timestamp/,
      ],
      [
        ["set", "k", "v", "--ttl", "9007199254740992", ...d],
        /--ttl must be an integer <= 9007199254740991, got '9007199254740992'/,
      ],
      [["get", "k", "--sync", "0", ...d], /--sync \(always, never or ms\) must be an integer in/],
      [["get", "k", "--hex", "--base64", ...d], /--base64 and --hex exclude each other/],
      [["get", "zz", "--hex", ...d], /key is not valid hex/],
      [["scan", "--limit", "-1", ...d], /--limit must be an integer >= 0/],
      [["get", "k", "--sync", "sometimes", ...d], /--sync must be always, never or a number/],
      [["get", "k", "--dir"], /option '--dir' needs a value/],
      [["set", "", "v", ...d], /key must not be empty/],
      [["set", "k".repeat(65_537), "v", ...d], /key is 65537 bytes; maxKeySize is 65536/],
      [["serve", "--port", "70000", ...d], /--port must be an integer in \[0, 65535\]/],
      [
        ["serve", "--value-cache", "-1", ...d],
        /--value-cache must be an integer in \[0, 1073741824\]/,
      ],
      [
        ["serve", "--value-cache", "2000000000", ...d],
        /--value-cache must be an integer in \[0, 1073741824\]/,
      ],
    ];
    for (const [args, message] of cases) {
      const run = await cask(args);
      assert.equal(run.code, 2, `${args.join(" ")}: exit ${run.code}, stderr ${run.stderr}`);
      assert.match(run.stderr, message, args.join(" "));
    }
    const left = [...Deno.readDirSync(dir)].map((e) => e.name);
    assert.deepEqual(left, [], "a usage error leaves no new store behind");
  });
});

// The commands that only read, with `d` (`--dir DIR`), and their output for a store holding k = v.
function readCommands(d: string[]): [string[], RegExp][] {
  return [
    [["get", "k", ...d], /^v$/],
    [["has", "k", ...d], /^true\n$/],
    [["scan", ...d], /^k\tv\n$/],
    [["stats", "--json", ...d], /"keys":1/],
    [["dump", ...d], /^\{"key":"aw=="/],
  ];
}

Deno.test("cli: read commands open read-only where the process may not write, and say so", async () => {
  await withDir(async (dir) => {
    const db = await open(dir);
    await db.set("k", "v");
    await db.close();
    const d = ["--dir", dir];
    const reads = readCommands(d);
    // Deno's --allow-write not granted: the store cannot be locked for writing.
    const readOnly = ["--allow-read", "--allow-env"];
    for (const [args, out] of reads) {
      const run = ok(await cask(args, undefined, {}, readOnly), args[0]);
      assert.match(run.stdout, out, args[0]);
      assert.match(run.stderr, /cannot be written by this process; reading it read-only/, args[0]);
    }
    const set = await cask(["set", "k", "w", ...d], undefined, {}, readOnly);
    assert.equal(set.code, 3, set.stderr);
  });
});

Deno.test("cli: read commands beside a writer in another process open read-only and say so", async () => {
  await withDir(async (dir) => {
    const db = await open(dir);
    try {
      await db.set("k", "v");
      const d = ["--dir", dir];
      const reads = readCommands(d);
      for (const [args, out] of reads) {
        const run = ok(await cask(args), args[0]);
        assert.match(run.stdout, out, args[0]);
        assert.match(run.stderr, /in use by another process; reading it read-only/, args[0]);
      }
      // Writes still need the lock.
      const set = await cask(["set", "k", "w", ...d]);
      assert.equal(set.code, 3, set.stderr);
      assert.match(set.stderr, /locked/);
      assert.equal(text(await db.get("k")), "v");
    } finally {
      await db.close();
    }
    // Without a writer they open the store as before, and say nothing.
    assert.equal(ok(await cask(["get", "k", "--dir", dir]), "get").stderr, "");
  });
});

Deno.test("cli: a read command at a directory holding no store fails with exit 2 and creates nothing", async () => {
  await withDir(async (dir) => {
    const missing = `${dir}/typo`;
    const empty = `${dir}/empty`;
    await Deno.mkdir(empty);
    for (const where of [missing, empty]) {
      for (
        const args of [["get", "k"], ["has", "k"], ["scan"], ["stats"], ["dump"], ["verify"], [
          "backup",
          `${dir}/b`,
        ]]
      ) {
        const run = await cask([...args, "--dir", where]);
        assert.equal(run.code, 2, `${args[0]}: ${run.stderr}`);
        assert.match(run.stderr, new RegExp(`no Cask store at ${where}`));
      }
    }
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["empty"]);
    assert.deepEqual([...Deno.readDirSync(empty)], []);
  });
});

Deno.test("cli: del and compact at a directory holding no store fail with exit 2 and create nothing", async () => {
  await withDir(async (dir) => {
    for (const args of [["del", "k"], ["compact"]]) {
      const run = await cask([...args, "--dir", `${dir}/typo`]);
      assert.equal(run.code, 2, `${args[0]}: ${run.stderr}`);
      assert.match(run.stderr, /no Cask store at/);
    }
    assert.deepEqual([...Deno.readDirSync(dir)], []);
    // An existing store is still theirs to change.
    const store = `${dir}/s`;
    ok(await cask(["set", "k", "v", "--dir", store]), "set");
    assert.equal(ok(await cask(["del", "k", "--dir", store]), "del").stdout, "true\n");
    ok(await cask(["compact", "--dir", store]), "compact");
  });
});

Deno.test("cli: a load whose dump fails before anything is stored leaves no new store behind", async () => {
  await withDir(async (dir) => {
    for (const flags of [[], ["--atomic"]]) {
      const store = `${dir}/new`;
      const run = await cask(["load", "--dir", store, ...flags], "not json\n");
      assert.equal(run.code, 2, run.stderr);
      assert.match(run.stderr, /line 1/);
      assert.deepEqual([...Deno.readDirSync(dir)], [], `load ${flags.join(" ")}`);
    }
    // A bad option is a usage error at once, whatever the dump holds.
    const bad = await cask(["load", "--sync", "bogus", "--dir", `${dir}/b`], "");
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /--sync must be/);
    // A dump that stores nothing creates nothing either; a good one creates the store.
    ok(await cask(["load", "--dir", `${dir}/b`], ""), "load of an empty dump");
    const expired = '{"key":"aw==","value":"dg==","expireAt":1}\n';
    ok(await cask(["load", "--dir", `${dir}/b`], expired), "load of an expired key");
    assert.deepEqual([...Deno.readDirSync(dir)], []);
    ok(await cask(["load", "--dir", `${dir}/a`], '{"key":"aw==","value":"dg=="}\n'), "load");
    assert.equal(ok(await cask(["get", "k", "--dir", `${dir}/a`]), "get").stdout, "v");
  });
});

Deno.test("cli: an option before the command is named as such", async () => {
  const run = await cask(["--dir", "s", "get", "k"]);
  assert.equal(run.code, 2);
  assert.match(run.stderr, /unknown command '--dir'; options go after the command/);
});

Deno.test("cli: serve on a busy port fails naming the address, before creating the store", async () => {
  await withDir(async (dir) => {
    using busy = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const store = `${dir}/new`;
    const run = await cask(["serve", "--port", String(busy.addr.port), "--dir", store]);
    assert.equal(run.code, 3, run.stderr);
    assert.match(run.stderr, new RegExp(`127\\.0\\.0\\.1:${busy.addr.port}`));
    assert.equal(await Deno.stat(store).then(() => true, () => false), false);
  });
});

Deno.test("cli: backup beside a writer, then the backup opens with the same data", async () => {
  await withDir(async (dir) => {
    const db = await open(dir, { maxFileSize: 4096 });
    try {
      for (let i = 0; i < 100; i++) await db.set(`k${i}`, `v${i}`.padEnd(60, "."));
      const run = ok(
        await cask(["backup", "--dir", dir, `${dir}/../backup-of-${dir.split("/").pop()}`]),
        "backup",
      );
      assert.match(run.stdout, new RegExp(`backed up sequence ${db.sequence} into`));
      assert.match(run.stderr, /read-only/);
    } finally {
      await db.close();
    }
    const target = `${dir}/../backup-of-${dir.split("/").pop()}`;
    try {
      assert.equal(
        ok(await cask(["get", "k42", "--dir", target]), "get").stdout,
        "v42".padEnd(60, "."),
      );
    } finally {
      await Deno.remove(target, { recursive: true });
    }
  });
});

Deno.test("cli: serve answers over TCP and exits 0 on SIGTERM with writes durable", async () => {
  await withDir(async (dir) => {
    const child = new Deno.Command(Deno.execPath(), {
      // Without the value cache: every GET reads the store.
      args: serveArgs(0, dir, "--value-cache", "0"),
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const stderr = new Response(child.stderr).text();
    const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let banner = "";
    while (!banner.includes("\n")) {
      const { value, done } = await lines.read();
      if (done) break;
      banner += value;
    }
    const port = Number(/listening on 127\.0\.0\.1:(\d+)/.exec(banner)?.[1]);
    assert.ok(port > 0, `banner: ${banner}`);
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    try {
      const request = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$7\r\nserved!\r\nGET k\r\n";
      await conn.write(new TextEncoder().encode(request));
      let reply = "";
      const buf = new Uint8Array(1024);
      while (reply.length < "+OK\r\n$7\r\nserved!\r\n".length) {
        const n = await conn.read(buf);
        if (n === null) break;
        reply += dec.decode(buf.subarray(0, n));
      }
      assert.equal(reply, "+OK\r\n$7\r\nserved!\r\n");
    } finally {
      conn.close();
    }
    child.kill("SIGTERM");
    const status = await child.status;
    await lines.cancel();
    assert.equal(status.code, 0, await stderr);
    assert.match(await stderr, /SIGTERM, shutting down/);
    const db = await open(dir);
    try {
      assert.equal(text(await db.get("k")), "served!");
    } finally {
      await db.close();
    }
  });
});

// deno compile fetches a `denort` runtime from the network unless DENORT_BIN
// points at a local one; this machine has neither, so the test needs opting in.
const denort = Deno.env.get("DENORT_BIN");
Deno.test({
  name: "cli: deno task compile builds a working single binary (needs DENORT_BIN)",
  ignore: denort === undefined,
  async fn() {
    await withDir(async (dir) => {
      const binary = `${dir}/cask`;
      const root = new URL("..", import.meta.url).pathname;
      // The task as deno.json spells it, writing the binary into `dir` instead.
      const task: string = JSON.parse(await Deno.readTextFile(`${root}deno.json`)).tasks.compile;
      const words = task.split(/\s+/);
      assert.deepEqual(words.slice(0, 2), ["deno", "compile"]);
      const build = await new Deno.Command(Deno.execPath(), {
        args: words.slice(1).map((w, i) => words[i] === "-o" ? binary : w),
        cwd: root,
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(build.code, 0, dec.decode(build.stderr));
      // What the binary adds to the runtime is the embedded files: Cask's own
      // sources are under 2 MB, the dev node_modules were 332 MB.
      const embedded = Deno.statSync(binary).size - Deno.statSync(denort!).size;
      assert.ok(embedded < 16 * 1024 * 1024, `the binary embeds ${embedded} bytes`);
      const version = await new Deno.Command(binary, { args: ["--version"] }).output();
      if (dec.decode(version.stdout).startsWith("deno ")) {
        // A full deno CLI as DENORT_BIN gets the build through but ignores the
        // embedded program when run: only the embedded size can be checked.
        console.log("DENORT_BIN is a deno CLI, not denort: the binary is not run");
        return;
      }
      assert.match(dec.decode(version.stdout), /^cask \d+\.\d+\.\d+\n$/);
      const data = `${dir}/data`;
      const set = await new Deno.Command(binary, { args: ["set", "k", "v", "--dir", data] })
        .output();
      assert.equal(set.code, 0, dec.decode(set.stderr));
      const get = await new Deno.Command(binary, { args: ["get", "k", "--dir", data] }).output();
      assert.equal(dec.decode(get.stdout), "v");
    });
  },
});

Deno.test("cli: dump writes each key's expireAt to the millisecond", async () => {
  await withDir(async (dir) => {
    const at = Date.now() + 3_600_000;
    const db = await open(dir);
    try {
      await db.atomic(
        Array.from({ length: 3000 }, (_, i) => ({
          type: "set" as const,
          key: `e${i}`,
          value: "v",
          expireAt: at + i,
        })),
      );
    } finally {
      await db.close();
    }
    const lines = ok(await cask(["dump", "--dir", dir]), "dump").stdout.trimEnd().split("\n")
      .map((l) => JSON.parse(l));
    assert.equal(lines.length, 3000);
    const off = lines.filter((l) => l.expireAt !== at + Number(atob(l.key).slice(1)));
    assert.deepEqual(off.slice(0, 3), [], `${off.length} of 3000 expiries moved`);
  });
});

Deno.test("cli: a bad argument to any command fails with exit 2 before creating the store", async () => {
  await withDir(async (dir) => {
    const store = `${dir}/new`;
    for (
      const args of [
        ["set", "k", "v", "--ttl", String(Number.MAX_SAFE_INTEGER)],
        ["set", "k", "v", "--ttl", "0"],
        ["set", "--hex", "00", "zz"],
        ["set", "", "v"],
        ["del", ""],
        ["set", "k", "v", "--sync", "sometimes"],
        ["get", "--hex", "zz"],
        ["has", "--base64", "%"],
        ["del", "--hex", "zz"],
        ["del", "--hex", "--base64", "k"],
        ["scan", "--limit", "-1"],
        ["scan", "--hex", "--prefix", "zz"],
        ["stats", "extra"],
        ["verify", "extra"],
        ["compact", "extra"],
        ["compact", "--sync", "x"],
        ["dump", "extra"],
        ["load", "--batch", "0"],
        ["load", "--atomic", "--batch", "5"],
        ["backup"],
        ["serve", "--maxclients", "0"],
        ["serve", "--timeout", "x"],
        ["serve", "--value-cache", "99999999999"],
        ["serve", "--total-query-buffer-limit", "5"],
      ]
    ) {
      const run = await cask([...args, "--dir", store]);
      assert.equal(run.code, 2, `${args.join(" ")}: ${run.stderr}`);
      assert.deepEqual([...Deno.readDirSync(dir)], [], `${args.join(" ")} left a store`);
    }
  });
});

Deno.test("cli: messages name the unknown command and count things in words", async () => {
  const help = await cask(["help", "frob"]);
  assert.equal(help.code, 2);
  assert.match(help.stderr, /unknown command 'frob'/);
  await withDir(async (dir) => {
    const store = `${dir}/s`;
    ok(await cask(["set", "k", "v", "--dir", store]), "set");
    assert.match(
      ok(await cask(["compact", "--dir", store]), "compact").stdout,
      /^compacted 1 file /,
    );
    assert.match(
      ok(await cask(["verify", "--dir", store]), "verify").stdout,
      /^checked 2 data files, 1 record, /,
    );
    assert.equal(
      ok(await cask(["load", "--dir", store], '{"key":"YQ==","value":""}\n'), "load").stdout,
      "loaded 1 key\n",
    );
    const file = `${dir}/file`;
    await Deno.writeTextFile(file, "not a directory");
    const backup = await cask(["backup", file, "--dir", store]);
    assert.equal(backup.code, 2, backup.stderr);
    assert.match(backup.stderr, /not a directory/);
  });
});

Deno.test("cli: a dump holding a value past the default maxValueSize loads back", async () => {
  await withDir(async (dir) => {
    const big = new Uint8Array(64 * 1024 * 1024 + 1);
    for (let i = 0; i < big.length; i += 4093) big[i] = i & 255;
    ok(await cask(["set", "big", "--dir", `${dir}/a`], big), "set from stdin");
    const dump = ok(await cask(["dump", "--dir", `${dir}/a`]), "dump").stdout;
    assert.equal(
      ok(await cask(["load", "--dir", `${dir}/b`], dump), "load").stdout,
      "loaded 1 key\n",
    );
    const got = ok(await cask(["get", "big", "--dir", `${dir}/b`]), "get").stdoutBytes;
    assert.equal(got.length, big.length);
    assert.ok(got.every((b, i) => b === big[i]), "bytes as set");
  });
});

Deno.test("cli: dump lines and --hex/--base64 output spelled in pieces join into the whole", () => {
  const rand = prng(7);
  for (let n = 0; n < 40; n++) {
    const value = randomBytes(rand, n);
    for (const pieceBytes of [3, 6, 9, 3 * 1024]) {
      const pieces = [
        ...formatDumpLine({
          key: value.length ? value : Uint8Array.of(1),
          value,
          expireAt: n || undefined,
        }, pieceBytes),
      ];
      const line = pieces.join("");
      const expected: Record<string, unknown> = {
        key: (value.length ? value : Uint8Array.of(1)).toBase64(),
        value: value.toBase64(),
      };
      if (n) expected.expireAt = n;
      assert.equal(line, JSON.stringify(expected));
      assert.deepEqual(parseDumpLine(line, 1).value, value);
      const b64 = [...encodeOutput(value, "base64", pieceBytes)];
      assert.equal(b64.join(""), value.toBase64());
      // Only the last piece may be padded, or the join would not be base64.
      assert.ok(b64.slice(0, -1).every((p) => !String(p).includes("=")), `pieces ${b64}`);
      assert.equal([...encodeOutput(value, "hex", pieceBytes)].join(""), value.toHex());
    }
  }
});

// Reads `cask <args>`'s stdout as it comes and checks it is `head`, then
// `count` copies of byte `fill`, then `tail`, without holding it whole.
async function expectOutput(
  args: string[],
  head: string,
  fill: number,
  count: number,
  tail: string,
): Promise<void> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CLI, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const headBytes = new TextEncoder().encode(head);
  const tailBytes = new TextEncoder().encode(tail);
  const total = headBytes.length + count + tailBytes.length;
  const at = (i: number) =>
    i < headBytes.length
      ? headBytes[i]
      : i < headBytes.length + count
      ? fill
      : tailBytes[i - headBytes.length - count];
  let seen = 0;
  let wrong = -1;
  for await (const chunk of child.stdout) {
    for (let i = 0; i < chunk.length && wrong < 0; i++) {
      if (seen + i >= total || chunk[i] !== at(seen + i)) wrong = seen + i;
    }
    seen += chunk.length;
  }
  const status = await child.status;
  assert.equal(status.code, 0, `cask ${args.join(" ")}: exit ${status.code}, ${await stderr}`);
  assert.equal(wrong, -1, `cask ${args.join(" ")}: wrong byte at ${wrong}`);
  assert.equal(seen, total, `cask ${args.join(" ")}: output length`);
}

Deno.test("cli: a 270 MiB value dumps, loads back and prints as hex, in pieces", async () => {
  await withDir(async (dir) => {
    // Spelled whole, this value's hex (540M characters) is past V8's string
    // limit, and its dump line took JSON.stringify out of memory.
    const size = 270 * 1024 * 1024;
    // --sync never: durability is not the point here, and fsyncs of 270 MiB cost seconds.
    const a = ["--dir", `${dir}/a`, "--sync", "never"];
    ok(await cask(["set", "huge", ...a], new Uint8Array(size)), "set from stdin");
    const A = "A".charCodeAt(0);
    await expectOutput(
      ["dump", ...a],
      '{"key":"aHVnZQ==","value":"',
      A,
      size / 3 * 4,
      '"}\n',
    );
    // Its dump line (377 MB) is read as bytes, not as one string.
    const dump = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", CLI, "dump", ...a],
      stdout: "piped",
    }).spawn();
    await dump.stdout.pipeTo((await Deno.create(`${dir}/dump.jsonl`)).writable);
    assert.equal((await dump.status).code, 0);
    ok(await cask(["load", `${dir}/dump.jsonl`, "--dir", `${dir}/b`, "--sync", "never"]), "load");
    await Deno.remove(`${dir}/dump.jsonl`);
    await expectOutput(["get", "huge", "--dir", `${dir}/b`], "", 0, size, "");
    await expectOutput(
      ["get", "68756765", "--hex", "--dir", `${dir}/b`],
      "",
      "0".charCodeAt(0),
      size * 2,
      "\n",
    );
  });
});

Deno.test("cli: a dump holding a key past the default maxKeySize loads back", async () => {
  await withDir(async (dir) => {
    const longKey = "k".repeat(70_000);
    {
      await using db = await open(`${dir}/a`, { maxKeySize: 100_000 });
      await db.set(longKey, "v");
      await db.set("small", "w");
    }
    const dump = ok(await cask(["dump", "--dir", `${dir}/a`]), "dump").stdout;
    assert.equal(
      ok(await cask(["load", "--dir", `${dir}/b`], dump), "load").stdout,
      "loaded 2 keys\n",
    );
    await using copy = await open(`${dir}/b`, { maxKeySize: 100_000 });
    assert.equal(text(await copy.get(longKey)), "v");
    assert.equal(text(await copy.get("small")), "w");
  });
});

// `text` cut into pieces of `size` bytes, as a line arrives from a stream.
function piecesOf(text: string, size: number): Uint8Array[] {
  const bytes = new TextEncoder().encode(text);
  const pieces = [];
  for (let at = 0; at < bytes.length; at += size) pieces.push(bytes.subarray(at, at + size));
  return pieces;
}

function outcome(read: () => unknown): unknown {
  try {
    return read();
  } catch (e) {
    return e instanceof Error ? `${e.name}: ${e.message}` : e;
  }
}

Deno.test("cli: a dump line read as bytes, as lines too long for a string are, reads as JSON.parse reads it", () => {
  const rand = prng(11);
  const lines = [
    '{ "key" : "AAEC" ,\t"value":"AQID" }',
    '{"key":"AQ==","value":"\\/\\/\\/\\/"}',
    '{"key":"AQ==","value":"\\u002f\\u002F//AQID"}',
    '{"key":"AQ","value":"AQ\\nID AQ\\tID"}',
    '{"key":"AQ","value":"AQ==AQ=="}',
    '{"key":"AQ","value":"AQ== "}',
    '{"key":"AQ","value":"AQI"}',
    '{"key":"AQ","value":"A"}',
    '{"key":"AQ","value":"AQI="}',
    '{"key":"AQ","value":"AQ="}',
    '{"key":"AQ","value":"%%%%"}',
    '{"key":"AQ","value":"AQ\x01ID"}',
    '{"key":"AQ","value":"AQ\\qID"}',
    '{"key":"AQ","value":"AQ\\u00"}',
    '{"key":"AQ","value":"AQ\\u00zzID"}',
    '{"key":"AQ","value":"\\b"}',
    '{"key":"AQ","value":"AQ"',
    '{"key":"AQ","value":"AQ"}x',
    '{"key":"AQ","value":"AQ",}',
    '{"key":"AQ","value":"AQ" "x"}',
    '{"key":"AQ","value":[1,"]"]}',
    '{"key":"AQ","value":{"a":"}"}}',
    '{"key":"AQ","value":"AQ","expireAt":12.5}',
    '{"key":"AQ","value":"AQ","expireAt":1e3}',
    '{"key":"AQ","value":"AQ","expireAt":01}',
    '{"key":"AQ","value":"AQ","expireAt":true}',
    '{"key":"AQ","value":"AQ","expireAt":"5"}',
    '{"key":"AQ","value":"AQ","extra":null}',
    '{"__proto__":1,"key":"AQ","value":"AQ"}',
    '{"key":"AQ","key":"Ag","value":""}',
    '{"key":"AQ","value":"€€€€"}',
    '{"key":"","value":"AQ"}',
    '{"value":"AQ"}',
    '{"key":"AQ","value":"AQID"}\r',
    '{"key":"AQ","value":"A\\"Q"}',
    '{"key\\"x":"AQ","value":"AQ"}',
    '{"key":"AQ","value":"AQ\\\\"}',
    '{"key":"AQ","value":"AQ\\\\\\"}',
    "{}",
  ];
  for (let n = 0; n < 30; n++) {
    const value = randomBytes(rand, n * 7);
    lines.push(
      [...formatDumpLine({ key: randomBytes(rand, 1 + n), value, expireAt: n || undefined }, 3)]
        .join(""),
    );
  }
  for (const line of lines) {
    const expected = outcome(() => parseDumpLine(line, 4));
    for (const size of [1, 2, 3, 5, 64]) {
      // A long-line threshold of 0 reads every line as bytes; short strings of
      // 0 and 3 bytes make nearly every string a long one, decoded in pieces.
      for (const shortString of [0, 3, 1000]) {
        const got = outcome(() => readDumpLine(piecesOf(line, size), 4, 0, shortString));
        assert.deepEqual(
          got,
          expected,
          `${line} in pieces of ${size}, short strings ${shortString}`,
        );
      }
    }
  }
});

Deno.test("cli: load takes a byte order mark at the start of a dump only, before a short or a long first line", async () => {
  const bom = new Uint8Array([0xef, 0xbb, 0xbf]);
  const bytes = (...parts: (Uint8Array | string)[]) =>
    new Uint8Array(
      parts.flatMap((p) => [...(typeof p === "string" ? new TextEncoder().encode(p) : p)]),
    );
  const line = (k: string, v: Uint8Array) =>
    JSON.stringify({ key: btoa(k), value: v.toBase64() }) + "\n";
  const long = new Uint8Array(13 * 1024 * 1024).fill(7); // its line is over 16 MiB: the byte reader
  for (
    const [what, dump, code] of [
      ["before a short first line", bytes(bom, line("a", long.subarray(0, 3))), 0],
      ["before a long first line", bytes(bom, line("a", long)), 0],
      [
        "before the second line",
        bytes(line("a", long.subarray(0, 3)), bom, line("b", long.subarray(0, 3))),
        2,
      ],
    ] as const
  ) {
    await withDir(async (dir) => {
      const run = await cask(["load", "--dir", dir], dump);
      assert.equal(run.code, code, `${what}: ${run.stderr}`);
      if (code === 2) assert.match(run.stderr, /dump line 2: not valid JSON/);
      else assert.equal(await keysIn(dir), 1, what);
    });
  }
});

Deno.test({
  name: "cli: output to a full disk exits 3 with one line, not a stack trace",
  ignore: Deno.build.os !== "linux",
  async fn() {
    await withDir(async (dir) => {
      ok(await cask(["set", "--dir", dir, "k", "v".repeat(1000)]), "set");
      const out = await new Deno.Command("sh", {
        args: ["-c", `"$0" run -A "$1" scan --dir "$2" > /dev/full`, Deno.execPath(), CLI, dir],
        stderr: "piped",
        env: { NO_COLOR: "1" },
      }).output();
      const stderr = dec.decode(out.stderr);
      assert.equal(out.code, 3, stderr);
      assert.match(stderr, /^cask scan: .*No space left on device \(os error 28\)\n$/);
    });
  },
});

Deno.test("cli: a --dir that is a file is a usage error (exit 2) for every command", async () => {
  await withDir(async (dir) => {
    const file = `${dir}/afile`;
    await Deno.writeTextFile(file, "not a store");
    for (
      const args of [["set", "k", "v"], ["get", "k"], ["scan"], ["compact"], [
        "serve",
        "--port",
        "0",
      ]]
    ) {
      const run = await cask([...args, "--dir", file]);
      assert.equal(run.code, 2, `${args[0]}: ${run.stderr}`);
    }
    assert.equal(await Deno.readTextFile(file), "not a store");
  });
});

Deno.test("cli: a store whose open reports lost data makes every command exit 3 after its work; compact too, where the loss becomes permanent", () =>
  withDir(async (dir) => {
    {
      await using db = await open(dir, { maxFileSize: 4096 });
      for (let i = 0; i < 200; i++) await db.set(`k${String(i).padStart(3, "0")}`, "v".repeat(60));
    }
    const files = await dataFiles(dir);
    assert.ok(files.length >= 4, `${files.length} files`);
    await Deno.remove(files[2]);

    const verify = await cask(["verify", "--dir", dir]);
    assert.equal(verify.code, 3, verify.stderr);
    // The problem's line names the file after the gap; the line below it, the missing one.
    const missing = files[2].split("/").pop()!;
    assert.match(
      verify.stdout,
      new RegExp(
        `\nmissing-file \\S+ at offset \\d+ \\(\\d+ bytes\\)\n  .*${
          missing.replace(".", "\\.")
        }.*missing`,
      ),
    );

    const dump = await cask(["dump", "--dir", dir]);
    assert.equal(dump.code, 3, dump.stderr);
    const lines = dump.stdout.trim().split("\n");
    assert.ok(lines.length > 100 && lines.length < 200, `${lines.length} lines`);
    assert.match(
      dump.stderr,
      /cask dump: the store reported lost or damaged data \(1 warning above\); every open reports it until `cask compact` drops it for good\n/,
    );
    for (const args of [["get", "k000"], ["scan", "--keys-only"], ["stats"]]) {
      const run = await cask([...args, "--dir", dir]);
      assert.equal(run.code, 3, `${args[0]}: ${run.stderr}`);
      assert.ok(run.stdout.length > 0, args[0]);
    }

    const compact = await cask(["compact", "--dir", dir]);
    assert.equal(compact.code, 3, compact.stderr);
    assert.match(compact.stdout, /^compacted /);
    assert.match(
      compact.stderr,
      /\ncask compact: damaged data was dropped for good \(1 warning above\)\n$/,
    );
    // The gap is gone with the files that showed it: from now on nothing tells.
    ok(await cask(["verify", "--dir", dir]), "verify after the compaction");
    ok(await cask(["get", "--dir", dir, "k000"]), "get after the compaction");
  }));

Deno.test("cli: load into a --dir that is a file exits 2 also with an empty dump", () =>
  withDir(async (dir) => {
    const file = `${dir}/afile`;
    await Deno.writeTextFile(file, "");
    const run = await cask(["load", "--dir", file], "");
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, /is a file, not a store directory/);
  }));

const isRoot = Deno.uid() === 0;
Deno.test({
  name:
    "cli: on a read-only file system, read commands read the store read-only, writes say why they fail",
  ignore: !isRoot,
  fn: () =>
    withDir(async (dir) => {
      const store = `${dir}/store`, mnt = `${dir}/ro`;
      ok(await cask(["set", "--dir", store, "a", "1"]), "set");
      await Deno.mkdir(mnt);
      const mount = async (...args: string[]) => {
        const out = await new Deno.Command("mount", { args, stderr: "piped" }).output();
        assert.ok(out.success, dec.decode(out.stderr));
      };
      await mount("--bind", store, mnt);
      try {
        await mount("-o", "remount,bind,ro", mnt);
        const get = await cask(["get", "--dir", mnt, "a"]);
        assert.equal(get.code, 0, get.stderr);
        assert.equal(get.stdout, "1");
        assert.match(get.stderr, /cannot be written by this process; reading it read-only/);
        const set = await cask(["set", "--dir", mnt, "b", "2"]);
        assert.equal(set.code, 3);
        assert.match(set.stderr, /Read-only file system/);
      } finally {
        await new Deno.Command("umount", { args: [mnt] }).output();
      }
    }),
});

Deno.test("cli: serve stopped by SIGTERM exits 0 though a compaction while it served dropped a damaged record", () =>
  withDir(async (dir) => {
    const { child, port } = await startServe(dir);
    const c = await Client.connect(port);
    try {
      for (let i = 0; i < 20; i++) assert.equal(await c.call("SET", `k${i}`, "x".repeat(40)), "OK");
      const [first] = await dataFiles(dir);
      const b = await Deno.readFile(first);
      b[b.lastIndexOf("x".charCodeAt(0)) - 100] ^= 1;
      await Deno.writeFile(first, b);
      await c.call("BGREWRITEAOF");
      // The compaction runs in the background: it has run once INFO says so.
      for (let i = 0; i < 200; i++) {
        if (/cask_last_compaction:/.test(String(await c.call("INFO", "persistence")))) break;
        await new Promise((r) => setTimeout(r, 10));
      }
      assert.match(String(await c.call("INFO", "persistence")), /cask_last_compaction:/);
    } finally {
      c.close();
      child.kill("SIGTERM");
    }
    await child.stdout.cancel();
    assert.equal((await child.status).code, 0);
  }));

Deno.test("cli: the exit-3 message counts every warning printed above it, the batches a damaged record cut short included", () =>
  withDir(async (dir) => {
    {
      await using db = await open(dir, { checkpoint: false });
      await db.atomic(
        Array.from({ length: 20 }, (_, i) => ({ type: "set" as const, key: `k${i}`, value: "v" })),
      );
      await db.set("after", "1");
    }
    const file = (await dataFiles(dir))[0];
    const b = await Deno.readFile(file);
    // A byte inside the batch's tenth record: the record is damage, and the
    // batch around it is dropped whole (in two pieces around the damage).
    const at = new TextDecoder("latin1").decode(b).indexOf("k9v");
    b[at + 2] ^= 1;
    await Deno.writeFile(file, b);
    const run = await cask(["has", "--dir", dir, "after"]);
    assert.equal(run.code, 3, run.stderr);
    const printed = run.stderr.split("\n").filter((l) => l.startsWith("cask: ")).length;
    assert.ok(printed >= 2, run.stderr);
    assert.match(
      run.stderr,
      new RegExp(
        `cask has: the store reported lost or damaged data \\(${printed} warnings above\\)`,
      ),
    );
  }));

Deno.test("cli: set with a directory for stdin exits 2 and leaves no store", () =>
  withDir(async (dir) => {
    const store = `${dir}/store`;
    const out = await new Deno.Command("sh", {
      args: ["-c", `"$0" run -A "$1" set k --dir "$2" < "$3"`, Deno.execPath(), CLI, store, dir],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 2, stderr);
    assert.match(stderr, /stdin is a directory/);
    assert.equal(await Deno.stat(store).catch(() => undefined), undefined, "no store was made");
  }));

Deno.test("cli: load of a directory exits 2 naming it, and leaves no store", () =>
  withDir(async (dir) => {
    const store = `${dir}/store`;
    const run = await cask(["load", dir, "--dir", store]);
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, new RegExp(`${dir} is a directory, not a dump`));
    assert.equal(await Deno.stat(store).catch(() => undefined), undefined, "no store was made");
  }));
