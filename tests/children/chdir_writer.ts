// Opens the store at the relative path "data" from directory Deno.args[0],
// changes the process's directory to Deno.args[1], writes on (rotating files),
// closes, and prints the store's size as an absolute path finds it. Run under
// each sync mode given as Deno.args[2].
import { open, type SyncMode } from "../../mod.ts";

const [from, to, mode] = Deno.args;
const sync: SyncMode = mode === "always" || mode === "never" ? mode : { intervalMs: 5 };
Deno.chdir(from);
const db = await open("data", { sync, maxFileSize: 1024 });
for (let i = 0; i < 5; i++) await db.set(`before${i}`, "v".repeat(100));
Deno.chdir(to);
for (let i = 0; i < 20; i++) await db.set(`after${i}`, "v".repeat(100));
await db.close();
const again = await open(`${from}/data`);
console.log(JSON.stringify({ size: again.size }));
await again.close();
