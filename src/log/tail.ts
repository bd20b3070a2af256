/**
 * Following a log that a live writer in another process appends to: reading
 * the header of a file the writer has just created, and replaying what was
 * appended to a file since the last look. Only reads.
 * @module
 */

import { fstatSync } from "node:fs";
import { decodeFileHeader, recordFormat } from "../codec/file_header.ts";
import { FILE_HEADER_SIZE, KIND_DATA } from "../codec/format.ts";
import { DataFile } from "./datafile.ts";
import { readFullAt } from "./fsutil.ts";
import { type RecoveryOptions, type RecoverySink, replayFile } from "./replay.ts";

/** Whether `e` (or an error it wraps) says a file is not there: removed under a reader. */
export function isGone(e: unknown): boolean {
  for (let c = e; c instanceof Error; c = c.cause) {
    if (c instanceof Deno.errors.NotFound || (c as { code?: string }).code === "ENOENT") {
      return true;
    }
  }
  return false;
}

/** What `stat` says of `path`; undefined when nothing is there. */
export async function statOrUndefined(path: string): Promise<Deno.FileInfo | undefined> {
  try {
    return await Deno.stat(path);
  } catch (e) {
    if (isGone(e)) return undefined;
    throw e;
  }
}

/**
 * Data file `id`, new in a followed store, held open with its header read;
 * "pending" while the writer has not finished writing its header, "unknown"
 * when it is no log file of store `storeId` ("" while the store has no file
 * yet: any) (a merge output, a foreign or damaged file, or one already
 * removed): full recovery has to judge it.
 */
export function openNewFile(
  dir: string,
  id: number,
  storeId: string,
): DataFile | "pending" | "unknown" {
  const f = new DataFile(dir, id, 0);
  let fd: number;
  try {
    fd = f.hold();
  } catch (e) {
    if (isGone(e)) return "unknown";
    throw e;
  }
  const head = new Uint8Array(FILE_HEADER_SIZE);
  const got = readFullAt(fd, 0, head);
  const h = decodeFileHeader(head.subarray(0, got), KIND_DATA);
  if (h?.version === 2 && (storeId === "" || h.storeId === storeId) && h.fileId === id) {
    f.header = h;
    f.fmt = recordFormat(h);
    f.size = f.headerSize;
    if (!f.compacted) return f;
  }
  f.close();
  // The writer creates a file empty and then writes its header.
  return !h && (got < FILE_HEADER_SIZE || head.every((b) => b === 0)) ? "pending" : "unknown";
}

/**
 * Replays the records appended to `file` (held open) past `file.size`, the
 * point an earlier replay reached, whose last sequence number was `seq`. A
 * record or batch still being appended is left for the next call. Returns the
 * last sequence number counted, or -1 when the file is now shorter than what
 * was replayed (the writer cut back a failed write).
 */
export async function replayAppended(
  file: DataFile,
  seq: number,
  sink: RecoverySink,
  opts: RecoveryOptions,
): Promise<number> {
  const fd = file.hold();
  const size = fstatSync(fd).size;
  if (size < file.size) return -1;
  if (size === file.size) return seq;
  return await replayFile(
    file,
    fd,
    size,
    true,
    sink,
    { ...opts, readOnly: true, liveTail: true },
    { offset: file.size, seq },
  );
}
