/**
 * Operator family 'reduce': reductions (ReduceSum, ReduceMean, ReduceMax, ... ReduceLogSumExp), ArgMax/ArgMin,
 * TopK, CumSum and the per-axis normalisers Softmax, LogSoftmax and Hardmax. Schemas, the opset-form
 * normalisation and eager functions live here; the loops live in src/kernels/cpu/reduce.ts and softmax.ts.
 * The normalisation layers (BatchNormalization, LayerNormalization, ...) and Einsum have their own files,
 * re-exported at the bottom.
 *
 * Canonical forms produced by `normalize` (what kernels see):
 * - Reduce*: one input (data); attribute `axes` holds the exact, sorted, non-negative axes to reduce (empty =
 *   identity, already resolved from `noop_with_empty_axes`), whether the axes came as an attribute (ReduceSum
 *   before opset 13, the others before 18) or as the optional int64 input.
 * - TopK: one input (X); attribute `k` (from the K input from opset 10 on, the attribute before).
 * - CumSum: one input (x); attribute `axis` (non-negative) read from the axis input.
 * - Softmax/LogSoftmax/Hardmax: attribute `axis` (non-negative; default -1 from opset 13, 1 before) and
 *   `coerce_2d` = 1 before opset 13, where the input is viewed as 2-D [prod(dims[:axis]), prod(dims[axis:])]
 *   and each row is normalised over the whole flattened trailing block.
 */
import type { AttrValue, Attrs, OutputSpec } from '../kernels/registry.js';
import type { DataType } from '../tensor/dtype.js';
import { fmtShape } from '../tensor/shape.js';
import { Tensor } from '../tensor/tensor.js';
import { runOp, runOp1 } from './dispatch.js';
import { checkAxis, int64Tensor, withAttrs } from './reduce-axes.js';
import { ALL_TYPES, defineOp, fail, FLOAT_TYPES, intValues, ints, NUMERIC_TYPES, req, type InferContext, type Normalized } from './schema.js';

// ---------------------------------------------------------------------------------------------------------
// Reduce*

/** The ten ONNX reductions and the opset from which each takes `axes` as an input instead of an attribute. */
const REDUCE_OPS: Readonly<Record<string, { axesInputSince: number; types: readonly DataType[] }>> = {
  ReduceSum: { axesInputSince: 13, types: NUMERIC_TYPES },
  ReduceMean: { axesInputSince: 18, types: NUMERIC_TYPES },
  ReduceMax: { axesInputSince: 18, types: ALL_TYPES },
  ReduceMin: { axesInputSince: 18, types: ALL_TYPES },
  ReduceProd: { axesInputSince: 18, types: NUMERIC_TYPES },
  ReduceL1: { axesInputSince: 18, types: NUMERIC_TYPES },
  ReduceL2: { axesInputSince: 18, types: NUMERIC_TYPES },
  ReduceLogSum: { axesInputSince: 18, types: NUMERIC_TYPES },
  ReduceLogSumExp: { axesInputSince: 18, types: NUMERIC_TYPES },
  ReduceSumSquare: { axesInputSince: 18, types: NUMERIC_TYPES },
};

