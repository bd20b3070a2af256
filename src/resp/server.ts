/**
 * The RESP TCP server. Each connection reads, parses every complete command
 * of what arrived (pipelining), runs them in order and answers them in one
 * write, or in writes of about 1 MiB, each awaited, when they are more. A
 * protocol violation gets `-ERR Protocol error: ...` and that connection alone
 * is closed.
 *
 * Exposure limits: a password (AUTH), before which requests must be small, a
 * cap on clients (fitted to the open-file limit), an idle timeout, and caps on
 * the request bytes one client and all clients together may have buffered,
 * MULTI queues included; a client passing a cap is told why and disconnected.
 * @module
 */

import type { Cask } from "../../mod.ts";
import type { ServerState, Session } from "./context.ts";
import { type Overlap, prepare } from "./dispatch.ts";
import { type Reply, ReplyBuffer } from "./encoder.ts";
import { KeyLocks } from "./key_locks.ts";
import { PendingWrites } from "./pending_writes.ts";
import { StoreView } from "./keyspace.ts";
import {
  close,
  type Connection,
  isDisconnect,
  isFailedConnection,
  lingerClose,
  writeAll,
} from "./client_socket.ts";
import { DEFAULT_LIMITS, ProtocolError, type RespLimits, RespParser } from "./parser.ts";
import { fitOpenFiles } from "./open_files.ts";
import { ScanCursors } from "./scan_cursors.ts";
import { unwatchAll } from "./transaction_commands.ts";
import { ValueCache } from "./value_cache.ts";
import { GatheredWrites, LockedBatch, WriteBatch } from "./write_batch.ts";
import { Watches } from "./watches.ts";

/** How to run a {@link RespServer}. */
export interface RespServerOptions {
  /** Address to bind; default 127.0.0.1. */
  hostname?: string;
  /** Port to bind; 0 picks a free one (see {@link RespServer.addr}). */
  port: number;
  /** Cask's version, reported by INFO. */
  version: string;
  /** Per-client protocol limits. */
  limits?: RespLimits;
  /** Password clients must AUTH with before other commands; none by default. */
  password?: string;
  /**
   * Most clients connected at once; default 10000, lowered (and logged) when
   * the open-file limit has no room for that many.
   */
  maxClients?: number;
  /** Idle clients are disconnected after this many ms; 0 (default) never. */
  idleTimeoutMs?: number;
  /** Most request bytes one client may have buffered; default 128 MiB. */
  clientQueryBufferLimit?: number;
  /**
   * Most request bytes all clients together may have buffered; default 1 GiB.
   * With a password, an eighth of it is for clients not yet authenticated.
   */
  totalQueryBufferLimit?: number;
  /** The store's sync mode, reported by INFO and CONFIG GET appendfsync. */
  sync?: string;
  /** Whether the store was opened with autoCompact, reported by INFO. */
  autoCompact?: boolean;
  /**
   * Bytes of recently read values kept in memory to answer reads without the
   * store; default 64 MiB, 0 none, at most 1 GiB (more is cut to that). The
   * ring that holds them is allocated whole at the first read, its pages
   * touched as they fill. The server must be the store's only writer
   * while it is on (as under `cask serve`, which holds the store's lock).
   */
  valueCacheBytes?: number;
}

