// Writes `n` keys, each set() awaited, under the sync mode given, then kills
// itself with SIGKILL: a bulk load that never yields to the event loop.
import { open, type SyncMode } from "../../mod.ts";

const [dir, mode, maxFileSize, n] = Deno.args;
const sync: SyncMode = mode === "never" ? "never" : { intervalMs: 20 };
const db = await open(dir, { sync, maxFileSize: Number(maxFileSize) });
const value = "v".repeat(200);
for (let i = 0; i < Number(n); i++) await db.set(`k${i}`, value);
Deno.kill(Deno.pid, "SIGKILL");
