// Child process for the compaction crash test: opens the store given as the
// first argument, starts a compaction and exits hard (no close, no flush) at
// its Nth progress event, as a killed process would. With N = 0 it completes
// and prints the number of progress events it saw.
import { open } from "../../mod.ts";

const [dir, n] = [Deno.args[0], Number(Deno.args[1])];
const db = await open(dir, { maxFileSize: 4096, onWarning: () => {} });
let events = 0;
await db.compact({
  onProgress: () => {
    if (++events === n) Deno.exit(137);
  },
});
console.log(events);
Deno.exit(0);
