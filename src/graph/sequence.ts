/**
 * The sequence and optional operators, run by the executor on OnnxValues (./values.ts).
 *
 * Why here and not as kernels: runOp's contract is tensors in, tensors out, checked against a schema's
 * output specs; these operators take or return sequences and empty optionals, and SequenceMap runs a
 * subgraph per element like Loop does. So, like If/Loop/Scan, the executor runs them, through
 * `runSequenceOp`; whatever tensor math they need (Concat for ConcatFromSequence) goes through runOp and the
 * ordinary kernels. Each operator validates its inputs here and throws OpValidationError naming the op, the
 * node, the input and what was expected, as schemas do.
 *
 * Semantics (ONNX Operators.md, opsets 11..21):
 * - SequenceEmpty(dtype) -> []. SequenceConstruct(x...) -> [x...] (one dtype). SequenceLength(s) -> int64 scalar.
 * - SequenceAt(s, i), i in [-n, n-1]; SequenceErase(s, i = -1), i in [-n, n-1];
 *   SequenceInsert(s, x, i = n), i in [-n, n]; x must have the elements' dtype. Negative i counts from the end.
 * - ConcatFromSequence(s, axis, new_axis = 0): Concat along axis; with new_axis the elements are stacked
 *   along a new axis (axis in [-r-1, r]).
 * - SplitToSequence(x, split?, axis = 0, keepdims = 1): no split -> pieces of length 1 (axis dropped when
 *   keepdims = 0); a scalar split -> pieces of that length (the last may be shorter); a 1-D split -> those
 *   lengths, which must add up to the axis length.
 * - SequenceMap(s, extra...; body): runs body once per element i with s[i] and, per extra input, its i-th
 *   element (a sequence of the same length) or the tensor itself; each body output becomes a sequence.
 * - Optional(x?; type): x, or none without an input. OptionalHasElement(x?) -> bool scalar (false for none
 *   or an omitted input). OptionalGetElement(x): x; an error for none.
 * - Identity of a sequence or optional passes it through (tensors go to the Identity kernel as before).
 *
 * Results never reuse input Tensor objects: elements are views (`reshape(dims)`) owned by the new sequence.
 * Cost: O(n) tensor views per operator (a sequence is copied as an array of views, never element data), plus
 * the Concat copy for ConcatFromSequence; SplitToSequence returns strided views (no copy).
 */
import type { AttrValue } from '../kernels/registry.js';
import { dataTypeFromOnnxCode } from '../tensor/dtype.js';
import { OpValidationError } from '../tensor/errors.js';
import { fmtShape } from '../tensor/shape.js';
import { Tensor } from '../tensor/tensor.js';
import { Graph, type Node } from './ir.js';
import { aliasValue, describeValue, disposeValue, isSequence, isTensor, type OnnxValue, type TensorSequence } from './values.js';

/** What a sequence operator may ask of the executor. */
export interface SequenceOpEnv {
  /** Opset of the default domain in effect. */
  readonly opset: number;
  /** Run a tensor operator (through runOp and the CPU kernels). */
  runOp(op: string, inputs: readonly (Tensor | undefined)[], attrs: Readonly<Record<string, AttrValue | undefined>>): Tensor[];
  /** Run a subgraph with `bindings` for its inputs (outer values visible); returns its outputs, owned by the caller. */
  runBody(body: Graph, bindings: ReadonlyMap<string, OnnxValue>): OnnxValue[];
}

/** Operators of the default domain that `runSequenceOp` runs. */
export const SEQUENCE_OPS: ReadonlySet<string> = new Set([
  'SequenceEmpty',
  'SequenceConstruct',
  'SequenceInsert',
  'SequenceAt',
  'SequenceErase',
  'SequenceLength',
  'ConcatFromSequence',
  'SplitToSequence',
  'SequenceMap',
  'Optional',
  'OptionalHasElement',
  'OptionalGetElement',
]);

/** True when the executor runs `opType` (default domain) through `runSequenceOp`. */
export function isSequenceOp(opType: string, inputs?: readonly (OnnxValue | undefined)[]): boolean {
  if (SEQUENCE_OPS.has(opType)) return true;
  // Identity of a sequence or an optional value; tensors keep going to the Identity kernel
  return opType === 'Identity' && inputs !== undefined && inputs[0] !== undefined && !isTensor(inputs[0]);
}

/** Attributes each operator accepts (unknown attributes are errors, as for schema-defined operators). */
const ATTRIBUTES: Readonly<Record<string, readonly string[]>> = {
  SequenceEmpty: ['dtype'],
  ConcatFromSequence: ['axis', 'new_axis'],
  SplitToSequence: ['axis', 'keepdims'],
  SequenceMap: ['body'],
  Optional: ['type'],
};

