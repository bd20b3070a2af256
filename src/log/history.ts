/**
 * The log read back as history: the committed changes of the log files from a
 * sequence number on, in commit order, for change feeds that resume where they
 * stopped. Only log files hold history; a merge output keeps just each key's
 * last record, so history before the newest merge is gone.
 * @module
 */

import { closeSync, fstatSync, openSync } from "node:fs";
import { IOError } from "../base/errors.ts";
import { DataFile } from "./datafile.ts";
import { replayFile } from "./replay.ts";

/** One committed change as the log holds it. */
export interface LoggedChange {
  k: string;
  seq: number;
  /** A set's record, to read its value from; undefined for a delete or a range delete. */
  at?: { file: DataFile; offset: number; size: number };
  /** A set of a value streamed into a file of its own: as live, the change comes without it. */
  streamed?: boolean;
  /** For a range delete: its end (undefined: no end); `k` is its start. */
  range?: { end: string | undefined };
  /** Whether it is the last change of its commit (an atomic batch has several). */
  last: boolean;
}

/**
 * The oldest sequence number after which the log files `files` hold every
 * commit: a resume point must not be below it.
 */
export function historyStart(files: readonly DataFile[]): number {
  let oldest = Infinity, merged = 0;
  for (const f of files) {
    const h = f.header;
    if (h?.version !== 2) continue;
    if (f.compacted) merged = Math.max(merged, h.baseSeq);
    else oldest = Math.min(oldest, h.baseSeq);
  }
  return Math.max(merged, oldest === Infinity ? merged : oldest);
}

/**
 * The committed changes with since < seq <= upTo in the log files of `files`
 * (ascending ids, all on disk), read file by file.
 */
export async function* readHistory(
  files: readonly DataFile[],
  since: number,
  upTo: number,
): AsyncGenerator<LoggedChange> {
  const logs = files.filter((f) => f.header?.version === 2 && !f.compacted);
  for (let i = 0; i < logs.length; i++) {
    const next = logs[i + 1]?.header?.baseSeq ?? Infinity;
    if (next <= since || logs[i].header!.baseSeq >= upTo) continue;
    const out: LoggedChange[] = [];
    const f = logs[i];
    let fd: number;
    try {
      fd = openSync(f.path, "r");
    } catch (e) {
      throw new IOError(`cannot open ${f.path}`, { cause: e });
    }
    // A copy: replay sets the size of the file it reads.
    const copy = new DataFile(f.dir, f.id, 0, f.header);
    try {
      await replayFile(copy, fd, fstatSync(fd).size, false, {
        record: (k, _id, offset, size, tombstone, _ts, _exp, seq) => {
          if (seq > since && seq <= upTo) {
            const at = tombstone ? undefined : { file: copy, offset, size };
            out.push({ k, seq, at, streamed: !tombstone && f.blob, last: true });
          }
        },
        range: (k, end, seq) => {
          if (seq > since && seq <= upTo) out.push({ k, seq, range: { end }, last: true });
        },
      }, { strict: false, readOnly: true, onWarning: () => {} });
    } finally {
      closeSync(fd);
    }
    // A commit's records are all in one file, back to back.
    for (let j = 0; j + 1 < out.length; j++) out[j].last = out[j + 1].seq !== out[j].seq;
    try {
      yield* out;
    } finally {
      copy.close();
    }
  }
}
