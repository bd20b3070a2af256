/**
 * The keydir: an in-memory ordered index from every live key to where its latest
 * record lives.
 *
 * Keys are binary strings (one char per byte, codes 0..255), so JS string order is
 * unsigned byte order. The index is a B+tree built for memory first: a node keeps its
 * keys in a plain array and everything else (entry fields, search prefixes) in blocks
 * carved from shared typed-array slabs, so a key costs its string, a pointer and about
 * 40 bytes of numbers rather than a JS object per entry.
 * @module
 */

import type { EntryVisitor } from "../log/checkpoint.ts";
import { ExpiryQueue } from "./expiry_queue.ts";
import { type CachedPlace, PointCache } from "./point_cache.ts";

/**
 * Where a key's latest record lives. `fileId`, `offset` and `size` are kept in 32 bits
 * (a data file is at most 4 GiB, `maxFileSize`'s cap), the times exactly up to 2^53.
 */
export interface Entry {
  /** Data file id. */
  fileId: number;
  /** Byte offset of the record in that file. */
  offset: number;
  /** Total record size in bytes (< 2^32). */
  size: number;
  /** Write time, ms since the Unix epoch. */
  timestamp: number;
  /** Expiry time, ms since the Unix epoch; 0 = never. */
  expireAt: number;
}

// A node holds at most MAX slots. Its storage grows and shrinks in STEP-slot increments
// so it stays close to the slots in use: B+tree nodes average ~70% full under random
// inserts, and with ~48 bytes per slot that slack would dominate memory.
const MAX = 128;
const STEP = 16;
// A non-root node that drops below MIN slots borrows from or merges with a sibling,
// which bounds the per-node overhead a key can carry after mass deletes.
const MIN = MAX / 4;
// Slots a node gets when the tree is built in key order (see KeyDir.append):
// nearly full, with room left so the first inserts after a load do not split
// every node at once.
const FILL = MAX - STEP;

/** Smallest allowed capacity holding `n` slots. */
function fit(n: number): number {
  return Math.min(MAX, Math.max(STEP, Math.ceil(n / STEP) * STEP));
}

/**
 * Chars d..d+3 of `k`, one byte each, as a big-endian u32 (missing chars count as 0).
 * For keys sharing their first d chars, a < b implies pack(a) <= pack(b), so unequal
 * packs order two keys without touching either string. A char >= 255 ends the packing
 * (as 255): that keeps the implication true even for codes above 255, which are not
 * valid key bytes but must not corrupt the tree.
 */
function pack(k: string, d: number): number {
  const end = Math.min(k.length, d + 4);
  let v = 0;
  for (let j = d, shift = 24; j < end; j++, shift -= 8) {
    const c = k.charCodeAt(j);
    if (c >= 255) return (v | (255 << shift)) >>> 0;
    v |= c << shift;
  }
  return v >>> 0;
}

// Bytes V8 gives a one-byte string of this key: a 12-byte header (map, hash,
// length) and the characters, rounded up to 4.
function stringBytes(k: string): number {
  return 12 + ((k.length + 3) & ~3);
}

// Node objects (Leaf/Inner instances and their fields) per key, at the ~70%
// fill a B+tree keeps under random inserts: about 100 bytes per node of ~90 keys.
const NODE_SHARE = 1.2;

/** `v`, checked to fit the u32 it is stored in. */
function u32(v: number, what: string): number {
  if (!(v >= 0 && v <= 0xffffffff)) throw new RangeError(`${what} ${v} does not fit 32 bits`);
  return v;
}

/** `e`, checked before any slot changes: a leaf keeps its place in 32-bit fields. */
function place(e: Entry): Entry {
  u32(e.fileId, "file id");
  u32(e.offset, "offset");
  u32(e.size, "size");
  return e;
}

/** Length of the common prefix of `a` and `b`. */
function commonPrefix(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  return i;
}

/** Copies `count` items between arrays or within one, overlapping ranges included. */
function copy<T>(src: T[], from: number, dst: T[], to: number, count: number): void {
  if (src === dst && to > from) {
    for (let j = count - 1; j >= 0; j--) dst[to + j] = src[from + j];
  } else {
    for (let j = 0; j < count; j++) dst[to + j] = src[from + j];
  }
}

/** `copy` for typed arrays. */
function copyTyped<T extends Uint32Array | Float64Array>(
  src: T,
  from: number,
  dst: T,
  to: number,
  count: number,
): void {
  if (src === dst) dst.copyWithin(to, from, from + count);
  else dst.set(src.subarray(from, from + count), to);
}

