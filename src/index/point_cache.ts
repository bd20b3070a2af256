/**
 * A hash-addressed cache of where keys' records lie, in front of the ordered
 * index for point reads. A get in a big B+tree misses the CPU cache at nearly
 * every level, and the pread that follows evicts what the walk brought in, so
 * the two together cost more than each alone (1M keys: 1.0 us a probe, 0.4 us
 * a pread of a page-cached record, 2.65 us the two in turn). A bucket here is
 * one or two cache lines.
 *
 * Two slots a bucket, one to two slots per key (a power of two of them): a
 * key whose bucket is full pushes out the older of the two, which is then
 * found through the tree again. Nothing in a slot needs to be trusted: a hit is read back and the
 * record's key compared, and every write or removal of a key passes through
 * here ({@link PointCache.put}, {@link PointCache.drop}), so a slot never
 * points at an older record of its own key. A compaction's moves do not: a
 * slot may name the merged file, which holds the same record until it is
 * removed, and after that a file id that no longer exists, read as a miss.
 * @module
 */

// Words per slot: the key's hash (the fingerprint), the record's offset, and its
// file id (high 16 bits) with its size (low 16 bits). A zero third word is an
// empty slot: no record is 0 bytes long. Slots come in buckets of two, the one
// written last first: with as many slots as keys, two ways keep about 73% of
// the keys against 63% for one (Poisson: a bucket keeps min(k, 2) of its k).
const WORDS = 3;
const BUCKET = 2 * WORDS;
const MIN_SLOTS = 1 << 10;
// Records this big, or in files numbered this high, are not cached: read
// through the index, which keeps 32 bits of each (offsets too, as here).
const MAX_SIZE = 0xffff;
const MAX_FILE = 0xffff;
// Keys longer than this are hashed by their first and last HASHED / 2 chars
// and their length: the hash picks a slot and nothing more.
const HASHED = 64;

/** FNV-1a over the key's chars (see HASHED), finished by a multiply-xorshift. */
export function hashKey(k: string): number {
  const n = k.length;
  let h = 0x811c9dc5 ^ n;
  if (n <= HASHED) {
    for (let i = 0; i < n; i++) h = Math.imul(h ^ k.charCodeAt(i), 0x01000193);
  } else {
    for (let i = 0; i < HASHED / 2; i++) h = Math.imul(h ^ k.charCodeAt(i), 0x01000193);
    for (let i = n - HASHED / 2; i < n; i++) h = Math.imul(h ^ k.charCodeAt(i), 0x01000193);
  }
  h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d);
  return (h ^ (h >>> 13)) >>> 0;
}

/** Where a cached record lies (reused between lookups: copy what you keep). */
export interface CachedPlace {
  fileId: number;
  offset: number;
  size: number;
}

// Up to SMALL_BUCKETS buckets (48 KiB) the table is an array, made anew at
// each size. Past that it lives in a WebAssembly.Memory of its own, which grows
// in place and is not counted as an ArrayBuffer's external memory, by which V8
// times its collections: an untouched 48 MiB ArrayBuffer alone left the
// process 10-15 B/key bigger at the margin (malloc's heap then held more free
// memory). A Memory cannot shrink: the table keeps the pages of its biggest
// size until it falls back to an array.
const SMALL_BUCKETS = 1 << 11;
const PAGE = 64 * 1024;

/** See the module comment. */
export class PointCache {
  #s = new Uint32Array((MIN_SLOTS / 2) * BUCKET);
  #memory: WebAssembly.Memory | undefined;
  // Buckets - 1, not counting the upper half a growth is filling.
  #mask = MIN_SLOTS / 2 - 1;
  // While the table doubles, buckets below #split have been split: their
  // entries whose next hash bit is set moved to the bucket as far up as the
  // table was long. A few buckets move per change (MOVE_STEP), where a whole
  // move at once held a set up for 26 ms at 1M keys.
  #growing = false;
  #split = 0;
  #place: CachedPlace = { fileId: 0, offset: 0, size: 0 };

  /** Bytes the table holds. */
  get bytes(): number {
    return this.#memory?.buffer.byteLength ?? this.#s.byteLength;
  }

  /**
   * Where `k`'s record lay when its slot was last set, or undefined; `k`
   * itself is not compared (the record read back carries it).
   */
  find(k: string): CachedPlace | undefined {
    const h = hashKey(k);
    const s = this.#s;
    let at = this.#bucket(h);
    if (s[at] !== h || s[at + 2] === 0) {
      at += WORDS;
      if (s[at] !== h || s[at + 2] === 0) return undefined;
    }
    const p = this.#place, packed = s[at + 2];
    p.offset = s[at + 1];
    p.fileId = packed >>> 16;
    p.size = packed & 0xffff;
    return p;
  }

  /**
   * Records that `k`'s newest record lies at `offset` of file `fileId`; a
   * record that expires (`expireAt` not 0) is not cached, since a get must
   * check its time first.
   */
  put(k: string, fileId: number, offset: number, size: number, expireAt: number): void {
    const h = hashKey(k);
    this.#step();
    const s = this.#s, at = this.#bucket(h);
    clear(s, at, h);
    if (expireAt !== 0 || size > MAX_SIZE || fileId > MAX_FILE) return;
    // The first slot; what it held moves second (`k`'s own slot was emptied above).
    if (s[at + 2] !== 0) {
      s[at + WORDS] = s[at];
      s[at + WORDS + 1] = s[at + 1];
      s[at + WORDS + 2] = s[at + 2];
    }
    s[at] = h;
    s[at + 1] = offset;
    s[at + 2] = (fileId << 16 | size) >>> 0;
  }

