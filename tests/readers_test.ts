import assert from "node:assert/strict";
import { IOError, open, ReadOnlyError } from "../mod.ts";
import { type LoggedOp, modelAt } from "./children/reader_load_model.ts";
import { contents, startWriter } from "./reader_load.ts";
import { text, withDir } from "./helpers.ts";

const dec = new TextDecoder();

Deno.test("readers: a following reader beside a writer child with 4 writers and compactions sees only prefixes of its history", async () => {
  await withDir(async (dir) => {
    const writer = await startWriter(dir, 3000);
    const warnings: string[] = [];
    const errors: Error[] = [];
    const r = await open(dir, {
      readOnly: true,
      follow: { intervalMs: 5 },
      onWarning: (w) => warnings.push(w.message),
      onBackgroundError: (e) => errors.push(e),
    });
    const snapshots: { seq: number; data: Map<string, string> }[] = [];
    let running = true;
    writer.finished.finally(() => running = false);
    let backup: { seq: number; dir: string } | undefined;
    // The oldest file the reader holds: it moves up as the reader follows compactions.
    const oldest = new Set<number>();
    while (running) {
      const seq = r.sequence;
      const data = await contents(r);
      // A refresh applied between the start and the end of the scan: not one state.
      if (r.sequence === seq) snapshots.push({ seq, data });
      oldest.add(r.stats().files[0]?.id ?? -1);
      if (!backup && snapshots.length > 50) {
        const b = await r.backup(`${dir}.reader-backup`);
        backup = { seq: b.sequence, dir: `${dir}.reader-backup` };
      }
      await new Promise((res) => setTimeout(res, 2));
    }
    const { ops, acked } = await writer.finished;
    try {
      console.log(
        `${ops.length} ops, ${snapshots.length} snapshots, last sequence ${ops.at(-1)!.seq}, ${
          oldest.size - 1
        } compactions followed`,
      );
      assert.ok(ops.length > 1000, `the writer issued ${ops.length} ops`);
      assert.ok(snapshots.length > 20, `${snapshots.length} snapshots`);
      const seqs = snapshots.map((s) => s.seq);
      assert.ok(new Set(seqs).size > 10, "the reader followed the writer through many states");
      assert.ok(oldest.size > 5, `the reader followed ${oldest.size - 1} compactions`);
      checkSnapshots(ops, snapshots);
      assert.deepEqual(warnings, []);
      assert.deepEqual(errors, []);
      // Ops the reader saw were acknowledged or still in flight: every one is in the log.
      assert.ok(acked.size > 0);

      await r.refresh();
      const final = await contents(r);
      const last = ops[ops.length - 1].seq;
      assert.equal(r.sequence, last);
      assert.deepEqual(final, modelAt(ops, last));
      const w = await open(dir, { readOnly: false });
      try {
        assert.deepEqual(await contents(w), final);
        assert.equal(w.sequence, r.sequence);
      } finally {
        await w.close();
      }

      assert.ok(backup, "a backup was taken mid-load");
      const b = await open(backup.dir);
      try {
        assert.ok(backup.seq > 0 && backup.seq < last, `backup at ${backup.seq} of ${last}`);
        assert.equal(b.sequence, backup.seq);
        assert.deepEqual(await contents(b), modelAt(ops, backup.seq));
      } finally {
        await b.close();
      }
    } finally {
      await r.close();
      await Deno.remove(`${dir}.reader-backup`, { recursive: true }).catch(() => {});
    }
  });
});

const COMPACT_LOOP = new URL("./children/compact_loop.ts", import.meta.url).pathname;

Deno.test("readers: refresh() beside a writer compacting thousands of files in a loop never fails", async () => {
  await withDir(async (dir) => {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", COMPACT_LOOP, dir, "4000"],
      stdout: "piped",
    }).spawn();
    const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let out = "";
    while (!out.includes("ready\n")) {
      const { value, done } = await lines.read();
      if (done) break;
      out += value;
    }
    const r = await open(dir, { readOnly: true });
    let running = true;
    const exited = child.status.finally(() => running = false);
    let refreshes = 0;
    const failures: string[] = [];
    try {
      // Files a compaction removed between a reload's listing and its opens: the
      // reload must list again, not give up (it did after ten tries, about 1 run in 3).
      while (running) await r.refresh().then(() => refreshes++, (e) => failures.push(String(e)));
      assert.equal((await exited).code, 0);
      for (let c = await lines.read(); !c.done; c = await lines.read()) out += c.value;
      assert.deepEqual(failures, []);
      assert.ok(refreshes > 10, `${refreshes} refreshes`);
      await r.refresh();
      assert.equal(r.sequence, Number(/done (\d+)/.exec(out)?.[1]));
      await using w = await open(dir);
      assert.deepEqual(await contents(r), await contents(w));
    } finally {
      await r.close();
    }
  });
});

