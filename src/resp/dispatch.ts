/**
 * From parsed words to a command ready to run: cross-protocol attacks,
 * authentication, lookup and arity, and queueing inside MULTI are decided
 * here, in that order.
 * @module
 */

import type { BatchOp } from "../../mod.ts";
import { argumentsCost, QUEUED_COMMAND_OVERHEAD } from "./argument_cost.ts";
import type { CommandSpec } from "./command_spec.ts";
import { COMMANDS } from "./command_table.ts";
import type { Session } from "./context.ts";
import type { Reply } from "./encoder.ts";
import { type LockedCommand, lockKeys, runCommand, runInView } from "./execute.ts";
import { refusedExec } from "./transaction_commands.ts";
import { asciiUpper, byteString, quoted, sameBytes, subcommandError } from "./words.ts";

/**
 * What may still be in flight when a command starts: a "read" may overlap
 * earlier reads, a "write" earlier writes (the key locks order those), and a
 * "barrier" starts only once everything before it has finished.
 */
export type Overlap = "read" | "write" | "barrier";

/** A command looked up and checked, ready to start. */
export interface PreparedCommand {
  readonly overlap: Overlap;
  /**
   * The reply when it is known without waiting (a value in memory, a
   * refusal), which also counts as having run; undefined: call {@link run}.
   * Call it only when the command's turn has come, as for run. Bytes in it
   * may be the value cache's, valid until the cache next keeps a value.
   */
  now(): Reply | undefined;
  /** Starts the command; resolves to its reply, errors included (it never rejects). */
  run(): Promise<Reply>;
  /**
   * The ops of a write that reads nothing, which may be issued together with
   * its neighbours (counted as run); undefined when it must {@link run}.
   */
  blind(): BatchOp[] | undefined;
  /**
   * A read-modify-write of known keys, which may run under one lock with the
   * ones next to it (counted as run then); undefined when it must
   * {@link run}. Ask only after {@link blind} gave undefined.
   */
  locked(): LockedCommand | undefined;
  /** Whether its reply may hold a stored value (a read, GETDEL, SET ... GET). */
  holdsValue(): boolean;
}

