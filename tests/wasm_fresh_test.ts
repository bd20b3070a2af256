import assert from "node:assert/strict";
import { compileWasm } from "../scripts/build_wasm.ts";
import { WASM_BYTES } from "../src/codec/codec_wasm.ts";

Deno.test("src/codec_wasm.ts embeds what wasm/assembly/ compiles to (else: deno task build:wasm)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const fresh = await compileWasm(`${dir}/codec.wasm`);
    assert.ok(fresh.length > 0);
    assert.deepEqual(fresh, WASM_BYTES);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
