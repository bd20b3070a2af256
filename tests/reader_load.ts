/** Test helpers shared by the readers and backup tests: the writer child and reading a store whole. */
import assert from "node:assert/strict";
import type { Cask } from "../mod.ts";
import { parseLog } from "./children/reader_load_model.ts";

const CHILD = new URL("./children/reader_load_writer.ts", import.meta.url).pathname;
const dec = new TextDecoder();

/** Every live key and value of `db`, read in one pass. */
export async function contents(db: Cask): Promise<Map<string, string>> {
  const m = new Map<string, string>();
  for await (const [k, v] of db.scan()) m.set(dec.decode(k), dec.decode(v));
  return m;
}

/** Starts the writer child on `dir` for `ms`; resolves once its store is open. */
export async function startWriter(dir: string, ms: number, backupDir?: string) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CHILD, dir, String(ms), ...(backupDir ? [backupDir] : [])],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let out = "";
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  while (!out.includes("ready\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    out += value;
  }
  const finished = (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      out += value;
    }
    const [status, err] = await Promise.all([child.status, new Response(child.stderr).text()]);
    assert.equal(status.code, 0, err);
    assert.match(out, /\ndone\n$/);
    return parseLog(out);
  })();
  return { finished };
}
