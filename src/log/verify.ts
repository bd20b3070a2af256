/**
 * Offline integrity check: walks every record of every data file and every hint
 * file of a store directory and reports damage with its location. It reads
 * only, and takes no lock, so it can run beside a live store (whose newest file
 * may then show a tail still being written).
 * @module
 */

import { closeSync, fstatSync, openSync } from "node:fs";
import { readFileHeader } from "./datafile.ts";
import { asCaskError, IOError } from "../base/errors.ts";
import type { VerifyReport } from "../base/types.ts";
import { FILE_HEADER_SIZE, KIND_DATA } from "../codec/format.ts";
import { dataPath, hintPath, listIds, readFullAt } from "./fsutil.ts";
import { readHint } from "./hint.ts";
import { walkLog } from "./logscan.ts";

/**
 * Checks every data and hint file of the store in `dir`.
 *
 * @example
 * ```ts
 * import { verify } from "@cask/cask";
 * const report = await verify("./cask-data");
 * for (const i of report.issues) console.error(`${i.kind} in ${i.file} at ${i.offset}`);
 * if (report.issues.length > 0) Deno.exit(3);
 * ```
 */
export async function verify(dir: string): Promise<VerifyReport> {
  try {
    return await walkStore(dir);
  } catch (e) {
    throw asCaskError(e, `cannot verify ${dir}`);
  }
}

async function walkStore(dir: string): Promise<VerifyReport> {
  const report: VerifyReport = { files: 0, records: 0, bytes: 0, issues: [] };
  for (const id of await listIds(dir, "data")) {
    const path = dataPath(dir, id);
    let fd: number;
    try {
      fd = openSync(path, "r");
    } catch (e) {
      throw new IOError(`cannot open ${path}`, { cause: e });
    }
    try {
      const size = fstatSync(fd).size;
      report.files++;
      report.bytes += size;
      const head = new Uint8Array(FILE_HEADER_SIZE);
      if (readFullAt(fd, 0, head) < FILE_HEADER_SIZE || readFileHeader(head, KIND_DATA) < 0) {
        report.issues.push({
          kind: "bad-file-header",
          file: path,
          offset: 0,
          bytes: FILE_HEADER_SIZE,
          message: `${path}: file header is damaged`,
        });
      }
      await walkLog(fd, size, () => report.records++, (offset, next) => {
        const kind = next < 0 ? "torn-tail" : "damaged";
        const bytes = (next < 0 ? size : next) - offset;
        const message = `${path}: ${bytes} ${
          kind === "damaged" ? "damaged" : "torn"
        } bytes at ${offset}`;
        report.issues.push({ kind, file: path, offset, bytes, message });
        return true;
      });
      const hint = hintPath(dir, id);
      const hasHint = await Deno.stat(hint).then(() => true, () => false);
      if (hasHint && !(await readHint(hint, size, () => {}))) {
        const message = `${hint}: hint is damaged or disagrees with its data file`;
        report.issues.push({ kind: "bad-hint", file: hint, offset: 0, bytes: 0, message });
      }
    } finally {
      closeSync(fd);
    }
  }
  return report;
}
