/**
 * Reading command arguments: names and options are ASCII words, numbers are
 * decimal integers, everything else stays bytes.
 * @module
 */

import { bytesToKey } from "../base/keys.ts";
import { CommandError } from "./command_error.ts";

const SHORT = 32;

/**
 * An argument as text, one character per byte: distinct byte strings stay
 * distinct, so it also serves as a map key for binary keys.
 */
export function byteString(arg: Uint8Array): string {
  // Short keys are the common case; building them here is cheaper than a
  // call into the runtime's decoder (profiled: 7% of a pipelined benchmark).
  // Not TextDecoder("latin1") for long ones: it is windows-1252, which made
  // bytes 0x80-0x9f other characters (and errors quote other bytes).
  if (arg.length > SHORT) return bytesToKey(arg);
  return String.fromCharCode.apply(null, arg as unknown as number[]);
}

/**
 * An argument as Redis' `%.Ns` prints it into an error: up to its first NUL
 * byte, at most `max` bytes.
 */
export function quoted(arg: Uint8Array, max = Infinity): string {
  const nul = arg.indexOf(0);
  const end = Math.min(nul < 0 ? arg.length : nul, max);
  return byteString(arg.subarray(0, end));
}

/** Whether `a` and `b` hold the same bytes. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  const n = a.length;
  if (n !== b.length) return false;
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** An option or command name, upper-cased for comparison. */
export function asciiUpper(arg: Uint8Array): string {
  if (arg.length > SHORT) return bytesToKey(arg).toUpperCase();
  let text = "";
  for (let i = 0; i < arg.length; i++) {
    const c = arg[i];
    text += String.fromCharCode(c >= 0x61 && c <= 0x7a ? c - 0x20 : c);
  }
  return text;
}

/**
 * The error for sub-command `args[1]` of `command`: wrong arity when it is
 * one of `known`, else unknown, in Redis' words.
 */
export function subcommandError(
  command: string,
  args: Uint8Array[],
  known: string[],
): CommandError {
  const sub = asciiUpper(args[1]);
  return new CommandError(
    known.includes(sub)
      ? `ERR wrong number of arguments for '${command.toLowerCase()}|${sub.toLowerCase()}' command`
      : `ERR unknown subcommand '${quoted(args[1], 128)}'. Try ${command} HELP.`,
  );
}
