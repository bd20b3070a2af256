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
  return utf8.encode(wholeText(text, what, ": give it with --hex or --base64"));
}

/**
 * `text` from the command line or the environment, refused when it holds
 * U+FFFD: bytes that are not UTF-8 reach the program so, each the same, and
 * two different keys or paths would be one. `advice` ends the message.
 */
export function wholeText(text: string, what: string, advice = ""): string {
  if (text.includes("\uFFFD")) {
    throw new UsageError(
      `${what} holds U+FFFD, which stands for bytes that are not UTF-8${advice}`,
    );
  }
  return text;
}

// Bytes spelled per piece of output: a whole 300 MiB value spelled at once
// would be a string past V8's limit (about 512 MiB). A multiple of 3, so every
// base64 piece but the last ends without padding and the pieces join into
// exactly the base64 of the whole.
const PIECE_BYTES = 3 * 1024 * 1024;

/**
 * Spells `bytes` for output in pieces of `pieceBytes` bytes (a multiple of 3);
 * UTF-8 mode passes them through untouched.
 */
export function* encodeOutput(
  bytes: Uint8Array,
  encoding: Encoding,
  pieceBytes = PIECE_BYTES,
): Generator<Uint8Array | string> {
  if (encoding === "base64") yield* base64Pieces(bytes, pieceBytes);
  else if (encoding === "hex") yield* spelled(bytes, pieceBytes, (piece) => piece.toHex());
  else yield bytes;
}

/** The base64 of `bytes`, in pieces of `pieceBytes` bytes (a multiple of 3) that join into the whole. */
export function base64Pieces(bytes: Uint8Array, pieceBytes = PIECE_BYTES): Generator<string> {
  return spelled(bytes, pieceBytes, (piece) => piece.toBase64());
}

function* spelled(
  bytes: Uint8Array,
  pieceBytes: number,
  spell: (piece: Uint8Array) => string,
): Generator<string> {
  // An empty value still spells as one (empty) piece.
  let at = 0;
  do {
    yield spell(bytes.subarray(at, at + pieceBytes));
    at += pieceBytes;
  } while (at < bytes.length);
}
