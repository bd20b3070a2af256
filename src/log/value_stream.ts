/**
 * Streamed values: writing a value of unknown length to a temporary file as it
 * arrives, and reading a record's value back in chunks. A reader's chunks are
 * checked against the record's CRC as they pass; the last chunk is held back
 * until the whole value has matched, so a damaged value errors the stream
 * before it ends and no consumer mistakes it for a complete one.
 * @module
 */

import { ClosedError, CorruptionError, InvalidArgumentError, IOError } from "../base/errors.ts";
import { keyEquals, readable } from "../base/keys.ts";
import type { Signal } from "../base/signal.ts";
import { crc32, readHeader, recordSize } from "../codec/codec.ts";
import { MAX_STREAMED_VALUE, RecordCrc } from "../codec/stream_record.ts";
import { FILE_HEADER_SIZE, HEADER_SIZE } from "../codec/format.ts";
import type { DataFile } from "./datafile.ts";
import { readFullAt, TEMP, writeAll } from "./fsutil.ts";
import { readValue, type RecordPlace } from "./reader.ts";
import type { Writer } from "./writer.ts";
import { closeSync } from "node:fs";

const CHUNK = 1024 * 1024;

/** A value written to a temporary file, with what sealing its record needs. */
export interface SpooledValue {
  tmp: string;
  /** Where the value starts in the file (after room for the heads). */
  offset: number;
  length: number;
  crc: number;
}

/**
 * Writes the chunks of `source` to a new temporary file in `dir` after room for
 * a file header and a record head for `keyLen` key bytes, fsynced; the file is
 * removed again if anything fails. At most `size` bytes when given, and exactly.
 * Once `stop` fires (the store closes), the source is cancelled and this
 * rejects with ClosedError, whether or not the source has more to give.
 */
