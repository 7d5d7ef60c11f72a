/**
 * Operator family 'gather': indexing and rearranging operators. Schemas, validation and eager functions for
 * Gather, GatherElements, GatherND, ScatterND, ScatterElements (and the deprecated Scatter of opsets 9-10,
 * which is ScatterElements without reduction), OneHot, Trilu, DepthToSpace and SpaceToDepth. Resize and
 * Upsample live in ./resize.ts and are re-exported here. The loops live in src/kernels/cpu/gather.ts.
 *
 * Index values are data, but they decide whether a call is valid, so `infer` scans every index tensor once
 * and rejects an out-of-range value with an OpValidationError naming the value, its position and the bound;
 * kernels can then wrap negative indices without checking. Canonical forms (what kernels see):
 * - ScatterElements/Scatter: attribute `reduction` is always present ('none' for Scatter and opsets < 16).
 * - OneHot: inputs as given; `infer` has checked depth (> 0) and values (2 elements).
 * - Trilu: the optional k input is read by `infer`; kernels read it again (a scalar).
 */
import type { Attrs, OutputSpec } from '../kernels/registry.js';
import { fmtShape, sizeOf, stridesOf } from '../tensor/shape.js';
import { fromNumbers, Tensor } from '../tensor/tensor.js';
import { runOp1 } from './dispatch.js';
import { ALL_TYPES, defineOp, expectMinRank, expectRank, fail, INDEX_TYPES, NUMERIC_TYPES, req, type InferContext, type Normalized } from './schema.js';

export * from './resize.js';

// ---------------------------------------------------------------------------------------------------------
// Shared validation helpers.

/** Normalize attribute axis `axis` for a tensor of `rank` (range [-rank, rank-1]), failing with the shape. */
function axisIn(op: string, axis: number, name: string, dims: readonly number[], ctx: InferContext, extra = 0): number {
  const rank = dims.length + extra;
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank) {
    fail(op, `attribute 'axis' is ${axis}; expected [${-rank}, ${rank - 1}] for input '${name}' of shape ${fmtShape(dims)}`, ctx);
  }
  return axis < 0 ? axis + rank : axis;
}

/** The multi-index of flat position `flat` in `dims`, for messages. */
function positionOf(flat: number, dims: readonly number[]): string {
  const st = stridesOf(dims);
  return `[${dims.map((d, i) => Math.floor(flat / st[i]!) % Math.max(d, 1)).join(', ')}]`;
}

/**
 * Check that every value of the int32/int64 tensor `indices` lies in [-bound, bound-1], where the bound of
 * the element at flat position p is `bounds[p % bounds.length]` (one bound for Gather; one per coordinate
 * for GatherND/ScatterND). `axisNames[j]` says what bound j is, for the message.
 */
function checkIndexRange(op: string, indices: Tensor, bounds: readonly number[], axisNames: readonly string[], ctx: InferContext): void {
  const n = indices.size;
  const m = bounds.length;
  if (n === 0 || m === 0) return;
  const data = indices.data as Int32Array | BigInt64Array;
  for (let p = 0; p < n; p++) {
    const v = Number(data[p]!);
    const b = bounds[p % m]!;
    if (v < -b || v >= b) {
      fail(
        op,
        `index ${String(data[p])} at position ${positionOf(p, indices.dims)} of input 'indices' (shape ${fmtShape(indices.dims)}) is out of range for ${axisNames[p % m]} of size ${b}; expected [${-b}, ${b - 1}]`,
        ctx,
      );
    }
  }
}

const REDUCTIONS = ['none', 'add', 'mul', 'max', 'min'] as const;
/** Reduction applied by ScatterND / ScatterElements. */
export type ScatterReduction = (typeof REDUCTIONS)[number];