const MiB = 1024 * 1024;
const READ_SIZE = 64 * 1024;
// Replies of a long pipeline go out once this many bytes are pending, so a
// client pipelining big MGETs cannot make the server buffer without bound.
const FLUSH_AT = MiB;
// Reply bytes a connection may have queued, unwritten, before it stops
// reading (see #flush).
const MAX_UNSENT = 32 * MiB;
// Reply bytes a client not yet authenticated may leave unread (past what the
// kernel's socket buffer took) before it is dropped: its replies are PINGs'
// and errors, and a stranger sending PINGs and reading nothing made the server
// hold MAX_UNSENT for each such connection (Redis drops these clients too).
const MAX_UNSENT_UNAUTHENTICATED = 64 * 1024;
// How long a shutdown waits for busy connections to write their replies.
const SHUTDOWN_GRACE_MS = 5000;
// Most commands whose reply may hold a stored value (reads, GETDEL, ...) a
// pipeline starts before the replies of those ahead of them are encoded: such
// a reply holds its value until then, so without a bound one read of 64 KiB
// (2,500 GETs) could hold 2,500 values (of 1 MB: 2.5 GB). Other writes are not
// counted: their replies are small, and settling them would wait for a commit
// every few commands where a whole pipeline shares a few (group commit).
const MAX_HOLDING_VALUES = 16;
// Read-modify-writes run under one lock at most this many at a time: other
// clients' commands on their keys wait for the whole batch.
const MAX_LOCKED_BATCH = 1024;
// With a password, clients not yet authenticated share this fraction of the
// total query buffer limit, and authenticated ones the rest: strangers filling
// theirs are dropped, and can never get authenticated clients dropped.
const UNAUTHENTICATED_SHARE = 1 / 8;
// A failing accept (out of file descriptors) is retried after this pause
// rather than in a tight loop. One that failed for its own connection (the
// peer reset before it was accepted) is not: pausing for those let a client
// resetting connections every few ms keep everyone else waiting.
const ACCEPT_RETRY_MS = 100;
const encoder = new TextEncoder();

/** Serves one open store over RESP until {@link RespServer.shutdown}. */
export class RespServer {
  readonly #listener: Deno.TcpListener;
  readonly #state: ServerState;
  readonly #limits: RespLimits;
  readonly #clientLimit: number;
  // The total limit split between authenticated clients and strangers; who
  // the first are, for the error when they pass theirs.
  readonly #authenticatedLimit: number;
  readonly #authenticatedWho: string;
  readonly #strangerLimit: number;
  // What strangers hold, a part of ServerStats.bufferedBytes.
  #strangerBytes = 0;
  readonly #connections = new Set<Connection>();
  // Sockets of dropped clients waiting for them to read the error (see
  // lingerClose): no client's slot, but file descriptors all the same.
  #lingering = 0;
  readonly #handlers = new Set<Promise<void>>();
  readonly #accepting: Promise<void>;
  readonly #sweeper?: ReturnType<typeof setInterval>;
  #closing = false;

