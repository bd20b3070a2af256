// Streams a big value into a store, then reads it back, reporting the peak RSS.
// Args: dir, MiB, mode ("roundtrip"; "fresh": the same with a fresh buffer per
// chunk; "bytes": a byte stream, as a file's or stdin's is, which fills the
// reader's buffer when it brings one and makes a fresh chunk otherwise;
// "slow": never finishes and is killed).
import { open } from "../../mod.ts";

const [dir, mib, mode] = Deno.args;
const total = Number(mib) * 1024 * 1024;
const chunk = new Uint8Array(1024 * 1024);
for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 2654435761) >>> 24;
let peak = 0;
const sample = () => peak = Math.max(peak, Deno.memoryUsage().rss);
const timer = setInterval(sample, 20);

const db = await open(dir);
let sent = 0;
const bytes = new ReadableStream({
  type: "bytes",
  pull(c) {
    sample();
    if (sent >= total) {
      c.close();
      c.byobRequest?.respond(0);
      return;
    }
    const view = c.byobRequest?.view;
    const into = view ? new Uint8Array(view.buffer, view.byteOffset, view.byteLength) : undefined;
    const n = Math.min(into?.length ?? chunk.length, chunk.length, total - sent);
    const part = chunk.subarray(sent % chunk.length, sent % chunk.length + n);
    sent += n;
    if (into) {
      into.set(part);
      c.byobRequest!.respond(n);
    } else c.enqueue(part.slice());
  },
});
const source = mode === "bytes" ? bytes : new ReadableStream<Uint8Array>({
  async pull(c) {
    sample();
    if (sent >= total) return c.close();
    if (mode === "slow" && sent >= 4 * chunk.length) {
      console.log("streaming");
      await new Promise(() => {}); // hang here until killed
    }
    const n = Math.min(chunk.length, total - sent);
    sent += n;
    // A fresh buffer each time, as a file or a socket gives, or one reused
    // buffer (the store is done with a chunk before it pulls the next); only
    // fresh ones show a store that keeps its chunks.
    c.enqueue(mode === "fresh" ? chunk.slice(0, n) : chunk.subarray(0, n));
  },
});
await db.setStream("big", source, { size: mode === "slow" ? undefined : total });
let got = 0, same = true;
// A BYOB reader brings its own buffer, so reading allocates nothing per chunk.
const reader = (await db.getStream("big"))!.getReader({ mode: "byob" });
let buf = new Uint8Array(1024 * 1024);
for (;;) {
  const { value: part, done } = await reader.read(buf);
  if (done) break;
  sample();
  for (let i = 0; i < part.length; i += 4099) same &&= part[i] === chunk[(got + i) % chunk.length];
  got += part.length;
  buf = new Uint8Array(part.buffer);
}
await db.close();
clearInterval(timer);
console.log(JSON.stringify({ got, same, peakMiB: peak / 2 ** 20 }));
