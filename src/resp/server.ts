/**
 * The RESP2 TCP server. Each connection reads, parses every complete command
 * of what arrived (pipelining), runs them in order and answers them in one
 * write. A protocol violation gets `-ERR Protocol error: ...` and that
 * connection alone is closed.
 * @module
 */

import type { Cask } from "../../mod.ts";
import type { ServerState, Session } from "./context.ts";
import { prepare } from "./commands.ts";
import { type Reply, ReplyBuffer } from "./encoder.ts";
import { KeyLocks } from "./key_locks.ts";
import { DEFAULT_LIMITS, ProtocolError, type RespLimits, RespParser } from "./parser.ts";
import { ScanCursors } from "./scan_cursors.ts";

/** How to run a {@link RespServer}. */
export interface RespServerOptions {
  /** Address to bind; default 127.0.0.1. */
  hostname?: string;
  /** Port to bind; 0 picks a free one (see {@link RespServer.port}). */
  port: number;
  /** Cask's version, reported by INFO. */
  version: string;
  /** Per-client protocol limits. */
  limits?: RespLimits;
}

const READ_SIZE = 64 * 1024;
// Replies of a long pipeline go out once this many bytes are pending, so a
// client pipelining big MGETs cannot make the server buffer without bound.
const FLUSH_AT = 1024 * 1024;
// A failing accept (out of file descriptors) is retried after this pause
// rather than in a tight loop.
const ACCEPT_RETRY_MS = 100;

interface Connection {
  readonly conn: Deno.TcpConn;
  /** True while commands of this connection are running. */
  busy: boolean;
  closed: boolean;
}

/** Serves one open store over RESP2 until {@link RespServer.shutdown}. */
export class RespServer {
  readonly #listener: Deno.TcpListener;
  readonly #state: ServerState;
  readonly #limits: RespLimits;
  readonly #connections = new Set<Connection>();
  readonly #handlers = new Set<Promise<void>>();
  readonly #accepting: Promise<void>;
  #closing = false;

  /** Binds the port and starts accepting clients. */
  constructor(db: Cask, options: RespServerOptions) {
    this.#listener = Deno.listen({
      hostname: options.hostname ?? "127.0.0.1",
      port: options.port,
      transport: "tcp",
    });
    this.#limits = options.limits ?? DEFAULT_LIMITS;
    this.#state = {
      db,
      locks: new KeyLocks(),
      cursors: new ScanCursors(),
      version: options.version,
      port: this.#listener.addr.port,
      startedAt: Date.now(),
      connectedClients: 0,
      totalConnections: 0,
      totalCommands: 0,
    };
    this.#accepting = this.#accept();
  }

  /** The bound address (useful with port 0). */
  get addr(): Deno.NetAddr {
    return this.#listener.addr;
  }

  /**
   * Stops accepting, lets every connection finish the commands it is running
   * (and write their replies), closes all connections, then resolves. The
   * store stays open: closing it is the owner's job.
   */
  async shutdown(): Promise<void> {
    if (!this.#closing) {
      this.#closing = true;
      this.#listener.close();
      // Idle connections are parked in read(): closing them wakes their loop.
      // Busy ones notice #closing once their current commands are answered.
      for (const c of this.#connections) if (!c.busy) close(c);
    }
    await this.#accepting;
    while (this.#handlers.size > 0) await Promise.all(this.#handlers);
  }

  async #accept(): Promise<void> {
    while (!this.#closing) {
      let conn: Deno.TcpConn;
      try {
        conn = await this.#listener.accept();
      } catch (e) {
        if (this.#closing) return;
        console.error(`cask serve: accept failed: ${describe(e)}`);
        await new Promise((resolve) => setTimeout(resolve, ACCEPT_RETRY_MS));
        continue;
      }
      const handler = this.#serve(conn).finally(() => this.#handlers.delete(handler));
      this.#handlers.add(handler);
    }
  }

  async #serve(conn: Deno.TcpConn): Promise<void> {
    const c: Connection = { conn, busy: false, closed: false };
    const session: Session = { server: this.#state, quit: false };
    const out = new ReplyBuffer();
    const parser = new RespParser(this.#limits);
    const input = new Uint8Array(READ_SIZE);
    this.#connections.add(c);
    this.#state.connectedClients++;
    this.#state.totalConnections++;
    try {
      conn.setNoDelay(true);
      while (!this.#closing && !session.quit) {
        const n = await conn.read(input);
        if (n === null) break;
        parser.push(input.subarray(0, n));
        c.busy = true;
        const healthy = await this.#runPipeline(c, parser, session, out);
        c.busy = false;
        if (!healthy) break;
      }
    } catch (e) {
      // A peer that vanishes, or our own close() during shutdown, is routine.
      if (!c.closed && !isDisconnect(e)) {
        console.error(`cask serve: connection failed: ${describe(e)}`);
      }
    } finally {
      close(c);
      this.#connections.delete(c);
      this.#state.connectedClients--;
    }
  }

  // Runs every complete command buffered in `parser` and writes the replies;
  // false when the connection must close (protocol error or QUIT).
  //
  // Consecutive writes are started without waiting for each other: the store
  // appends them in call order and one fsync acknowledges them all (group
  // commit), which is what makes a pipelined mass insert fast. Any other
  // command first waits for those writes, so it sees their effects. Replies
  // are encoded strictly in request order.
  async #runPipeline(
    c: Connection,
    parser: RespParser,
    session: Session,
    out: ReplyBuffer,
  ): Promise<boolean> {
    const inFlight: Promise<Reply>[] = [];
    const settle = async () => {
      for (const reply of inFlight) out.reply(await reply);
      inFlight.length = 0;
    };
    try {
      for (let args = parser.next(); args !== undefined; args = parser.next()) {
        const command = prepare(args);
        if (!command.write) await settle();
        inFlight.push(command.run(session));
        if (session.quit) break;
        if (out.length >= FLUSH_AT) await writeAll(c.conn, out.drain());
      }
    } catch (e) {
      if (!(e instanceof ProtocolError)) throw e;
      await settle();
      out.reply({ error: `ERR Protocol error: ${e.message}` });
      session.quit = true;
    }
    await settle();
    if (out.length > 0) await writeAll(c.conn, out.drain());
    return !session.quit;
  }
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let at = 0; at < bytes.length;) at += await conn.write(bytes.subarray(at));
}

function close(c: Connection): void {
  if (c.closed) return;
  c.closed = true;
  c.conn.close();
}

function isDisconnect(e: unknown): boolean {
  return e instanceof Deno.errors.ConnectionReset || e instanceof Deno.errors.BrokenPipe ||
    e instanceof Deno.errors.ConnectionAborted || e instanceof Deno.errors.BadResource ||
    e instanceof Deno.errors.Interrupted;
}

function describe(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