// Each snapshot equals the model at its sequence number, which makes it a
// prefix of the log: no half batch, no value that was never written. And no
// key goes back in time: sequence numbers and each key's write counter grow.
function checkSnapshots(ops: LoggedOp[], snapshots: { seq: number; data: Map<string, string> }[]) {
  const counter = new Map<string, number>();
  let prev = 0;
  for (const s of snapshots) {
    assert.ok(s.seq >= prev, `sequence went back from ${prev} to ${s.seq}`);
    prev = s.seq;
    assert.deepEqual(s.data, modelAt(ops, s.seq), `snapshot at sequence ${s.seq}`);
    for (const [k, v] of s.data) {
      const c = Number(v.split("|")[1]);
      assert.ok(c >= (counter.get(k) ?? 0), `${k} went back to write ${c}`);
      counter.set(k, c);
    }
  }
  // The check covered batches: values written by batches were seen.
  const batchIds = new Set(ops.filter((o) => o.kind === "batch").map((o) => String(o.id)));
  const seen = snapshots.flatMap((s) => [...s.data.values()]).filter((v) =>
    batchIds.has(v.split("|")[2])
  );
  assert.ok(seen.length > 100, `${seen.length} batch values seen`);
}

Deno.test("readers: read-only open takes no lock, writes nothing and rejects writes", async () => {
  await withDir(async (dir) => {
    const w = await open(dir);
    await w.set("a", "1");
    await w.atomic([{ type: "set", key: "b", value: "2" }, { type: "set", key: "c", value: "3" }]);
    let before = await listing(dir);
    const r = await open(dir, { readOnly: true });
    assert.deepEqual(await listing(dir), before, "the open wrote nothing");
    try {
      assert.equal(r.readOnly, true);
      assert.equal(w.readOnly, false);
      assert.equal(text(await r.get("b")), "2");
      assert.equal(r.sequence, w.sequence);
      for (
        const write of [
          () => r.set("x", "y"),
          () => r.delete("a"),
          () => r.atomic([]),
          () => r.batch().set("x", "1").commit(),
          () => r.compact(),
          () => r.deleteRange({ prefix: "a" }),
          () => r.deleteRange({ start: "z", end: "a" }),
        ]
      ) {
        await assert.rejects(write(), ReadOnlyError);
      }
      assert.throws(() => r.watch({ prefix: "" }), ReadOnlyError);
      await r.sync(); // nothing to make durable: a no-op
      await w.set("a", "changed");
      before = await listing(dir);
      assert.equal(text(await r.get("a")), "1", "no refresh yet");
      await r.refresh();
      assert.equal(text(await r.get("a")), "changed");
      await w.refresh(); // a writer is always current
    } finally {
      await r.close();
      assert.deepEqual(await listing(dir), before, "the reader wrote nothing");
      await w.close();
    }
    await assert.rejects(open(dir, { follow: true }), /follow needs readOnly/);
  });
});

// Names and sizes of the files in `dir`.
async function listing(dir: string): Promise<string[]> {
  const out = [];
  for await (const e of Deno.readDir(dir)) {
    out.push(`${e.name}:${(await Deno.stat(`${dir}/${e.name}`)).size}`);
  }
  return out.sort();
}

