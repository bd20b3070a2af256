import assert from "node:assert/strict";

// Data flows one way: API -> index -> files (log) -> codec. The layer of a
// module is its folder. A module may import its own layer and the layer just
// below, never one further down (no skipping), plus src/base/ (errors, keys and
// the public types), which every layer shares. The applications (the CLI, the
// RESP server, the Deno KV API) sit on top and reach the store through mod.ts.
const LAYERS: Record<string, number> = {
  "src/codec": 1,
  "src/log": 2,
  "src/index": 3,
  "src/api": 4,
  // Threads: share() is a method of the store and attach() an export of mod.ts,
  // so this folder is part of the API layer, beside src/api (it uses only the
  // store's public methods, src/api/batch.ts and src/base).
  "src/workers": 4,
};
const BASE = 0;
const APP = 5;
// Documented exceptions to "no skipping", each worth it:
const EXCEPTIONS = new Set([
  // verify() reads the files of a store that is not open: there is no index to go through.
  "mod.ts -> src/log/verify.ts",
  // openKv and its types are part of the public API (issue 12). The KV layer never imports
  // mod.ts back (it takes the store as a structural KvEngine), so this adds no cycle.
  "mod.ts -> src/kv/mod.ts",
  // `cask serve` is its store's only writer, and builds a read-modify-write on
  // the writes still in flight (inFlightWrite): a seam for it alone, kept out
  // of the public surface.
  "src/resp/pending_writes.ts -> src/api/store.ts",
  // And it needs a key's absolute expiry exactly (expiryAt), which ttl(), relative to a
  // clock read inside the call, cannot give: a waiting loop on it hung the server.
  "src/resp/keyspace.ts -> src/api/store.ts",
]);

const ROOT = new URL("../", import.meta.url).href;
const rel = (specifier: string) => specifier.slice(ROOT.length);

function layerOf(path: string): number | undefined {
  if (path.startsWith("src/base/")) return BASE;
  if (path === "mod.ts") return LAYERS["src/api"];
  if (path === "cli.ts" || /^src\/(cli|resp|kv)\//.test(path)) return APP;
  const folder = path.slice(0, path.lastIndexOf("/"));
  return LAYERS[folder];
}

function allowed(from: string, to: string): boolean {
  const lf = layerOf(from)!, lt = layerOf(to)!;
  if (lt === BASE || lf === lt || EXCEPTIONS.has(`${from} -> ${to}`)) return true;
  return lf === APP ? to === "mod.ts" || lt === APP : lt === lf - 1;
}

async function importGraph(): Promise<Map<string, string[]>> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", new URL("../cli.ts", import.meta.url).href],
    stdout: "piped",
  }).output();
  const info = JSON.parse(new TextDecoder().decode(out.stdout));
  const graph = new Map<string, string[]>();
  for (const m of info.modules) {
    if (!m.specifier.startsWith(ROOT) || !m.specifier.endsWith(".ts")) continue;
    const deps = (m.dependencies ?? [])
      .map((d: { code?: { specifier: string }; type?: { specifier: string } }) =>
        d.code?.specifier ?? d.type?.specifier
      )
      .filter((s: string | undefined): s is string => (s ?? "").startsWith(ROOT))
      .filter((s: string) => s.endsWith(".ts") && !s.endsWith("deno.json"))
      .map(rel);
    graph.set(rel(m.specifier), deps);
  }
  return graph;
}

Deno.test("each module imports its own layer, the one below, or src/base; no cycles", async () => {
  const graph = await importGraph();
  assert.ok(graph.size > 40, "the graph covers the library and the CLI");
  for (const [from, deps] of graph) {
    assert.notEqual(layerOf(from), undefined, `${from} is in no layer's folder`);
    for (const to of deps) {
      assert.ok(
        allowed(from, to),
        `${from} (layer ${layerOf(from)}) imports ${to} (layer ${layerOf(to)})`,
      );
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

Deno.test("the layering rule rejects a skip and accepts the layer below", () => {
  assert.equal(allowed("src/api/store.ts", "src/log/writer.ts"), false);
  assert.equal(allowed("src/api/store.ts", "src/index/catalog.ts"), true);
  assert.equal(allowed("src/log/writer.ts", "src/index/catalog.ts"), false);
  assert.equal(allowed("src/cli/main.ts", "src/api/store.ts"), false);
  assert.equal(allowed("src/codec/codec.ts", "src/base/errors.ts"), true);
});