// Slabs start small so an empty KeyDir stays cheap, then double up to SLAB_BYTES.
const SLAB_BYTES = 1 << 20;
const FIRST_SLAB_BYTES = 1 << 12;

/**
 * Node storage: key arrays, and blocks carved out of a few large buffers. Node storage
 * tracks node size, so nodes reallocate often; giving each its own ArrayBuffer and
 * letting old key arrays die churned malloc and the old generation enough to roughly
 * double resident memory. Freed storage of each capacity is kept for reuse instead.
 *
 * A block for `cap` slots holds `rowBytes` per slot (entry fields, leaves only), then
 * a u32 key prefix per slot, then a u32 record size per slot (leaves only). The
 * prefixes lie together so a node's binary search touches as few cache lines
 * as it can: a lookup in a big index misses the CPU cache at nearly every step.
 * A leaf's row is 24 bytes: timestamp and expireAt as f64, then file id and offset
 * as u32, through the slab's two views (8 bytes a slot less than four f64s).
 */
class NodeStore {
  readonly f: Float64Array[] = [];
  readonly u: Uint32Array[] = [];
  readonly rowBytes: number;
  #top = 0;
  #end = 0;
  /**
   * Bytes of the blocks carved out of the slabs so far, with their key arrays'
   * slots. A slab's room not yet carved is left out: its pages are not touched
   * yet, so the process does not hold them.
   */
  bytes = 0;
  /** The part of {@link bytes} in freed blocks, which new nodes take before carving more. */
  freedBytes = 0;
  // Indexed by capacity / STEP. A block id is slab index * SLAB_BYTES + byte offset.
  readonly #freeBlocks: number[][] = Array.from({ length: MAX / STEP + 1 }, () => []);
  readonly #freeKeys: string[][][] = Array.from({ length: MAX / STEP + 1 }, () => []);

  constructor(rowBytes: number) {
    this.rowBytes = rowBytes;
  }

  /** Id of a block for `cap` slots. */
  alloc(cap: number): number {
    const free = this.#freeBlocks[cap / STEP];
    if (free.length !== 0) {
      this.freedBytes -= this.#blockBytes(cap);
      return free.pop()!;
    }
    const bytes = cap * (this.rowBytes + 8);
    if (this.#top + bytes > this.#end) {
      this.#end = Math.min(SLAB_BYTES, Math.max(FIRST_SLAB_BYTES, 2 * this.#end));
      const slab = new ArrayBuffer(this.#end);
      this.f.push(new Float64Array(slab));
      this.u.push(new Uint32Array(slab));
      this.#top = 0;
    }
    this.#top += bytes;
    this.bytes += this.#blockBytes(cap);
    return (this.f.length - 1) * SLAB_BYTES + this.#top - bytes;
  }

  /** A key array of length `cap` holding only "". */
  keys(cap: number): string[] {
    return this.#freeKeys[cap / STEP].pop() ?? new Array<string>(cap).fill("");
  }

  /** Takes back a node's storage. */
  free(block: number, keys: string[]): void {
    this.#freeBlocks[keys.length / STEP].push(block);
    this.#freeKeys[keys.length / STEP].push(keys.fill(""));
    this.freedBytes += this.#blockBytes(keys.length);
  }

  // A block's bytes in its slab, and its key array's 4-byte slots.
  #blockBytes(cap: number): number {
    return cap * (this.rowBytes + 8 + 4);
  }
}

/**
 * Sorted slots shared by both node kinds. Slot i holds keys[i], its prefix pack
 * u[uo + i] = pack(keys[i], d) and a value kept by the subclass. Every key of slots
 * `base` and up starts with `p` (length d), so packs skip the bytes that cannot tell
 * those keys apart. Below `base` (an inner node's slot 0, its lower bound) a key
 * lacking `p` is less than every key that has it, and packs as 0.
 */
abstract class Node<V> {
  n = 0;
  d = 0;
  p = "";
  /** The first slot the prefix covers. */
  abstract readonly base: 0 | 1;
  readonly store: NodeStore;
  cap: number;
  keys: string[];
  block: number;
  u: Uint32Array;
  uo: number;
  /**
   * Leaves: the record size of slot i at u[so + i]; always uo + cap, kept as a
   * field because a getter measured slower on the get path (3 of 3 pairs).
   */
  so: number;
  /**
   * Leaves: slot i's row starts at f[fo + 3i] (timestamp, then expireAt) and
   * u[ro + 6i] (file id at +4, offset at +5).
   */
  f: Float64Array;
  fo: number;
  ro: number;