// A command answered without a handler: queued in MULTI, or refused. The
// answer is made when its turn comes, as it may end a transaction.
class Answered implements PreparedCommand {
  readonly overlap = "barrier";
  readonly #answer: () => Reply;
  constructor(answer: () => Reply) {
    this.#answer = answer;
  }
  now(): Reply {
    return this.#answer();
  }
  run(): Promise<Reply> {
    return Promise.resolve(this.#answer());
  }
  blind(): undefined {
    return undefined;
  }
  locked(): undefined {
    return undefined;
  }
  holdsValue(): boolean {
    return false;
  }
}

class Runnable implements PreparedCommand {
  readonly overlap: Overlap;
  readonly #spec: CommandSpec;
  readonly #s: Session;
  readonly #args: Uint8Array[];
  // Whether blind() found bad options: run() must give the error reply.
  #refused = false;
  constructor(spec: CommandSpec, s: Session, args: Uint8Array[]) {
    this.overlap = spec.kind === "server" ? "barrier" : spec.kind;
    this.#spec = spec;
    this.#s = s;
    this.#args = args;
  }
  now(): Reply | undefined {
    const spec = this.#spec;
    if (spec.kind !== "read" || spec.immediate === undefined) return undefined;
    const reply = spec.immediate(this.#s.server.reader, this.#args, this.#s);
    if (reply !== undefined) this.#s.server.stats.totalCommands++;
    return reply;
  }
  run(): Promise<Reply> {
    return runCommand(this.#spec, this.#s, this.#args);
  }
  blind(): BatchOp[] | undefined {
    const spec = this.#spec;
    if (spec.kind !== "write" || spec.blind === undefined) return undefined;
    let ops: BatchOp[] | undefined;
    try {
      ops = spec.blind(this.#args);
    } catch {
      // Bad options: run() gives the error reply.
      this.#refused = true;
      return undefined;
    }
    if (ops !== undefined) this.#s.server.stats.totalCommands++;
    return ops;
  }
  locked(): LockedCommand | undefined {
    const spec = this.#spec;
    if (spec.kind !== "write" || this.#refused) return undefined;
    const keys = lockKeys(spec, this.#args);
    return keys === "all" ? undefined : { spec, args: this.#args, keys };
  }
  holdsValue(): boolean {
    const spec = this.#spec;
    if (spec.kind === "write") return spec.repliesValue?.(this.#args) ?? false;
    return spec.kind === "read";
  }
}

const QUEUED_REPLY: Reply = { status: "QUEUED" };
const QUEUED = new Answered(() => QUEUED_REPLY);
const NOAUTH = "NOAUTH Authentication required.";

/**
 * Prepares `args` for the client of `s`; undefined when the client must be
 * dropped without a reply (`s.drop` is then set).
 */
export function prepare(s: Session, args: Uint8Array[]): PreparedCommand | undefined {
  const first = s.commands++ === 0;
  const name = commandName(args[0]);
  if (looksLikeHttp(name, args, first)) {
    console.error(
      "cask serve: possible security attack: a client sent HTTP (POST, Host: or " +
        "an HTTP request line) to the Redis port; connection closed",
    );
    s.drop = true;
    return undefined;
  }
  const spec = COMMANDS.get(name);
  if (spec === undefined) {
    // Redis quotes arguments, each followed by a space, until 128 characters are shown.
    let rest = "";
    for (let i = 1; i < args.length && rest.length < 128; i++) {
      rest += `'${quoted(args[i], 128 - rest.length)}' `;
    }
    return failed(
      s,
      name,
      `ERR unknown command '${quoted(args[0], 128)}', with args beginning with: ${rest}`,
    );
  }
  if (spec.arity > 0 ? args.length !== spec.arity : args.length < -spec.arity) {
    return failed(s, name, `ERR wrong number of arguments for '${name.toLowerCase()}' command`);
  }
  const subs = spec.subcommands;
  if (subs !== undefined && args.length > 1) {
    const sub = asciiUpper(args[1]);
    const arity = Object.hasOwn(subs, sub) ? subs[sub].arity : undefined;
    const fits = arity !== undefined &&
      (arity > 0 ? args.length === arity : args.length >= -arity);
    if (!fits) return failed(s, name, subcommandError(name, args, Object.keys(subs)).message);
  }
  // After the checks that need no state, as in Redis 7.0: an unknown command
  // or a wrong arity is named as such even before AUTH.
  if (s.server.password !== undefined && !s.authenticated && !spec.flags.includes("noauth")) {
    return failed(s, name, NOAUTH);
  }
  if (s.transaction !== undefined && spec.notInMulti) {
    return failed(s, name, "ERR Command not allowed inside a transaction");
  }
  if (s.transaction !== undefined && !spec.flags.includes("no-multi")) {
    // Copied: the parser's views would pin its buffers until EXEC.
    const copy = copyArguments(args);
    s.transaction.commands.push({
      keys: lockKeys(spec, copy),
      run: (view) => runInView(spec, view, s, copy),
    });
    s.transaction.cost += argumentsCost(copy) + QUEUED_COMMAND_OVERHEAD;
    return QUEUED;
  }
  return new Runnable(spec, s, args);
}

// Into one buffer: a buffer of its own per argument would cost several
// hundred bytes more each, outside what the limits count.
function copyArguments(args: Uint8Array[]): Uint8Array[] {
  const copy = new Uint8Array(args.reduce((n, a) => n + a.length, 0));
  let at = 0;
  return args.map((a) => {
    copy.set(a, at);
    return copy.subarray(at, at += a.length);
  });
}

// Pipelines mostly repeat one command, so the last name seen is remembered
// with its upper-cased form: that spares building a string per command.
let lastNameBytes = new Uint8Array(0);
let lastName = "";

function commandName(arg: Uint8Array): string {
  if (!sameBytes(arg, lastNameBytes)) {
    lastName = asciiUpper(arg);
    lastNameBytes = arg.slice();
  }
  return lastName;
}

const HTTP_VERSION = /^http\//i;

// Redis drops clients that send `POST` or `Host:` as a command: that is a
// browser or proxy talking HTTP to the port, possibly on a web page's behalf.
// A first line that is an HTTP request line (`PUT /x HTTP/1.0`, which needs no
// Host:) is dropped as well, before it is answered, whatever the method: of
// the commands Cask knows, only GET shares a name with one, and a GET of three
// words is an arity error anyway, so nothing a Redis client sends is lost. A
// known command of three words ending in `HTTP/...` (`SET k HTTP/1.1`) runs.
// `HTTP/` in any case: clients need not be as strict as browsers.
function looksLikeHttp(name: string, args: Uint8Array[], first: boolean): boolean {
  if (name === "POST" || name === "HOST:") return true;
  if (!first || args.length !== 3 || !HTTP_VERSION.test(byteString(args[2]))) return false;
  return name === "GET" || !COMMANDS.has(name);
}

// A command refused before it ran; inside MULTI it also dooms the EXEC, and
// a refused EXEC ends the transaction at once.
function failed(s: Session, name: string, error: string): PreparedCommand {
  if (name === "EXEC") return new Answered(() => refusedExec(s, error));
  if (s.transaction !== undefined) s.transaction.aborted = true;
  return new Answered(() => ({ error }));
}
