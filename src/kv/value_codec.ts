/**
 * KV values to stored bytes and back. A tag byte says how the rest is
 * encoded: V8 structured-clone serialization, raw bytes for a Uint8Array (as
 * Deno KV stores them), or 8 little-endian bytes for a {@link KvU64}.
 * @module
 */

import { DefaultDeserializer, DefaultSerializer } from "node:v8";
import { isKvU64, KvU64 } from "./u64.ts";

const V8 = 1;
const BYTES = 2;
const U64 = 3;

/**
 * The stored form of `value`; throws for a value structured clone rejects,
 * with Deno KV's error class and message.
 */
export function encodeValue(value: unknown): Uint8Array {
  // Bytes Deno KV takes no slice of are refused as the commit reads them (mutation.ts refusal).
  if (value instanceof Uint8Array) return tagged(BYTES, value);
  if (isKvU64(value)) return encodeU64(value.value);
  return encodeMessage(value);
}

/**
 * The stored form of a queue message: always its structured clone, as Deno
 * KV sends messages, so a KvU64 arrives as a plain `{ value }` object.
 */
export function encodeMessage(value: unknown): Uint8Array {
  if (typeof value === "object" && value !== null) refuseHostObjects(value);
  const serializer = new KvSerializer();
  serializer.writeHeader();
  try {
    serializer.writeValue(value);
  } catch (e) {
    // node:v8 has no hook for a WebAssembly.Module: its default refusal is renamed here.
    if (e instanceof Error && e.message === WASM_REFUSAL) {
      throw new TypeError("Wasm modules cannot be stored");
    }
    throw e;
  }
  return tagged(V8, serializer.releaseBuffer());
}

const WASM_REFUSAL = "Deno serializer: get_wasm_module_transfer_id not implemented";

// Structured clone as Deno KV does it, through node:v8's hooks.
class KvSerializer extends (DefaultSerializer as unknown as SerializerHooks) {
  // The error for a value it cannot clone (a plain Error by default): Deno KV's is a
  // TypeError. Other errors (a getter's own, the stack's RangeError, and the Error for a
  // SharedArrayBuffer, as in Deno KV) pass through as they are. An own property, as the
  // constructor sets the default one.
  override _getDataCloneError = TypeError;

  // node:v8 copies the bytes of a view on a SharedArrayBuffer; Deno KV refuses them.
  override _writeHostObject(view: ArrayBufferView): void {
    if (view.buffer instanceof SharedArrayBuffer) {
      throw new Error("#<SharedArrayBuffer> could not be cloned.");
    }
    // node:v8 reads the view's length, which throws for a DataView of one.
    if ((view.buffer as ArrayBuffer).detached) {
      throw new TypeError("An ArrayBuffer is detached and could not be cloned.");
    }
    super._writeHostObject(view);
  }
}

// node:v8's documented hooks, which its type declarations leave out.
type SerializerHooks = new () => DefaultSerializer & {
  _getDataCloneError: new (message: string) => Error;
  _writeHostObject(view: ArrayBufferView): void;
};

/** The stored form of a KvU64 holding `n`. */
export function encodeU64(n: bigint): Uint8Array {
  const out = new Uint8Array(9);
  out[0] = U64;
  new DataView(out.buffer).setBigUint64(1, n, true);
  return out;
}

/** The KvU64 integer of a stored value, or undefined when it holds another type. */
export function storedU64(stored: Uint8Array): bigint | undefined {
  if (stored[0] !== U64 || stored.length !== 9) return undefined;
  return new DataView(stored.buffer, stored.byteOffset + 1, 8).getBigUint64(0, true);
}

/** The value a stored form holds. */
export function decodeValue(stored: Uint8Array): unknown {
  switch (stored[0]) {
    case BYTES:
      return stored.slice(1);
    case U64:
      return new KvU64(storedU64(stored)!);
    case V8: {
      // `stored` may be a view of the store's shared read slab: nothing read
      // back points into it (strings and ArrayBuffers are copies, and views
      // get buffers of their own below), so it needs no copy first.
      const d = new OwnBuffersDeserializer(stored.subarray(1));
      d.readHeader();
      return d.readValue();
    }
  }
  throw new TypeError("Invalid value type");
}

// node:v8's documented hook for host objects, which its type declarations leave out.
type HostObjectReader = new (bytes: Uint8Array) => {
  readHeader(): boolean;
  readValue(): unknown;
  _readHostObject(): unknown;
};

// node:v8 reads a typed array or DataView as a view into the bytes it reads
// (the whole record) or into Node's shared 8 KiB pool: each gets a buffer of
// exactly its own bytes here, as a structured clone gives. (The deserializer
// keeps a view met twice one object, and a Set's order.)
class OwnBuffersDeserializer extends (DefaultDeserializer as unknown as HostObjectReader) {
  override _readHostObject(): ArrayBufferView {
    const v = super._readHostObject() as ArrayBufferView;
    const bytes = new Uint8Array(v.buffer, v.byteOffset, v.byteLength).slice();
    if (v instanceof DataView) return new DataView(bytes.buffer);
    return new (v.constructor as new (b: ArrayBuffer) => ArrayBufferView)(bytes.buffer);
  }
}

// Platform objects whose state lives outside their properties: node:v8's
// serialize writes them as empty objects. Deno KV refuses these...
const UNSUPPORTED = ["MessagePort", "ReadableStream", "WritableStream", "TransformStream"];
// ...and keeps these through Deno's own serializer, which is not public.
const UNSTORABLE = ["CryptoKey", "Blob"];

function platformClass(name: string): (abstract new (...a: never[]) => object) | undefined {
  const c = (globalThis as Record<string, unknown>)[name];
  return typeof c === "function" ? c as abstract new (...a: never[]) => object : undefined;
}
const unsupported = UNSUPPORTED.map(platformClass).filter((c) => c !== undefined);
const unstorable = UNSTORABLE.map(platformClass).filter((c) => c !== undefined);

// Throws TypeError when `value` itself is such an object, rather than store
// an empty object. Only the value itself: a walk of the whole graph ran its
// getters twice, slowed big values down several times, and never ended on a
// getter that makes a new object each time (nested ones are stored empty; see
// the README's "What differs").
function refuseHostObjects(value: object): void {
  let found: (abstract new (...a: never[]) => object) | undefined;
  try {
    found = unsupported.find((c) => value instanceof c) ??
      unstorable.find((c) => value instanceof c);
  } catch {
    // A proxy whose traps throw: serialize gives its own error.
    return;
  }
  if (found === undefined) return;
  throw new TypeError(
    unsupported.includes(found)
      ? "Unsupported object type"
      : `a ${found.name} cannot be stored in a Cask KV store`,
  );
}

function tagged(tag: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(body.length + 1);
  out[0] = tag;
  // A view of a transferred buffer is empty and cannot be copied from: Deno KV stores no bytes.
  if (body.length > 0) out.set(body, 1);
  return out;
}
