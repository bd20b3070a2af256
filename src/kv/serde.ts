/**
 * The errors Deno KV's argument conversion (serde_v8) raises for a value of
 * the wrong type, in its words, so code matching on them keeps working.
 * @module
 */

import { types } from "node:util";

// A brand check: it throws for anything but a real module (a Proxy of one included).
function isWasmModule(v: object): boolean {
  try {
    WebAssembly.Module.exports(v as WebAssembly.Module);
    return true;
  } catch {
    return false;
  }
}

const memoryBuffer = Object.getOwnPropertyDescriptor(WebAssembly.Memory.prototype, "buffer")!.get!;
function isWasmMemory(v: object): boolean {
  try {
    memoryBuffer.call(v);
    return true;
  } catch {
    return false;
  }
}

// serde_v8 asks V8 which kind an object is in this order (the first match names it).
const OBJECT_KINDS: [string, (v: object) => boolean][] = [
  ["Module", types.isModuleNamespaceObject],
  ["WASM module", isWasmModule],
  ["WASM memory object", isWasmMemory],
  ["Proxy", types.isProxy],
  ["SharedArrayBuffer", types.isSharedArrayBuffer],
  ["DataView", types.isDataView],
  ["BigUint64Array", types.isBigUint64Array],
  ["BigInt64Array", types.isBigInt64Array],
  ["Float64Array", types.isFloat64Array],
  ["Float32Array", types.isFloat32Array],
  ["Int32Array", types.isInt32Array],
  ["Uint32Array", types.isUint32Array],
  ["Int16Array", types.isInt16Array],
  ["Uint16Array", types.isUint16Array],
  ["Int8Array", types.isInt8Array],
  ["Uint8ClampedArray", types.isUint8ClampedArray],
  ["Uint8Array", types.isUint8Array],
  ["TypedArray", types.isTypedArray],
  ["ArrayBufferView", ArrayBuffer.isView],
  ["ArrayBuffer", types.isArrayBuffer],
  ["WeakSet", types.isWeakSet],
  ["WeakMap", types.isWeakMap],
  ["Set Iterator", types.isSetIterator],
  ["Map Iterator", types.isMapIterator],
  ["Set", types.isSet],
  ["Map", types.isMap],
  ["Promise", types.isPromise],
  ["Generator function", types.isGeneratorFunction],
  ["Async function", types.isAsyncFunction],
  ["RegExp", types.isRegExp],
  ["Date", types.isDate],
];

/** How serde_v8 names the type of `v`. */
export function serdeType(v: unknown): string {
  if (typeof v === "object" && v !== null || typeof v === "function") {
    const kind = OBJECT_KINDS.find(([, is]) => is(v));
    if (kind) return kind[0];
  }
  if (typeof v === "number") return "Number";
  if (typeof v === "boolean") return "Boolean";
  if (isSerdeArray(v)) return "array";
  if (v === null) return "null";
  // What is left: the primitives serde_v8 names by their typeof, and plain objects it does not name.
  return typeof v === "object" ? "unknown" : typeof v;
}

/**
 * Whether serde_v8 takes `v` as an array: a Proxy is refused even when
 * `Array.isArray` sees the array inside it.
 */
export function isSerdeArray(v: unknown): v is unknown[] {
  return Array.isArray(v) && !types.isProxy(v);
}

/**
 * `read` of each element of `list` (an array, or any array-like, as `map`
 * takes it), in order, as Deno KV reads its request: the first hole fails
 * with serde_v8's TypeError for `expected` before any later element is read.
 */
export function readEach<T>(
  list: ArrayLike<unknown>,
  read: (v: unknown) => T,
  expected: string,
): T[] {
  // Deno KV's getMany calls map on it, which throws so for these.
  if (list === null || list === undefined) {
    throw new TypeError("Array.prototype.map called on null or undefined");
  }
  const o = Object(list) as ArrayLike<unknown>;
  const n = Math.min(Math.max(Math.trunc(Number(o.length)) || 0, 0), Number.MAX_SAFE_INTEGER);
  const out: T[] = [];
  for (let i = 0; i < n; i++) {
    if (!(i in o)) throw serdeError(expected, undefined);
    out.push(read(o[i]));
  }
  return out;
}

/** serde_v8's TypeError for `v` where a value of type `expected` was wanted. */
export function serdeError(expected: string, v: unknown): TypeError {
  return new TypeError(`serde_v8 error: invalid type; expected: ${expected}, got: ${serdeType(v)}`);
}

/** serde_v8's error for bytes it takes no slice of (a resizable or shared buffer's); undefined for others. */
export function sliceError(view: ArrayBufferView): TypeError | undefined {
  const b = view.buffer as ArrayBuffer & { growable?: boolean };
  if (b.resizable || b.growable) {
    return new TypeError("serde_v8 error: can't create slice from resizable ArrayBuffer");
  }
  if (b instanceof SharedArrayBuffer) return serdeError("buffer", view);
}

/**
 * The variant an enum argument names, read as serde_v8 reads it: a string (or
 * String object) is the variant; an object must have exactly one enumerable
 * key, the variant, whatever its value. Throws serde_v8's TypeError otherwise.
 */
export function serdeVariant(v: unknown): string {
  if (typeof v === "string") return v;
  if (types.isStringObject(v)) return v.valueOf();
  if (typeof v !== "object" && typeof v !== "function" || v === null) throw serdeError("enum", v);
  const keys = Object.keys(v);
  if (keys.length !== 1) {
    throw new TypeError(`serde_v8 error: length mismatch, got: ${keys.length}, expected: 1`);
  }
  // V8 hands an array index over as a number.
  const index = Number(keys[0]);
  if (String(index >>> 0) === keys[0] && index !== 2 ** 32 - 1) throw serdeError("string", index);
  return keys[0];
}
