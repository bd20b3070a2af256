// A Worker of bench/workers_bench.ts with the read path of the other design: a
// Worker opening its own read-only follower of the directory (no attachment).
// Messages: { open: dir } opens it (answer {}); { keys, count, seed } does
// `count` gets of keys an LCG picks (answer {}); { close: true } closes it.
// A failure answers { error }.
import { type Cask, open } from "../../mod.ts";

const self = globalThis as unknown as {
  onmessage: (e: MessageEvent) => void;
  postMessage: (m: unknown) => void;
};

let db: Cask | undefined;

async function gets(keys: string[], count: number, seed: number): Promise<void> {
  let i = seed >>> 0;
  for (let n = 0; n < count; n++) {
    i = (Math.imul(i, 1103515245) + 12345) >>> 0;
    if (await db!.get(keys[i % keys.length]) === undefined) throw new Error("missing key");
  }
}

self.onmessage = async (e: MessageEvent) => {
  try {
    if (e.data.open) db = await open(e.data.open, { readOnly: true });
    else if (e.data.close) await db?.close();
    else await gets(e.data.keys, e.data.count, e.data.seed);
    self.postMessage({});
  } catch (err) {
    self.postMessage({ error: String(err) });
  }
};