function checkReduction(op: string, attrs: Attrs, ctx: InferContext): void {
  const r = attrs.reduction;
  if (!REDUCTIONS.includes(r as ScatterReduction)) {
    fail(op, `attribute 'reduction' is ${JSON.stringify(r)}; expected one of ${REDUCTIONS.join(', ')}`, ctx);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Gather

defineOp({
  name: 'Gather',
  inputs: [
    { name: 'data', type: 'T' },
    { name: 'indices', type: 'Tind' },
  ],
  outputs: ['output'],
  types: { T: ALL_TYPES, Tind: INDEX_TYPES },
  attributes: { axis: { kind: 'int', default: 0 } },
  infer(inputs, attrs, ctx) {
    const data = req('Gather', inputs, 0, 'data', ctx);
    const indices = req('Gather', inputs, 1, 'indices', ctx);
    expectMinRank('Gather', 'data', data, 1, ctx);
    const axis = axisIn('Gather', attrs.axis as number, 'data', data.dims, ctx);
    checkIndexRange('Gather', indices, [data.dims[axis]!], [`axis ${axis} of 'data' ${fmtShape(data.dims)}`], ctx);
    return [{ type: data.type, dims: [...data.dims.slice(0, axis), ...indices.dims, ...data.dims.slice(axis + 1)] }];
  },
});

// ---------------------------------------------------------------------------------------------------------
// GatherElements / ScatterElements / Scatter: an index tensor of the data's rank addressing one axis.

function checkElementsShapes(op: string, data: Tensor, indices: Tensor, axis: number, ctx: InferContext): void {
  if (indices.rank !== data.rank) {
    fail(op, `input 'indices' has shape ${fmtShape(indices.dims)} (rank ${indices.rank}); expected rank ${data.rank} like 'data' ${fmtShape(data.dims)}`, ctx);
  }
  for (let d = 0; d < data.rank; d++) {
    if (d !== axis && indices.dims[d]! > data.dims[d]!) {
      fail(op, `input 'indices' has shape ${fmtShape(indices.dims)}; dim ${d} (${indices.dims[d]}) exceeds dim ${d} of 'data' ${fmtShape(data.dims)}`, ctx);
    }
  }
}

defineOp({
  name: 'GatherElements',
  inputs: [
    { name: 'data', type: 'T' },
    { name: 'indices', type: 'Tind' },
  ],
  outputs: ['output'],
  types: { T: ALL_TYPES, Tind: INDEX_TYPES },
  attributes: { axis: { kind: 'int', default: 0 } },
  infer(inputs, attrs, ctx) {
    const data = req('GatherElements', inputs, 0, 'data', ctx);
    const indices = req('GatherElements', inputs, 1, 'indices', ctx);
    expectMinRank('GatherElements', 'data', data, 1, ctx);
    const axis = axisIn('GatherElements', attrs.axis as number, 'data', data.dims, ctx);
    checkElementsShapes('GatherElements', data, indices, axis, ctx);
    checkIndexRange('GatherElements', indices, [data.dims[axis]!], [`axis ${axis} of 'data' ${fmtShape(data.dims)}`], ctx);
    return [{ type: data.type, dims: indices.dims }];
  },
});

function inferScatterElements(op: string) {
  return (inputs: readonly (Tensor | undefined)[], attrs: Attrs, ctx: InferContext): OutputSpec[] => {
    const data = req(op, inputs, 0, 'data', ctx);
    const indices = req(op, inputs, 1, 'indices', ctx);
    const updates = req(op, inputs, 2, 'updates', ctx);
    expectMinRank(op, 'data', data, 1, ctx);
    checkReduction(op, attrs, ctx);
    const axis = axisIn(op, attrs.axis as number, 'data', data.dims, ctx);
    checkElementsShapes(op, data, indices, axis, ctx);
    if (updates.rank !== indices.rank || updates.dims.some((d, i) => d !== indices.dims[i])) {
      fail(op, `input 'updates' has shape ${fmtShape(updates.dims)}; expected the shape of 'indices' ${fmtShape(indices.dims)}`, ctx);
    }
    checkIndexRange(op, indices, [data.dims[axis]!], [`axis ${axis} of 'data' ${fmtShape(data.dims)}`], ctx);
    return [{ type: data.type, dims: data.dims }];
  };
}

const scatterElementsInputs = [
  { name: 'data', type: 'T' },
  { name: 'indices', type: 'Tind' },
  { name: 'updates', type: 'T' },
] as const;

defineOp({
  name: 'ScatterElements',
  inputs: scatterElementsInputs,
  outputs: ['output'],
  types: { T: ALL_TYPES, Tind: INDEX_TYPES },
  attributes: { axis: { kind: 'int', default: 0 }, reduction: { kind: 'string', default: 'none' } },
  infer: inferScatterElements('ScatterElements'),
});

defineOp({
  name: 'Scatter',
  inputs: scatterElementsInputs,
  outputs: ['output'],
  types: { T: ALL_TYPES, Tind: INDEX_TYPES },
  attributes: { axis: { kind: 'int', default: 0 } },
  normalize(inputs, attrs): Normalized {
    return { inputs, attrs: { ...attrs, reduction: 'none' } };
  },
  infer: inferScatterElements('Scatter'),
});

// ---------------------------------------------------------------------------------------------------------
// GatherND / ScatterND: the last dim of indices holds a coordinate tuple into the leading dims of data.

defineOp({
  name: 'GatherND',
  inputs: [
    { name: 'data', type: 'T' },
    { name: 'indices', type: 'Tind' },
  ],
  outputs: ['output'],
  types: { T: ALL_TYPES, Tind: INDEX_TYPES },
  attributes: { batch_dims: { kind: 'int', default: 0 } },
  infer(inputs, attrs, ctx) {
    const op = 'GatherND';
    const data = req(op, inputs, 0, 'data', ctx);
    const indices = req(op, inputs, 1, 'indices', ctx);
    expectMinRank(op, 'data', data, 1, ctx);
    expectMinRank(op, 'indices', indices, 1, ctx);
    const b = attrs.batch_dims as number;
    if (b < 0 || b >= Math.min(data.rank, indices.rank)) {
      fail(op, `attribute 'batch_dims' is ${b}; expected [0, ${Math.min(data.rank, indices.rank) - 1}] for 'data' ${fmtShape(data.dims)} and 'indices' ${fmtShape(indices.dims)}`, ctx);
    }
    for (let d = 0; d < b; d++) {
      if (data.dims[d] !== indices.dims[d]) {
        fail(op, `batch dim ${d} differs: 'data' ${fmtShape(data.dims)} vs 'indices' ${fmtShape(indices.dims)}; the first ${b} dims must match`, ctx);
      }
    }
    const k = indices.dims[indices.rank - 1]!;
    if (k < 1 || k > data.rank - b) {
      fail(op, `input 'indices' has shape ${fmtShape(indices.dims)}; its last dim (${k}) must be in [1, ${data.rank - b}] for 'data' ${fmtShape(data.dims)} with batch_dims ${b}`, ctx);
    }
    const bounds = data.dims.slice(b, b + k);
    checkIndexRange(op, indices, bounds, bounds.map((_, j) => `axis ${b + j} of 'data' ${fmtShape(data.dims)}`), ctx);
    return [{ type: data.type, dims: [...indices.dims.slice(0, -1), ...data.dims.slice(b + k)] }];
  },
});

defineOp({
  name: 'ScatterND',
  inputs: [
    { name: 'data', type: 'T' },
    { name: 'indices', type: 'Tind' },
    { name: 'updates', type: 'T' },
  ],
  outputs: ['output'],
  types: { T: ALL_TYPES, Tind: INDEX_TYPES },
  attributes: { reduction: { kind: 'string', default: 'none' } },
  infer(inputs, attrs, ctx) {
    const op = 'ScatterND';
    const data = req(op, inputs, 0, 'data', ctx);
    const indices = req(op, inputs, 1, 'indices', ctx);
    const updates = req(op, inputs, 2, 'updates', ctx);
    checkReduction(op, attrs, ctx);
    expectMinRank(op, 'data', data, 1, ctx);
    expectMinRank(op, 'indices', indices, 1, ctx);
    const k = indices.dims[indices.rank - 1]!;
    if (k < 1 || k > data.rank) {
      fail(op, `input 'indices' has shape ${fmtShape(indices.dims)}; its last dim (${k}) must be in [1, ${data.rank}] for 'data' ${fmtShape(data.dims)}`, ctx);
    }
    const want = [...indices.dims.slice(0, -1), ...data.dims.slice(k)];
    if (updates.rank !== want.length || updates.dims.some((d, i) => d !== want[i])) {
      fail(op, `input 'updates' has shape ${fmtShape(updates.dims)}; expected ${fmtShape(want)} (indices.shape[:-1] + data.shape[${k}:])`, ctx);
    }
    const bounds = data.dims.slice(0, k);
    checkIndexRange(op, indices, bounds, bounds.map((_, j) => `axis ${j} of 'data' ${fmtShape(data.dims)}`), ctx);
    return [{ type: data.type, dims: data.dims }];
  },
});

// ---------------------------------------------------------------------------------------------------------
// OneHot

/** The single value of OneHot's depth input as an integer (float depths are truncated, as ONNX casts). */
function depthValue(op: string, depth: Tensor, ctx: InferContext): number {
  if (depth.size !== 1 || depth.rank > 1) {
    fail(op, `input 'depth' has shape ${fmtShape(depth.dims)}; expected a scalar or a 1-element 1-D tensor`, ctx);
  }
  const v = Math.trunc(Number(depth.item()));
  if (!Number.isFinite(v) || v < 1) fail(op, `input 'depth' is ${String(depth.item())}; expected a positive number of classes`, ctx);
  return v;
}

defineOp({
  name: 'OneHot',
  inputs: [
    { name: 'indices', type: 'T1' },
    { name: 'depth', type: 'T2' },
    { name: 'values', type: 'T3' },
  ],
  outputs: ['output'],
  types: { T1: NUMERIC_TYPES, T2: NUMERIC_TYPES, T3: ALL_TYPES },
  attributes: { axis: { kind: 'int', default: -1 } },
  infer(inputs, attrs, ctx) {
    const op = 'OneHot';
    const indices = req(op, inputs, 0, 'indices', ctx);
    const depth = req(op, inputs, 1, 'depth', ctx);
    const values = req(op, inputs, 2, 'values', ctx);
    const d = depthValue(op, depth, ctx);
    if (values.rank !== 1 || values.size !== 2) fail(op, `input 'values' has shape ${fmtShape(values.dims)}; expected [2] ([off_value, on_value])`, ctx);
    const axis = axisIn(op, attrs.axis as number, 'indices', indices.dims, ctx, 1);
    const dims = [...indices.dims];
    dims.splice(axis, 0, d);
    sizeOf(dims, 'OneHot output');
    return [{ type: values.type, dims }];
  },
});

// ---------------------------------------------------------------------------------------------------------
// Trilu

defineOp({
  name: 'Trilu',
  inputs: [
    { name: 'input', type: 'T' },
    { name: 'k', type: 'tensor(int64)', optional: true },
  ],
  outputs: ['output'],
  types: { T: ALL_TYPES, 'tensor(int64)': ['int64'] },
  attributes: { upper: { kind: 'int', default: 1 } },
  infer(inputs, attrs, ctx) {
    const x = req('Trilu', inputs, 0, 'input', ctx);
    expectMinRank('Trilu', 'input', x, 2, ctx);
    const k = inputs[1];
    if (k && k.size !== 1) fail('Trilu', `input 'k' has shape ${fmtShape(k.dims)}; expected a scalar`, ctx);
    if (attrs.upper !== 0 && attrs.upper !== 1) fail('Trilu', `attribute 'upper' is ${String(attrs.upper)}; expected 0 or 1`, ctx);
    return [{ type: x.type, dims: x.dims }];
  },
});

// ---------------------------------------------------------------------------------------------------------
// DepthToSpace / SpaceToDepth

function blocksizeOf(op: string, attrs: Attrs, ctx: InferContext): number {
  const b = attrs.blocksize as number;
  if (!(b >= 1)) fail(op, `attribute 'blocksize' is ${b}; expected a positive integer`, ctx);
  return b;
}

defineOp({
  name: 'DepthToSpace',
  inputs: [{ name: 'input', type: 'T' }],
  outputs: ['output'],
  types: { T: ALL_TYPES },
  attributes: { blocksize: { kind: 'int', required: true }, mode: { kind: 'string', default: 'DCR' } },
  infer(inputs, attrs, ctx) {
    const op = 'DepthToSpace';
    const x = req(op, inputs, 0, 'input', ctx);
    expectRank(op, 'input', x, 4, ctx);
    const b = blocksizeOf(op, attrs, ctx);
    if (attrs.mode !== 'DCR' && attrs.mode !== 'CRD') fail(op, `attribute 'mode' is ${JSON.stringify(attrs.mode)}; expected "DCR" or "CRD"`, ctx);
    const [n, c, h, w] = x.dims as [number, number, number, number];
    if (c % (b * b) !== 0) fail(op, `input 'input' has shape ${fmtShape(x.dims)}; channels (${c}) must be divisible by blocksize^2 (${b * b})`, ctx);
    return [{ type: x.type, dims: [n, c / (b * b), h * b, w * b] }];
  },
});

defineOp({
  name: 'SpaceToDepth',
  inputs: [{ name: 'input', type: 'T' }],
  outputs: ['output'],
  types: { T: ALL_TYPES },
  attributes: { blocksize: { kind: 'int', required: true } },
  infer(inputs, attrs, ctx) {
    const op = 'SpaceToDepth';
    const x = req(op, inputs, 0, 'input', ctx);
    expectRank(op, 'input', x, 4, ctx);
    const b = blocksizeOf(op, attrs, ctx);
    const [n, c, h, w] = x.dims as [number, number, number, number];
    if (h % b !== 0 || w % b !== 0) fail(op, `input 'input' has shape ${fmtShape(x.dims)}; height and width must be divisible by blocksize ${b}`, ctx);
    return [{ type: x.type, dims: [n, c * b * b, h / b, w / b] }];
  },
});

// ---------------------------------------------------------------------------------------------------------
// Eager functions.

function scalarInt64(v: number): Tensor {
  return fromNumbers('int64', [v], []);
}

/** Take slices of `x` along `axis` at `indices` (int32/int64, negative counts from the end). */
export function gather(x: Tensor, indices: Tensor, axis = 0): Tensor {
  return runOp1('Gather', [x, indices], { axis });
}

/** out[i][j][k] = x[indices[i][j][k]][j][k] for axis 0 (and likewise for other axes); out has indices' shape. */
export function gatherElements(x: Tensor, indices: Tensor, axis = 0): Tensor {
  return runOp1('GatherElements', [x, indices], { axis });
}

/** Gather slices of `x` addressed by coordinate tuples in the last dim of `indices`, after `batchDims` shared batch dims. */
export function gatherND(x: Tensor, indices: Tensor, batchDims = 0): Tensor {
  return runOp1('GatherND', [x, indices], { batch_dims: batchDims });
}

/** A copy of `data` with the slices addressed by `indices` replaced by (or reduced with) `updates`. */
export function scatterND(data: Tensor, indices: Tensor, updates: Tensor, reduction: ScatterReduction = 'none'): Tensor {
  return runOp1('ScatterND', [data, indices, updates], { reduction });
}

/** A copy of `data` with out[..., indices[i], ...] (along `axis`) set to (or reduced with) updates[i]. */
export function scatterElements(data: Tensor, indices: Tensor, updates: Tensor, axis = 0, reduction: ScatterReduction = 'none'): Tensor {
  return runOp1('ScatterElements', [data, indices, updates], { axis, reduction });
}

/**
 * One-hot encoding: a new axis of size `depth` at `axis` (default last) holding values[1] where the index
 * matches and values[0] elsewhere. Negative indices count from depth; indices out of [-depth, depth-1] give
 * an all-off row. `values` is a 2-element tensor [off, on] (its dtype is the output's) or a pair of numbers
 * (float32 output).
 */
export function oneHot(indices: Tensor, depth: number | Tensor, values: Tensor | readonly [number, number] = [0, 1], axis = -1): Tensor {
  const depthTensor = typeof depth === 'number' ? scalarInt64(depth) : depth;
  const valuesTensor = values instanceof Tensor ? values : fromNumbers('float32', values, [2]);
  try {
    return runOp1('OneHot', [indices, depthTensor, valuesTensor], { axis });
  } finally {
    if (depthTensor !== depth) depthTensor.dispose();
    if (valuesTensor !== values) valuesTensor.dispose();
  }
}

/**
 * Keep the upper (default) or lower triangle of the last two dims, zeroing the rest. `k` shifts the
 * diagonal: upper keeps column - row >= k, lower keeps column - row <= k.
 */
export function trilu(x: Tensor, upper = true, k = 0): Tensor {
  const kTensor = scalarInt64(k);
  try {
    return runOp1('Trilu', [x, kTensor], { upper: upper ? 1 : 0 });
  } finally {
    kTensor.dispose();
  }
}

/** Move blocks of channels into blocksize x blocksize spatial blocks (NCHW). mode 'DCR' (default) or 'CRD'. */
export function depthToSpace(x: Tensor, blocksize: number, mode: 'DCR' | 'CRD' = 'DCR'): Tensor {
  return runOp1('DepthToSpace', [x], { blocksize, mode });
}

/** Move blocksize x blocksize spatial blocks into channels (NCHW); the inverse of depthToSpace in DCR mode. */
export function spaceToDepth(x: Tensor, blocksize: number): Tensor {
  return runOp1('SpaceToDepth', [x], { blocksize });
}