Deno.test("readers: an unfinished batch or record at the writer's tail is not yet there, without a warning", async () => {
  await withDir(async (dir) => {
    const w = await open(dir);
    await w.set("a", "1");
    await w.atomic([{ type: "set", key: "b", value: "2" }, { type: "set", key: "c", value: "3" }]);
    await w.close();
    const [file] = [...Deno.readDirSync(dir)].filter((e) => e.name.startsWith("data."));
    const path = `${dir}/${file.name}`;
    const whole = await Deno.readFile(path);
    // The batch: two records and a commit record; cut inside the commit record.
    await Deno.writeFile(path, whole.subarray(0, whole.length - 10));
    const warnings: string[] = [];
    const r = await open(dir, { readOnly: true, onWarning: (x) => warnings.push(x.message) });
    try {
      assert.equal(text(await r.get("a")), "1");
      assert.equal(await r.get("b"), undefined);
      assert.deepEqual(warnings, []);
      // The writer finishes the commit record: the batch appears, whole.
      await Deno.writeFile(path, whole);
      await r.refresh();
      assert.equal(text(await r.get("b")), "2");
      assert.equal(text(await r.get("c")), "3");
      assert.deepEqual(warnings, []);
      assert.equal((await Deno.readFile(path)).length, whole.length, "nothing truncated");
    } finally {
      await r.close();
    }
  });
});

Deno.test("readers: a reader holds files a compaction removed until a refresh moves past them", async () => {
  await withDir(async (dir) => {
    const w = await open(dir, { maxFileSize: 4096 });
    for (let i = 0; i < 200; i++) await w.set(`k${i % 50}`, `v${i}`);
    const r = await open(dir, { readOnly: true });
    try {
      const old = [...Deno.readDirSync(dir)].filter((e) => e.name.startsWith("data.")).length;
      await w.compact();
      const now = [...Deno.readDirSync(dir)].map((e) => e.name);
      assert.ok(now.filter((n) => n.startsWith("data.")).length < old);
      // Not refreshed: the index still points into unlinked files, readable through held descriptors.
      for (let i = 150; i < 200; i++) assert.equal(text(await r.get(`k${i % 50}`)), `v${i}`);
      assert.ok(
        deletedHeld(dir) > 0,
        "the removed files are held open (their space not yet freed)",
      );
      await r.refresh();
      for (let i = 150; i < 200; i++) assert.equal(text(await r.get(`k${i % 50}`)), `v${i}`);
      assert.equal(deletedHeld(dir), 0, "the refresh moved past them and closed them");
      assert.deepEqual(r.stats().files.map((f) => f.id), w.stats().files.map((f) => f.id));
    } finally {
      await r.close();
      await w.close();
    }
  });
});

// Files of `dir` this process holds open although they were removed (Linux /proc).
function deletedHeld(dir: string): number {
  let n = 0;
  for (const e of Deno.readDirSync("/proc/self/fd")) {
    try {
      const target = Deno.readLinkSync(`/proc/self/fd/${e.name}`);
      if (target.startsWith(`${dir}/`) && target.endsWith(" (deleted)")) n++;
    } catch {
      // Closed while listed.
    }
  }
  return n;
}