function normalizeReduce(op: string, axesInputSince: number) {
  return (inputs: (Tensor | undefined)[], attrs: Record<string, AttrValue>, ctx: InferContext): Normalized => {
    const data = req(op, inputs, 0, 'data', ctx);
    const axesInput = inputs[1];
    const hasAttr = attrs.axes !== undefined;
    if (hasAttr && ctx.opset >= axesInputSince) {
      fail(op, `attribute 'axes' exists only before opset ${axesInputSince}; from opset ${axesInputSince} on, axes is the optional second input (opset in effect: ${ctx.opset})`, ctx);
    }
    if (hasAttr && axesInput) fail(op, `axes given both as attribute and as input; give one`, ctx);
    if (inputs.length > 2) fail(op, `got ${inputs.length} inputs; expected at most 2 (data, axes)`, ctx);
    let list: number[] | undefined;
    if (axesInput) {
      if (axesInput.type !== 'int64') fail(op, `input 1 'axes' has type ${axesInput.type}; expected int64`, ctx);
      list = intValues(op, 'axes', axesInput, ctx);
    } else if (hasAttr) list = ints(attrs, 'axes');
    const rank = data.rank;
    let axes: number[];
    if (list === undefined || list.length === 0) {
      axes = attrs.noop_with_empty_axes === 1 ? [] : [...Array(rank).keys()];
    } else {
      axes = list.map((a) => checkAxis(op, 'axis', a, data.dims, ctx));
      if (new Set(axes).size !== axes.length) fail(op, `axes [${list.join(', ')}] repeat an axis of input shape ${fmtShape(data.dims)}`, ctx);
      axes.sort((x, y) => x - y);
    }
    return { inputs: [data], attrs: withAttrs(attrs, { axes: Object.freeze(axes), noop_with_empty_axes: 1 }) };
  };
}

function inferReduce(inputs: readonly (Tensor | undefined)[], attrs: Attrs): OutputSpec[] {
  const x = inputs[0]!;
  const axes = new Set(attrs.axes as readonly number[]);
  const keep = attrs.keepdims !== 0;
  const dims: number[] = [];
  x.dims.forEach((d, i) => {
    if (!axes.has(i)) dims.push(d);
    else if (keep) dims.push(1);
  });
  return [{ type: x.type, dims }];
}

for (const [name, spec] of Object.entries(REDUCE_OPS)) {
  defineOp({
    name,
    inputs: [
      { name: 'data', type: 'T' },
      { name: 'axes', type: 'tensor(int64)', optional: true },
    ],
    outputs: ['reduced'],
    types: { T: spec.types, 'tensor(int64)': ['int64'] },
    attributes: {
      axes: { kind: 'ints' },
      keepdims: { kind: 'int', default: 1 },
      noop_with_empty_axes: { kind: 'int', default: 0 },
    },
    normalize: normalizeReduce(name, spec.axesInputSince),
    infer: inferReduce,
  });
}

/** Options of the Reduce* eager functions. */
export interface ReduceOptions {
  /** Keep reduced dims as size 1 (default true). */
  keepdims?: boolean;
  /** With no or empty axes: true = identity (plus the op's elementwise part), false (default) = reduce all. */
  noopWithEmptyAxes?: boolean;
}

function reduceCall(op: string, x: Tensor, axes: readonly number[] | undefined, opts: ReduceOptions): Tensor {
  const axesTensor = axes === undefined ? undefined : int64Tensor(axes);
  try {
    return runOp1(op, axesTensor ? [x, axesTensor] : [x], {
      keepdims: opts.keepdims === false ? 0 : 1,
      noop_with_empty_axes: opts.noopWithEmptyAxes ? 1 : 0,
    });
  } finally {
    axesTensor?.dispose();
  }
}

