import assert from "node:assert/strict";

// The public surface is mod.ts: every export carries JSDoc with an @example.
Deno.test("every export of mod.ts has JSDoc with an @example", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["doc", "--json", new URL("../mod.ts", import.meta.url).href],
    stdout: "piped",
  }).output();
  const doc = JSON.parse(new TextDecoder().decode(out.stdout));
  const mod = Object.values(doc.nodes)[0] as {
    symbols: { name: string; declarations: { jsDoc?: { tags?: { kind: string }[] } }[] }[];
  };
  assert.ok(mod.symbols.length > 20, "mod.ts exports the API");
  const missing = mod.symbols
    .filter((s) => !s.declarations.some((d) => d.jsDoc?.tags?.some((t) => t.kind === "example")))
    .map((s) => s.name);
  assert.deepEqual(missing, []);
});
