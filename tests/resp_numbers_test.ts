// Redis' integer rules for INCR and friends: the byte-level fast paths must
// agree with the general rule (a regular expression and BigInt) everywhere.
import assert from "node:assert/strict";
import { CommandError } from "../src/resp/command_error.ts";
import { INT64_MAX, INT64_MIN, int64Bytes, parseInt64 } from "../src/resp/numbers.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const INTEGER = /^(0|-?[1-9]\d{0,19})$/;

function reference(text: string): bigint | undefined {
  if (!INTEGER.test(text)) return undefined;
  const n = BigInt(text);
  return n < INT64_MIN || n > INT64_MAX ? undefined : n;
}

function parsed(text: string): bigint | undefined {
  try {
    return parseInt64(enc.encode(text));
  } catch (e) {
    assert.ok(e instanceof CommandError);
    return undefined;
  }
}

Deno.test("parseInt64 takes exactly what Redis' string2ll takes", () => {
  const fixed = [
    ..."0 -0 07 -07 00 -01 1 -1 9 10 -10 + - +1 a 1a a1".split(" "),
    "",
    " 1",
    "1 ",
    "999999999999999",
    "-999999999999999",
    "1000000000000000",
    "-1000000000000000",
    "9223372036854775807",
    "-9223372036854775808",
    "9223372036854775808",
    "-9223372036854775809",
    "12345678901234567890",
  ];
  const alphabet = "0123456789-+ .e";
  const random = Array.from({ length: 20_000 }, () => {
    const len = Math.floor(Math.random() * 22);
    return Array.from({ length: len }, () => alphabet[Math.floor(Math.random() * 12)]).join("");
  });
  for (const text of [...fixed, ...random]) {
    assert.equal(parsed(text), reference(text), JSON.stringify(text));
  }
});

Deno.test("int64Bytes writes the decimal digits of every 64-bit integer", () => {
  const edges = [0n, 1n, -1n, 9n, 10n, -10n, 10n ** 15n - 1n, -(10n ** 15n) + 1n, 10n ** 15n];
  const random = Array.from(
    { length: 20_000 },
    () => BigInt(Math.trunc((Math.random() - 0.5) * 2 * 10 ** Math.floor(Math.random() * 19))),
  );
  for (const n of [...edges, -(10n ** 15n), INT64_MAX, INT64_MIN, ...random]) {
    assert.equal(dec.decode(int64Bytes(n)), n.toString());
  }
});
