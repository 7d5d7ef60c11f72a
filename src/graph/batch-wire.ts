/**
 * The messages between runBatch (./batch.ts) and its worker threads (./batch-worker.ts), and how tensors and
 * errors cross a thread boundary.
 *
 * Tensors travel as { dtype, dims, data } with `data` the elements in row-major order: a typed array of the
 * dtype's container (float16 as Uint16Array bits, int64 as BigInt64Array, bool as Uint8Array) or, for
 * 'string', a string[]. postMessage's structured clone keeps the typed array's class, so the receiver rebuilds
 * the same Tensor. Each tensor costs one copy of its elements per crossing (feeds to the worker, outputs
 * back): structured clone copies a typed array's whole ArrayBuffer, not just its view, so a view over part of
 * a larger buffer is sliced first and the slice transferred (`toWire`). Buffers that may back other tensors
 * (the caller's feeds, a worker session's initializers that an output aliases) are never transferred. A
 * SharedArrayBuffer-backed feed is shared with the worker, not copied; outputs are always copied.
 *
 * Errors travel as { name, message, stack, fields } and come back as instances of the same Tessera class when
 * it is one of ours (so `instanceof InputValidationError` holds for an item that failed in a worker as it does
 * for one that failed on the calling thread), otherwise as an Error with the same name.
 */
import { isDataType, type DataType, type TypedArray } from '../tensor/dtype.js';
import { KernelError, KernelNotFoundError, OpValidationError, TensorError, TesseraError, UnsupportedFeatureError } from '../tensor/errors.js';
import { Tensor } from '../tensor/tensor.js';
import { GraphError, InputValidationError, LimitExceededError, ModelFormatError, UnsupportedModelError } from './errors.js';
import type { SessionOptions } from './session.js';

/** A tensor on the wire. */
export interface WireTensor {
  readonly dtype: DataType;
  readonly dims: readonly number[];
  readonly data: TypedArray | readonly string[];
}

/** A feed on the wire: a tensor, a sequence (array of tensors) or an empty optional (null). */
export type WireValue = WireTensor | readonly WireTensor[] | null;

/** An error on the wire. */
export interface WireError {
  readonly name: string;
  readonly message: string;
  readonly stack?: string;
  /** The error's own enumerable number/string/boolean properties (e.g. LimitExceededError's needed, limit). */
  readonly fields: Readonly<Record<string, number | string | boolean>>;
}

/** What a batch worker receives as workerData. */
export interface BatchWorkerData {
  /** The model file's bytes (a view over a SharedArrayBuffer: every worker reads the same memory). */
  readonly model: Uint8Array;
  /** Options of the worker's session (already forced to backend 'cpu', threads 1). */
  readonly options: SessionOptions;
  /** Test hook: the worker exits (process.exit(70)) when asked to run this item index. */
  readonly exitOnIndexForTest?: number;
}

/**
 * Caller to worker: run one item. Names and values are parallel arrays (a feed named '__proto__' stays a feed).
 * `index` is the item's index in its runBatch call; a pooled worker serves one call at a time, so the index
 * identifies the item within the call that holds the worker. `fetches` travels with each item because calls
 * that share a worker may ask for different outputs.
 */
export interface RunItemMessage {
  readonly type: 'run';
  readonly index: number;
  /** Outputs to compute. */
  readonly fetches: readonly string[];
  readonly names: readonly string[];
  readonly values: readonly WireValue[];
}

/** Worker to caller. */
export type FromBatchWorker =
  | { readonly type: 'ready' }
  | { readonly type: 'start-failed'; readonly error: WireError }
  | { readonly type: 'done'; readonly index: number; readonly names: readonly string[]; readonly values: readonly WireTensor[] }
  | { readonly type: 'failed'; readonly index: number; readonly error: WireError };

/** True when `a` spans its whole buffer (structured clone then copies exactly its elements). */
function coversWholeBuffer(a: TypedArray): boolean {
  return a.byteOffset === 0 && a.byteLength === a.buffer.byteLength;
}