export async function spoolValue(
  dir: string,
  keyLen: number,
  source: ReadableStream<Uint8Array>,
  size?: number,
  stop?: Signal,
): Promise<SpooledValue> {
  // The index keeps a record's size in 32 bits: header, key and value together.
  const max = MAX_STREAMED_VALUE - HEADER_SIZE - keyLen;
  if (size !== undefined && size > max) {
    throw new InvalidArgumentError(
      `a value of ${size} bytes does not fit a record with a ${keyLen}-byte key (at most ${max})`,
    );
  }
  const limit = size ?? max;
  const tmp = `${dir}/blob.${crypto.randomUUID()}${TEMP}`;
  // The file's own failures (a full disk) are IOErrors; the source's pass as they are.
  const io = <T>(p: Promise<T>): Promise<T> =>
    p.catch((e) => {
      throw new IOError(`write to ${tmp} failed: ${(e as Error)?.message ?? e}`, { cause: e });
    });
  const file = await io(Deno.open(tmp, { write: true, createNew: true }));
  let length = 0, crc = 0;
  const offset = FILE_HEADER_SIZE + HEADER_SIZE + keyLen;
  // A byte stream (a file's, stdin's) is read into one buffer, passed back
  // each time: a fresh buffer per chunk let V8 pile up about 64 MiB of spent
  // ones before collecting them (1 GiB from a file: 124 MiB of RSS).
  const byob = byobReader(source);
  const plain = byob ? undefined : source.getReader();
  const reader = byob ?? plain!;
  let room = new Uint8Array(byob ? SPOOL_CHUNK : 0);
  try {
    await io(writeAll(file, new Uint8Array(offset)));
    for (;;) {
      const read = byob ? byob.read(room) : plain!.read();
      // Undefined once the store closes; a read always gives a result object.
      const next = stop ? await stop.race(read, undefined) : await read;
      if (next === undefined) throw new ClosedError();
      if (next.done) break;
      const chunk: unknown = next.value;
      // The read took the buffer over; its view of the same bytes is the next room.
      if (byob) room = new Uint8Array(next.value.buffer as ArrayBuffer);
      if (!(chunk instanceof Uint8Array)) {
        throw new InvalidArgumentError("a value stream must yield Uint8Array chunks");
      }
      readable(chunk, "a value stream chunk");
      length += chunk.length;
      if (length > limit) {
        throw new InvalidArgumentError(`the stream holds more than ${limit} bytes`);
      }
      crc = crc32(chunk, crc);
      await io(writeAll(file, chunk));
    }
    if (size !== undefined && length !== size) {
      throw new InvalidArgumentError(`the stream held ${length} bytes, not the ${size} announced`);
    }
    await io(file.syncData());
  } catch (e) {
    reader.cancel(e).catch(() => {});
    file.close();
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
  file.close();
  return { tmp, offset, length, crc };
}

// Bytes a byte stream's source is asked for at a time.
const SPOOL_CHUNK = 1024 * 1024;

// A BYOB reader of `source` when it is a byte stream; undefined otherwise.
function byobReader(source: ReadableStream<Uint8Array>): ReadableStreamBYOBReader | undefined {
  try {
    return source.getReader({ mode: "byob" });
  } catch {
    return undefined;
  }
}

/**
 * The value of the record of key `k` at `at` in `file` as a stream of chunks,
 * checked as it is read (see the module doc). The file is opened at once, so a
 * compaction that removes it meanwhile does not cut the stream short.
 * @throws {CorruptionError} the record's header or key is not what the index says.
 */
export function valueStream(
  file: DataFile,
  at: RecordPlace,
  k: string,
  writer: Writer,
): ReadableStream<Uint8Array> {
  if (at.offset + at.size > file.size) {
    // Still in the writer's buffer: small, and already checked by readValue.
    const value = readValue(file, at, k, writer);
    // A byte stream too, so a BYOB reader works on it; enqueue() transfers
    // the buffer, so it gets a copy of its own (a value may share a slab).
    return new ReadableStream({
      type: "bytes",
      start(c) {
        if (value.length > 0) c.enqueue(value.slice());
        c.close();
      },
    });
  }
  const fmt = file.fmt;
  const fd = file.openOwn();
  const fail = (why: string) => {
    closeSync(fd);
    return new CorruptionError(`record at ${file.path}:${at.offset} ${why}`, file.path, at.offset);
  };
  const head = new Uint8Array(fmt.headerSize + k.length);
  readFullAt(fd, at.offset, head);
  const h = readHeader(fmt, head, 0);
  if (!h || h.keyLen !== k.length || recordSize(fmt, h.keyLen, h.valueLen) !== at.size) {
    throw fail("fails its header check");
  }
  if (!keyEquals(head, fmt.headerSize, k)) throw fail("holds another key");
  const crc = new RecordCrc(fmt, head);
  const end = at.offset + at.size;
  let pos = at.offset + head.length;
  let closed = false;
  const close = () => {
    if (!closed) closeSync(fd);
    closed = true;
  };
  const damaged = () =>
    new CorruptionError(
      `value at ${file.path}:${at.offset} fails its checksum`,
      file.path,
      at.offset,
    );
  // A byte stream: a reader that brings its own buffer (a BYOB reader) has
  // the value read straight into it, so streaming allocates nothing per chunk.
  const stream = new ReadableStream({
    type: "bytes",
    pull(c) {
      const req = c.byobRequest;
      const room = req?.view ? req.view.byteLength : CHUNK;
      const n = Math.min(room, end - pos);
      const into = req?.view
        ? new Uint8Array(req.view.buffer, req.view.byteOffset, n)
        : new Uint8Array(n);
      readFullAt(fd, pos, into);
      pos += n;
      crc.update(into);
      const last = pos >= end;
      if (last) {
        close();
        if (!crc.matches()) return c.error(damaged());
      }
      // respond(0) is refused while the stream is open: an empty value's
      // pending read is answered by the close below.
      if (req?.view) n > 0 && req.respond(n);
      else if (n > 0) c.enqueue(into);
      if (last) {
        c.close();
        // A pending BYOB read is answered with an empty view once closed.
        c.byobRequest?.respond(0);
      }
    },
    cancel: close,
  });
  // A stream nobody reads to its end or cancels would hold its descriptor for
  // good: it is closed once the stream is collected.
  unread.register(stream, close);
  return stream;
}

const unread = new FinalizationRegistry<() => void>((close) => close());
