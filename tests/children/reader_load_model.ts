// The op log of reader_load_writer.ts and the model it defines: the store's
// contents as of any sequence number. Values name their key, the key's write
// counter (it grows with every write of the key, in log order) and the op.

/** One issued op, as the writer child logs it. */
export interface LoggedOp {
  id: number;
  /** The commit's sequence number (a delete of an absent key has the previous one and changes nothing). */
  seq: number;
  kind: "set" | "delete" | "batch";
  keys: string[];
  /** The key's write counter for each key, in the same order. */
  counters: number[];
}

/** The value op `id` writes to key `k` as its `counter`th write. */
export function valueFor(k: string, counter: number, id: number): string {
  return `${k}|${counter}|${id}`;
}

/** The store's contents once every op with a sequence number up to `seq` is applied. */
export function modelAt(ops: readonly LoggedOp[], seq: number): Map<string, string> {
  const m = new Map<string, string>();
  for (const op of ops) {
    if (op.seq > seq) break;
    op.keys.forEach((k, i) => {
      if (op.kind === "delete") m.delete(k);
      else m.set(k, valueFor(k, op.counters[i], op.id));
    });
  }
  return m;
}

/** Parses the child's stdout into its ops (in log order), acks and backup sequence. */
export function parseLog(
  text: string,
): { ops: LoggedOp[]; acked: Set<number>; backupSeq?: number } {
  const ops: LoggedOp[] = [];
  const acked = new Set<number>();
  let backupSeq: number | undefined;
  for (const line of text.split("\n")) {
    if (line.startsWith("I ")) ops.push(JSON.parse(line.slice(2)));
    else if (line.startsWith("A ")) acked.add(Number(line.slice(2)));
    else if (line.startsWith("B ")) backupSeq = Number(line.slice(2));
  }
  return { ops, acked, backupSeq };
}
