/**
 * A strict open that fails leaves the directory as it found it: the torn tail
 * it would cut, the file cut short at creation it would remove and the
 * leftovers of an interrupted compaction or checkpoint all stay, byte for
 * byte, so the damage can be looked at (or copied) before anything repairs it.
 * A strict open that succeeds, and a lenient one, still make those repairs.
 */
import assert from "node:assert/strict";
import { CorruptionError, open } from "../mod.ts";
import { withDir } from "./helpers.ts";

// Every file's name, size and a hash (FNV-1a) of its bytes.
function snapshot(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  for (const e of Deno.readDirSync(dir)) {
    if (!e.isFile) continue;
    const bytes = Deno.readFileSync(`${dir}/${e.name}`);
    let h = 0x811c9dc5;
    for (const b of bytes) h = Math.imul(h ^ b, 0x01000193);
    files.set(e.name, `${bytes.length} bytes, hash ${(h >>> 0).toString(16)}`);
  }
  return files;
}

function dataIds(dir: string): number[] {
  return [...Deno.readDirSync(dir)].map((e) => /^data\.(\d+)$/.exec(e.name)?.[1])
    .filter((id) => id !== undefined).map(Number).sort((a, b) => a - b);
}

// A closed store of several small files (no checkpoint: the log is replayed).
async function filled(dir: string): Promise<number[]> {
  const db = await open(dir, { maxFileSize: 4096, checkpoint: false });
  for (let i = 0; i < 200; i++) await db.set(`k${i}`, "v".repeat(50));
  await db.close();
  return dataIds(dir);
}

// What a crash leaves that any open repairs: a torn tail on the newest file,
// a newer file cut short at its creation, and an interrupted compaction's and
// checkpoint's temporary files.
function crashLeftovers(dir: string, ids: number[]): void {
  const newest = `${dir}/data.${ids.at(-1)}`;
  Deno.writeFileSync(newest, new Uint8Array([...Deno.readFileSync(newest), 1, 2, 3, 4, 5, 6, 7]));
  Deno.writeFileSync(`${dir}/data.${ids.at(-1)! + 1}`, new Uint8Array(5));
  Deno.writeFileSync(`${dir}/data.${ids.at(-1)! + 2}.merging`, new Uint8Array(10));
  Deno.writeFileSync(`${dir}/checkpoint.writing`, new Uint8Array(10));
}

const damages: [string, (dir: string, ids: number[]) => void][] = [
  [
    "a missing file in the middle of the log",
    (dir, ids) => Deno.removeSync(`${dir}/data.${ids[2]}`),
  ],
  ["a flipped byte in an older file", (dir, ids) => {
    const path = `${dir}/data.${ids[1]}`;
    const bytes = Deno.readFileSync(path);
    bytes[200] ^= 0xff;
    Deno.writeFileSync(path, bytes);
  }],
];

for (const [what, damage] of damages) {
  Deno.test(`a strict open failing on ${what} leaves every file as it was`, () =>
    withDir(async (dir) => {
      const ids = await filled(dir);
      crashLeftovers(dir, ids);
      damage(dir, ids);
      const before = snapshot(dir);
      const warnings: string[] = [];
      await assert.rejects(
        open(dir, { strict: true, checkpoint: false, onWarning: (w) => warnings.push(w.message) }),
        CorruptionError,
      );
      assert.deepEqual(snapshot(dir), before);
      // Nothing was cut or removed, so nothing is reported as cut or removed.
      assert.deepEqual(warnings.filter((m) => /cut|removed/.test(m)), []);
      // A lenient open then repairs what a crash leaves, as it always did.
      const db = await open(dir, { checkpoint: false, onWarning: () => {} });
      await db.close();
      const names = [...snapshot(dir).keys()];
      assert.ok(
        !names.some((n) => n.endsWith(".merging") || n === "checkpoint.writing"),
        `${names}`,
      );
      assert.ok(!names.includes(`data.${ids.at(-1)! + 1}`), `${names}`);
      const tornSize = Number.parseInt(before.get(`data.${ids.at(-1)}`)!);
      assert.ok(Deno.statSync(`${dir}/data.${ids.at(-1)}`).size < tornSize);
    }));
}

Deno.test("a strict open that succeeds still cuts a torn tail and removes what a crash left", () =>
  withDir(async (dir) => {
    const ids = await filled(dir);
    crashLeftovers(dir, ids);
    const newest = `${dir}/data.${ids.at(-1)}`;
    const size = Deno.statSync(newest).size;
    const warnings: string[] = [];
    const db = await open(dir, {
      strict: true,
      checkpoint: false,
      onWarning: (w) => warnings.push(w.message),
    });
    try {
      assert.equal(db.size, 200);
      assert.equal(await db.getString("k199"), "v".repeat(50));
      await db.set("after", "x");
    } finally {
      await db.close();
    }
    assert.ok(warnings.some((m) => m.includes("cut 7 bytes of torn tail")), `${warnings}`);
    assert.ok(warnings.some((m) => m.includes("removed a data file cut short")), `${warnings}`);
    const names = [...snapshot(dir).keys()];
    assert.ok(!names.some((n) => n.endsWith(".merging") || n === "checkpoint.writing"), `${names}`);
    assert.ok(Deno.statSync(newest).size <= size - 7 || !names.includes(`data.${ids.at(-1)}`));
    const again = await open(dir, { strict: true, checkpoint: false });
    try {
      assert.equal(again.size, 201);
      assert.equal(await again.getString("after"), "x");
    } finally {
      await again.close();
    }
  }));
