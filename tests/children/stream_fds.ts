// Run with --v8-flags=--expose-gc: gets 20 streams of a value stored in a file
// of its own, reads none of them, and prints the open descriptors before, while
// they are held, and after they were collected.
import { open } from "../../mod.ts";

const gc = (globalThis as unknown as { gc: () => void }).gc;
const dir = await Deno.makeTempDir({ prefix: "cask-test-" });
try {
  const db = await open(dir);
  await db.setStream(
    "big",
    new ReadableStream({
      start(c) {
        c.enqueue(new Uint8Array(2 << 20));
        c.close();
      },
    }),
  );
  // The store's own descriptors: the runtime opens others of its own now and then.
  const fds = () =>
    Array.from(Deno.readDirSync("/proc/self/fd")).filter((e) => {
      try {
        return Deno.readLinkSync(`/proc/self/fd/${e.name}`).startsWith(dir);
      } catch {
        return false; // closed since the listing
      }
    }).length;
  const before = fds();
  for (let i = 0; i < 20; i++) await db.getStream("big");
  const held = fds();
  // Finalizers run as tasks after a collection: on a loaded machine some take
  // more than a few rounds, so it waits up to 5 s for them.
  for (let i = 0; i < 250 && fds() !== before; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 20));
  }
  console.log(JSON.stringify({ before, held, after: fds() }));
  await db.close();
} finally {
  await Deno.remove(dir, { recursive: true });
}
