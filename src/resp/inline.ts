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
const NUL = 0x00;
const DQUOTE = 0x22;
const SQUOTE = 0x27;
const BACKSLASH = 0x5c;

function isSpace(c: number): boolean {
  return c === SPACE || c === TAB || c === CR || c === LF || c === VT || c === FF || c === NUL;
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
 * Returns the arguments of one inline line (without its line ending), or
 * `undefined` when quotes are unbalanced, as Redis rejects those.
 */
export function splitInline(line: Uint8Array): Uint8Array[] | undefined {
  const args: Uint8Array[] = [];
  let i = 0;
  while (i < line.length) {
    while (i < line.length && isSpace(line[i])) i++;
    if (i === line.length) break;
    const arg: number[] = [];
    const quote = line[i] === DQUOTE || line[i] === SQUOTE ? line[i++] : 0;
    let closed = quote === 0;
    while (i < line.length) {
      const c = line[i];
      if (quote === 0) {
        if (isSpace(c)) break;
        arg.push(c);
        i++;
      } else if (c === quote) {
        i++;
        // A closing quote glued to more text is ambiguous; Redis refuses it.
        if (i < line.length && !isSpace(line[i])) return undefined;
        closed = true;
        break;
      } else if (c === BACKSLASH && i + 1 < line.length) {
        const next = line[i + 1];
        if (quote === SQUOTE) {
          arg.push(next === SQUOTE ? SQUOTE : BACKSLASH);
          i += next === SQUOTE ? 2 : 1;
        } else if (next === 0x78 && i + 3 < line.length) {
          const hi = hexValue(line[i + 2]);
          const lo = hexValue(line[i + 3]);
          if (hi >= 0 && lo >= 0) {
            arg.push(hi * 16 + lo);
            i += 4;
          } else {
            arg.push(next);
            i += 2;
          }
        } else {
          arg.push(ESCAPES[next] ?? next);
          i += 2;
        }
      } else {
        arg.push(c);
        i++;
      }
    }
    if (!closed) return undefined;
    args.push(Uint8Array.from(arg));
  }
  return args;
}