  constructor(cap: number, store: NodeStore) {
    const block = store.alloc(cap);
    const slab = Math.floor(block / SLAB_BYTES), at = block % SLAB_BYTES;
    this.store = store;
    this.cap = cap;
    this.keys = store.keys(cap);
    this.block = block;
    this.u = store.u[slab];
    this.uo = (at + cap * store.rowBytes) / 4;
    this.so = this.uo + cap;
    this.f = store.f[slab];
    this.fo = at / 8;
    this.ro = at / 4;
  }

  /** An empty node of the same kind. */
  protected abstract alloc(cap: number): this;
  abstract setValue(i: number, v: V): void;

  /** Copies slots from `src` (possibly this node, ranges may overlap). */
  protected copySlots(src: this, from: number, to: number, count: number): void {
    copy(src.keys, from, this.keys, to, count);
    copyTyped(src.u, src.uo + from, this.u, this.uo + to, count);
  }

  /** Takes over the storage of `t`, a resized copy of this node. */
  protected adopt(t: this): void {
    this.store.free(this.block, this.keys);
    this.cap = t.cap;
    this.keys = t.keys;
    this.block = t.block;
    this.u = t.u;
    this.uo = t.uo;
    this.so = t.so;
    this.f = t.f;
    this.fo = t.fo;
    this.ro = t.ro;
  }

  /** Drops references held by slots [from, to), which are no longer in use. */
  protected clearSlots(from: number, to: number): void {
    this.keys.fill("", from, to);
  }

  /** Index of `k` if present, else ~(index of the first key greater than `k`). */
  find(k: string): number {
    const d = this.d, n = this.n;
    if (d !== 0 && !k.startsWith(this.p)) {
      if (k > this.p) return ~n;
      if (this.base === 0) return -1;
      const low = this.keys[0];
      return k < low ? -1 : k === low ? 0 : ~1;
    }
    const pk = pack(k, d), u = this.u, o = this.uo, keys = this.keys;
    let lo = 0, hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1, q = u[o + mid];
      if (q < pk || (q === pk && keys[mid] < k)) lo = mid + 1;
      else hi = mid;
    }
    return lo < n && u[o + lo] === pk && keys[lo] === k ? lo : ~lo;
  }

  /**
   * The slot `k` would be in if present, when that slot alone has k's pack;
   * else -1, or when more slots have it, what {@link find} says. Otherwise
   * neither `k` nor the node's prefix is compared: present, `k` is there;
   * absent, the slot may be another key's.
   */
  seek(k: string): number {
    const pk = pack(k, this.d), u = this.u, o = this.uo, n = this.n;
    let lo = 0, hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (u[o + mid] < pk) lo = mid + 1;
      else hi = mid;
    }
    if (lo === n || u[o + lo] !== pk) return -1;
    return lo + 1 < n && u[o + lo + 1] === pk ? this.find(k) : lo;
  }

  /** Stores key `k` in slot i, first shortening the shared prefix if `k` lacks it. */
  setKey(i: number, k: string): void {
    if (this.d !== 0 && !k.startsWith(this.p)) {
      // Cut from the old prefix, not from a slot: slot `i` is not set yet, and
      // in a node that was emptied the others hold "".
      const d = commonPrefix(k, this.p);
      this.repack(d, this.p.slice(0, d));
    }
    this.keys[i] = k;
    this.u[this.uo + i] = pack(k, this.d);
  }

  /** Recomputes the shared prefix (and the packs) after slots moved in from another node. */
  reprefix(): void {
    const n = this.n, b = this.base;
    const d = n <= b ? 0 : commonPrefix(this.keys[b], this.keys[n - 1]);
    this.repack(d, d === 0 ? "" : this.keys[b].slice(0, d));
  }

  private repack(d: number, p: string): void {
    const keys = this.keys;
    this.d = d;
    this.p = p;
    for (let i = 0; i < this.n; i++) {
      this.u[this.uo + i] = i < this.base && d !== 0 && !keys[i].startsWith(p)
        ? 0
        : pack(keys[i], d);
    }
  }

  private resize(cap: number): void {
    if (cap === this.cap) return;
    const t = this.alloc(cap);
    t.copySlots(this, 0, 0, this.n);
    this.adopt(t);
  }

  /** Inserts (k, v) at slot i, splitting a full node first; returns the new right sibling. */
  insert(i: number, k: string, v: V): this | undefined {
    if (this.n < this.cap || this.cap < MAX) {
      if (this.n === this.cap) this.resize(this.cap + STEP);
      this.put(i, k, v);
      return undefined;
    }
    const right = this.split(i);
    if (i < this.n) this.put(i, k, v);
    else right.put(i - this.n, k, v);
    return right;
  }

  private put(i: number, k: string, v: V): void {
    this.copySlots(this, i, i + 1, this.n - i);
    this.n++;
    this.setKey(i, k);
    this.setValue(i, v);
  }

  /** Moves the upper slots to a new right sibling, choosing the cut for an insert at i. */
  protected split(i: number): this {
    const n = this.n;
    // Appending ascending keys (recovery replays them in write order) would otherwise
    // leave every node half full: keep the old node nearly full instead.
    const m = i === n ? n - STEP + 1 : i === 0 ? STEP - 1 : n >>> 1;
    const right = this.alloc(fit(n - m + 1));
    right.copySlots(this, m, 0, n - m);
    right.n = n - m;
    this.clearSlots(m, n);
    this.n = m;
    this.resize(fit(m + 1));
    this.reprefix();
    right.reprefix();
    return right;
  }

  remove(i: number): void {
    const n = this.n - 1;
    this.copySlots(this, i + 1, i, n - i);
    this.clearSlots(n, n + 1);
    this.n = n;
    // Shrink with a STEP of hysteresis so alternating set/delete never reallocates.
    if (this.cap - n > 2 * STEP) this.resize(fit(n + STEP));
  }

  /** Appends every slot of the right sibling `b` (which must fit), which is then dropped. */
  absorb(b: this): void {
    this.resize(fit(this.n + b.n));
    this.copySlots(b, 0, this.n, b.n);
    this.n += b.n;
    this.reprefix();
    this.store.free(b.block, b.keys);
  }

  /** Evens out the slot counts of this node and its right sibling `b`. */
  balance(b: this): void {
    const half = (this.n + b.n) >>> 1;
    if (this.n > half) {
      const t = this.n - half;
      b.resize(fit(b.n + t));
      b.copySlots(b, 0, t, b.n);
      b.copySlots(this, half, 0, t);
      b.n += t;
      this.clearSlots(half, this.n);
      this.n = half;
      this.resize(fit(half));
    } else {
      const t = half - this.n;
      this.resize(fit(half));
      this.copySlots(b, 0, this.n, t);
      this.n = half;
      b.copySlots(b, t, 0, b.n - t);
      b.clearSlots(b.n - t, b.n);
      b.n -= t;
      b.resize(fit(b.n));
    }
    this.reprefix();
    b.reprefix();
  }
}

