import assert from "node:assert/strict";
import { InvalidArgumentError, IOError, open, verify } from "../mod.ts";
import { dataFiles, withDir } from "./helpers.ts";

Deno.test("verify reports an intact store as clean, and finds flipped bytes and torn tails", () =>
  withDir(async (dir) => {
    {
      await using db = await open(dir, { maxFileSize: 2048 });
      for (let i = 0; i < 60; i++) await db.set(`k${i}`, "v".repeat(50));
      await db.compact();
      await db.set("tail", "x".repeat(100));
    }
    const clean = await verify(dir);
    assert.deepEqual(clean.issues, []);
    assert.equal(clean.records, 61);
    assert.ok(clean.files >= 2);

    const files = await dataFiles(dir);
    const first = await Deno.readFile(files[0]);
    first[200] ^= 0xff;
    await Deno.writeFile(files[0], first);
    const last = files[files.length - 1];
    await Deno.truncate(last, (await Deno.stat(last)).size - 10);
    const hint = files[0].replace("data.", "hint.");
    await Deno.writeTextFile(hint, "garbage");

    const r = await verify(dir);
    const kinds = r.issues.map((i) => `${i.kind}@${i.file.slice(dir.length + 1)}`).sort();
    assert.deepEqual(kinds, [
      `bad-hint@${hint.slice(dir.length + 1)}`,
      `damaged@${files[0].slice(dir.length + 1)}`,
      `torn-tail@${last.slice(dir.length + 1)}`,
    ]);
  }));

Deno.test("verify beside a store that compacts and rotates reports no damage", () =>
  withDir(async (dir) => {
    await using db = await open(dir, { maxFileSize: 16 * 1024, autoCompact: false });
    const value = "v".repeat(500);
    for (let i = 0; i < 400; i++) await db.set(`k${i % 150}`, value);
    let busy = true;
    const churn = (async () => {
      for (let round = 0; busy && round < 200; round++) {
        for (let i = 0; i < 60; i++) await db.set(`k${(round * 7 + i) % 150}`, value);
        await db.compact();
      }
    })();
    const reports = [];
    try {
      for (let i = 0; i < 50; i++) reports.push(await verify(dir));
    } finally {
      busy = false;
      await churn;
    }
    const issues = reports.flatMap((r) => r.issues.map((x) => `${x.kind} ${x.message}`));
    assert.deepEqual(issues, []);
  }));

Deno.test("verify reports the newest file cut below its header as missing when a checkpoint names it, as open does", () =>
  withDir(async (dir) => {
    {
      await using db = await open(dir, { maxFileSize: 4096, checkpoint: { minKeys: 1 } });
      for (let i = 0; i < 40; i++) await db.set(`k${i}`, "v".repeat(300));
    }
    const newest = (await dataFiles(dir)).at(-1)!;
    await Deno.truncate(newest, 30);
    const kinds = (await verify(dir)).issues.map((i) => [i.kind, i.file]);
    const warnings: string[][] = [];
    await (await open(dir, { onWarning: (w) => warnings.push([w.kind, w.file]) })).close();
    assert.ok(warnings.some(([k, f]) => k === "missing-file" && f === newest), String(warnings));
    assert.deepEqual(kinds, warnings.map(([k, f]) => [k, f]));
  }));

Deno.test("verify refuses a bad path, and a directory that holds no store, with InvalidArgumentError; a missing one is an IOError", () =>
  withDir(async (dir) => {
    for (const bad of [undefined, "", 5]) {
      await assert.rejects(
        () => verify(bad as unknown as string),
        (e) => e instanceof InvalidArgumentError && /non-empty string/.test(e.message),
      );
    }
    await assert.rejects(
      () => verify(dir),
      (e) => e instanceof InvalidArgumentError && e.message === `no Cask store at ${dir}`,
    );
    // A path that cannot be read is a file-system failure, as for every call.
    await assert.rejects(() => verify(`${dir}/nothing-here`), IOError);
  }));

Deno.test("verify reports the files a store lost when only its index checkpoint is left", () =>
  withDir(async (dir) => {
    {
      await using db = await open(dir, { checkpoint: { minKeys: 1 } });
      for (let i = 0; i < 20; i++) await db.set(`k${i}`, "v");
    }
    for (const e of Deno.readDirSync(dir)) {
      if (e.name !== "checkpoint") Deno.removeSync(`${dir}/${e.name}`);
    }
    const report = await verify(dir);
    assert.ok(report.issues.some((i) => i.kind === "missing-file"), JSON.stringify(report.issues));
  }));
