/**
 * Offline integrity check of a store directory: every data file is scanned the
 * way recovery reads it, but read only (nothing is cut or removed), with every
 * finding reported in recovery's vocabulary; then every hint entry is checked
 * against the record it points at. It takes no lock, so it can run beside a
 * live store: a walk during which files came, went or grew is done again.
 * @module
 */

import { asCaskError, InvalidArgumentError } from "../base/errors.ts";
import { keyToBytes } from "../base/keys.ts";
import type { VerifyReport } from "../base/types.ts";
import {
  emptyHeader,
  readHeader,
  type RecordHeader,
  recordSize,
  verifyRecord,
} from "../codec/codec.ts";
import type { DataFile } from "./datafile.ts";
import { hintPath, LOG_FILE } from "./fsutil.ts";
import { requireStore } from "../base/store_dir.ts";
import { readHint } from "./hint.ts";
import { recoverLog } from "./recovery.ts";
import { statOrUndefined } from "./tail.ts";

/**
 * Checks every data and hint file of the store in `dir`: damage, torn tails,
 * missing and foreign files, and hint entries that disagree with their records.
 *
 * @throws {InvalidArgumentError} `dir` is not a non-empty string, or holds no store.
 * @throws {IOError} `dir` cannot be read (it does not exist, say).
 * @example
 * ```ts
 * import { verify } from "@cask/cask";
 * const report = await verify("./cask-data");
 * for (const i of report.issues) console.error(`${i.kind} in ${i.file} at ${i.offset}`);
 * if (report.issues.length > 0) Deno.exit(3);
 * ```
 */
export async function verify(dir: string): Promise<VerifyReport> {
  if (typeof dir !== "string" || dir === "") {
    throw new InvalidArgumentError("dir must be a non-empty string");
  }
  // A directory that cannot be read is an IOError; one that holds no store
  // (a mistyped path) is not an empty store that checks clean.
  try {
    await Deno.stat(dir);
  } catch (e) {
    throw asCaskError(e, `cannot verify ${dir}`);
  }
  await requireStore(dir);
  try {
    for (let attempt = 1;; attempt++) {
      const before = await logFiles(dir);
      let report: VerifyReport | undefined, failure: unknown;
      try {
        report = await walkStore(dir);
        if (report.issues.length === 0) return report;
      } catch (e) {
        failure = e;
      }
      // Files that came, went or grew during the walk (a live store's writes,
      // compaction or rotation) can look damaged or missing to it: such a
      // walk is done again. So is one that found only torn tails: a live
      // writer's newest file can stay short while the walk runs (one created
      // and not yet given its header), and only a later walk tells.
      const tornOnly = report !== undefined && report.issues.every((i) => i.kind === "torn-tail");
      if (attempt === ATTEMPTS || (!tornOnly && await logFiles(dir) === before)) {
        if (report) return report;
        throw failure;
      }
      await new Promise((r) => setTimeout(r, 2 ** attempt));
    }
  } catch (e) {
    throw asCaskError(e, `cannot verify ${dir}`);
  }
}

// Walks a verify makes at most while files keep changing under it.
const ATTEMPTS = 8;

// The names of the log's data and hint files, with their inodes and sizes: a
// newest file that grew was being written, not cut short.
async function logFiles(dir: string): Promise<string> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (!LOG_FILE.test(e.name)) continue;
    const s = await statOrUndefined(`${dir}/${e.name}`);
    names.push(`${e.name}:${s ? `${s.ino}:${s.size}` : "gone"}`);
  }
  return names.sort().join(" ");
}

async function walkStore(dir: string): Promise<VerifyReport> {
  const report: VerifyReport = { files: 0, records: 0, bytes: 0, issues: [] };
  const counted = () => report.records++;
  const log = await recoverLog(dir, { record: counted, range: counted }, {
    strict: false,
    readOnly: true,
    useHints: false,
    checkpointEvidence: true,
    onWarning: (w) => report.issues.push(w),
  });
  for (const f of log.files) {
    report.files++;
    report.bytes += f.size;
    await checkHint(f, report);
    f.close();
  }
  return report;
}

// A hint must read whole, each entry must point at an intact record with the
// entry's key, lengths, times and sequence number, and the entries must list
// every record of the data file in order (what recovery relies on).
async function checkHint(f: DataFile, report: VerifyReport): Promise<void> {
  const path = hintPath(f.dir, f.id);
  if (!(await Deno.stat(path).then(() => true, () => false))) return;
  const bad = (offset: number, bytes: number, why: string) =>
    report.issues.push({ kind: "bad-hint", file: path, offset, bytes, message: `${path}: ${why}` });
  const entries: { key: string; offset: number; h: RecordHeader }[] = [];
  const visit = (key: string, offset: number, h: RecordHeader) =>
    entries.push({ key, offset, h: { ...h } });
  if (!(await readHint(path, f, visit, false))) {
    bad(0, 0, "hint is damaged or belongs to another file");
    return;
  }
  const got = emptyHeader();
  const before = report.issues.length;
  for (const { key, offset, h } of entries) {
    const size = recordSize(f.fmt, h.keyLen, h.valueLen);
    const rec = new Uint8Array(size);
    let ok = false;
    try {
      f.read(offset, rec);
      const kb = keyToBytes(key);
      ok = readHeader(f.fmt, rec, 0, got) !== undefined && verifyRecord(f.fmt, rec, 0, got) &&
        got.keyLen === h.keyLen && got.valueLen === h.valueLen &&
        got.timestamp === h.timestamp && got.expireAt === h.expireAt &&
        (f.fmt.version === 1 || (got.seq === h.seq && got.flags === h.flags)) &&
        kb.every((b, i) => rec[f.fmt.headerSize + i] === b);
    } catch {
      ok = false;
    }
    if (!ok) bad(offset, size, `entry for data.${f.id} at ${offset} does not match its record`);
  }
  // Entries that each match a record but skip or repeat some: recovery scans instead.
  if (report.issues.length === before && !(await readHint(path, f, () => {}))) {
    bad(0, 0, `entries do not list every record of data.${f.id} in order`);
  }
}
