/**
 * Durability by the system calls themselves. A kill -9 keeps the page cache,
 * so the crash tests cannot see a missing fsync; here a writer runs under
 * strace and the order of its calls is checked: every acknowledged durable
 * write was fdatasynced (and its file's creation made durable by a directory
 * fsync) before the acknowledgement, and compaction syncs its outputs before
 * renaming them, syncs the directory before removing inputs, and removes them
 * oldest first with a directory fsync after each.
 */
import assert from "node:assert/strict";
import { withDir } from "./helpers.ts";

const CHILD = new URL("./children/fsync_trace.ts", import.meta.url).pathname;
const CALLS = "openat,close,dup,dup2,dup3,fcntl,write,fsync,fdatasync,rename,renameat,renameat2," +
  "unlink,unlinkat";

async function straceWorks(): Promise<boolean> {
  try {
    const out = await new Deno.Command("strace", {
      args: ["-f", "-qq", "-e", `trace=${CALLS}`, "-o", "/dev/null", "true"],
    }).output();
    return out.success;
  } catch {
    return false;
  }
}
const hasStrace = await straceWorks();
if (!hasStrace) console.log("strace missing or not permitted (apt-get install strace): skipping");

/** One system call: where it started and ended in the trace (line numbers), its text and result. */
interface Call {
  name: string;
  args: string;
  ret: number;
  start: number;
  end: number;
}

/** Parses `strace -f` output, joining calls that other threads interrupted. */
function parseTrace(text: string): Call[] {
  const calls: Call[] = [];
  const pending = new Map<string, Call>();
  text.split("\n").forEach((line, n) => {
    // strace pads pids to a common width, so a short pid is followed by several spaces.
    const resumed = /^(\d+) +<\.\.\. (\w+) resumed>(.*)$/.exec(line);
    if (resumed) {
      const c = pending.get(resumed[1] + resumed[2]);
      if (!c) return;
      pending.delete(resumed[1] + resumed[2]);
      finish(c, c.args + resumed[3], n);
      return;
    }
    const m = /^(\d+) +(\w+)\((.*)$/.exec(line);
    if (!m) return;
    const c: Call = { name: m[2], args: m[3], ret: NaN, start: n, end: n };
    if (m[3].endsWith(" <unfinished ...>")) {
      c.args = m[3].slice(0, -" <unfinished ...>".length);
      pending.set(m[1] + m[2], c);
      calls.push(c);
    } else {
      finish(c, m[3], n);
      calls.push(c);
    }
  });
  return calls;
}

function finish(c: Call, rest: string, end: number): void {
  const r = /\) += (-?\d+)(?: .*)?$/.exec(rest);
  c.args = r ? rest.slice(0, r.index) : rest;
  c.ret = r ? Number(r[1]) : NaN;
  c.end = end;
}

/** What happened to the files of `dir`, with each fd resolved to its path as of the call. */
interface FileEvents {
  writes: { path: string; data: string; end: number }[];
  syncs: { path: string; start: number; end: number }[];
  created: Map<string, number>;
  renames: { from: string; to: string; start: number; end: number }[];
  unlinks: { path: string; start: number; end: number }[];
  /** Lines written to stdout, by their start. */
  said: { line: string; at: number }[];
}

function fileEvents(calls: Call[], dir: string): FileEvents {
  const ev: FileEvents = {
    writes: [],
    syncs: [],
    created: new Map(),
    renames: [],
    unlinks: [],
    said: [],
  };
  const fds = new Map<number, string>();
  // Calls take effect on the fd table in the order they end; a sync's fd is read where it starts.
  const points = calls.flatMap((
    c,
  ) => [{ at: c.start, c, begin: true }, { at: c.end, c, begin: false }])
    .sort((a, b) => a.at - b.at || Number(b.begin) - Number(a.begin));
  const syncPath = new Map<Call, string | undefined>();
  const strings = (s: string) => [...s.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]);
  const fdArg = (c: Call) => Number(/^(-?\d+)/.exec(c.args)?.[1]);
  for (const { c, begin } of points) {
    if (begin) {
      if (c.name === "fsync" || c.name === "fdatasync") syncPath.set(c, fds.get(fdArg(c)));
      if (c.name === "write" && fdArg(c) === 1) {
        ev.said.push({ line: strings(c.args)[0] ?? "", at: c.start });
      }
      continue;
    }
    if (!(c.ret >= 0)) continue;
    switch (c.name) {
      case "openat": {
        const path = strings(c.args)[0];
        if (path === dir || path?.startsWith(dir + "/")) {
          fds.set(c.ret, path);
          if (c.args.includes("O_EXCL")) ev.created.set(path, c.end);
        }
        break;
      }
      case "dup":
      case "dup2":
      case "dup3":
      case "fcntl":
        if (c.name !== "fcntl" || /F_DUPFD/.test(c.args)) {
          const path = fds.get(fdArg(c));
          if (path !== undefined) fds.set(c.ret, path);
        }
        break;
      case "close":
        fds.delete(fdArg(c));
        break;
      case "write": {
        const path = fds.get(fdArg(c));
        if (path !== undefined) {
          ev.writes.push({ path, data: strings(c.args)[0] ?? "", end: c.end });
        }
        break;
      }
      case "fsync":
      case "fdatasync": {
        const path = syncPath.get(c);
        if (path !== undefined) ev.syncs.push({ path, start: c.start, end: c.end });
        break;
      }
      case "rename":
      case "renameat":
      case "renameat2": {
        const [from, to] = strings(c.args);
        if (from?.startsWith(dir + "/")) ev.renames.push({ from, to, start: c.start, end: c.end });
        break;
      }
      case "unlink":
      case "unlinkat": {
        const path = strings(c.args)[0];
        if (path?.startsWith(dir + "/")) ev.unlinks.push({ path, start: c.start, end: c.end });
        break;
      }
    }
  }
  return ev;
}