function fail(node: Node, message: string): never {
  throw new OpValidationError(`${node.opType} (node '${node.name}')`, message);
}

/** Run one sequence or optional operator. Returns values the caller owns. */
export function runSequenceOp(node: Node, inputs: readonly (OnnxValue | undefined)[], env: SequenceOpEnv): OnnxValue[] {
  const allowed = ATTRIBUTES[node.opType] ?? [];
  for (const name of Object.keys(node.attrs)) {
    if (!allowed.includes(name)) fail(node, `unknown attribute '${name}'; known attributes: ${allowed.length ? allowed.join(', ') : 'none'}`);
  }
  switch (node.opType) {
    case 'Identity':
      return [aliasValue(inputs[0] as OnnxValue)];
    case 'SequenceEmpty':
      return [sequenceEmpty(node)];
    case 'SequenceConstruct':
      return [sequenceConstruct(node, inputs)];
    case 'SequenceInsert':
      return [sequenceInsert(node, inputs)];
    case 'SequenceAt':
      return [sequenceAt(node, inputs)];
    case 'SequenceErase':
      return [sequenceErase(node, inputs)];
    case 'SequenceLength':
      return [new Tensor('int64', new BigInt64Array([BigInt(sequenceInput(node, inputs, 0, 'input_sequence').length)]), [])];
    case 'ConcatFromSequence':
      return [concatFromSequence(node, inputs, env)];
    case 'SplitToSequence':
      return [splitToSequence(node, inputs)];
    case 'SequenceMap':
      return sequenceMap(node, inputs, env);
    case 'Optional':
      return [optional(node, inputs)];
    case 'OptionalHasElement':
      return [new Tensor('bool', new Uint8Array([inputs[0] === undefined || inputs[0] === null ? 0 : 1]), [])];
    case 'OptionalGetElement': {
      const v = inputs[0];
      if (v === undefined) fail(node, "input 0 'input' is required but missing");
      if (v === null) fail(node, "input 0 'input' is an empty optional (none); there is no element to get");
      return [aliasValue(v)];
    }
    default:
      return fail(node, 'not a sequence or optional operator');
  }
}

// ---------------------------------------------------------------------------------------------------------
// Input helpers

function sequenceInput(node: Node, inputs: readonly (OnnxValue | undefined)[], i: number, name: string): TensorSequence {
  const v = inputs[i];
  if (!isSequence(v)) fail(node, `input ${i} '${name}' is ${describeValue(v)}; expected a sequence`);
  return v;
}

function tensorInput(node: Node, inputs: readonly (OnnxValue | undefined)[], i: number, name: string): Tensor {
  const v = inputs[i];
  if (!isTensor(v)) fail(node, `input ${i} '${name}' is ${describeValue(v)}; expected a tensor`);
  return v;
}

/** An int attribute (checked) or its default. */
function intAttr(node: Node, name: string, dflt: number): number {
  const v = node.attrs[name];
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v)) fail(node, `attribute '${name}' must be an int, got ${String(v)}`);
  return v;
}

/** The value of a scalar (or one-element) int32/int64 position input, or undefined when omitted. */
function positionInput(node: Node, inputs: readonly (OnnxValue | undefined)[], i: number): number | undefined {
  const v = inputs[i];
  if (v === undefined) return undefined;
  if (!isTensor(v)) fail(node, `input ${i} 'position' is ${describeValue(v)}; expected an int32 or int64 scalar`);
  if ((v.type !== 'int32' && v.type !== 'int64') || v.size !== 1 || v.rank > 1) {
    fail(node, `input ${i} 'position' is ${v.type} ${fmtShape(v.dims)}; expected an int32 or int64 scalar`);
  }
  return Number(v.data[0]);
}

/** A position normalized into [0, n) (or [0, n] when `inclusiveEnd`), negative values counting from the end. */
function normalizePosition(node: Node, position: number, n: number, inclusiveEnd: boolean): number {
  const hi = inclusiveEnd ? n : n - 1;
  if (position < -n || position > hi) {
    fail(node, `position ${position} is out of range for a sequence of ${n} tensors; expected a value in [${-n}, ${hi}]`);
  }
  return position < 0 ? position + n : position;
}

function checkElementType(node: Node, seq: TensorSequence, t: Tensor, what: string): void {
  const first = seq[0];
  if (first && first.type !== t.type) fail(node, `${what} has type ${t.type} but the sequence holds ${first.type} tensors`);
}

const views = (seq: TensorSequence): Tensor[] => seq.map((t) => t.reshape(t.dims));