/** Leaf: slot i maps keys[i] to an entry; leaves form a doubly linked list in key order. */
class Leaf extends Node<Entry> {
  readonly base = 0;
  prev: Leaf | undefined;
  next: Leaf | undefined;

  protected alloc(cap: number): this {
    return new Leaf(cap, this.store) as this;
  }

  protected override copySlots(src: this, from: number, to: number, count: number): void {
    super.copySlots(src, from, to, count);
    // As u32s: a row's halves are not all f64s, and a u32 copy is bit-exact.
    copyTyped(src.u, src.ro + from * 6, this.u, this.ro + to * 6, count * 6);
    copyTyped(src.u, src.so + from, this.u, this.so + to, count);
  }

  setValue(i: number, e: Entry): void {
    const f = this.f, b = this.fo + i * 3, u = this.u, r = this.ro + i * 6;
    f[b] = e.timestamp;
    f[b + 1] = e.expireAt;
    u[r + 4] = e.fileId;
    u[r + 5] = e.offset;
    u[this.so + i] = e.size;
  }

  /** Points slot i at `offset` of file `fileId`. */
  move(i: number, fileId: number, offset: number, size: number): void {
    const r = this.ro + i * 6;
    this.u[r + 4] = u32(fileId, "file id");
    this.u[r + 5] = u32(offset, "offset");
    this.u[this.so + i] = u32(size, "size");
  }

  entry(i: number): Entry {
    const f = this.f, b = this.fo + i * 3, u = this.u, r = this.ro + i * 6;
    return {
      fileId: u[r + 4],
      offset: u[r + 5],
      size: u[this.so + i],
      timestamp: f[b],
      expireAt: f[b + 1],
    };
  }

  protected override split(i: number): this {
    const right = super.split(i);
    right.prev = this;
    right.next = this.next;
    if (this.next) this.next.prev = right;
    this.next = right;
    return right;
  }

  override absorb(b: this): void {
    super.absorb(b);
    this.next = b.next;
    if (b.next) b.next.prev = this;
  }
}

/**
 * Inner node: slot i holds child kids[i] and keys[i], a lower bound of every key routed
 * to that child. keys[0] is the node's own lower bound (the separator its parent holds
 * for it, "" down the leftmost spine), which lets slots move between siblings unchanged.
 */