/** Whether a sync of `path` started after line `after` and ended before line `before`. */
const idOf = (path: string) => Number(/\.(\d+)$/.exec(path)?.[1]);

function synced(ev: FileEvents, path: string, after: number, before: number): boolean {
  return ev.syncs.some((s) => s.path === path && s.start > after && s.end < before);
}

/** Asserts that the write holding `key`, and its file's creation, were synced before line `at`. */
function assertDurable(ev: FileEvents, dir: string, key: string, at: number): void {
  const w = ev.writes.find((w) => w.data.includes(key));
  assert.ok(w, `no write holds ${key}`);
  assert.ok(w.end < at, `${key} acknowledged before it was written`);
  assert.ok(synced(ev, w.path, w.end, at), `${key} acknowledged before an fdatasync of ${w.path}`);
  const born = ev.created.get(w.path);
  if (born !== undefined) {
    assert.ok(
      synced(ev, dir, born, at),
      `${key} acknowledged before ${w.path}'s directory entry was synced`,
    );
  }
}

async function traced(dir: string, mode: string): Promise<FileEvents> {
  const trace = `${dir}.trace`;
  const out = await new Deno.Command("strace", {
    args: [
      "-f",
      "-qq",
      "-s",
      "65536",
      "-e",
      `trace=${CALLS}`,
      "-o",
      trace,
      Deno.execPath(),
      "run",
      "-A",
      CHILD,
      dir,
      mode,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  try {
    return fileEvents(parseTrace(await Deno.readTextFile(trace)), dir);
  } finally {
    await Deno.remove(trace);
  }
}

for (const [mode, how] of [["acks", ""], ["acks-inline", " (inlineFsync)"]]) {
  Deno.test({
    name:
      "every durable acknowledgement comes after the fdatasync of its record and the fsync of its new file's directory" +
      how,
    ignore: !hasStrace,
    fn: () =>
      withDir(async (dir) => {
        const ev = await traced(dir, mode);
        const acks = ev.said.filter((s) => s.line.startsWith("ack "));
        assert.equal(acks.length, 42, "acknowledgements seen");
        assert.ok(
          ev.created.size >= 4,
          `${ev.created.size} data files created: rotation is exercised`,
        );
        for (const { line, at } of acks) {
          assertDurable(ev, dir, line.slice(4).replace("\\n", ""), at);
        }
      }),
  });
}

Deno.test({
  name: 'sync() under sync "never" resolves after every earlier write and new file is durable',
  ignore: !hasStrace,
  fn: () =>
    withDir(async (dir) => {
      const ev = await traced(dir, "sync");
      const rounds = ev.said.filter((s) => s.line.startsWith("synced "));
      assert.equal(rounds.length, 6, "sync() calls seen");
      assert.ok(
        ev.created.size >= 4,
        `${ev.created.size} data files created: rotation is exercised`,
      );
      for (const [round, { at }] of rounds.entries()) {
        // The value's first byte follows the key, so ns-0-1 is not found inside ns-0-10.
        for (let i = 0; i < 25; i++) assertDurable(ev, dir, `ns-${round}-${i}n`, at);
      }
    }),
});

Deno.test({
  name:
    "compaction syncs outputs before installing them and the directory before and between removals",
  ignore: !hasStrace,
  fn: () =>
    withDir(async (dir) => {
      const ev = await traced(dir, "compact");
      const done = ev.said.find((s) => s.line.startsWith("compacted"))?.at;
      assert.ok(done !== undefined, "the child never said it compacted");
      const installs = ev.renames.filter((r) => r.from.endsWith(".merging"));
      const removals = ev.unlinks.filter((u) => /\/data\.\d+$/.test(u.path));
      assert.ok(
        installs.length >= 2 && removals.length >= 2,
        `${installs.length} installs, ${removals.length} removals`,
      );
      for (const r of installs) {
        const last = Math.max(...ev.writes.filter((w) => w.path === r.from).map((w) => w.end));
        assert.ok(synced(ev, r.from, last, r.start), `${r.from} renamed before it was synced`);
        assert.ok(
          synced(ev, dir, r.end, removals[0].start),
          `input removed before the rename to ${r.to} was durable`,
        );
      }
      const ids = removals.map((u) => Number(u.path.slice(u.path.lastIndexOf(".") + 1)));
      assert.deepEqual(ids, [...ids].sort((a, b) => a - b), "inputs removed oldest first");
      // The file the compaction's seal left was durable before the file past
      // the seal's gap of ids was created.
      const begun = [...ev.created].map(([path, at]) => ({ path, at, id: idOf(path) }))
        .filter((f) => /\/data\.\d+$/.test(f.path)).sort((a, b) => a.id - b.id);
      const past = begun.findIndex((f, i) => i > 0 && f.id > begun[i - 1].id + 1);
      assert.ok(past > 0, `no file begun past a gap: ${begun.map((f) => f.id)}`);
      const left = begun[past - 1].path;
      const lastWrite = Math.max(
        ...ev.writes.filter((w) => w.path === left && w.end < begun[past].at).map((w) => w.end),
      );
      assert.ok(
        synced(ev, left, lastWrite, begun[past].at),
        `${begun[past].path} created before ${left}, which the seal left, was synced`,
      );
      for (let i = 0; i < removals.length; i++) {
        const next = i + 1 < removals.length ? removals[i + 1].start : done;
        assert.ok(
          synced(ev, dir, removals[i].end, next),
          `removal of ${removals[i].path} not synced before the next step`,
        );
      }
    }),
});