  /** Forgets `k` (removed from the index). */
  drop(k: string): void {
    const h = hashKey(k);
    this.#step();
    clear(this.#s, this.#bucket(h), h);
  }

  /**
   * Keeps one to two slots per key as the index grows or shrinks to `keys`
   * (halving only below half a slot per key): doubling starts here and goes
   * on a few buckets per change; halving, rare and cheaper, is done at once.
   */
  fit(keys: number): void {
    if (this.#growing) return;
    const buckets = this.#mask + 1;
    if (keys > buckets * 2) {
      if (!this.#resize(buckets * 2)) return;
      this.#growing = true;
      this.#split = 0;
    } else if (keys < buckets / 2 && buckets > MIN_SLOTS / 2) {
      this.#halve();
    }
  }

  /** Empties the table and sizes it for `keys` at once (after a bulk load, with nothing cached). */
  reset(keys: number): void {
    let buckets = MIN_SLOTS / 2;
    while (keys > buckets * 2) buckets *= 2;
    this.#s = new Uint32Array(0);
    this.#memory = undefined;
    this.#growing = false;
    this.#split = 0;
    if (!this.#resize(buckets)) this.#resize(buckets = MIN_SLOTS / 2);
    this.#mask = buckets - 1;
  }

  // Room for `buckets` buckets, the ones kept as they were and any added
  // empty; false (nothing changed) when the memory for them cannot be had.
  #resize(buckets: number): boolean {
    const words = buckets * BUCKET;
    if (buckets <= SMALL_BUCKETS) {
      const s = new Uint32Array(words);
      s.set(this.#s.subarray(0, words));
      this.#s = s;
      this.#memory = undefined;
      return true;
    }
    try {
      const pages = Math.ceil((words * 4) / PAGE);
      let m = this.#memory;
      if (m === undefined) {
        m = new WebAssembly.Memory({ initial: pages });
        new Uint32Array(m.buffer).set(this.#s);
        this.#memory = m;
      } else if (m.buffer.byteLength < pages * PAGE) {
        m.grow(pages - m.buffer.byteLength / PAGE);
      }
      this.#s = new Uint32Array(m.buffer as ArrayBuffer, 0, words);
      return true;
    } catch {
      // Out of memory or of address space: the table stays as it is, a
      // cache of fewer keys.
      return false;
    }
  }

  /** The first word of the bucket that holds hash `h`. */
  #bucket(h: number): number {
    const b = h & this.#mask;
    return (b < this.#split ? h & (this.#mask * 2 + 1) : b) * BUCKET;
  }

  // Splits the next MOVE_STEP buckets of a doubling. A bucket's upper partner
  // is empty until then: no hash is addressed there before its split.
  #step(): void {
    if (!this.#growing) return;
    const s = this.#s, half = this.#mask + 1;
    const end = Math.min(half, this.#split + MOVE_STEP);
    for (let b = this.#split; b < end; b++) {
      const lo = b * BUCKET;
      let hi = (b + half) * BUCKET;
      for (let at = lo; at < lo + BUCKET; at += WORDS) {
        if (s[at + 2] === 0 || (s[at] & half) === 0) continue;
        s[hi] = s[at];
        s[hi + 1] = s[at + 1];
        s[hi + 2] = s[at + 2];
        s[at + 2] = 0;
        hi += WORDS;
      }
    }
    this.#split = end;
    if (end === half) {
      this.#mask = half * 2 - 1;
      this.#growing = false;
      this.#split = 0;
    }
  }

  // Folds the upper half into the lower one, into free slots (what does not
  // fit is dropped), and empties it: a Memory keeps those buckets, which a
  // doubling must find empty.
  #halve(): void {
    const s = this.#s, half = (this.#mask + 1) / 2;
    for (let b = 0; b < half; b++) {
      const lo = b * BUCKET, hi = (b + half) * BUCKET;
      for (let at = hi; at < hi + BUCKET; at += WORDS) {
        if (s[at + 2] === 0) continue;
        const to = s[lo + 2] === 0 ? lo : s[lo + WORDS + 2] === 0 ? lo + WORDS : -1;
        if (to < 0) break;
        s[to] = s[at];
        s[to + 1] = s[at + 1];
        s[to + 2] = s[at + 2];
      }
    }
    s.fill(0, half * BUCKET);
    this.#resize(half);
    this.#mask = half - 1;
  }
}

// Buckets a doubling splits per change: a doubling starts only once there are
// more keys than slots, two per bucket, and the next only after it ends, so
// one bucket per change would keep up; four leave margin.
const MOVE_STEP = 4;

/** Empties the slots of the bucket at `b` that hold hash `h`. */
function clear(s: Uint32Array, b: number, h: number): void {
  if (s[b] === h) s[b + 2] = 0;
  if (s[b + WORDS] === h) s[b + WORDS + 2] = 0;
}