// ---------------------------------------------------------------------------------------------------------
// Operators

function sequenceEmpty(node: Node): TensorSequence {
  const code = intAttr(node, 'dtype', 1);
  if (!dataTypeFromOnnxCode(code)) fail(node, `attribute 'dtype' is ${code}, not an ONNX tensor type Tessera supports`);
  return [];
}

function sequenceConstruct(node: Node, inputs: readonly (OnnxValue | undefined)[]): TensorSequence {
  if (inputs.length === 0) fail(node, "needs at least one 'inputs' tensor, got none");
  const tensors = inputs.map((_, i) => tensorInput(node, inputs, i, `inputs[${i}]`));
  const first = tensors[0]!;
  tensors.forEach((t, i) => {
    if (t.type !== first.type) fail(node, `input ${i} 'inputs[${i}]' has type ${t.type} but input 0 has ${first.type}; they must match`);
  });
  return views(tensors);
}

function sequenceInsert(node: Node, inputs: readonly (OnnxValue | undefined)[]): TensorSequence {
  const seq = sequenceInput(node, inputs, 0, 'input_sequence');
  const t = tensorInput(node, inputs, 1, 'tensor');
  checkElementType(node, seq, t, "input 1 'tensor'");
  const p = positionInput(node, inputs, 2);
  const at = p === undefined ? seq.length : normalizePosition(node, p, seq.length, true);
  const out = views(seq);
  out.splice(at, 0, t.reshape(t.dims));
  return out;
}

function sequenceAt(node: Node, inputs: readonly (OnnxValue | undefined)[]): Tensor {
  const seq = sequenceInput(node, inputs, 0, 'input_sequence');
  const p = positionInput(node, inputs, 1);
  if (p === undefined) fail(node, "input 1 'position' is required but missing");
  const t = seq[normalizePosition(node, p, seq.length, false)]!;
  return t.reshape(t.dims);
}

function sequenceErase(node: Node, inputs: readonly (OnnxValue | undefined)[]): TensorSequence {
  const seq = sequenceInput(node, inputs, 0, 'input_sequence');
  if (seq.length === 0) fail(node, 'cannot erase from an empty sequence');
  const p = positionInput(node, inputs, 1);
  const at = normalizePosition(node, p ?? -1, seq.length, false);
  return views(seq.filter((_, i) => i !== at));
}

function concatFromSequence(node: Node, inputs: readonly (OnnxValue | undefined)[], env: SequenceOpEnv): Tensor {
  const seq = sequenceInput(node, inputs, 0, 'input_sequence');
  if (node.attrs['axis'] === undefined) fail(node, "attribute 'axis' is required");
  const axis = intAttr(node, 'axis', 0);
  const newAxis = intAttr(node, 'new_axis', 0);
  if (newAxis !== 0 && newAxis !== 1) fail(node, `attribute 'new_axis' is ${newAxis}; expected 0 or 1`);
  if (seq.length === 0) fail(node, "input 0 'input_sequence' is an empty sequence; there is nothing to concatenate");
  const rank = seq[0]!.rank;
  seq.forEach((t, i) => {
    if (t.rank !== rank) fail(node, `element ${i} has shape ${fmtShape(t.dims)} (rank ${t.rank}) but element 0 has rank ${rank}; all must have one rank`);
  });
  if (newAxis === 0) {
    if (axis < -rank || axis >= rank) fail(node, `attribute 'axis' is ${axis}; expected a value in [${-rank}, ${rank - 1}] for elements of rank ${rank}`);
    return env.runOp('Concat', seq, { axis })[0]!;
  }
  // stack: each element gets a size-1 axis at `axis` (in [-rank-1, rank]), then Concat along it
  if (axis < -rank - 1 || axis > rank) fail(node, `attribute 'axis' is ${axis}; expected a value in [${-rank - 1}, ${rank}] with new_axis = 1 for elements of rank ${rank}`);
  const a = axis < 0 ? axis + rank + 1 : axis;
  const expanded = seq.map((t) => t.reshape([...t.dims.slice(0, a), 1, ...t.dims.slice(a)]));
  try {
    return env.runOp('Concat', expanded, { axis: a })[0]!;
  } finally {
    for (const t of expanded) t.dispose();
  }
}