class Inner extends Node<Leaf | Inner> {
  // The lower bound in slot 0 stays out of the prefix: down the leftmost spine
  // it is "", which would leave every key of the node to be told apart by
  // string comparisons.
  readonly base = 1;
  // Unused slots are holes until cleared to VACANT.
  kids: (Leaf | Inner)[] = new Array<Leaf | Inner>(this.cap);

  protected alloc(cap: number): this {
    return new Inner(cap, this.store) as this;
  }

  protected override copySlots(src: this, from: number, to: number, count: number): void {
    super.copySlots(src, from, to, count);
    copy(src.kids, from, this.kids, to, count);
  }

  protected override adopt(t: this): void {
    super.adopt(t);
    this.kids = t.kids;
  }

  protected override clearSlots(from: number, to: number): void {
    super.clearSlots(from, to);
    this.kids.fill(VACANT, from, to);
  }

  setValue(i: number, child: Leaf | Inner): void {
    this.kids[i] = child;
  }

  /** Index of the child whose key range holds `k`. */
  route(k: string): number {
    const r = this.find(k);
    return r >= 0 ? r : ~r - 1;
  }

  /** Restores the minimum size of child c by merging it with, or borrowing from, a sibling. */
  fix(c: number): void {
    const j = c > 0 ? c - 1 : 0;
    // Siblings always share a kind; the casts only tell the compiler so.
    const a = this.kids[j] as Inner, b = this.kids[j + 1] as Inner;
    if (a.n + b.n <= MAX) {
      a.absorb(b);
      this.remove(j + 1);
    } else {
      a.balance(b);
      this.setKey(j + 1, b.keys[0]);
    }
  }
}

/** Filler for cleared child slots, so they hold no detached subtree alive. */
const VACANT = new Inner(STEP, new NodeStore(0));

/**
 * Ordered map from binary-string keys to {@link Entry}.
 *
 * @example
 * ```ts
 * const dir = new KeyDir();
 * dir.set("a", { fileId: 1, offset: 16, size: 40, timestamp: Date.now(), expireAt: 0 });
 * for (const [key, entry] of dir.range("a", "b")) console.log(key, entry.offset);
 * ```
 */
export class KeyDir {
  #inners = new NodeStore(0);
  #leaves = new NodeStore(24);
  #root: Leaf | Inner = new Leaf(STEP, this.#leaves);
  #size = 0;
  // Estimated bytes of the key strings themselves (see memoryBytes).
  #keyBytes = 0;
  // Bumped whenever keys are added or removed, which is what invalidates the position
  // of a live `range` iterator.
  #version = 0;
  // The entry a set replaced or a delete removed, carried out of the recursion.
  #old: Entry | undefined;
  // Leaves filled so far by a load in key order (see append).
  #loading: Leaf[] | undefined;
  // The leaf and slot of the last probe.
  #probed: Leaf | undefined;
  #probedSlot = 0;
  // Where keys' records lie, by hash, for point reads: kept in step with every
  // change below (set, append, relocate, delete). None in an index built only
  // to be compared or copied, and set aside (#heldPoints) during an open's
  // replay (see holdPoints).
  #points: PointCache | undefined;
  #heldPoints: PointCache | undefined;
  // The keys that expire, soonest first, and how many entries have an expiry.
  #expiries = new ExpiryQueue();
  #expiring = 0;

  constructor(opts: { pointCache?: boolean } = {}) {
    this.#points = opts.pointCache === false ? undefined : new PointCache();
  }

  /** Number of keys. */
  get size(): number {
    return this.#size;
  }

