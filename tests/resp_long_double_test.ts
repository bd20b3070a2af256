import assert from "node:assert/strict";
import { addLongDouble, formatLongDouble, parseLongDouble } from "../src/resp/long_double.ts";

// a + b as Redis' INCRBYFLOAT answers it on x86-64 Linux; "float": a or b is
// not a float Redis takes, "naninf": the sum is NaN or infinite. The expected
// texts are glibc's (strtold, long double addition, printf "%.17Lf"), and
// tests/resp_redis_diff_test.ts checks some of them against redis-server too.
const CASES: [string, string, string][] = [
  ["0.1", "0.2", "0.3"],
  ["10.5", "0.1", "10.6"],
  ["3", "1.1", "4.1"],
  [
    "1e400",
    "1",
    "1" + "0".repeat(19) +
    "281880683947586514586453433629052038625910693539685534008629862039363994848324160522094053927317616200295822777259255734023828976593340661017797447434546173917862448116674971723778943824391593338047470675026246684401359237513603830343735485505244955964979021825038280091068414947402456898653040951017512658092615827588920183472511643316591362664138176309734806343732497430221946880",
  ],
  ["inf", "1", "naninf"],
  ["-inf", "inf", "naninf"],
  ["0x10", "1", "17"],
  [".5", "5.", "5.5"],
  ["1e5000", "0", "float"],
  ["1e-5000", "0", "float"],
  ["-0", "0", "0"],
  ["9223372036854775807", "0.5", "9223372036854775807.5"],
  // Ties at the 65th significant bit go to the even significand.
  ["0x1.00000000000000008p0", "0", "1"],
  ["0x1.00000000000000018p0", "0", "1"],
  // The smallest subnormal stays; half of it rounds to 0, which strtold calls a range error.
  ["0x1p-16445", "0", "0"],
  ["0x1p-16446", "0", "float"],
  ["1.23456789012345678", "0", "1.23456789012345678"],
  ["2.5e-17", "0", "0.00000000000000002"],
  ["1.5e-17", "0", "0.00000000000000002"],
  ["-5e-18", "0", "0"],
  [" 1", "0", "float"],
  ["1 ", "0", "float"],
  ["nan", "0", "float"],
  ["1e", "0", "float"],
  ["0x", "0", "float"],
  ["", "0", "float"],
];

Deno.test("long double: INCRBYFLOAT's parse, sum and text match glibc's", () => {
  for (const [a, b, want] of CASES) {
    const x = parseLongDouble(a), y = parseLongDouble(b);
    let got: string;
    if (x === undefined || y === undefined) got = "float";
    else {
      const sum = addLongDouble(x, y);
      got = sum === undefined || sum.inf ? "naninf" : formatLongDouble(sum);
    }
    assert.equal(got, want, `${JSON.stringify(a)} + ${JSON.stringify(b)}`);
  }
});

Deno.test("long double: sums are exact where a long double's 64 bits hold them", () => {
  // Every integer below 2^64 is a long double; a double would round these.
  const big = 2n ** 63n + 1n;
  const sum = addLongDouble(parseLongDouble(big.toString())!, parseLongDouble("2")!)!;
  assert.equal(formatLongDouble(sum), (big + 2n).toString());
  const x = parseLongDouble("18446744073709551615")!;
  assert.equal(formatLongDouble(x), "18446744073709551615");
  // One more needs a 65th bit: it rounds to 2^64.
  assert.equal(formatLongDouble(parseLongDouble("18446744073709551617")!), "18446744073709551616");
});