/**
 * `t` on the wire, costing one copy of its elements on the way: a typed array that covers its whole buffer is
 * left to structured clone (which copies it); a view over part of a larger buffer is sliced (the copy) and the
 * slice's buffer added to `transfer` (moved, not copied again). Nothing the tensor shares is ever transferred:
 * the sender's buffers may back other tensors (a session's initializers, views, the caller's feeds). With
 * `shareShared`, a SharedArrayBuffer-backed array is passed as is (the receiver sees the same memory, no copy);
 * without it, it is copied like any view.
 */
export function toWire(t: Tensor, transfer: Set<ArrayBuffer>, shareShared = false): WireTensor {
  const data = t.data;
  if (Array.isArray(data)) return { dtype: t.type, dims: [...t.dims], data: data as string[] };
  const arr = data as TypedArray;
  if (arr.buffer instanceof SharedArrayBuffer ? shareShared : coversWholeBuffer(arr)) return { dtype: t.type, dims: [...t.dims], data: arr };
  const copy = arr.slice() as TypedArray;
  transfer.add(copy.buffer as ArrayBuffer);
  return { dtype: t.type, dims: [...t.dims], data: copy };
}

/** A feed value on the wire (see WireValue; shared memory stays shared); anything else is refused. */
export function valueToWire(name: string, v: unknown, transfer: Set<ArrayBuffer>): WireValue {
  if (v === null) return null;
  const tensors = v instanceof Tensor ? [v] : Array.isArray(v) && v.every((e) => e instanceof Tensor) ? (v as Tensor[]) : undefined;
  // the same words as the session's own check, for an item that fails before it reaches a worker
  if (tensors?.some((t) => t.disposed)) throw new InputValidationError(`input '${name}' was disposed`);
  if (v instanceof Tensor) return toWire(v, transfer, true);
  if (tensors) return tensors.map((e) => toWire(e, transfer, true));
  throw new InputValidationError(`input '${name}' is not a Tensor, an array of Tensors (a sequence) or null (an empty optional)`);
}

/** The Tensor a WireTensor describes (checked: a malformed message fails with what was wrong). */
export function fromWire(w: WireTensor): Tensor {
  if (!isDataType(w.dtype)) throw new TesseraError(`batch worker message: unknown dtype '${String(w.dtype)}'`);
  return new Tensor(w.dtype, w.data as TypedArray, w.dims);
}

/** The value a WireValue describes. */
export function valueFromWire(w: WireValue): Tensor | Tensor[] | null {
  if (w === null) return null;
  if (Array.isArray(w)) return (w as readonly WireTensor[]).map(fromWire);
  return fromWire(w as WireTensor);
}

/** `e` on the wire. */
export function errorToWire(e: unknown): WireError {
  if (!(e instanceof Error)) return { name: 'Error', message: String(e), fields: {} };
  const fields: Record<string, number | string | boolean> = {};
  for (const [k, v] of Object.entries(e)) {
    if (k !== 'name' && k !== 'message' && k !== 'stack' && (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean')) fields[k] = v;
  }
  return { name: e.name, message: e.message, stack: e.stack, fields };
}

/** Error classes rebuilt by name (ours and the standard ones). */
const ERROR_CLASSES: ReadonlyMap<string, ErrorConstructor> = new Map(
  (
    [
      TesseraError,
      TensorError,
      OpValidationError,
      UnsupportedFeatureError,
      KernelNotFoundError,
      KernelError,
      ModelFormatError,
      UnsupportedModelError,
      GraphError,
      InputValidationError,
      LimitExceededError,
      TypeError,
      RangeError,
      SyntaxError,
      ReferenceError,
    ] as unknown as ErrorConstructor[]
  ).map((c) => [c.name, c]),
);

/**
 * The error a WireError describes: a real Error object whose prototype is the class named by `name` when it is
 * one of ERROR_CLASSES (built with Reflect.construct on Error, so no subclass constructor runs with the wrong
 * arguments), with the sender's message, stack and fields.
 */
export function errorFromWire(w: WireError): Error {
  const cls = ERROR_CLASSES.get(w.name) ?? Error;
  const e = Reflect.construct(Error, [w.message], cls) as Error;
  Object.defineProperty(e, 'name', { value: w.name, enumerable: false, writable: true, configurable: true });
  if (w.stack) e.stack = w.stack;
  for (const [k, v] of Object.entries(w.fields)) (e as unknown as Record<string, unknown>)[k] = v;
  return e;
}
