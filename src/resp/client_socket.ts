/**
 * A client connection's socket: its state as the server tracks it, and the
 * ways it is written to and closed.
 * @module
 */

// How long a client that is being dropped with an error may go on sending
// before the socket is closed under it; see lingerClose().
const LINGER_MS = 1000;

/** A client socket and what the server tracks about it. */
export interface Connection {
  readonly conn: Deno.TcpConn;
  /** True while commands of this connection are running. */
  busy: boolean;
  /**
   * True while it waits for the client to read its queued replies: the idle
   * timeout applies then, as in Redis, where a client whose replies cannot be
   * written makes no progress either.
   */
  waitingOnClient: boolean;
  closed: boolean;
  /** When the client last sent bytes, or took some of its replies. */
  lastActive: number;
  /** This connection's share of ServerStats.bufferedBytes. */
  buffered: number;
  /** Whether `buffered` counts against the unauthenticated clients' share. */
  stranger: boolean;
  /** Closed because of an error the client must be able to read. */
  linger: boolean;
  /** The last reply write queued; each starts once the one before it is done. */
  writing?: Promise<void>;
  /** Reply bytes queued and not yet taken by the socket. */
  unsent: number;
  /** Why a reply write failed; the connection ends at its next flush. */
  writeError?: unknown;
}

/** Writes all of `bytes`; `progress` gets the bytes each write that took some took. */
export async function writeAll(
  conn: Deno.Conn,
  bytes: Uint8Array,
  progress?: (n: number) => void,
): Promise<void> {
  for (let at = 0; at < bytes.length;) {
    const n = await conn.write(bytes.subarray(at));
    at += n;
    progress?.(n);
  }
}

// Closing a socket with unread input makes the kernel answer with a reset,
// which can destroy the error reply before the client reads it. So the write
// side is shut first and the client's further bytes are read and dropped
// until it closes too, or for LINGER_MS at most.
export async function lingerClose(c: Connection, scratch: Uint8Array): Promise<void> {
  const timer = setTimeout(() => close(c), LINGER_MS);
  try {
    await c.conn.closeWrite();
    while (!c.closed && (await c.conn.read(scratch)) !== null) {
      // dropped
    }
  } catch {
    // the client went away first, or the timer closed the socket
  } finally {
    clearTimeout(timer);
  }
}

/** Closes the socket once. */
export function close(c: Connection): void {
  if (c.closed) return;
  c.closed = true;
  c.conn.close();
}

/** Whether `e` only says the peer went away (or we closed the socket). */
export function isDisconnect(e: unknown): boolean {
  return e instanceof Deno.errors.ConnectionReset || e instanceof Deno.errors.BrokenPipe ||
    e instanceof Deno.errors.ConnectionAborted || e instanceof Deno.errors.BadResource ||
    e instanceof Deno.errors.Interrupted;
}

/**
 * Whether a failed accept was that one connection's failure (its peer reset
 * or gave up before the accept), so the next accept may follow at once.
 */
export function isFailedConnection(e: unknown): boolean {
  return e instanceof Deno.errors.NotConnected || e instanceof Deno.errors.ConnectionReset ||
    e instanceof Deno.errors.ConnectionAborted;
}
