/**
 * Connection commands: PING, ECHO, QUIT, SELECT, AUTH, HELLO and CLIENT.
 * @module
 */

import { CommandError } from "./command_error.ts";
import type { Session } from "./context.ts";
import { OK, type Reply } from "./encoder.ts";
import { helpReply } from "./help.ts";
import { parseInt64 } from "./numbers.ts";
import { asciiUpper, byteString, quoted, subcommandError } from "./words.ts";

const WRONGPASS = "WRONGPASS invalid username-password pair or user is disabled.";

/** PING [message] */
export function ping(_: Session, args: Uint8Array[]): Reply {
  if (args.length > 2) throw new CommandError("ERR wrong number of arguments for 'ping' command");
  return args.length === 2 ? args[1] : { status: "PONG" };
}

/** ECHO message */
export function echo(_: Session, args: Uint8Array[]): Reply {
  return args[1];
}

/** QUIT: reply, then close. */
export function quit(s: Session): Reply {
  s.quit = true;
  return OK;
}

/** SELECT 0: there is one database. */
export function select(_: Session, args: Uint8Array[]): Reply {
  if (parseInt64(args[1]) !== 0n) {
    throw new CommandError("ERR DB index is out of range");
  }
  return OK;
}

/** AUTH [username] password; the only user is `default`. */
export function auth(s: Session, args: Uint8Array[]): Reply {
  if (args.length > 3) throw new CommandError("ERR syntax error");
  if (s.server.password === undefined && args.length === 2) {
    throw new CommandError(
      "ERR AUTH <password> called without any password configured for the default user. " +
        "Are you sure your configuration is correct?",
    );
  }
  authenticate(s, args.length === 3 ? args[1] : undefined, args[args.length - 1]);
  return OK;
}

function authenticate(s: Session, user: Uint8Array | undefined, password: Uint8Array): void {
  // Without a password the default user takes any (Redis' `nopass`).
  const expected = s.server.password;
  const ok = (user === undefined || byteString(user) === "default") &&
    (expected === undefined || sameBytes(password, expected));
  if (!ok) throw new CommandError(WRONGPASS);
  s.authenticated = true;
}

// Compares every byte whatever the first difference, so the reply time does
// not tell how much of a guessed password was right.
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  let diff = a.length ^ b.length;
  for (let i = 0; i < b.length; i++) diff |= (a[i] ?? 0) ^ b[i];
  return diff === 0;
}

/** HELLO [protover [AUTH username password] [SETNAME name]] */
export function hello(s: Session, args: Uint8Array[]): Reply {
  let protocol = s.protocol;
  if (args.length > 1) {
    const version = parseInt64(
      args[1],
      "ERR Protocol version is not an integer or out of range",
    );
    if (version !== 2n && version !== 3n) {
      throw new CommandError("NOPROTO unsupported protocol version");
    }
    protocol = Number(version) as 2 | 3;
  }
  // Each option takes effect as it is read, as in Redis 7.0: a name set before
  // a failing option (or a refused AUTH) stays set.
  for (let i = 2; i < args.length; i++) {
    const word = asciiUpper(args[i]);
    if (word === "AUTH" && i + 2 < args.length) {
      authenticate(s, args[i + 1], args[i + 2]);
      i += 2;
    } else if (word === "SETNAME" && i + 1 < args.length) {
      setName(s, args[++i]);
    } else {
      throw new CommandError(`ERR Syntax error in HELLO option '${quoted(args[i])}'`);
    }
  }
  if (s.server.password !== undefined && !s.authenticated) {
    throw new CommandError(
      "NOAUTH HELLO must be called with the client already authenticated, " +
        "otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client " +
        "and select the RESP protocol version at the same time",
    );
  }
  s.protocol = protocol;
  return {
    map: [
      ["server", "redis"],
      ["version", "7.0.0"],
      ["proto", protocol],
      ["id", s.id],
      ["mode", "standalone"],
      ["role", "master"],
      ["modules", []],
    ],
  };
}

/** CLIENT ID | GETNAME | SETNAME name | SETINFO attr value | INFO */
export function client(s: Session, args: Uint8Array[]): Reply {
  const sub = asciiUpper(args[1]);
  if (sub === "ID" && args.length === 2) return s.id;
  if (sub === "GETNAME" && args.length === 2) return s.name ?? null;
  if (sub === "SETNAME" && args.length === 3) {
    setName(s, args[2]);
    return OK;
  }
  // Sent by newer client libraries on connect; checked as Redis 7.2 checks
  // them, but not kept.
  if (sub === "SETINFO" && args.length === 4) return setInfo(args[2], args[3]);
  if (sub === "INFO" && args.length === 2) {
    return `id=${s.id} name=${s.name ?? ""} db=0 resp=${s.protocol}\n`;
  }
  if (sub === "HELP" && args.length === 2) return helpReply("CLIENT", CLIENT_HELP);
  throw subcommandError("CLIENT", args, ["ID", "GETNAME", "SETNAME", "SETINFO", "INFO", "HELP"]);
}

// Redis 7.0's words for the sub-commands Cask has, in its order (SETINFO's
// are Redis 7.2's).
const CLIENT_HELP = [
  "GETNAME",
  "    Return the name of the current connection.",
  "ID",
  "    Return the ID of the current connection.",
  "INFO",
  "    Return information about the current client connection.",
  "SETNAME <name>",
  "    Assign the name <name> to the current connection.",
  "SETINFO <option> <value>",
  "    Set client meta attr. Options are:",
  "    * LIB-NAME: the client lib name.",
  "    * LIB-VER: the client lib version.",
];

// CLIENT SETNAME's and HELLO's: an empty name clears it.
function setName(s: Session, arg: Uint8Array): void {
  if (!printable(arg)) {
    throw new CommandError(
      "ERR Client names cannot contain spaces, newlines or special characters.",
    );
  }
  s.name = arg.length === 0 ? undefined : byteString(arg);
}

// CLIENT SETINFO LIB-NAME | LIB-VER value, in Redis 7.2's words.
function setInfo(attr: Uint8Array, value: Uint8Array): Reply {
  const name = byteString(attr), upper = asciiUpper(attr);
  if (upper !== "LIB-NAME" && upper !== "LIB-VER") {
    throw new CommandError(`ERR Unrecognized option '${name}'`);
  }
  if (!printable(value)) {
    throw new CommandError(`ERR ${name} cannot contain spaces, newlines or special characters.`);
  }
  return OK;
}

// Whether every byte is a printable ASCII character other than space: what
// CLIENT LIST's space-separated fields need of a name.
function printable(arg: Uint8Array): boolean {
  return arg.every((c) => c > 0x20 && c <= 0x7e);
}
