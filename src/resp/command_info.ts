/**
 * COMMAND and its sub-commands, built from the command table: what clients
 * ask to learn arities, key positions and (redis-cli) help texts.
 * @module
 */

import type { CommandSpec } from "./command_spec.ts";
import { syntaxArguments } from "./command_syntax.ts";
import { CommandError } from "./command_error.ts";
import type { Reply } from "./encoder.ts";
import { globMatch } from "./glob.ts";
import { helpReply } from "./help.ts";
import { asciiUpper, subcommandError } from "./words.ts";

/** COMMAND [COUNT | LIST | INFO name ... | DOCS [name ...] | HELP] over `table`. */
export function commandReply(table: ReadonlyMap<string, CommandSpec>, args: Uint8Array[]): Reply {
  if (args.length === 1) return [...table].map(([name, spec]) => describe(name, spec));
  const sub = asciiUpper(args[1]);
  const named = args.length > 2 ? args.slice(2).map(asciiUpper) : [...table.keys()];
  if (sub === "COUNT" && args.length === 2) return table.size;
  if (sub === "LIST") return commandList(table, args);
  if (sub === "INFO") {
    return named.map((name) => {
      const spec = table.get(name);
      return spec === undefined ? null : describe(name, spec);
    });
  }
  if (sub === "DOCS") {
    const docs: [Reply, Reply][] = [];
    for (const name of named) {
      const spec = table.get(name);
      if (spec === undefined) continue;
      const doc = docFields(spec.summary, spec.group);
      const subs = spec.subcommands;
      if (subs === undefined) doc.push(["arguments", syntaxArguments(spec.syntax)]);
      else {
        // A container, as in Redis: each sub-command is documented apart.
        const lower = name.toLowerCase();
        doc.push(["subcommands", {
          map: Object.entries(subs).map(([sub, s]): [Reply, Reply] => {
            const fields = docFields(s.summary, spec.group);
            if (s.syntax !== "") fields.push(["arguments", syntaxArguments(s.syntax)]);
            return [`${lower}|${sub.toLowerCase()}`, { map: fields }];
          }),
        }]);
      }
      docs.push([name.toLowerCase(), { map: doc }]);
    }
    return { map: docs };
  }
  if (sub === "HELP" && args.length === 2) return helpReply("COMMAND", COMMAND_HELP);
  throw subcommandError("COMMAND", args, ["COUNT", "LIST", "INFO", "DOCS", "HELP"]);
}

// The fields COMMAND DOCS gives every command and sub-command.
function docFields(summary: string, group: string): [Reply, Reply][] {
  return [["summary", summary], ["since", "1.0.0"], ["group", group]];
}

// Redis 7.0's words for the sub-commands Cask has, in its order.
const COMMAND_HELP = [
  "(no subcommand)",
  "    Return details about all Redis commands.",
  "COUNT",
  "    Return the total number of commands in this Redis server.",
  "LIST",
  "    Return a list of all commands in this Redis server.",
  "INFO [<command-name> ...]",
  "    Return details about multiple Redis commands.",
  "    If no command names are given, documentation details for all",
  "    commands are returned.",
  "DOCS [<command-name> ...]",
  "    Return documentation details about multiple Redis commands.",
  "    If no command names are given, documentation details for all",
  "    commands are returned.",
];

const ascii = new TextEncoder();

// COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN glob]. The
// glob ignores case, as Redis' does. Sub-commands (`config|get`) are not
// listed: COMMAND INFO does not describe them either.
function commandList(table: ReadonlyMap<string, CommandSpec>, args: Uint8Array[]): Reply {
  const names = [...table.keys()];
  if (args.length === 2) return names.map((n) => n.toLowerCase());
  if (args.length !== 5 || asciiUpper(args[2]) !== "FILTERBY") {
    throw new CommandError("ERR syntax error");
  }
  switch (asciiUpper(args[3])) {
    case "PATTERN": {
      const lower = names.map((n) => n.toLowerCase());
      return lower.filter((n) => globMatch(args[4], ascii.encode(n), true));
    }
    case "MODULE":
      return []; // no modules are loaded, so none has commands
    case "ACLCAT":
      throw new CommandError(
        "ERR COMMAND LIST FILTERBY ACLCAT is not supported: Cask has no ACL categories",
      );
    default:
      throw new CommandError("ERR syntax error");
  }
}

function describe(name: string, spec: CommandSpec): Reply {
  const [first, last, step] = spec.keys;
  return [
    name.toLowerCase(),
    spec.arity,
    spec.flags.map((status) => ({ status })),
    first,
    last,
    step,
  ];
}