/** Sum over `axes` (default: all axes). */
export function reduceSum(x: Tensor, axes?: readonly number[], opts: ReduceOptions = {}): Tensor {
  return reduceCall('ReduceSum', x, axes, opts);
}
/** Mean over `axes` (default: all axes). */
export function reduceMean(x: Tensor, axes?: readonly number[], opts: ReduceOptions = {}): Tensor {
  return reduceCall('ReduceMean', x, axes, opts);
}
/** Maximum over `axes` (default: all axes); -inf (or the dtype's minimum) over an empty set. */
export function reduceMax(x: Tensor, axes?: readonly number[], opts: ReduceOptions = {}): Tensor {
  return reduceCall('ReduceMax', x, axes, opts);
}
/** Minimum over `axes` (default: all axes); +inf (or the dtype's maximum) over an empty set. */
export function reduceMin(x: Tensor, axes?: readonly number[], opts: ReduceOptions = {}): Tensor {
  return reduceCall('ReduceMin', x, axes, opts);
}
/** Product over `axes` (default: all axes). */
export function reduceProd(x: Tensor, axes?: readonly number[], opts: ReduceOptions = {}): Tensor {
  return reduceCall('ReduceProd', x, axes, opts);
}
/** Sum of absolute values over `axes`. */
export function reduceL1(x: Tensor, axes?: readonly number[], opts: ReduceOptions = {}): Tensor {
  return reduceCall('ReduceL1', x, axes, opts);
}
/** Euclidean norm over `axes`. */
export function reduceL2(x: Tensor, axes?: readonly number[], opts: ReduceOptions = {}): Tensor {
  return reduceCall('ReduceL2', x, axes, opts);
}
/** log(sum(x)) over `axes`. */
export function reduceLogSum(x: Tensor, axes?: readonly number[], opts: ReduceOptions = {}): Tensor {
  return reduceCall('ReduceLogSum', x, axes, opts);
}
/** log(sum(exp(x))) over `axes`, computed stably (max subtracted). */
export function reduceLogSumExp(x: Tensor, axes?: readonly number[], opts: ReduceOptions = {}): Tensor {
  return reduceCall('ReduceLogSumExp', x, axes, opts);
}
/** Sum of squares over `axes`. */
export function reduceSumSquare(x: Tensor, axes?: readonly number[], opts: ReduceOptions = {}): Tensor {
  return reduceCall('ReduceSumSquare', x, axes, opts);
}

// ---------------------------------------------------------------------------------------------------------
// ArgMax / ArgMin

function inferArg(op: string) {
  return (inputs: readonly (Tensor | undefined)[], attrs: Attrs, ctx: InferContext): OutputSpec[] => {
    const x = inputs[0]!;
    if (x.rank === 0) fail(op, `input 'data' is a scalar (shape []); expected rank >= 1`, ctx);
    const axis = checkAxis(op, 'attribute axis', attrs.axis as number, x.dims, ctx);
    if (x.dims[axis] === 0) fail(op, `input 'data' has shape ${fmtShape(x.dims)}; axis ${axis} is empty, so there is no ${op === 'ArgMax' ? 'maximum' : 'minimum'}`, ctx);
    const dims = [...x.dims];
    if (attrs.keepdims !== 0) dims[axis] = 1;
    else dims.splice(axis, 1);
    return [{ type: 'int64', dims }];
  };
}

for (const name of ['ArgMax', 'ArgMin']) {
  defineOp({
    name,
    inputs: [{ name: 'data', type: 'T' }],
    outputs: ['reduced'],
    types: { T: NUMERIC_TYPES },
    attributes: {
      axis: { kind: 'int', default: 0 },
      keepdims: { kind: 'int', default: 1 },
      select_last_index: { kind: 'int', default: 0 },
    },
    infer: inferArg(name),
  });
}

/** Options of argMax/argMin. */
export interface ArgOptions {
  /** Keep the reduced axis as size 1 (default true). */
  keepdims?: boolean;
  /** On ties take the last index instead of the first (default false). */
  selectLastIndex?: boolean;
}

/** Index (int64) of the maximum along `axis` (default 0). */
export function argMax(x: Tensor, axis = 0, opts: ArgOptions = {}): Tensor {
  return runOp1('ArgMax', [x], { axis, keepdims: opts.keepdims === false ? 0 : 1, select_last_index: opts.selectLastIndex ? 1 : 0 });
}

/** Index (int64) of the minimum along `axis` (default 0). */
export function argMin(x: Tensor, axis = 0, opts: ArgOptions = {}): Tensor {
  return runOp1('ArgMin', [x], { axis, keepdims: opts.keepdims === false ? 0 : 1, select_last_index: opts.selectLastIndex ? 1 : 0 });
}

// ---------------------------------------------------------------------------------------------------------
// TopK

