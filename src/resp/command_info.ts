/**
 * COMMAND and its sub-commands, built from the command table: what clients
 * ask to learn arities, key positions and (redis-cli) help texts.
 * @module
 */

import type { CommandSpec } from "./command_spec.ts";
import { syntaxArguments } from "./command_syntax.ts";
import type { Reply } from "./encoder.ts";
import { asciiUpper, subcommandError } from "./words.ts";

/** COMMAND [COUNT | LIST | INFO name ... | DOCS [name ...]] over `table`. */
export function commandReply(table: ReadonlyMap<string, CommandSpec>, args: Uint8Array[]): Reply {
  if (args.length === 1) return [...table].map(([name, spec]) => describe(name, spec));
  const sub = asciiUpper(args[1]);
  const named = args.length > 2 ? args.slice(2).map(asciiUpper) : [...table.keys()];
  if (sub === "COUNT" && args.length === 2) return table.size;
  if (sub === "LIST" && args.length === 2) return [...table.keys()].map((n) => n.toLowerCase());
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
      docs.push([name.toLowerCase(), {
        map: [
          ["summary", spec.summary],
          ["since", "1.0.0"],
          ["group", spec.group],
          ["arguments", syntaxArguments(spec.syntax)],
        ],
      }]);
    }
    return { map: docs };
  }
  throw subcommandError("COMMAND", args, ["COUNT", "LIST", "INFO", "DOCS"]);
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
