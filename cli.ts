/**
 * The `cask` command-line tool. Run `deno run -A cli.ts --help`, or build a
 * single binary with `deno task compile`.
 * @module
 */

import { main } from "./src/cli/main.ts";

if (import.meta.main) Deno.exit(await main(Deno.args));