defineOp({
  name: 'TopK',
  inputs: [
    { name: 'X', type: 'T' },
    { name: 'K', type: 'tensor(int64)', optional: true },
  ],
  outputs: ['Values', 'Indices'],
  types: { T: NUMERIC_TYPES, 'tensor(int64)': ['int64'] },
  attributes: {
    axis: { kind: 'int', default: -1 },
    largest: { kind: 'int', default: 1 },
    sorted: { kind: 'int', default: 1 },
    k: { kind: 'int' },
  },
  normalize(inputs, attrs, ctx) {
    const x = req('TopK', inputs, 0, 'X', ctx);
    const kInput = inputs[1];
    if (inputs.length > 2) fail('TopK', `got ${inputs.length} inputs; expected at most 2 (X, K)`, ctx);
    let k: number;
    if (kInput) {
      if (attrs.k !== undefined) fail('TopK', `k given both as attribute and as input 'K'; give one`, ctx);
      if (kInput.size !== 1) fail('TopK', `input 'K' has shape ${fmtShape(kInput.dims)}; expected a 1-D tensor with a single value`, ctx);
      k = intValues('TopK', 'K', kInput, ctx)[0]!;
    } else if (attrs.k !== undefined) {
      if (ctx.opset >= 10) fail('TopK', `attribute 'k' exists only before opset 10; from opset 10 on, k is input 'K' (opset in effect: ${ctx.opset})`, ctx);
      k = attrs.k as number;
    } else {
      fail('TopK', ctx.opset >= 10 ? `input 1 'K' is required but missing` : `attribute 'k' is required before opset 10`, ctx);
    }
    return { inputs: [x], attrs: withAttrs(attrs, { k }) };
  },
  infer(inputs, attrs, ctx) {
    const x = inputs[0]!;
    if (x.rank === 0) fail('TopK', `input 'X' is a scalar (shape []); expected rank >= 1`, ctx);
    const axis = checkAxis('TopK', 'attribute axis', attrs.axis as number, x.dims, ctx);
    const k = attrs.k as number;
    if (k < 0 || k > x.dims[axis]!) {
      fail('TopK', `k = ${k} is out of range for input 'X' of shape ${fmtShape(x.dims)} along axis ${axis}; expected 0 <= k <= ${x.dims[axis]}`, ctx);
    }
    const dims = [...x.dims];
    dims[axis] = k;
    return [
      { type: x.type, dims },
      { type: 'int64', dims },
    ];
  },
});

/** Options of topK. */
export interface TopKOptions {
  /** Axis to select along (default -1). */
  axis?: number;
  /** Largest (default) or smallest elements. */
  largest?: boolean;
  /** Return them sorted (default true; Tessera always sorts, ties by lower index). */
  sorted?: boolean;
}

/** The k largest (or smallest) elements along an axis and their int64 indices. */
export function topK(x: Tensor, k: number, opts: TopKOptions = {}): { values: Tensor; indices: Tensor } {
  const kt = int64Tensor([k]);
  try {
    const [values, indices] = runOp('TopK', [x, kt], { axis: opts.axis ?? -1, largest: opts.largest === false ? 0 : 1, sorted: opts.sorted === false ? 0 : 1 });
    return { values: values!, indices: indices! };
  } finally {
    kt.dispose();
  }
}

// ---------------------------------------------------------------------------------------------------------
// CumSum