  /** The point cache's share of {@link memoryBytes}: a table outside the JS heap. */
  get cacheBytes(): number {
    return (this.#points ?? this.#heldPoints)?.bytes ?? 0;
  }

  /**
   * Stops keeping the point cache in step, and asking it, until
   * {@link releasePoints}: an open replaying the log fills none of it (a cache
   * filled by the replay was a tenth of the open, and is emptied after it).
   */
  holdPoints(): void {
    if (this.#points === undefined) return;
    this.#heldPoints = this.#points;
    this.#points = undefined;
  }

  /** Takes the point cache back, empty and sized for the keys, as after a load in key order. */
  releasePoints(): void {
    const points = this.#heldPoints;
    if (points === undefined) return;
    this.#heldPoints = undefined;
    this.#points = points;
    points.reset(this.#size);
  }

  /**
   * Estimated bytes the keydir holds: its slabs and key arrays, plus each key
   * string as V8 stores a one-byte string (a 12-byte header and the bytes,
   * rounded to 4), plus a share for node objects, plus the point cache's
   * table. An estimate: the tree's part within 10% of measured heap growth
   * for 16-byte keys (tests/index_memory_test.ts).
   */
  memoryBytes(): number {
    return this.#inners.bytes + this.#leaves.bytes + this.#keyBytes + this.#size * NODE_SHARE +
      this.cacheBytes;
  }

  /**
   * {@link memoryBytes} less the freed node storage that new keys take before
   * the keydir allocates more: what a budget on its memory must count, or a
   * store that deleted keys would refuse new ones until it is reopened.
   */
  usedBytes(): number {
    return this.memoryBytes() - this.#inners.freedBytes - this.#leaves.freedBytes;
  }

  /**
   * Loads an empty keydir in key order: each call adds a key greater than every
   * key added before it, and {@link endAppend} finishes the load. The tree is
   * built bottom-up, leaves filled left to right and then each level of inner
   * nodes over the one below, instead of a descent and a shift of slots per key.
   * No other call may come between the first append and endAppend.
   */
  append(key: string, e: Entry): void {
    place(e);
    let leaves = this.#loading;
    if (!leaves) {
      if (this.#size !== 0) throw new RangeError("append needs an empty keydir");
      leaves = this.#loading = [];
    }
    let leaf = leaves[leaves.length - 1];
    if (leaf && !(leaf.keys[leaf.n - 1] < key)) throw new RangeError("append needs ascending keys");
    if (!leaf || leaf.n === FILL) {
      const next = new Leaf(FILL, this.#leaves);
      if (leaf) {
        leaf.next = next;
        next.prev = leaf;
      }
      leaves.push(leaf = next);
    }
    // Packs are computed per leaf once its shared prefix is known (endAppend).
    leaf.keys[leaf.n] = key;
    leaf.setValue(leaf.n++, e);
    this.#size++;
    this.#keyBytes += stringBytes(key);
    this.#expires(key, e.expireAt, 0);
  }

  /** Finishes a load begun by {@link append}. */
  endAppend(): void {
    const leaves = this.#loading;
    this.#loading = undefined;
    if (!leaves) return;
    const n = leaves.length;
    // The last leaf may be short; the B+tree's minimum holds for every non-root node.
    if (n > 1 && leaves[n - 1].n < MIN) leaves[n - 2].balance(leaves[n - 1]);
    for (const leaf of leaves) leaf.reprefix();
    const root = this.#root;
    this.#leaves.free(root.block, root.keys);
    let level: (Leaf | Inner)[] = leaves;
    while (level.length > 1) level = this.#parents(level);
    this.#root = level[0];
    this.#version++;
    // Sized for the keys, and filled as they are read or written: caching
    // each key here cost an open of 1M keys 168 ms (194 ms to 362).
    this.#points?.reset(this.#size);
  }

  // The inner nodes over `level` (nodes in key order), as evenly filled as FILL allows.
  #parents(level: (Leaf | Inner)[]): Inner[] {
    const count = Math.ceil(level.length / FILL);
    const out: Inner[] = [];
    for (let p = 0, from = 0; p < count; p++) {
      const to = Math.round((level.length * (p + 1)) / count);
      const node = new Inner(fit(to - from), this.#inners);
      for (let i = from; i < to; i++) {
        const kid = level[i];
        // A node's first key is its lower bound: "" down the leftmost spine.
        node.keys[i - from] = i === 0 ? "" : kid.keys[0];
        node.kids[i - from] = kid;
      }
      node.n = to - from;
      node.reprefix();
      out.push(node);
      from = to;
    }
    return out;
  }

  /**
   * The entry of `key` when present; when absent, undefined or the entry of
   * another key that shares its search prefix in the leaf, which
   * {@link probed} tells apart. A lookup in a big index misses the CPU cache at
   * nearly every step, and leaving the key comparisons (the key array, the key
   * string, the node's prefix) to later, or to the record read back, which
   * carries its key, made it about a quarter faster at 1M keys: 1.00-1.07
   * against 1.33-1.38 us.
   */
  probe(key: string): Entry | undefined {
    const leaf = this.#leafFor(key);
    const i = leaf.seek(key);
    if (i < 0) return undefined;
    this.#probed = leaf;
    this.#probedSlot = i;
    return leaf.entry(i);
  }

  /**
   * Where `key`'s record lies by the point cache, if it knows (see
   * point_cache.ts): only the record read back says whether it is `key`'s. The
   * cache holds no records that expire.
   */
  cached(key: string): CachedPlace | undefined {
    return this.#points?.find(key);
  }

  /**
   * Tells the point cache where `key`'s record lies: `e` must be `key`'s
   * entry now (read back and found to hold `key`).
   */
  remember(key: string, e: Entry): void {
    this.#points?.put(key, e.fileId, e.offset, e.size, e.expireAt);
  }

  /** Whether the entry the last {@link probe} gave is `key`'s; no change may come between. */
  probed(key: string): boolean {
    return this.#probed!.keys[this.#probedSlot] === key;
  }

  /** The entry of `key` as a fresh object the caller may keep, or undefined. */
  get(key: string): Entry | undefined {
    const leaf = this.#leafFor(key);
    const i = leaf.find(key);
    return i >= 0 ? leaf.entry(i) : undefined;
  }

  /**
   * Inserts or replaces the entry of `key` (the fields are copied); returns the
   * entry it replaced, so callers need no lookup of their own first.
   */
  set(key: string, e: Entry): Entry | undefined {
    this.#old = undefined;
    const right = this.#insert(this.#root, key, place(e));
    if (right) {
      const root = new Inner(STEP, this.#inners);
      root.insert(0, "", this.#root);
      root.insert(1, right.keys[0], right);
      root.reprefix();
      this.#root = root;
    }
    // Set by #insert, which the narrowing above does not know.
    const old = this.#old as Entry | undefined;
    if (old === undefined) this.#points?.fit(this.#size);
    this.#points?.put(key, e.fileId, e.offset, e.size, e.expireAt);
    this.#expires(key, e.expireAt, old?.expireAt ?? 0);
    return old;
  }

  /**
   * Points keys at copies of their records: for each `keys[i]` (ascending) that
   * is present and for which `take(fileId, size, fileIds[i])` of its entry gives
   * the copy's size (negative: not moved), the entry moves to offset
   * `offsets[i]` of file `fileIds[i]` with that size; a negative file id skips
   * the key. One walk along the leaves serves all keys,
   * rather than a descent from the root per key.
   */
  relocate(
    keys: readonly string[],
    fileIds: ArrayLike<number>,
    offsets: ArrayLike<number>,
    take: (fileId: number, size: number, to: number) => number,
  ): void {
    if (keys.length === 0) return;
    let leaf = this.#leafFor(keys[0]), i = 0;
    for (let j = 0; j < keys.length; j++) {
      const k = keys[j], to = fileIds[j];
      while (leaf.n === 0 || leaf.keys[leaf.n - 1] < k) {
        if (!leaf.next) return;
        leaf = leaf.next;
        i = 0;
      }
      while (leaf.keys[i] < k) i++;
      if (to < 0 || leaf.keys[i] !== k) continue;
      const size = take(leaf.u[leaf.ro + i * 6 + 4], leaf.u[leaf.so + i], to);
      if (size < 0) continue;
      // The point cache is left as it was: a slot of `k` there names the
      // input, which holds the same record until it goes, and after that a
      // file that is gone (ids are never reused), which reads as a miss.
      // Updating it cost a hash and a cache miss per key, a tenth of a
      // compaction of 100k small records.
      leaf.move(i, to, offsets[j], size);
    }
  }

  /** Removes `key`; returns its entry, or undefined if it was not present. */
  delete(key: string): Entry | undefined {
    this.#old = undefined;
    if (!this.#remove(this.#root, key)) return undefined;
    this.#points?.drop(key);
    this.#points?.fit(this.#size);
    if (this.#old!.expireAt !== 0) this.#expiring--;
    const root = this.#root;
    if (root instanceof Inner && root.n === 1) {
      this.#root = root.kids[0];
      this.#inners.free(root.block, root.keys);
    }
    return this.#old;
  }

  /**
   * The keys whose entries expired by `now` (expireAt <= now), each once; they
   * stay in the keydir for the caller to remove.
   */
  expired(now: number): string[] {
    const keys = new Set<string>();
    while (this.#expiries.peek() <= now) {
      this.#expiries.pop((at, key) => {
        if (this.get(key)?.expireAt === at) keys.add(key);
      });
    }
    return [...keys];
  }

  // Keeps the expiry queue in step with a key's entry going from expiry `was`
  // to `at` (0: none). Old queue entries are left behind and skipped when
  // popped; once they outnumber the live ones the queue is built afresh.
  #expires(key: string, at: number, was: number): void {
    if (at === 0 && was === 0) return;
    this.#expiring += (at !== 0 ? 1 : 0) - (was !== 0 ? 1 : 0);
    if (at === 0) return;
    this.#expiries.push(at, key);
    if (this.#expiries.length <= 2 * this.#expiring + 1024 || this.#loading) return;
    // Only the queue is gone over (not every key): a store of many keys, few
    // of them with an expiry, pays per expiring key, not per key.
    const kept = new Set<string>();
    this.#expiries.retain((t, k) => {
      if (kept.has(k) || this.get(k)?.expireAt !== t) return false;
      kept.add(k);
      return true;
    });
  }

  /**
   * Entries in key order from `start` (inclusive) to `end` (exclusive), either bound
   * optional, descending if `reverse`. The KeyDir may change between steps: the iterator
   * then resumes after the last key it yielded, so it never repeats or skips a key that
   * stays present and keeps strict order; keys added or removed meanwhile may or may not
   * be seen.
   */
  *range(start?: string, end?: string, reverse = false): Generator<[string, Entry]> {
    let leaf!: Leaf;
    let i = 0;
    let version = -1;
    let last: string | undefined;
    for (;;) {
      if (version !== this.#version) {
        version = this.#version;
        const from = last ?? (reverse ? end : start);
        if (from === undefined) {
          leaf = this.#edgeLeaf(reverse);
          i = reverse ? leaf.n - 1 : 0;
        } else {
          leaf = this.#leafFor(from);
          const r = leaf.find(from);
          if (reverse) i = (r >= 0 ? r : ~r) - 1;
          else i = r < 0 ? ~r : last === undefined ? r : r + 1;
        }
      }
      if (reverse) {
        while (i < 0) {
          if (!leaf.prev) return;
          leaf = leaf.prev;
          i = leaf.n - 1;
        }
      } else {
        while (i >= leaf.n) {
          if (!leaf.next) return;
          leaf = leaf.next;
          i = 0;
        }
      }
      const key = leaf.keys[i];
      if (reverse ? start !== undefined && key < start : end !== undefined && key >= end) return;
      last = key;
      yield [key, leaf.entry(i)];
      i += reverse ? -1 : 1;
    }
  }

  /**
   * Calls `visit` with each key after `after` (from the first key when
   * undefined), in order, and the fields of its entry, until `visit` returns
   * false or the keys run out. No entry object is made, which makes it the walk
   * for passes over every key (compaction, checkpoints); `visit` must not
   * change the KeyDir. Walked in pieces, each resuming after the last key seen,
   * with changes between them, it sees every key that stays present exactly
   * once, as `range` does.
   */
  walk(after: string | undefined, visit: (...entry: Parameters<EntryVisitor>) => boolean): void {
    let leaf = after === undefined ? this.#edgeLeaf(false) : this.#leafFor(after), i = 0;
    if (after !== undefined) {
      const r = leaf.find(after);
      i = r >= 0 ? r + 1 : ~r;
    }
    for (;; i++) {
      while (i >= leaf.n) {
        if (!leaf.next) return;
        leaf = leaf.next;
        i = 0;
      }
      const f = leaf.f, b = leaf.fo + i * 3, u = leaf.u, r = leaf.ro + i * 6;
      if (!visit(leaf.keys[i], u[r + 4], u[r + 5], u[leaf.so + i], f[b], f[b + 1])) {
        return;
      }
    }
  }

  #leafFor(key: string): Leaf {
    let node = this.#root;
    while (node instanceof Inner) node = node.kids[node.route(key)];
    return node;
  }

  #edgeLeaf(last: boolean): Leaf {
    let node = this.#root;
    while (node instanceof Inner) node = node.kids[last ? node.n - 1 : 0];
    return node;
  }

  /** Inserts below `node`; returns the new right sibling if `node` split. */
  #insert(node: Leaf | Inner, key: string, e: Entry): Leaf | Inner | undefined {
    if (node instanceof Leaf) {
      const r = node.find(key);
      if (r >= 0) {
        this.#old = node.entry(r);
        node.setValue(r, e);
        return undefined;
      }
      this.#size++;
      this.#keyBytes += stringBytes(key);
      this.#version++;
      return node.insert(~r, key, e);
    }
    const c = node.route(key);
    const right = this.#insert(node.kids[c], key, e);
    return right && node.insert(c + 1, right.keys[0], right);
  }

  #remove(node: Leaf | Inner, key: string): boolean {
    if (node instanceof Leaf) {
      const r = node.find(key);
      if (r < 0) return false;
      this.#old = node.entry(r);
      node.remove(r);
      this.#size--;
      this.#keyBytes -= stringBytes(key);
      this.#version++;
      return true;
    }
    const c = node.route(key);
    if (!this.#remove(node.kids[c], key)) return false;
    if (node.kids[c].n < MIN) node.fix(c);
    return true;
  }
}
