/**
 * Read-only memory maps of sealed data files, through libc's mmap via Deno's
 * FFI (opt-in: the `mmap` open option, with `--allow-ffi`). A read from a map
 * is a copy out of the page cache with no system call, where a pread costs one
 * (measured here: ~5M reads/s from a map against ~1M preads/s).
 *
 * Two rules keep a map from crashing the process. A mapped page past the end
 * of its file faults (SIGBUS) when touched, so only files that are never
 * truncated are mapped (sealed files of a store this process writes), and a
 * map covers only the bytes on disk when it was made. And a view of the map
 * must not outlive it: views never leave the synchronous read that made them
 * (values are copied out), so unmapping between two reads is always safe.
 * @module
 */

// The same values on Linux and macOS.
const O_RDONLY = 0;
const PROT_READ = 1;
const MAP_SHARED = 1;
const SEEK_END = 2;
// mmap's MAP_FAILED: (void*)-1.
const MAP_FAILED = 0xffff_ffff_ffff_ffffn;

const SYMBOLS = {
  open: { parameters: ["buffer", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  lseek: { parameters: ["i32", "i64", "i32"], result: "i64" },
  mmap: { parameters: ["pointer", "usize", "i32", "i32", "i32", "i64"], result: "pointer" },
  munmap: { parameters: ["pointer", "usize"], result: "i32" },
} as const;

type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

const LIBC: Partial<Record<typeof Deno.build.os, string>> = {
  linux: "libc.so.6",
  darwin: "libSystem.B.dylib",
};

let libc: Libc | null | undefined;

// libc's symbols, or null where they cannot be had: FFI not granted (checked
// without a prompt), or a platform without mmap.
function loadLibc(): Libc | null {
  if (libc !== undefined) return libc;
  libc = null;
  const name = LIBC[Deno.build.os];
  if (name && Deno.permissions.querySync({ name: "ffi" }).state === "granted") {
    try {
      libc = Deno.dlopen(name, SYMBOLS).symbols;
    } catch {
      // No such library here: reads stay on pread.
    }
  }
  return libc;
}

/** Whether files can be mapped in this process (FFI granted, libc found). */
export function mappingAvailable(): boolean {
  return loadLibc() !== null;
}

const utf8 = new TextEncoder();

/** A read-only map of the first `length` bytes of one file. */
export class MappedFile {
  #pointer: Deno.PointerObject | null;
  #bytes: Uint8Array;

  private constructor(pointer: Deno.PointerObject, readonly length: number) {
    this.#pointer = pointer;
    this.#bytes = new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(pointer, length));
  }

  /**
   * Maps bytes [0, length) of the file at `path`, which must hold at least that
   * many bytes and never be truncated while mapped; undefined when mapping is
   * unavailable or fails (the caller reads with pread instead).
   */
  static map(path: string, length: number): MappedFile | undefined {
    const c = loadLibc();
    if (!c || length <= 0) return undefined;
    const fd = c.open(utf8.encode(path + "\0"), O_RDONLY);
    if (fd < 0) return undefined;
    try {
      // The file opened by path must be the one the caller sized: a shorter one
      // would fault on the pages past its end.
      if (Number(c.lseek(fd, 0n, SEEK_END)) < length) return undefined;
      const p = c.mmap(null, BigInt(length), PROT_READ, MAP_SHARED, fd, 0n);
      if (p === null || Deno.UnsafePointer.value(p) === MAP_FAILED) return undefined;
      try {
        return new MappedFile(p, length);
      } catch {
        // No ArrayBuffer over it (say, too long for one): give the map back.
        c.munmap(p, BigInt(length));
        return undefined;
      }
    } finally {
      // The map holds its own reference to the file.
      c.close(fd);
    }
  }

  /**
   * Bytes [offset, offset + size) of the map, valid only until the caller
   * returns (it must copy what it keeps); undefined when they lie past the map.
   */
  view(offset: number, size: number): Uint8Array | undefined {
    if (this.#pointer === null || offset + size > this.length) return undefined;
    return this.#bytes.subarray(offset, offset + size);
  }

  /** Releases the map; later views are undefined. */
  unmap(): void {
    if (this.#pointer === null) return;
    libc!.munmap(this.#pointer, BigInt(this.length));
    this.#pointer = null;
    this.#bytes = new Uint8Array(0);
  }
}
