/**
 * `cask serve`: the store behind a Redis-protocol (RESP2) TCP server, shut
 * down cleanly on SIGINT/SIGTERM so every acknowledged write is on disk.
 * @module
 */

import { DEFAULT_LIMITS } from "../resp/parser.ts";
import { RespServer } from "../resp/server.ts";
import { IOError } from "../../mod.ts";
import { expectPositionals, integerFlag, stringFlag } from "./args.ts";
import type { Command } from "./command.ts";
import { EXIT_FAILURE, EXIT_OK } from "./exit_codes.ts";
import { openStore, STORE_FLAGS } from "./store.ts";
import { VERSION } from "./version.ts";

const DEFAULT_PORT = 6380;
const DEFAULT_MAX_VALUE = 64 * 1024 * 1024;
// Keys travel as bulks too; the store's default maxKeySize is 64 KiB.
const KEY_ROOM = 64 * 1024;
const SIGNALS: Deno.Signal[] = ["SIGINT", "SIGTERM"];

/** `cask serve [--host H] [--port P]` */
export const serveCommand: Command = {
  name: "serve",
  synopsis: "",
  summary: "serve the store over the Redis protocol (RESP2)",
  details: "Supports PING ECHO GET SET(EX/PX/EXAT/PXAT/NX/XX) DEL EXISTS MGET MSET KEYS SCAN\n" +
    "TTL PTTL DBSIZE INFO COMMAND CONFIG-GET SELECT-0 QUIT. Prints `listening on host:port`\n" +
    "once ready. SIGINT/SIGTERM: stop accepting, finish running commands, close the store.",
  flags: {
    ...STORE_FLAGS,
    host: { type: "string", value: "H", description: "address to bind (default 127.0.0.1)" },
    port: {
      type: "string",
      value: "P",
      description: `port to listen on, 0 for any free one (default ${DEFAULT_PORT})`,
    },
    "max-value-size": {
      type: "string",
      value: "bytes",
      description: `largest value accepted (default ${DEFAULT_MAX_VALUE})`,
    },
  },
  async run(args) {
    expectPositionals(args, 0, 0, "no arguments");
    const hostname = stringFlag(args, "host", "127.0.0.1");
    const port = integerFlag(args, "port", 0, 65535) ?? DEFAULT_PORT;
    const maxValueSize = integerFlag(args, "max-value-size", 0, 1024 * 1024 * 1024) ??
      DEFAULT_MAX_VALUE;
    checkPortFree(hostname, port);
    await using db = await openStore(args, { maxValueSize });
    const server = new RespServer(db, {
      hostname,
      port,
      version: VERSION,
      // A request argument larger than any value the store accepts is refused
      // while its length is read, before its bytes are buffered.
      limits: {
        ...DEFAULT_LIMITS,
        maxBulkLength: Math.min(Math.max(maxValueSize, KEY_ROOM), DEFAULT_LIMITS.maxBulkLength),
      },
    });
    const stop = Promise.withResolvers<Deno.Signal>();
    let stopping = false;
    const handler = (signal: Deno.Signal) => () => {
      // A client that never reads its replies can stall a graceful stop; a
      // second signal gives up on it. Acknowledged writes are already synced
      // as far as --sync promised.
      if (stopping) {
        console.error("cask serve: second signal, exiting without waiting");
        Deno.exit(EXIT_FAILURE);
      }
      stopping = true;
      stop.resolve(signal);
    };
    const listeners = SIGNALS.map((signal) => [signal, handler(signal)] as const);
    for (const [signal, listener] of listeners) Deno.addSignalListener(signal, listener);
    console.log(`listening on ${server.addr.hostname}:${server.addr.port}`);
    const signal = await stop.promise;
    console.error(`cask serve: ${signal}, shutting down`);
    await server.shutdown();
    for (const [signal, listener] of listeners) Deno.removeSignalListener(signal, listener);
    return EXIT_OK;
  },
};

// Binding comes after the open (the server needs the store), so a busy port is
// found out first: failing then leaves no new store behind at a fresh --dir.
function checkPortFree(hostname: string, port: number): void {
  try {
    Deno.listen({ hostname, port, transport: "tcp" }).close();
  } catch (e) {
    throw new IOError(`cannot listen on ${hostname}:${port}: ${(e as Error).message}`, {
      cause: e,
    });
  }
}
