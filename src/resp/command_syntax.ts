/**
 * Turns a command's argument syntax as Redis' docs write it (`key [key ...]`,
 * `[NX|XX]`, `[EX seconds|PX milliseconds]`) into the `arguments` of COMMAND
 * DOCS, which redis-cli renders as the hint after a typed command name.
 * @module
 */

import type { Reply } from "./encoder.ts";

/** One argument as COMMAND DOCS describes it. */
interface Argument {
  name: string;
  type: string;
  token?: string;
  flags: string[];
  arguments?: Argument[];
}

const INTEGERS = new Set([
  "seconds",
  "milliseconds",
  "unix-time-seconds",
  "unix-time-milliseconds",
  "increment",
  "decrement",
  "count",
  "cursor",
  "index",
  "protover",
]);

/** The COMMAND DOCS `arguments` of `syntax`. */
export function syntaxArguments(syntax: string): Reply {
  return parseItems(syntax).map(toReply);
}

function toReply(a: Argument): Reply {
  const map: [Reply, Reply][] = [["name", a.name], ["type", a.type]];
  if (a.token !== undefined) map.push(["token", a.token]);
  if (a.flags.length > 0) map.push(["flags", a.flags.map((status) => ({ status }))]);
  if (a.arguments !== undefined) map.push(["arguments", a.arguments.map(toReply)]);
  return { map };
}

// Space-separated items at bracket depth 0.
function split(text: string, separator: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "[") depth++;
    else if (c === "]") depth--;
    else if (c === separator && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts.filter((p) => p !== "");
}

function parseItems(text: string): Argument[] {
  const args: Argument[] = [];
  for (const item of split(text, " ")) {
    if (!item.startsWith("[")) {
      args.push(item.includes("|") ? parseGroup(item) : parseWord(item));
      continue;
    }
    const inner = item.slice(1, -1);
    if (inner.endsWith(" ...")) {
      // `x [x ...]` and `k v [k v ...]`: the items before repeat.
      const repeated = split(inner.slice(0, -4), " ").length;
      const block = args.splice(args.length - repeated, repeated);
      const one = block.length === 1 ? block[0] : blockOf(block);
      one.flags.push("multiple");
      args.push(one);
    } else {
      const group = parseGroup(inner);
      group.flags.push("optional");
      args.push(group);
    }
  }
  return args;
}

function parseGroup(text: string): Argument {
  const choices = split(text, "|");
  if (choices.length > 1) {
    return { name: "choice", type: "oneof", flags: [], arguments: choices.map(parseBlock) };
  }
  return parseBlock(text);
}

function parseBlock(text: string): Argument {
  const items = parseItems(text);
  if (items.length === 1) return items[0];
  const [first, second] = items;
  // `EX seconds`: a value introduced by its token.
  if (items.length === 2 && first.type === "pure-token" && second.flags.length === 0) {
    return { ...second, token: first.token };
  }
  if (first.type === "pure-token") {
    return {
      name: first.name,
      type: "block",
      token: first.token,
      flags: [],
      arguments: items.slice(1),
    };
  }
  return blockOf(items);
}

function blockOf(items: Argument[]): Argument {
  return { name: items.map((a) => a.name).join("_"), type: "block", flags: [], arguments: items };
}

function parseWord(word: string): Argument {
  if (/^[A-Z]+$/.test(word)) {
    return { name: word.toLowerCase(), type: "pure-token", token: word, flags: [] };
  }
  return {
    name: word,
    type: word === "key" ? "key" : INTEGERS.has(word) ? "integer" : "string",
    flags: [],
  };
}
