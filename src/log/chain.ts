/**
 * The log's chain of files. Every version-2 log file's header names the log file
 * it continues and the last sequence number before it; every merge output names
 * the log file and sequence number its merge covers, and its place among the
 * merge's outputs. From the headers and what replay found, this tells whether a
 * file of the chain is missing. Pure: it reads nothing.
 * @module
 */

import type { FileHeader } from "../codec/file_header.ts";

/** One trusted file of the store, as the chain check sees it. */
export interface ChainLink {
  id: number;
  /** The header; undefined when it was damaged (the file is trusted for its records only). */
  header?: FileHeader;
  /** The highest sequence number replay counted in the file (version 1: 0). */
  lastSeq: number;
  /** Whether compaction wrote it. */
  compacted: boolean;
}

/** A break in the chain, with the file after it. */
export interface ChainBreak {
  /** Id of the file whose predecessor is missing or short. */
  id: number;
  /** The sequence numbers missing: (from, to]. */
  from: number;
  to: number;
  message: string;
}

/** The breaks in the chain of `links` (ascending ids). */
export function checkChain(links: readonly ChainLink[]): ChainBreak[] {
  const breaks: ChainBreak[] = [];
  const logs = new Map<number, ChainLink>();
  const merges = new Map<string, ChainLink[]>();
  for (const l of links) {
    if (!l.compacted) logs.set(l.id, l);
    else if (l.header?.version === 2) {
      const h = l.header;
      const group = `${h.follows}:${h.baseSeq}:${h.parts}`;
      merges.set(group, [...(merges.get(group) ?? []), l]);
    }
  }
  // A file whose header is damaged is there, though it cannot say which part it is.
  const present = new Set(links.map((l) => l.id));
  const covered = (id: number, seq: number) =>
    [...merges.values()].some(([o]) => o.header!.follows >= id && o.header!.baseSeq >= seq);
  for (const outs of merges.values()) {
    const { parts, baseSeq, follows } = outs[0].header!;
    // The merge's newest input is removed last, once every output is in place:
    // while it is there, a crash cut the outputs' installation short, and the
    // inputs still hold everything (see merge_files.ts).
    if (logs.has(follows)) continue;
    const have = new Set(outs.map((o) => o.header!.part));
    for (let part = 1; part <= parts; part++) {
      const id = outs[0].id - outs[0].header!.part + part;
      // A later merge that covers the part took it as an input: its removal
      // (oldest first) was cut short by a crash, and nothing is lost.
      if (have.has(part) || present.has(id) || covered(id, baseSeq)) continue;
      breaks.push({
        id,
        from: 0,
        to: baseSeq,
        message: `output ${part} of ${parts} of a merge (data.${id}) is missing`,
      });
    }
  }
  let known = 0;
  for (const l of links) {
    const h = l.header;
    if (h?.version === 2 && !l.compacted && h.follows >= 0) {
      const prev = logs.get(h.follows);
      const prevSeq = prev?.header?.version === 2 ? prev.lastSeq : prev ? 0 : undefined;
      if (prev && prevSeq !== undefined && prevSeq < h.baseSeq && prev.header) {
        breaks.push({
          id: l.id,
          from: prevSeq,
          to: h.baseSeq,
          message: `data.${prev.id} ends at sequence ${prevSeq} but data.${l.id} follows ` +
            `sequence ${h.baseSeq}: sequences ${prevSeq + 1}..${h.baseSeq} are missing (the end ` +
            `of data.${prev.id}, or files after it)`,
        });
      } else if (!prev && known < h.baseSeq && !covered(h.follows, h.baseSeq)) {
        // (With every sequence number up to baseSeq seen, say in a merge output
        // whose damaged header cannot say what it covers, nothing is lost.)
        breaks.push({
          id: l.id,
          from: known,
          to: h.baseSeq,
          message: `data.${l.id} continues data.${h.follows} (through sequence ${h.baseSeq}), ` +
            `which is missing: sequences ${known + 1}..${h.baseSeq} are lost`,
        });
      }
    }
    known = Math.max(known, l.lastSeq, h?.baseSeq ?? 0);
  }
  return breaks;
}
