/**
 * Values that flow through a graph besides tensors: ONNX sequences and optionals.
 *
 * - A tensor is a `Tensor`.
 * - A sequence (ONNX `seq(tensor(T))`) is a plain `readonly Tensor[]` (a `TensorSequence`), every element of
 *   one dtype; shapes may differ. Sequences of sequences or maps are not supported.
 * - An optional (ONNX `optional(tensor(T))` / `optional(seq(tensor(T)))`) is either its element (the tensor
 *   or the sequence itself) or `null`, the empty optional ("none").
 *
 * So `OnnxValue = Tensor | TensorSequence | null` is what the executor binds to value names, what
 * `InferenceSession.runValues` accepts as feeds and returns as outputs, and what the conformance runner
 * compares. `undefined` keeps its existing meaning of an omitted optional input (a node input named '').
 *
 * Ownership follows the tensor rule: whoever holds a value disposes it; disposing a sequence disposes its
 * elements. Sequence operators build new arrays whose elements are views (`reshape(dims)`) of the tensors
 * they take, never the same Tensor objects, so each array owns what it holds.
 */
import { bytesPerElement } from '../tensor/dtype.js';
import { fmtShape } from '../tensor/shape.js';
import { Tensor } from '../tensor/tensor.js';

/** An ONNX sequence of tensors. */
export type TensorSequence = readonly Tensor[];

/** Any value a graph binds to a name: a tensor, a sequence of tensors, or the empty optional `null`. */
export type OnnxValue = Tensor | TensorSequence | null;

/** True for a sequence value (an array of tensors). */
export function isSequence(v: OnnxValue | undefined): v is TensorSequence {
  return Array.isArray(v);
}

/** True for a tensor value. */
export function isTensor(v: OnnxValue | undefined): v is Tensor {
  return v instanceof Tensor;
}

/** True for a well-formed value: a tensor, null, or an array of tensors. */
export function isOnnxValue(v: unknown): v is OnnxValue {
  return v === null || v instanceof Tensor || (Array.isArray(v) && v.every((t) => t instanceof Tensor));
}

/** The tensors a value holds (none for null, the elements of a sequence). */
export function tensorsOf(v: OnnxValue | undefined): readonly Tensor[] {
  if (v === null || v === undefined) return [];
  return v instanceof Tensor ? [v] : v;
}

/** Dispose a value (every element of a sequence). */
export function disposeValue(v: OnnxValue | undefined): void {
  for (const t of tensorsOf(v)) t.dispose();
}

/** Bytes a value holds (element bytes; string tensors count nominal bytes, see bytesPerElement). */
export function valueBytes(v: OnnxValue | undefined): number {
  let n = 0;
  for (const t of tensorsOf(v)) n += t.size * bytesPerElement(t.type);
  return n;
}

/** A new value that shares `v`'s storage: views of its tensors (null stays null). The caller owns it. */
export function aliasValue(v: OnnxValue): OnnxValue {
  if (v === null) return null;
  if (v instanceof Tensor) return v.reshape(v.dims);
  return v.map((t) => t.reshape(t.dims));
}

/** Apply `fn` to every tensor of a value, keeping its kind. */
export function mapValue(v: OnnxValue, fn: (t: Tensor) => Tensor): OnnxValue {
  if (v === null) return null;
  if (v instanceof Tensor) return fn(v);
  return v.map(fn);
}

/** A short description for messages: "float32 [2, 3]", "sequence of 3 float32 tensors", "none". */
export function describeValue(v: OnnxValue | undefined): string {
  if (v === undefined) return 'nothing (omitted)';
  if (v === null) return 'an empty optional (none)';
  if (v instanceof Tensor) return `a tensor ${v.type} ${fmtShape(v.dims)}`;
  return v.length === 0 ? 'an empty sequence' : `a sequence of ${v.length} ${v[0]!.type} tensors`;
}
