/**
 * Splits a RESP inline command (`SET k "v w"\r\n` as typed into telnet) into
 * arguments with the quoting rules of Redis' `sdssplitargs`, so what works
 * against redis-server over a raw socket works here too.
 * @module
 */

const SPACE = 0x20;
const TAB = 0x09;
const CR = 0x0d;
const LF = 0x0a;
const VT = 0x0b;
const FF = 0x0c;
const DQUOTE = 0x22;
const SQUOTE = 0x27;
const BACKSLASH = 0x5c;

// C's isspace(): blanks skipped between arguments, and what may follow a closing quote.
function isSpace(c: number): boolean {
  return c === SPACE || c === TAB || c === CR || c === LF || c === VT || c === FF;
}

// What ends an unquoted argument: fewer bytes than isspace() (a vertical tab or
// form feed is part of the argument).
function endsWord(c: number): boolean {
  return c === SPACE || c === LF || c === CR || c === TAB;
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return -1;
}

// Escapes Redis understands inside double quotes; anything else stands for itself.
const ESCAPES: Record<number, number> = {
  0x6e: LF, // \n
  0x72: CR, // \r
  0x74: TAB, // \t
  0x62: 0x08, // \b
  0x61: 0x07, // \a
};

/**
 * Returns the arguments of one inline line (without its line ending, and
 * without NUL bytes: the parser never ends such a line, as Redis does not), or
 * `undefined` when quotes are unbalanced, as Redis rejects those.
 */
export function splitInline(line: Uint8Array): Uint8Array[] | undefined {
  const args: Uint8Array[] = [];
  let i = 0;
  while (i < line.length) {
    while (i < line.length && isSpace(line[i])) i++;
    if (i === line.length) break;
    const arg: number[] = [];
    // A quote anywhere in an argument opens a quoted part, which must end the
    // argument (`a"b c"` is `ab c`; `"a"b` is refused).
    let quote = 0;
    for (; i < line.length; i++) {
      const c = line[i];
      if (quote === 0) {
        if (endsWord(c)) break;
        if (c === DQUOTE || c === SQUOTE) quote = c;
        else arg.push(c);
      } else if (c === quote) {
        if (i + 1 < line.length && !isSpace(line[i + 1])) return undefined;
        quote = 0;
        i++;
        break;
      } else if (c === BACKSLASH && i + 1 < line.length) {
        const next = line[i + 1];
        if (quote === SQUOTE) {
          if (next === SQUOTE) {
            arg.push(SQUOTE);
            i++;
          } else arg.push(BACKSLASH);
        } else if (next === 0x78 && i + 3 < line.length) {
          const hi = hexValue(line[i + 2]);
          const lo = hexValue(line[i + 3]);
          if (hi >= 0 && lo >= 0) {
            arg.push(hi * 16 + lo);
            i += 3;
          } else {
            arg.push(next);
            i++;
          }
        } else {
          arg.push(ESCAPES[next] ?? next);
          i++;
        }
      } else arg.push(c);
    }
    if (quote !== 0) return undefined;
    args.push(Uint8Array.from(arg));
  }
  return args;
}
