import assert from "node:assert/strict";

interface DocSymbol {
  name: string;
  declarations: {
    kind: string;
    jsDoc?: { tags?: { kind: string }[] };
    def?: { constructors?: { params: unknown[] }[] };
  }[];
}

/** The symbols `deno doc` shows for mod.ts. */
async function publicSymbols(): Promise<DocSymbol[]> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["doc", "--json", new URL("../mod.ts", import.meta.url).href],
    stdout: "piped",
  }).output();
  const doc = JSON.parse(new TextDecoder().decode(out.stdout));
  return (Object.values(doc.nodes)[0] as { symbols: DocSymbol[] }).symbols;
}

/** Names of the project's own types (not the runtime's) that `node` refers to. */
function ownTypeNames(node: unknown, out: Set<string>): Set<string> {
  if (Array.isArray(node)) { for (const n of node) ownTypeNames(n, out); }
  else if (node && typeof node === "object") {
    const o = node as Record<string, unknown>;
    const ref = o.value as { typeName?: string; resolution?: unknown } | undefined;
    if (o.kind === "typeRef" && ref?.typeName && ref.resolution) out.add(ref.typeName);
    for (const v of Object.values(o)) ownTypeNames(v, out);
  }
  return out;
}

// The public surface is mod.ts: every export carries JSDoc with an @example.
Deno.test("every export of mod.ts has JSDoc with an @example", async () => {
  const mod = { symbols: await publicSymbols() };
  assert.ok(mod.symbols.length > 20, "mod.ts exports the API");
  const missing = mod.symbols
    .filter((s) => !s.declarations.some((d) => d.jsDoc?.tags?.some((t) => t.kind === "example")))
    .map((s) => s.name);
  assert.deepEqual(missing, []);
});

// Issue #11: a constructor users see but cannot call (its parameters are types mod.ts does not
// export) is hidden, as Cask's is; its class is made by a function of mod.ts instead.
Deno.test("no public constructor takes a type that mod.ts does not export", async () => {
  const symbols = await publicSymbols();
  const exported = new Set(symbols.map((s) => s.name));
  const unexported: string[] = [];
  for (const s of symbols) {
    for (const d of s.declarations) {
      for (const c of d.def?.constructors ?? []) {
        for (const name of ownTypeNames(c.params, new Set())) {
          if (!exported.has(name)) unexported.push(`${s.name}(${name})`);
        }
      }
    }
  }
  assert.deepEqual(unexported, []);
});

Deno.test("every TypeScript example in the README type-checks as written", async () => {
  const root = new URL("..", import.meta.url).pathname;
  const readme = await Deno.readTextFile(`${root}README.md`);
  const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
  assert.ok(blocks.length >= 5, `${blocks.length} examples`);
  // Inside the project, so "@cask/cask" resolves to it as it does for a user.
  const dir = await Deno.makeTempDir({ dir: root, prefix: ".readme-examples-" });
  try {
    const files = await Promise.all(blocks.map(async (code, i) => {
      const file = `${dir}/example${i}.ts`;
      // The one example that imports a checkout by path names where it would be.
      await Deno.writeTextFile(file, code.replace('"../cask/mod.ts"', '"@cask/cask"'));
      return file;
    }));
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["check", ...files],
      cwd: root,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
