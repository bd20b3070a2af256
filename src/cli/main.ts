/**
 * The `cask` command line: picks the subcommand, handles `--help` and
 * `--version`, and turns failures into a message and an exit code.
 * @module
 */

import { parseArgs, UsageError } from "./args.ts";
import type { Command } from "./command.ts";
import { backupCommand } from "./backup_command.ts";
import { compactCommand } from "./compact_command.ts";
import { delCommand, getCommand, hasCommand, scanCommand, setCommand } from "./data_commands.ts";
import { dumpCommand, loadCommand } from "./dump_commands.ts";
import { describeError, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, exitCodeFor } from "./exit_codes.ts";
import { commandHelp, HELP_FLAGS, mainHelp } from "./help.ts";
import { serveCommand } from "./serve_command.ts";
import { statsCommand } from "./stats_command.ts";
import { takeLosses } from "./store.ts";
import { count } from "../base/human.ts";
import { verifyCommand } from "./verify_command.ts";
import { VERSION } from "./version.ts";

const COMMANDS: readonly Command[] = [
  getCommand,
  setCommand,
  delCommand,
  hasCommand,
  scanCommand,
  compactCommand,
  statsCommand,
  verifyCommand,
  dumpCommand,
  loadCommand,
  backupCommand,
  serveCommand,
];

/** Runs `cask` with `argv` (the words after the program name); resolves to the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  // -V only stands alone: after a command, a one-dash word is a value ("-5"),
  // but -h is that command's help, as the main help says (a key "-h" goes after --).
  // `cask help --help` asks for the same.
  const helpOfHelp = name === "help" &&
    (rest.length === 0 || rest[0] === "--help" || rest[0] === "-h");
  if (name === "--help" || name === "-h" || helpOfHelp) {
    console.log(mainHelp(COMMANDS));
    return EXIT_OK;
  }
  if (name === "--version" || name === "-V") {
    console.log(`cask ${VERSION}`);
    return EXIT_OK;
  }
  const command = COMMANDS.find((c) => c.name === (name === "help" ? rest[0] : name));
  if (command === undefined) {
    console.error(
      name === undefined
        ? mainHelp(COMMANDS)
        : `cask: unknown command '${name === "help" ? rest[0] : name}'` +
          // `cask --dir s get k`: the user put an option first.
          (name.startsWith("-") ? "; options go after the command" : "") + " (see cask --help)",
    );
    return EXIT_USAGE;
  }
  // --help wins over whatever else is on the line, even mistakes.
  const flagWords = rest.includes("--") ? rest.slice(0, rest.indexOf("--")) : rest;
  if (name === "help" || flagWords.includes("--help") || flagWords.includes("-h")) {
    console.log(commandHelp(command));
    return EXIT_OK;
  }
  takeLosses();
  try {
    const code = await command.run(parseArgs(rest, { ...command.flags, ...HELP_FLAGS }));
    const lost = takeLosses();
    if (lost === 0 || code === EXIT_FAILURE) return code;
    // A damaged record or a gap stays on disk, and on record, until a
    // compaction drops it: a rerun would exit 3 again, for no new loss.
    const said = command.lossMessage?.(lost) ??
      `the store reported lost or damaged data (${count(lost, "warning")} above); every open ` +
        "reports it until `cask compact` drops it for good";
    console.error(`cask ${command.name}: ${said}`);
    return EXIT_FAILURE;
  } catch (e) {
    // `cask scan | head` closing the pipe early is not a failure of cask.
    if (e instanceof Deno.errors.BrokenPipe) return EXIT_OK;
    console.error(`cask ${command.name}: ${describeError(e)}`);
    if (e instanceof UsageError) console.error(`(see cask ${command.name} --help)`);
    return exitCodeFor(e);
  }
}
