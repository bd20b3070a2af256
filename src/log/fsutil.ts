/**
 * Small file-system helpers shared by the file layer: names of store files,
 * directory fsync, and full positional reads/writes.
 * @module
 */

import { readSync } from "node:fs";
import { join } from "node:path";
import { IOError } from "../base/errors.ts";

/**
 * The suffix of a file being written, renamed into place once whole (a merge
 * output, a hint, a backup's copy, a streamed value's spool): an open removes
 * any it finds, left by a process cut short (cleanupMerge).
 */
export const TEMP = ".merging";

export { LOG_FILE } from "../base/store_dir.ts";

/** Path of data file `id` in `dir`. */
export function dataPath(dir: string, id: number): string {
  return join(dir, `data.${id}`);
}

/** Path of the hint file for data file `id` in `dir`. */
export function hintPath(dir: string, id: number): string {
  return join(dir, `hint.${id}`);
}

/**
 * The ids of files named `<prefix>.<id>` in dir, ascending, and the names that
 * look like one but whose number is not an exact id (above 2^53, or with
 * leading zeros), which would otherwise round onto another file's name.
 */
export async function listIds(
  dir: string,
  prefix: string,
): Promise<{ ids: number[]; strays: string[] }> {
  const ids: number[] = [];
  const strays: string[] = [];
  const re = new RegExp(`^${prefix}\\.([0-9]+)$`);
  for await (const e of Deno.readDir(dir)) {
    const m = e.isFile ? re.exec(e.name) : null;
    if (!m) continue;
    const id = Number(m[1]);
    if (Number.isSafeInteger(id) && String(id) === m[1]) ids.push(id);
    else strays.push(e.name);
  }
  return { ids: ids.sort((a, b) => a - b), strays: strays.sort() };
}

/**
 * fsync a directory so that files created, renamed or removed in it survive a
 * power cut: without it the file's data may be durable while its name is not.
 */
export async function syncDir(dir: string): Promise<void> {
  let d: Deno.FsFile | undefined;
  try {
    d = await Deno.open(dir, { read: true });
    await d.sync();
  } catch (e) {
    throw new IOError(`fsync of directory ${dir} failed`, { cause: e });
  } finally {
    d?.close();
  }
}

/**
 * Reads exactly buf.length bytes at `offset` of file descriptor `fd` (from
 * node:fs, whose positional read is a real pread: one syscall, and no shared
 * file position for concurrent readers to race on). Returns how many bytes were
 * there (short at end of file).
 */
export function readFullAt(fd: number, offset: number, buf: Uint8Array): number {
  let got = 0;
  while (got < buf.length) {
    const n = readSync(fd, buf, got, buf.length - got, offset + got);
    if (n === 0) break;
    got += n;
  }
  return got;
}

/** Writes all of `data` at the file's current position (write() may write less than asked). */
export async function writeAll(file: Deno.FsFile, data: Uint8Array): Promise<void> {
  let done = 0;
  while (done < data.length) done += await file.write(data.subarray(done));
}

/**
 * writeAll without leaving the JS thread: a write into the page cache takes
 * microseconds, less than one round trip through Deno's async file ops.
 */
export function writeAllSync(file: Deno.FsFile, data: Uint8Array): void {
  let done = 0;
  while (done < data.length) done += file.writeSync(data.subarray(done));
}
