/**
 * Redis-style glob patterns over raw key bytes (`*`, `?`, `[a-z]`, `[^x]`,
 * `\` escapes), plus the literal prefix a pattern starts with, so `KEYS user:*`
 * becomes a prefix scan instead of a walk over every key.
 * @module
 */

const STAR = 0x2a;
const QUESTION = 0x3f;
const OPEN = 0x5b;
const CLOSE = 0x5d;
const CARET = 0x5e;
const DASH = 0x2d;
const BACKSLASH = 0x5c;

/** A compiled pattern: what every match starts with, and the full test. */
export interface Glob {
  /** Bytes every matching key begins with; empty when the pattern starts with a wildcard. */
  prefix: Uint8Array;
  /** True when `prefix` alone decides a match (the pattern is `<literal>*`). */
  prefixOnly: boolean;
  /** Whether `key` matches the whole pattern. */
  matches(key: Uint8Array): boolean;
}

/** Compiles `pattern`. */
export function compileGlob(pattern: Uint8Array): Glob {
  const prefix: number[] = [];
  let i = 0;
  for (; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === STAR || c === QUESTION || c === OPEN) break;
    if (c === BACKSLASH && i + 1 < pattern.length) i++;
    prefix.push(pattern[i]);
  }
  let rest = i;
  while (rest < pattern.length && pattern[rest] === STAR) rest++;
  return {
    prefix: Uint8Array.from(prefix),
    prefixOnly: rest > i && rest === pattern.length,
    matches: (key) => globMatch(pattern, key),
  };
}

/**
 * Whether `text` matches `pattern` entirely (Redis `stringmatchlen` semantics);
 * `nocase` ignores the case of ASCII letters, as Redis' nocase matching does.
 */
export function globMatch(pattern: Uint8Array, text: Uint8Array, nocase = false): boolean {
  // Only a pattern this long can pass Redis' cap (each nested star needs a byte after it).
  if (pattern.length > 2 * MAX_NESTING && nestedStars(pattern) > MAX_NESTING) return false;
  let p = 0;
  let t = 0;
  // Position after the last `*` seen and the text position it was tried at:
  // on a mismatch the star swallows one more byte. One star of backtracking
  // suffices for glob patterns, which keeps matching O(pattern * text).
  let starP = -1;
  let starT = 0;
  while (t < text.length) {
    if (p < pattern.length && pattern[p] === STAR) {
      while (p < pattern.length && pattern[p] === STAR) p++;
      starP = p;
      starT = t;
      continue;
    }
    const step = p < pattern.length ? matchOne(pattern, p, text[t], nocase) : 0;
    if (step > 0) {
      p += step;
      t++;
    } else if (starP >= 0) {
      p = starP;
      t = ++starT;
    } else {
      return false;
    }
  }
  while (p < pattern.length && pattern[p] === STAR) p++;
  return p === pattern.length;
}

// Redis' stringmatchlen recurses once per run of stars with more pattern
// after it, and gives up (no match) past this depth: a pattern with more such
// runs matches nothing there, and here too.
const MAX_NESTING = 1000;

// The runs of stars in `pattern` with more pattern after them.
function nestedStars(pattern: Uint8Array): number {
  let n = 0;
  for (let p = 0; p < pattern.length;) {
    if (pattern[p] !== STAR) {
      p += Math.abs(matchOne(pattern, p, 0, false));
      continue;
    }
    while (p < pattern.length && pattern[p] === STAR) p++;
    if (p < pattern.length) n++;
  }
  return n;
}

// Tests one byte against the pattern element at `p`; returns that element's
// length in the pattern when it matches, minus that length when it does not.
function matchOne(pattern: Uint8Array, p: number, c: number, nocase: boolean): number {
  const head = pattern[p];
  if (head === QUESTION) return 1;
  if (head === BACKSLASH && p + 1 < pattern.length) return same(pattern[p + 1], c, nocase) ? 2 : -2;
  if (head !== OPEN) return same(head, c, nocase) ? 1 : -1;
  let i = p + 1;
  const negate = pattern[i] === CARET;
  if (negate) i++;
  let hit = false;
  // An unterminated class runs to the end of the pattern, as in Redis.
  while (i < pattern.length && pattern[i] !== CLOSE) {
    if (pattern[i] === BACKSLASH && i + 1 < pattern.length) {
      // Exact even with nocase, as in Redis.
      if (pattern[i + 1] === c) hit = true;
      i += 2;
    } else if (i + 2 < pattern.length && pattern[i + 1] === DASH) {
      // A `]` after the dash ends the range, not the class (`[a-]` is `]`
      // to `a`, and the class goes on), as in Redis 7.0. Redis compares
      // C chars, which are signed, and folds case after ordering the ends.
      let from = Math.min(signed(pattern[i]), signed(pattern[i + 2]));
      let to = Math.max(signed(pattern[i]), signed(pattern[i + 2]));
      let at = signed(c);
      if (nocase) {
        from = lower(from);
        to = lower(to);
        at = lower(at);
      }
      if (at >= from && at <= to) hit = true;
      i += 3;
    } else {
      if (same(pattern[i], c, nocase)) hit = true;
      i++;
    }
  }
  const length = Math.min(i + 1, pattern.length) - p;
  return hit !== negate ? length : -length;
}

function same(a: number, b: number, nocase: boolean): boolean {
  return a === b || (nocase && lower(a) === lower(b));
}

// C's tolower() in the "C" locale: ASCII letters only.
function lower(c: number): number {
  return c >= 0x41 && c <= 0x5a ? c + 0x20 : c;
}

function signed(byte: number): number {
  return byte << 24 >> 24;
}
