/**
 * Command-line argument parsing: `--flag value`, `--flag=value`, boolean
 * switches and `--` to end flags. Every mistake becomes a {@link UsageError}
 * (exit code 2) naming what was wrong.
 * @module
 */

/** The command line was malformed; the message says how. */
export class UsageError extends Error {
  /** Builds the error. */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** One accepted flag. */
export interface FlagDef {
  /** Switches take no value; strings take the next word or `=value`. */
  type: "boolean" | "string";
  /** One line for `--help`. */
  description: string;
  /** Placeholder for the value in `--help`, e.g. `ms`. */
  value?: string;
}

/** Flags by name (without the leading `--`). */
export type FlagDefs = Readonly<Record<string, FlagDef>>;

/** What the command line said. */
export interface ParsedArgs {
  /** Given flags: `true` for switches, the text for string flags. */
  flags: Map<string, string | true>;
  /** Words that are not flags, in order. */
  positionals: string[];
}

/** Splits `argv` into flags (checked against `defs`) and positional words. */
export function parseArgs(argv: readonly string[], defs: FlagDefs): ParsedArgs {
  const flags = new Map<string, string | true>();
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i];
    if (word === "--") {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    // There are no one-dash options, so "-5" or "-" are plain values.
    if (!word.startsWith("--")) {
      positionals.push(word);
      continue;
    }
    const eq = word.indexOf("=");
    const name = word.slice(2, eq < 0 ? undefined : eq);
    const def = defs[name];
    if (def === undefined) throw new UsageError(`unknown option '--${name}'`);
    if (flags.has(name)) throw new UsageError(`option '--${name}' given twice`);
    if (def.type === "boolean") {
      if (eq >= 0) throw new UsageError(`option '--${name}' takes no value`);
      flags.set(name, true);
    } else if (eq >= 0) {
      flags.set(name, word.slice(eq + 1));
    } else {
      if (i + 1 >= argv.length) throw new UsageError(`option '--${name}' needs a value`);
      flags.set(name, argv[++i]);
    }
  }
  return { flags, positionals };
}

/** The value of string flag `name`, or `fallback` when absent. */
export function stringFlag(args: ParsedArgs, name: string, fallback: string): string;
/** The value of string flag `name`, or `undefined` when absent. */
export function stringFlag(args: ParsedArgs, name: string): string | undefined;
export function stringFlag(
  args: ParsedArgs,
  name: string,
  fallback?: string,
): string | undefined {
  const value = args.flags.get(name);
  return typeof value === "string" ? value : fallback;
}

/** Whether switch `name` was given. */
export function booleanFlag(args: ParsedArgs, name: string): boolean {
  return args.flags.get(name) === true;
}

/** Integer flag `name` within [min, max], or `undefined` when absent. */
export function integerFlag(
  args: ParsedArgs,
  name: string,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number | undefined {
  const text = stringFlag(args, name);
  if (text === undefined) return undefined;
  return parseInteger(text, `--${name}`, min, max);
}

/** Parses a decimal integer within [min, max]; `what` names it in the error. */
export function parseInteger(text: string, what: string, min: number, max: number): number {
  const n = /^-?\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    const range = max !== Number.MAX_SAFE_INTEGER
      ? `in [${min}, ${max}]`
      : n > max
      ? `<= ${max}`
      : `>= ${min}`;
    throw new UsageError(`${what} must be an integer ${range}, got '${text}'`);
  }
  return n;
}

/** Checks the number of positional words: `names` lists them for the message. */
export function expectPositionals(args: ParsedArgs, min: number, max: number, names: string) {
  const n = args.positionals.length;
  if (n < min || n > max) {
    throw new UsageError(
      n < min
        ? `missing argument: expected ${names}`
        : `unexpected argument '${args.positionals[max]}'`,
    );
  }
}