defineOp({
  name: 'CumSum',
  inputs: [
    { name: 'x', type: 'T' },
    // required by ONNX; `normalize` checks it and moves it into the `axis` attribute, so the canonical call
    // has one input
    { name: 'axis', type: 'T2', optional: true },
  ],
  outputs: ['y'],
  types: { T: NUMERIC_TYPES, T2: ['int32', 'int64'] },
  attributes: {
    exclusive: { kind: 'int', default: 0 },
    reverse: { kind: 'int', default: 0 },
  },
  normalize(inputs, attrs, ctx) {
    const x = req('CumSum', inputs, 0, 'x', ctx);
    const a = req('CumSum', inputs, 1, 'axis', ctx);
    if (inputs.length > 2) fail('CumSum', `got ${inputs.length} inputs; expected 2 (x, axis)`, ctx);
    if (a.size !== 1 || a.rank > 1) fail('CumSum', `input 'axis' has shape ${fmtShape(a.dims)}; expected a scalar`, ctx);
    if (x.rank === 0) fail('CumSum', `input 'x' is a scalar (shape []); expected rank >= 1`, ctx);
    const axis = checkAxis('CumSum', 'axis', intValues('CumSum', 'axis', a, ctx)[0]!, x.dims, ctx);
    return { inputs: [x], attrs: withAttrs(attrs, { axis }) };
  },
  infer(inputs) {
    const x = inputs[0]!;
    return [{ type: x.type, dims: x.dims }];
  },
});

/** Options of cumSum. */
export interface CumSumOptions {
  /** Exclude the element itself (default false). */
  exclusive?: boolean;
  /** Sum from the end of the axis (default false). */
  reverse?: boolean;
}

/** Cumulative sum along `axis`. */
export function cumSum(x: Tensor, axis: number, opts: CumSumOptions = {}): Tensor {
  const at = new Tensor('int64', BigInt64Array.of(BigInt(axis)), []);
  try {
    return runOp1('CumSum', [x, at], { exclusive: opts.exclusive ? 1 : 0, reverse: opts.reverse ? 1 : 0 });
  } finally {
    at.dispose();
  }
}

// ---------------------------------------------------------------------------------------------------------
// Softmax, LogSoftmax, Hardmax

for (const name of ['Softmax', 'LogSoftmax', 'Hardmax']) {
  defineOp({
    name,
    inputs: [{ name: 'input', type: 'T' }],
    outputs: ['output'],
    types: { T: FLOAT_TYPES },
    // the default of `axis` depends on the opset (1 before 13, -1 from 13), so normalize fills it
    attributes: { axis: { kind: 'int' } },
    normalize(inputs, attrs, ctx) {
      const x = req(name, inputs, 0, 'input', ctx);
      const legacy = ctx.opset < 13;
      const given = attrs.axis as number | undefined;
      const raw = given ?? (legacy ? 1 : -1);
      // before opset 13 the input is coerced to 2-D at `axis`; axis = rank is allowed (rows of one element)
      let axis: number;
      if (legacy) {
        if (!Number.isInteger(raw) || raw < -x.rank || raw > x.rank) {
          fail(name, `attribute axis ${raw} is out of range for input shape ${fmtShape(x.dims)} (rank ${x.rank}); expected [${-x.rank}, ${x.rank}] before opset 13`, ctx);
        }
        axis = raw < 0 ? raw + x.rank : raw;
      } else axis = checkAxis(name, 'attribute axis', raw, x.dims, ctx);
      return { inputs: [x], attrs: withAttrs(attrs, { axis, coerce_2d: legacy ? 1 : 0 }) };
    },
    infer(inputs) {
      const x = inputs[0]!;
      return [{ type: x.type, dims: x.dims }];
    },
  });
}

/** exp(x) / sum(exp(x)) along `axis` (default -1), computed with the maximum subtracted. */
export function softmax(x: Tensor, axis = -1): Tensor {
  return runOp1('Softmax', [x], { axis });
}

/** log(softmax(x)) along `axis` (default -1), computed as x - max - log(sum(exp(x - max))). */
export function logSoftmax(x: Tensor, axis = -1): Tensor {
  return runOp1('LogSoftmax', [x], { axis });
}

/** 1 at the first maximum along `axis` (default -1), 0 elsewhere. */
export function hardmax(x: Tensor, axis = -1): Tensor {
  return runOp1('Hardmax', [x], { axis });
}

export * from './normalization.js';
export * from './einsum.js';
