// Child process of the KV close test: the teardown Deno KV code does, close()
// without awaiting it (Deno.Kv.close() returns nothing) or a `using` block,
// then the directory is removed at once. Prints "survived" when the process
// lived past the store's failed flush.
import { openKv } from "../../mod.ts";

const [dir, mode] = Deno.args;
if (mode === "using") {
  using kv = await openKv(dir);
  await kv.get(["a"]);
} else {
  const kv = await openKv(dir);
  if (mode === "write") await kv.set(["a"], 1);
  if (mode === "get") await kv.get(["a"]);
  kv.close();
}
await Deno.remove(dir, { recursive: true });
// Time for the store's flush to fail, after the directory is gone.
await new Promise((r) => setTimeout(r, 300));
console.log("survived");
