// Child of the checkpoint test: writes (sync "always", small files) until a
// checkpoint written in the background is on disk, then exits at once without
// closing, as a crash would, so the newest file ends where the checkpoint saw it.
import { open } from "../../mod.ts";

const dir = Deno.args[0];
const db = await open(dir, { checkpoint: { minKeys: 0 }, maxFileSize: 64 * 1024 });
const exists = (p: string) => {
  try {
    Deno.statSync(p);
    return true;
  } catch {
    return false;
  }
};
for (let i = 0; !exists(`${dir}/checkpoint`); i++) {
  await db.set(`key:${i % 700}`, `value ${i}`);
  if (i > 200_000) throw new Error("no checkpoint was written in the background");
}
Deno.exit(0);