  /** Binds the port and starts accepting clients. */
  constructor(db: Cask, options: RespServerOptions) {
    this.#listener = Deno.listen({
      hostname: options.hostname ?? "127.0.0.1",
      port: options.port,
      transport: "tcp",
    });
    this.#limits = options.limits ?? DEFAULT_LIMITS;
    this.#clientLimit = options.clientQueryBufferLimit ?? 128 * MiB;
    const total = options.totalQueryBufferLimit ?? 1024 * MiB;
    this.#strangerLimit = options.password === undefined
      ? 0
      : Math.floor(total * UNAUTHENTICATED_SHARE);
    this.#authenticatedLimit = total - this.#strangerLimit;
    this.#authenticatedWho = options.password === undefined
      ? "all clients"
      : "authenticated clients";
    const cache = new ValueCache(options.valueCacheBytes ?? 64 * MiB);
    this.#state = {
      db,
      cache,
      reader: new StoreView(db, cache),
      locks: new KeyLocks(),
      pending: new PendingWrites(),
      watches: new Watches(),
      cursors: new ScanCursors(),
      version: options.version,
      port: this.#listener.addr.port,
      sync: options.sync ?? "always",
      autoCompact: options.autoCompact ?? false,
      maxClients: fitOpenFiles(options.maxClients ?? 10_000),
      idleTimeoutMs: options.idleTimeoutMs ?? 0,
      maxString: this.#limits.maxBulkLength,
      limits: db.limits,
      password: options.password === undefined ? undefined : encoder.encode(options.password),
      startedAt: Date.now(),
      lastSave: Date.now(),
      stats: {
        connectedClients: 0,
        totalConnections: 0,
        rejectedConnections: 0,
        totalCommands: 0,
        netInputBytes: 0,
        netOutputBytes: 0,
        keyspaceHits: 0,
        keyspaceMisses: 0,
        bufferedBytes: 0,
      },
      nextClientId: 1,
    };
    const idle = this.#state.idleTimeoutMs;
    if (idle > 0) {
      const every = Math.min(1000, Math.max(10, idle / 4));
      this.#sweeper = setInterval(() => this.#closeIdle(), every);
    }
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
      clearInterval(this.#sweeper);
      this.#listener.close();
      // Idle connections are parked in read(): closing them wakes their loop.
      // Busy ones notice #closing once their current commands are answered.
      for (const c of this.#connections) if (!c.busy) close(c);
    }
    // A client that reads none of its replies would hold a busy connection,
    // and the shutdown, forever: after a grace period its connection is
    // closed too (its commands have run; only their replies are lost).
    const grace = setTimeout(() => {
      for (const c of this.#connections) close(c);
    }, SHUTDOWN_GRACE_MS);
    try {
      await this.#accepting;
      while (this.#handlers.size > 0) await Promise.all(this.#handlers);
    } finally {
      clearTimeout(grace);
    }
    await this.#state.compaction;
  }

  async #accept(): Promise<void> {
    // Out of file descriptors, every retry fails until a client leaves: one
    // line in the log says so for the whole run of failures.
    let failing = false;
    while (!this.#closing) {
      let conn: Deno.TcpConn;
      try {
        conn = await this.#listener.accept();
      } catch (e) {
        if (this.#closing) return;
        if (isFailedConnection(e)) continue;
        if (!failing) {
          console.error(
            `cask serve: accept failed: ${describe(e)}; retrying every ${ACCEPT_RETRY_MS} ms ` +
              "(logged once until one succeeds)",
          );
        }
        failing = true;
        await new Promise((resolve) => setTimeout(resolve, ACCEPT_RETRY_MS));
        continue;
      }
      failing = false;
      if (this.#connections.size < this.#state.maxClients) {
        this.#admit(conn);
        continue;
      }
      // A client that closed its socket just now and connects again may come
      // before its old connection's end is read (in the same turn of the
      // event loop): it was told "max number of clients reached" for its own
      // slot. The verdict waits for that turn.
      const later: Promise<void> = new Promise((resolve) => setTimeout(resolve, 0)).then(() => {
        this.#handlers.delete(later);
        if (this.#closing) conn.close();
        else if (this.#connections.size < this.#state.maxClients) this.#admit(conn);
        else {
          this.#state.stats.rejectedConnections++;
          this.#refuse(conn, "ERR max number of clients reached");
        }
      });
      this.#handlers.add(later);
    }
  }

  #admit(conn: Deno.TcpConn): void {
    const handler = this.#serve(conn).finally(() => this.#handlers.delete(handler));
    this.#handlers.add(handler);
  }

  // Tells a client why it is turned away, then closes; a client that does not
  // read cannot hold up the accept loop.
  #refuse(conn: Deno.TcpConn, error: string): void {
    const done = writeAll(conn, encoder.encode(`-${error}\r\n`)).catch(() => {}).finally(() => {
      conn.close();
      this.#handlers.delete(done);
    });
    this.#handlers.add(done);
  }

  #closeIdle(): void {
    const cutoff = Date.now() - this.#state.idleTimeoutMs;
    for (const c of this.#connections) {
      if ((!c.busy || c.waitingOnClient) && c.lastActive < cutoff) close(c);
    }
  }

  async #serve(conn: Deno.TcpConn): Promise<void> {
    const st = this.#state;
    const c: Connection = {
      conn,
      busy: false,
      waitingOnClient: false,
      closed: false,
      lastActive: Date.now(),
      buffered: 0,
      stranger: false,
      linger: false,
      unsent: 0,
    };
    const session: Session = {
      server: st,
      id: st.nextClientId++,
      protocol: 2,
      authenticated: st.password === undefined,
      quit: false,
      drop: false,
      commands: 0,
      watched: new Map(),
      watchedCost: 0,
    };
    const out = new ReplyBuffer();
    const parser = new RespParser(this.#limits, () => session.authenticated);
    const input = new Uint8Array(READ_SIZE);
    this.#connections.add(c);
    st.stats.connectedClients++;
    st.stats.totalConnections++;
    try {
      conn.setNoDelay(true);
      // A peer that vanished without closing is found in the end, with the
      // system's keepalive timing, and gives its slot back.
      conn.setKeepAlive(true);
      while (!this.#closing && !session.quit) {
        const n = await conn.read(input);
        if (n === null) break;
        c.lastActive = Date.now();
        st.stats.netInputBytes += n;
        if (!session.authenticated && c.unsent > MAX_UNSENT_UNAUTHENTICATED) {
          // It sends more but reads no replies, so none is sent: the socket
          // closes at once. (Counted here, not once its commands have run:
          // the replies they just made are not yet unread.)
          console.error(
            `cask serve: client ${session.id}: unauthenticated client left more than ` +
              `${MAX_UNSENT_UNAUTHENTICATED} bytes of replies unread; closing the connection`,
          );
          close(c);
          break;
        }
        parser.push(input.subarray(0, n));
        const over = this.#overLimit(c, parser, session);
        if (over !== undefined) {
          await this.#send(c, out, this.#dropping(c, session, over));
          break;
        }
        c.busy = true;
        const healthy = await this.#runPipeline(c, parser, session, out);
        this.#account(c, parser, session);
        c.busy = false;
        c.lastActive = Date.now();
        if (!healthy) break;
        const held = this.#strangersOver(c);
        if (held !== undefined) {
          await this.#send(c, out, this.#dropping(c, session, held));
          break;
        }
      }
    } catch (e) {
      // A peer that vanishes, or our own close() during shutdown, is routine.
      if (!c.closed && !isDisconnect(e)) {
        console.error(`cask serve: connection failed: ${describe(e)}`);
      }
    } finally {
      // What the client had buffered is given back before any lingering.
      this.#release(c);
      // The last replies go out before the socket closes (a failure here is
      // the peer's going away, which needs no report).
      await c.writing?.catch(() => {});
      // Its slot is free from here: a client dropped with an error may keep
      // its socket up to LINGER_MS, and one that reconnected at once after it
      // was told "max number of clients reached" (not so with Redis).
      this.#connections.delete(c);
      st.stats.connectedClients--;
      unwatchAll(session);
      // At most maxclients of them linger, so the sockets held stay within
      // twice maxclients: past that a dropped client's socket closes at once.
      if (c.linger && !c.closed && this.#lingering < st.maxClients) {
        this.#lingering++;
        await lingerClose(c, input).finally(() => this.#lingering--);
      }
      close(c);
    }
  }

  // A MULTI queue and watched keys count as buffered request bytes: the
  // client sent them and the server holds them until EXEC.
  #account(c: Connection, parser: RespParser, session: Session): void {
    // A client being dropped has given its bytes back already.
    if (c.linger) return;
    const now = parser.buffered + (session.transaction?.cost ?? 0) + session.watchedCost;
    // An AUTH moves what the client holds from the strangers' share to the rest.
    this.#release(c);
    c.stranger = !session.authenticated;
    c.buffered = now;
    this.#state.stats.bufferedBytes += now;
    if (c.stranger) this.#strangerBytes += now;
  }

  // Accounts for what the client holds now; why it must go, if it must.
  #overLimit(c: Connection, parser: RespParser, session: Session): string | undefined {
    this.#account(c, parser, session);
    if (c.buffered > this.#clientLimit) {
      return `client query buffer exceeds its limit of ${this.#clientLimit} bytes; closing the connection`;
    }
    // Judged once the read's whole commands have run (see #strangersOver).
    if (c.stranger) return undefined;
    if (this.#state.stats.bufferedBytes - this.#strangerBytes > this.#authenticatedLimit) {
      return `query buffers of ${this.#authenticatedWho} exceed their limit of ` +
        `${this.#authenticatedLimit} bytes; closing the connection`;
    }
    return undefined;
  }

  // Why stranger `c` must go, if it must: what strangers hold, once the
  // commands its read completed have run, is over their share. Judged after
  // the run, not before, so a newcomer's AUTH (a whole command, held by no
  // one once run) always gets through, however full strangers have filled
  // their share with commands they never finish.
  #strangersOver(c: Connection): string | undefined {
    if (!c.stranger || this.#strangerBytes <= this.#strangerLimit) return undefined;
    return `query buffers of unauthenticated clients exceed their limit of ${this.#strangerLimit} ` +
      "bytes; closing the connection";
  }

  // The error reply of a client dropped for passing a limit, once logged.
  // Its bytes are given back at once, not when its connection has closed:
  // other clients' reads handled meanwhile must not find the total still over
  // the limit and be dropped too, when dropping this one was enough.
  #dropping(c: Connection, session: Session, over: string): Reply {
    console.error(`cask serve: client ${session.id}: ${over}`);
    this.#release(c);
    c.linger = true;
    return { error: `ERR ${over}` };
  }

  #release(c: Connection): void {
    this.#state.stats.bufferedBytes -= c.buffered;
    if (c.stranger) this.#strangerBytes -= c.buffered;
    c.buffered = 0;
  }

  async #send(c: Connection, out: ReplyBuffer, reply: Reply): Promise<void> {
    out.reply(reply);
    await this.#flush(c, out);
  }

  // Queues the replies gathered in `out`, written once the writes before
  // them are done (a failure of one throws at the next flush). The
  // connection reads on meanwhile, as Redis does: a client that sends a long
  // pipeline before it reads any reply (redis-py's pipelines do) would
  // otherwise stall with the server, each waiting for the other to read.
  // Past MAX_UNSENT bytes queued the flush waits for them, so a client that
  // reads no replies holds that much at most, and holds up only itself.
  async #flush(c: Connection, out: ReplyBuffer): Promise<void> {
    if (c.writeError !== undefined) throw c.writeError;
    // drain() hands back the buffer of the write before the last: safe only
    // once no write is in flight.
    const bytes = c.unsent > 0 ? out.take() : out.drain();
    this.#state.stats.netOutputBytes += bytes.length;
    c.unsent += bytes.length;
    let left = bytes.length;
    const progress = (n: number) => {
      c.lastActive = Date.now();
      c.unsent -= n;
      left -= n;
    };
    const writing = (c.writing ?? Promise.resolve()).then(() => writeAll(c.conn, bytes, progress))
      .finally(() => c.unsent -= left);
    // Surfaced by the next flush or the close; never an unhandled rejection.
    writing.catch((e) => c.writeError ??= e);
    c.writing = writing;
    if (c.unsent <= MAX_UNSENT) return;
    c.waitingOnClient = true;
    try {
      await writing;
    } finally {
      c.waitingOnClient = false;
    }
  }

  // Runs every complete command buffered in `parser` and writes the replies;
  // false when the connection must close (protocol error, QUIT, attack).
  //
  // Commands run in request order as Redis' would, but they need not wait for
  // each other to finish: consecutive reads overlap (each reads at its start),
  // and consecutive writes overlap too, since the store appends them in call
  // order and one fsync acknowledges them all (group commit), which is what
  // makes a pipelined mass insert fast. A read waits for the writes before it
  // and a write for the reads before it; anything else waits for everything.
  // Replies are encoded strictly in request order.
  async #runPipeline(
    c: Connection,
    parser: RespParser,
    session: Session,
    out: ReplyBuffer,
  ): Promise<boolean> {
    // Replies not yet encoded, in request order: known ones (from memory) as
    // they are, the others as the promise of a command running, or as the
    // batch of consecutive writes of one kind they were issued in.
    const inFlight: (Reply | Promise<Reply> | GatheredWrites)[] = [];
    let flying: Overlap | undefined;
    // Of inFlight, the entries whose reply may hold a stored value.
    let holding = 0;
    let gathering: WriteBatch | LockedBatch | undefined;
    // The batch being gathered is always the last entry of inFlight.
    const issue = () => {
      if (gathering === undefined) return;
      const lone = gathering.issue(this.#state);
      if (lone !== undefined) inFlight[inFlight.length - 1] = lone;
      gathering = undefined;
    };
    // Replies go out as they pass FLUSH_AT, each write awaited before the
    // next starts: a client that reads slowly holds up only itself.
    const settle = async () => {
      issue();
      for (const pending of inFlight) {
        if (pending instanceof GatheredWrites) {
          for (const r of await pending.replies()) out.reply(r);
        } else {
          const r = pending instanceof Promise ? await pending : pending;
          // HELLO 3 answers, and everything after it is, in RESP3.
          out.protocol = session.protocol;
          out.reply(r);
        }
        if (out.length >= FLUSH_AT) await this.#flush(c, out);
      }
      inFlight.length = 0;
      holding = 0;
      flying = undefined;
    };
    // The error that ends the connection, answered after the replies before it.
    let fatal: Reply | undefined;
    try {
      for (let args = parser.next(); args !== undefined; args = parser.next()) {
        const command = prepare(session, args);
        if (command === undefined) break;
        // A queue growing by many commands of one read is stopped as it
        // passes the limit, not at the next read.
        if (session.transaction !== undefined) {
          const over = this.#overLimit(c, parser, session);
          if (over !== undefined) {
            fatal = this.#dropping(c, session, over);
            break;
          }
        }
        if (
          flying !== undefined &&
          (command.overlap === "barrier" || command.overlap !== flying ||
            holding >= MAX_HOLDING_VALUES)
        ) {
          await settle();
        }
        const ops = command.blind();
        if (ops !== undefined) {
          const alone = WriteBatch.alone(this.#state, ops);
          if (!(gathering instanceof WriteBatch) || alone) {
            issue();
            inFlight.push(gathering = new WriteBatch());
          }
          gathering.add(ops);
          if (alone) issue();
          flying = "write";
          continue;
        }
        const locked = command.locked();
        if (locked !== undefined) {
          if (!(gathering instanceof LockedBatch) || gathering.size === MAX_LOCKED_BATCH) {
            issue();
            inFlight.push(gathering = new LockedBatch(session));
          }
          gathering.add(locked);
          flying = "write";
          if (command.holdsValue()) holding++;
          continue;
        }
        // Whatever comes next must find the gathered writes issued.
        issue();
        const known = command.now();
        if (known !== undefined && inFlight.length === 0) {
          // Nothing ahead of it: encoded at once, no promise made.
          out.protocol = session.protocol;
          out.reply(known);
        } else {
          flying = command.overlap;
          // A value known now may be the value cache's view, which lasts only
          // until the cache keeps another: the replies ahead of it may do that.
          const held = known instanceof Uint8Array ? known.slice() : known;
          inFlight.push(held !== undefined ? held : command.run());
          if (command.holdsValue()) holding++;
        }
        if (session.quit) break;
        if (out.length >= FLUSH_AT) await this.#flush(c, out);
      }
    } catch (e) {
      if (!(e instanceof ProtocolError)) throw e;
      fatal = { error: `ERR Protocol error: ${e.message}` };
      this.#release(c);
      c.linger = true;
    }
    if (inFlight.length > 0) await settle();
    if (fatal !== undefined) {
      out.reply(fatal);
      session.quit = true;
    }
    if (session.drop) return false;
    if (out.length > 0) await this.#flush(c, out);
    return !session.quit;
  }
}

function describe(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