function splitToSequence(node: Node, inputs: readonly (OnnxValue | undefined)[]): TensorSequence {
  const x = tensorInput(node, inputs, 0, 'input');
  const splitV = inputs[1];
  const rank = x.rank;
  const axisAttr = intAttr(node, 'axis', 0);
  const keepdims = intAttr(node, 'keepdims', 1);
  if (rank === 0) fail(node, "input 0 'input' is a scalar; SplitToSequence needs rank >= 1");
  if (axisAttr < -rank || axisAttr >= rank) fail(node, `attribute 'axis' is ${axisAttr}; expected a value in [${-rank}, ${rank - 1}] for input 'input' of shape ${fmtShape(x.dims)}`);
  if (keepdims !== 0 && keepdims !== 1) fail(node, `attribute 'keepdims' is ${keepdims}; expected 0 or 1`);
  const axis = axisAttr < 0 ? axisAttr + rank : axisAttr;
  const len = x.dims[axis]!;
  let lengths: number[];
  let dropAxis = false;
  if (splitV === undefined) {
    lengths = new Array<number>(len).fill(1);
    dropAxis = keepdims === 0;
  } else {
    if (!isTensor(splitV) || (splitV.type !== 'int32' && splitV.type !== 'int64') || splitV.rank > 1) {
      fail(node, `input 1 'split' is ${describeValue(splitV)}; expected an int32 or int64 scalar or 1-D tensor`);
    }
    const values: number[] = [];
    for (const v of splitV.data as Int32Array | BigInt64Array) values.push(Number(v));
    if (splitV.rank === 0) {
      const size = values[0]!;
      if (!(size > 0)) fail(node, `input 1 'split' is ${size}; a scalar split must be a positive piece length`);
      lengths = [];
      for (let done = 0; done < len; done += size) lengths.push(Math.min(size, len - done));
    } else {
      if (values.some((v) => v < 0)) fail(node, `input 1 'split' is [${values.join(', ')}]; lengths must be non-negative`);
      const total = values.reduce((a, b) => a + b, 0);
      if (total !== len) fail(node, `input 1 'split' is [${values.join(', ')}] (sum ${total}); the lengths must add up to dim ${axis} of 'input' ${fmtShape(x.dims)}, which is ${len}`);
      lengths = values;
    }
  }
  const out: Tensor[] = [];
  let start = 0;
  for (const n of lengths) {
    const piece = x.slice([start], [start + n], [axis]);
    if (dropAxis) {
      out.push(piece.reshape(piece.dims.filter((_, i) => i !== axis)));
      piece.dispose();
    } else out.push(piece);
    start += n;
  }
  return out;
}

function sequenceMap(node: Node, inputs: readonly (OnnxValue | undefined)[], env: SequenceOpEnv): OnnxValue[] {
  const body = node.attrs['body'];
  if (!(body instanceof Graph)) fail(node, "attribute 'body' must be a graph");
  const seq = sequenceInput(node, inputs, 0, 'input_sequence');
  const n = seq.length;
  const extra = inputs.slice(1);
  extra.forEach((v, j) => {
    if (v === undefined || v === null) fail(node, `input ${j + 1} 'additional_inputs[${j}]' is ${describeValue(v)}; expected a tensor or a sequence`);
    if (isSequence(v) && v.length !== n) fail(node, `input ${j + 1} 'additional_inputs[${j}]' is a sequence of ${v.length} tensors; input 'input_sequence' has ${n}`);
  });
  if (body.inputs.length !== 1 + extra.length) fail(node, `body has ${body.inputs.length} inputs; expected ${1 + extra.length} (one per node input)`);
  const k = node.outputs.length;
  if (body.outputs.length < k) fail(node, `body has ${body.outputs.length} outputs; the node asks for ${k}`);
  const results: Tensor[][] = Array.from({ length: k }, () => []);
  try {
    for (let i = 0; i < n; i++) {
      const bindings = new Map<string, OnnxValue>([[body.inputs[0]!.name, seq[i]!]]);
      extra.forEach((v, j) => bindings.set(body.inputs[j + 1]!.name, isSequence(v) ? v[i]! : (v as Tensor)));
      const out = env.runBody(body, bindings);
      for (let o = k; o < out.length; o++) disposeValue(out[o]!);
      const mine = out.slice(0, k);
      if (!mine.every(isTensor)) {
        for (const v of mine) disposeValue(v);
        fail(node, 'body outputs must be tensors (they become the elements of the output sequences)');
      }
      mine.forEach((t, o) => results[o]!.push(t));
    }
  } catch (e) {
    for (const list of results) for (const t of list) t.dispose();
    throw e;
  }
  return results;
}

function optional(node: Node, inputs: readonly (OnnxValue | undefined)[]): OnnxValue {
  const v = inputs[0];
  if (v !== undefined && v !== null) return aliasValue(v);
  if (v === undefined && node.attrs['type'] === undefined) fail(node, "needs the 'type' attribute when there is no input");
  return null;
}