Deno.test("readers: read-only open works with --allow-read alone", async () => {
  await withDir(async (dir) => {
    const w = await open(dir);
    await w.set("k", "v");
    const script = `${dir}.script.ts`;
    const mod = new URL("../mod.ts", import.meta.url).href;
    await Deno.writeTextFile(
      script,
      `import { open } from "${mod}";
const db = await open(Deno.args[0], { readOnly: true });
console.log(new TextDecoder().decode(await db.get("k")));
await new Promise((r) => setTimeout(r, 0));
await db.refresh();
console.log(new TextDecoder().decode(await db.get("k2")), db.sequence);
await db.close();
`,
    );
    try {
      const before = await listing(dir);
      const child = new Deno.Command(Deno.execPath(), {
        args: ["run", "--no-prompt", `--allow-read`, script, dir],
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      await w.set("k2", "v2");
      await child.stdin.close();
      const out = await child.output();
      assert.equal(out.code, 0, dec.decode(out.stderr));
      assert.equal(dec.decode(out.stdout), `v\nv2 2\n`);
      assert.deepEqual(
        (await listing(dir)).filter((n) => !n.startsWith("data.")),
        before.filter((n) => !n.startsWith("data.")),
      );
    } finally {
      await w.close();
      await Deno.remove(script);
    }
  });
});

Deno.test("a reader streams values out of files the writer's compaction removed, before it refreshes", () =>
  withDir(async (dir) => {
    await using w = await open(dir, { maxFileSize: 1024 });
    const big = new Uint8Array(2 << 20).fill(1);
    await w.set("small", "hello");
    await w.setStream("blob", new Blob([big]).stream());
    for (let i = 0; i < 30; i++) await w.set(`pad${i}`, "x".repeat(100));
    await using r = await open(dir, { readOnly: true });
    await w.set("small", "hello again");
    await w.setStream("blob", new Blob([new Uint8Array(2 << 20).fill(2)]).stream());
    await w.compact();
    const read = async (k: string) =>
      new Uint8Array(await new Response(await r.getStream(k)).arrayBuffer());
    assert.equal(new TextDecoder().decode(await read("small")), "hello");
    assert.deepEqual(await read("blob"), big);
    await r.refresh();
    assert.equal(new TextDecoder().decode(await read("small")), "hello again");
  }));

Deno.test("readers: a follower beside a writer rotating small files fast never skips a file it did not list", async () => {
  await withDir(async (dir) => {
    // Files of 2 KiB: a new one every dozen writes, many created while a refresh lists the directory.
    const code = `import { open } from ${
      JSON.stringify(new URL("../mod.ts", import.meta.url).href)
    };
      const db = await open(${JSON.stringify(dir)}, { maxFileSize: 2048, sync: "never" });
      const end = Date.now() + 4000;
      for (let i = 0; Date.now() < end; i++) {
        await db.set("once" + String(i).padStart(7, "0"), "x".repeat(50));
        await db.set("counter", String(i));
        if (i % 20 === 0) await new Promise((r) => setTimeout(r, 1));
      }
      await db.close();`;
    const child = new Deno.Command(Deno.execPath(), { args: ["eval", code], stderr: "inherit" })
      .spawn();
    const done = child.status;
    let running = true;
    done.finally(() => running = false);
    while (!(await Deno.stat(`${dir}/data.0`).then(() => true, () => false))) {
      await new Promise((r) => setTimeout(r, 10));
    }
    const warnings: string[] = [];
    const r = await open(dir, {
      readOnly: true,
      follow: { intervalMs: 5 },
      onWarning: (w) => warnings.push(w.message),
    });
    const once = (i: number) => r.getSync(`once${String(i).padStart(7, "0")}`) !== undefined;
    let checked = -1, polls = 0;
    try {
      while (running) {
        await new Promise((res) => setTimeout(res, 2));
        const v = r.getSync("counter");
        const counter = v === undefined ? -1 : Number(dec.decode(v));
        // Keys written once are never removed: each one up to the counter must be
        // there (those checked before, too: the view never goes back).
        assert.ok(counter >= checked, `counter ${counter} after ${checked}`);
        for (let i = checked + 1; i <= counter; i++) {
          assert.ok(once(i), `poll ${polls}: counter ${counter}, but once${i} is missing`);
        }
        for (let k = 0; k < 50 && checked > 0; k++) {
          const i = Math.floor(Math.random() * checked);
          assert.ok(once(i), `poll ${polls}: once${i}, seen before, is missing`);
        }
        checked = counter;
        polls++;
      }
      assert.ok(polls > 20 && checked > 1000, `${polls} polls, counter ${checked}`);
      assert.deepEqual(warnings, []);
    } finally {
      await done;
      await r.close();
    }
  });
});

Deno.test("a reader whose directory is removed gets IOError from refresh(), backup() and its follow", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cask-gone-" });
  {
    await using w = await open(dir);
    await w.set("a", "1");
  }
  const background: unknown[] = [];
  const r = await open(dir, {
    readOnly: true,
    follow: { intervalMs: 5 },
    onBackgroundError: (e) => background.push(e),
  });
  try {
    await Deno.remove(dir, { recursive: true });
    await assert.rejects(() => r.refresh(), IOError);
    await assert.rejects(() => r.backup(`${dir}.backup`), IOError);
    while (background.length === 0) await new Promise((f) => setTimeout(f, 5));
    assert.ok(background.every((e) => e instanceof IOError), String(background[0]));
  } finally {
    await r.close();
    await Deno.remove(`${dir}.backup`, { recursive: true }).catch(() => {});
  }
});
