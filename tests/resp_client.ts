/** A minimal RESP client and a server fixture for the RESP server tests. */

import assert from "node:assert/strict";
import { type Cask, open, type OpenOptions, type SyncMode } from "../mod.ts";
import { faults } from "../src/log/faults.ts";
import { RespServer, type RespServerOptions } from "../src/resp/server.ts";
import { withDir } from "./helpers.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const bytes = (s: string) => enc.encode(s);

/** One command as a RESP multibulk frame. */
export function frame(...args: (string | Uint8Array)[]): Uint8Array {
  const parts: Uint8Array[] = [bytes(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = typeof a === "string" ? bytes(a) : a;
    parts.push(bytes(`$${b.length}\r\n`), b, bytes("\r\n"));
  }
  return concat(parts);
}

/** Joins byte arrays. */
export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Reads from `conn` until `n` bytes came or it closed; how many came. */
export async function readUpTo(conn: Deno.Conn, n: number): Promise<number> {
  const chunk = new Uint8Array(1 << 20);
  let got = 0;
  while (got < n) {
    const read = await conn.read(chunk);
    if (read === null) break;
    got += read;
  }
  return got;
}

/** A decoded reply; errors become `{ err }`. */
export type Reply = string | number | null | { err: string } | Reply[];

/** A minimal RESP2 client: enough to send frames and read typed replies. */
export class Client {
  readonly #conn: Deno.TcpConn;
  #buf: Uint8Array = new Uint8Array(0);

  private constructor(conn: Deno.TcpConn) {
    this.#conn = conn;
  }

  static async connect(port: number): Promise<Client> {
    return new Client(await Deno.connect({ hostname: "127.0.0.1", port }));
  }

  async write(data: Uint8Array | string): Promise<void> {
    const b = typeof data === "string" ? bytes(data) : data;
    for (let at = 0; at < b.length;) at += await this.#conn.write(b.subarray(at));
  }

  send(...commands: (string | Uint8Array)[][]): Promise<void> {
    return this.write(concat(commands.map((c) => frame(...c))));
  }

  async call(...args: (string | Uint8Array)[]): Promise<Reply> {
    await this.send(args);
    return await this.reply();
  }

  async reply(): Promise<Reply> {
    for (;;) {
      const parsed = parseReply(this.#buf, 0);
      if (parsed !== undefined) {
        this.#buf = this.#buf.subarray(parsed[1]);
        return parsed[0];
      }
      if (!(await this.#fill())) throw new Error("connection closed before a full reply");
    }
  }

  /** The next `n` replies as the bytes the server sent them in. */
  async raw(n: number): Promise<Uint8Array> {
    let end = 0;
    for (let i = 0; i < n;) {
      const parsed = parseReply(this.#buf, end);
      if (parsed !== undefined) {
        end = parsed[1];
        i++;
      } else if (!(await this.#fill())) throw new Error("connection closed before a full reply");
    }
    const out = this.#buf.slice(0, end);
    this.#buf = this.#buf.subarray(end);
    return out;
  }

  /** Resolves true once the server closed the connection with nothing more to read. */
  async closedByServer(): Promise<boolean> {
    while (this.#buf.length === 0) {
      if (!(await this.#fill())) return true;
    }
    return false;
  }

  close(): void {
    try {
      this.#conn.close();
    } catch {
      // already closed by the test
    }
  }

  async #fill(): Promise<boolean> {
    const chunk = new Uint8Array(64 * 1024);
    let n: number | null;
    try {
      n = await this.#conn.read(chunk);
    } catch (e) {
      if (e instanceof Deno.errors.ConnectionReset) return false;
      throw e;
    }
    if (n === null) return false;
    this.#buf = concat([this.#buf, chunk.subarray(0, n)]);
    return true;
  }
}

function parseReply(b: Uint8Array, at: number): [Reply, number] | undefined {
  const lf = b.indexOf(0x0a, at);
  if (lf < 0) return undefined;
  const line = dec.decode(b.subarray(at + 1, lf - 1));
  const next = lf + 1;
  switch (b[at]) {
    case 0x2b: // +
      return [line, next];
    case 0x2d: // -
      return [{ err: line }, next];
    case 0x3a: // :
      return [Number(line), next];
    case 0x24: { // $
      const n = Number(line);
      if (n < 0) return [null, next];
      if (b.length < next + n + 2) return undefined;
      return [dec.decode(b.subarray(next, next + n)), next + n + 2];
    }
    case 0x2a: { // *
      const n = Number(line);
      if (n < 0) return [null, next];
      const items: Reply[] = [];
      let pos = next;
      for (let i = 0; i < n; i++) {
        const item = parseReply(b, pos);
        if (item === undefined) return undefined;
        items.push(item[0]);
        pos = item[1];
      }
      return [items, pos];
    }
  }
  throw new Error(`bad reply byte ${b[at]}`);
}

/** Runs `fn` against a server on a fresh store (sync "never" unless said). */
export async function withServer(
  fn: (port: number, db: Cask, server: RespServer, dir: string) => Promise<void>,
  options: Partial<RespServerOptions> = {},
  sync: SyncMode = "never",
  storeOptions: OpenOptions = {},
): Promise<void> {
  await withDir(async (dir) => {
    const db = await open(dir, { ...storeOptions, sync });
    const server = new RespServer(db, { port: 0, version: "test", ...options });
    try {
      await fn(server.addr.port, db, server, dir);
    } finally {
      await server.shutdown();
      await db.close();
    }
  });
}

/** A `faults.beforeWrite` hook that fails the next write of the log, and no other. */
export function failOnce(): () => void {
  let fail = true;
  return () => {
    if (fail) {
      fail = false;
      throw new Error("ENOSPC (injected)");
    }
  };
}

/**
 * Runs `clients` (each a client's INCRs of key "n", its replies in order)
 * against a server under sync "always" while every third write of the log
 * fails: the INCRs in flight with it, and those built on them, must fail with
 * it. Checks that exactly the acknowledged increments stay, across a reopen.
 */
export function checkFailingIncrs(clients: ((port: number) => Promise<Reply[]>)[]): Promise<void> {
  return withDir(async (dir) => {
    const db = await open(dir, { sync: "always" });
    const server = new RespServer(db, { port: 0, version: "test" });
    let replies: Reply[][];
    let writes = 0;
    faults.beforeWrite = () => {
      if (++writes % 3 === 0) throw new Error("ENOSPC (injected)");
    };
    try {
      replies = await Promise.all(clients.map((run) => run(server.addr.port)));
    } finally {
      faults.beforeWrite = undefined;
      await server.shutdown();
      await db.close();
    }
    const failed = replies.flat().filter((r) => typeof r === "object");
    const counted = replies.flat().filter((r) => typeof r !== "object").map(Number);
    assert.ok(failed.length > 0, "some INCRs failed");
    assert.ok(counted.length > 0, "some INCRs succeeded");
    // Each success saw every success before it and no failure.
    counted.sort((a, b) => a - b);
    assert.deepEqual(counted, Array.from({ length: counted.length }, (_, i) => i + 1));
    await using again = await open(dir);
    assert.equal(await again.getString("n"), String(counted.length));
  });
}

type DocMap = Record<string, Reply>;

/** A flat RESP2 map reply as an object. */
export function toMap(r: Reply): DocMap {
  const items = r as Reply[];
  const m: DocMap = {};
  for (let i = 0; i < items.length; i += 2) m[items[i] as string] = items[i + 1];
  return m;
}

/**
 * Renders COMMAND DOCS `arguments` the way redis-cli turns them into a hint:
 * `key value [NX|XX] [EX seconds|PX milliseconds]`.
 */
export function renderArguments(args: Reply): string {
  return ((args as Reply[] | undefined) ?? []).map((a) => renderArgument(toMap(a))).join(" ");
}

function renderArgument(a: DocMap): string {
  const flags = (a.flags as string[] | undefined) ?? [];
  const sub = ((a.arguments as Reply[] | undefined) ?? []).map((x) => renderArgument(toMap(x)));
  let base = a.type === "oneof"
    ? sub.join("|")
    : a.type === "block"
    ? sub.join(" ")
    : a.type === "pure-token"
    ? String(a.token)
    : (a.token ? `${a.token} ` : "") + String(a.name);
  // A token leads its group (COMMAND LIST's `FILTERBY MODULE ...|ACLCAT ...`).
  if ((a.type === "block" || a.type === "oneof") && a.token) base = `${a.token} ${base}`;
  if (flags.includes("multiple")) base = `${base} [${base} ...]`;
  return flags.includes("optional") ? `[${base}]` : base;
}
