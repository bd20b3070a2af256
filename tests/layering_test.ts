import assert from "node:assert/strict";

// Data flows one way: API -> index -> files -> codec. A module may import only
// modules of its own layer or below, and the graph has no cycles.
const LAYERS: Record<string, number> = {
  "errors.ts": 0,
  "format.ts": 0,
  "codec_wasm.ts": 0,
  "codec.ts": 1,
  "keys.ts": 1,
  "fsutil.ts": 1,
  "datafile.ts": 2,
  "logscan.ts": 2,
  "hint.ts": 2,
  "recovery.ts": 2,
  "gather.ts": 2,
  "merge.ts": 2,
  "writer.ts": 2,
  "lock.ts": 2,
  "verify.ts": 2,
  "readahead.ts": 2,
  "keydir.ts": 3,
  "catalog.ts": 3,
  "options.ts": 4,
  "types.ts": 4,
  "ops.ts": 4,
  "batch.ts": 4,
  "compaction.ts": 4,
  "store.ts": 4,
};
const API_TOP = 5; // mod.ts, cli.ts, src/cli/*, src/resp/*, src/kv/*

function layerOf(specifier: string): number | undefined {
  const path = new URL(specifier).pathname;
  const name = path.slice(path.lastIndexOf("/") + 1);
  if (/\/src\/[a-z_]+\.ts$/.test(path)) return LAYERS[name];
  if (/\/(mod|cli)\.ts$/.test(path) || /\/src\/(cli|resp|kv)\//.test(path)) return API_TOP;
  return undefined;
}

Deno.test("modules import only their own layer or lower, with no cycles", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", new URL("../cli.ts", import.meta.url).href],
    stdout: "piped",
  }).output();
  const info = JSON.parse(new TextDecoder().decode(out.stdout));
  const graph = new Map<string, string[]>();
  for (const m of info.modules) {
    if (!m.specifier.startsWith("file:") || !m.specifier.endsWith(".ts")) continue;
    const deps = (m.dependencies ?? [])
      .map((d: { code?: { specifier: string }; type?: { specifier: string } }) =>
        d.code?.specifier ?? d.type?.specifier
      )
      .filter((s: string | undefined): s is string => /^file:.*\.ts$/.test(s ?? ""));
    graph.set(m.specifier, deps);
  }
  assert.ok(graph.size > 20, "the graph covers the library and the CLI");
  for (const [from, deps] of graph) {
    const lf = layerOf(from);
    assert.notEqual(lf, undefined, `${from} has no layer: add it to LAYERS`);
    for (const to of deps) {
      assert.ok(layerOf(to)! <= lf!, `${from} (layer ${lf}) imports ${to} (layer ${layerOf(to)})`);
    }
  }
  const state = new Map<string, "open" | "done">();
  const visit = (m: string, path: string[]) => {
    state.set(m, "open");
    for (const d of graph.get(m) ?? []) {
      assert.notEqual(state.get(d), "open", `import cycle: ${[...path, m, d].join(" -> ")}`);
      if (!state.has(d)) visit(d, [...path, m]);
    }
    state.set(m, "done");
  };
  for (const m of graph.keys()) if (!state.has(m)) visit(m, []);
});
