/**
 * How keys and values are spelled on the command line and on stdout: UTF-8
 * text by default, `--base64` or `--hex` for binary data.
 * @module
 */

import { booleanFlag, type FlagDefs, type ParsedArgs, UsageError } from "./args.ts";

/** A spelling of bytes as text. */
export type Encoding = "utf8" | "base64" | "hex";

/** The flags that choose an {@link Encoding}. */
export const ENCODING_FLAGS: FlagDefs = {
  base64: { type: "boolean", description: "keys and values in arguments and output are base64" },
  hex: { type: "boolean", description: "keys and values in arguments and output are hex" },
};

const utf8 = new TextEncoder();

/** The encoding the command line asked for. */
export function encodingOf(args: ParsedArgs): Encoding {
  const base64 = booleanFlag(args, "base64");
  const hex = booleanFlag(args, "hex");
  if (base64 && hex) throw new UsageError("--base64 and --hex exclude each other");
  return base64 ? "base64" : hex ? "hex" : "utf8";
}

/** Decodes a command-line word; `what` names it in the error. */
export function decodeArg(text: string, encoding: Encoding, what: string): Uint8Array {
  try {
    if (encoding === "base64") return Uint8Array.fromBase64(text);
    if (encoding === "hex") return Uint8Array.fromHex(text);
  } catch {
    throw new UsageError(`${what} is not valid ${encoding}: '${text}'`);
  }
  return utf8.encode(text);
}

/** Spells `bytes` for output; UTF-8 mode passes them through untouched. */
export function encodeOutput(bytes: Uint8Array, encoding: Encoding): Uint8Array {
  if (encoding === "base64") return utf8.encode(bytes.toBase64());
  if (encoding === "hex") return utf8.encode(bytes.toHex());
  return bytes;
}
