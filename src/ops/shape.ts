/**
 * Shape and data-movement operators: Transpose, Reshape, Flatten, Squeeze, Unsqueeze, Concat, Split, Slice,
 * Expand, Tile, Pad, Shape, Size, ConstantOfShape, Range, Identity, Constant, NonZero.
 *
 * Schemas and eager functions live here; the loops live in src/kernels/cpu/shape.ts. Every opset form
 * (7..21 and the older ones a converter may still emit) is accepted: `normalize` reads index-like values from
 * whichever place the opset keeps them (an attribute before Squeeze-13/Split-13/Slice-10/Pad-11/Reshape-5, an
 * int64 input after) and stores the canonical list in the attributes the kernels read (`axes`, `shape`,
 * `split`, `starts`/`ends`/`axes`/`steps`, `pads`, `repeats`). The input tensors stay in place, so their
 * dtypes are still checked against the schema. Reshape, Flatten, Squeeze, Unsqueeze, Identity (views) and
 * Shape, Size (dims only) also accept string tensors; the copying operators do not (their kernels move bytes).
 */
import type { AttrValue, Attrs, OutputSpec } from '../kernels/registry.js';
import type { DataType } from '../tensor/dtype.js';
import { fmtShape, MAX_ELEMENTS, sliceRange } from '../tensor/shape.js';
import { fromNumbers, Tensor } from '../tensor/tensor.js';
import { runOp, runOp1 } from './dispatch.js';
import {
  ALL_TYPES,
  broadcastOrFail,
  defineOp,
  fail,
  INDEX_TYPES,
  intValues,
  ints,
  req,
  type InferContext,
  type Normalized,
} from './schema.js';

const INT64: readonly DataType[] = ['int64'];
/** Dtypes of the operators whose kernels only view elements or read dims (Reshape, Identity, Shape...): string tensors too. */
const VIEW_TYPES: readonly DataType[] = [...ALL_TYPES, 'string'];

// ---------------------------------------------------------------------------------------------------------
// Shared validation helpers.

/** Map `axis` into [0, rank), failing with a message that names the op, the attribute and the shape. */
function axisIn(op: string, what: string, axis: number, rank: number, dims: readonly number[], ctx: InferContext, input = 'data'): number {
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank) {
    fail(op, `${what} ${axis} is out of range for input '${input}' with shape ${fmtShape(dims)} (rank ${rank}); expected [${-rank}, ${rank - 1}]`, ctx);
  }
  return axis < 0 ? axis + rank : axis;
}

/** Normalise a list of axes for `rank`, rejecting out-of-range and repeated axes. */
function axesIn(op: string, what: string, axes: readonly number[], rank: number, dims: readonly number[], ctx: InferContext): number[] {
  const out = axes.map((a) => axisIn(op, what, a, rank, dims, ctx));
  if (new Set(out).size !== out.length) fail(op, `${what} [${axes.join(', ')}] repeats an axis`, ctx);
  return out;
}

/** Product of dims, failing when it exceeds what one tensor may hold. */
function checkedSize(op: string, dims: readonly number[], ctx: InferContext): number {
  let n = 1;
  for (const d of dims) n *= d;
  if (n > MAX_ELEMENTS) fail(op, `output shape ${fmtShape(dims)} has ${n} elements, more than the limit ${MAX_ELEMENTS}`, ctx);
  return n;
}

/** The canonical call with `attrs` extended by `extra`. */
function withAttrs(inputs: (Tensor | undefined)[], attrs: Record<string, AttrValue>, extra: Record<string, AttrValue | undefined>): Normalized {
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) attrs[k] = v;
  return { inputs, attrs };
}

/** Integer list from input `i` when present, else from the legacy attribute `attr` (undefined if neither). */
function intsFromInputOrAttr(
  op: string,
  inputs: readonly (Tensor | undefined)[],
  i: number,
  inputName: string,
  attrs: Record<string, AttrValue>,
  attr: string,
  ctx: InferContext,
): number[] | undefined {
  const t = inputs[i];
  if (t) {
    if (attrs[attr] !== undefined) fail(op, `'${inputName}' is given both as input ${i} and as attribute '${attr}'; give one`, ctx);
    return intValues(op, inputName, t, ctx);
  }
  return attrs[attr] === undefined ? undefined : ints(attrs, attr);
}

function single(inputs: readonly (Tensor | undefined)[]): OutputSpec[] {
  const x = inputs[0]!;
  return [{ type: x.type, dims: x.dims }];
}

// ---------------------------------------------------------------------------------------------------------
// Transpose

defineOp({
  name: 'Transpose',
  inputs: [{ name: 'data', type: 'T' }],
  outputs: ['transposed'],
  types: { T: ALL_TYPES },
  attributes: { perm: { kind: 'ints' } },
  infer(inputs, attrs, ctx) {
    const x = req('Transpose', inputs, 0, 'data', ctx);
    const perm = attrs.perm === undefined ? [...Array(x.rank).keys()].reverse() : ints(attrs, 'perm');
    const seen = new Set<number>();
    const isPermutation = perm.length === x.rank && perm.every((p) => p >= 0 && p < x.rank && !seen.has(p) && seen.add(p));
    if (!isPermutation) {
      fail('Transpose', `perm [${perm.join(', ')}] is not a permutation of the ${x.rank} axes of input 'data' with shape ${fmtShape(x.dims)}`, ctx);
    }
    return [{ type: x.type, dims: perm.map((p) => x.dims[p]!) }];
  },
});

// ---------------------------------------------------------------------------------------------------------
// Reshape, Flatten, Squeeze, Unsqueeze, Identity: zero-copy views.

/** Output dims of Reshape: 0 copies the input dim (unless allowzero), one -1 is inferred. */
function reshapeDims(x: Tensor, shape: readonly number[], allowZero: boolean, ctx: InferContext): number[] {
  const op = 'Reshape';
  const where = `input 'data' with shape ${fmtShape(x.dims)} (${x.size} elements) cannot be reshaped to ${fmtShape(shape)}`;
  let inferred = -1;
  const out = shape.map((v, i) => {
    if (v === -1) {
      if (inferred >= 0) fail(op, `${where}: more than one -1`, ctx);
      inferred = i;
      return 1;
    }
    if (v < -1) fail(op, `${where}: dimension ${i} is ${v}; expected >= -1`, ctx);
    if (v === 0 && !allowZero) {
      if (i >= x.rank) fail(op, `${where}: dimension ${i} is 0 (copy the input dim) but the input has rank ${x.rank}`, ctx);
      return x.dims[i]!;
    }
    return v;
  });
  if (allowZero && inferred >= 0 && shape.includes(0)) fail(op, `${where}: with allowzero=1 a shape may not hold both 0 and -1`, ctx);
  const known = out.reduce((p, d) => p * d, 1);
  if (inferred >= 0) {
    if (known === 0 || x.size % known !== 0) fail(op, `${where}: the -1 dimension cannot be inferred`, ctx);
    out[inferred] = x.size / known;
  } else if (known !== x.size) {
    fail(op, `${where}: the new shape has ${known} elements`, ctx);
  }
  return out;
}

defineOp({
  name: 'Reshape',
  inputs: [
    { name: 'data', type: 'T' },
    // required from opset 5; before that the target comes from the `shape` attribute
    { name: 'shape', type: 'I64', optional: true },
  ],
  outputs: ['reshaped'],
  types: { T: VIEW_TYPES, I64: INT64 },
  attributes: {
    allowzero: { kind: 'int', default: 0 },
    shape: { kind: 'ints' },
    consumed_inputs: { kind: 'ints', ignored: true },
  },
  normalize(inputs, attrs, ctx) {
    const shape = intsFromInputOrAttr('Reshape', inputs, 1, 'shape', attrs, 'shape', ctx);
    if (!shape) fail('Reshape', `input 1 'shape' is required but missing`, ctx);
    return withAttrs(inputs, attrs, { shape });
  },
  infer(inputs, attrs, ctx) {
    const x = req('Reshape', inputs, 0, 'data', ctx);
    return [{ type: x.type, dims: reshapeDims(x, ints(attrs, 'shape'), attrs.allowzero === 1, ctx) }];
  },
});

defineOp({
  name: 'Flatten',
  inputs: [{ name: 'input', type: 'T' }],
  outputs: ['output'],
  types: { T: VIEW_TYPES },
  attributes: { axis: { kind: 'int', default: 1 } },
  infer(inputs, attrs, ctx) {
    const x = req('Flatten', inputs, 0, 'input', ctx);
    let axis = attrs.axis as number;
    if (axis < -x.rank || axis > x.rank) {
      fail('Flatten', `axis ${axis} is out of range for input 'input' with shape ${fmtShape(x.dims)} (rank ${x.rank}); expected [${-x.rank}, ${x.rank}]`, ctx);
    }
    if (axis < 0) axis += x.rank;
    const outer = x.dims.slice(0, axis).reduce((p, d) => p * d, 1);
    const inner = x.dims.slice(axis).reduce((p, d) => p * d, 1);
    return [{ type: x.type, dims: [outer, inner] }];
  },
});

defineOp({
  name: 'Squeeze',
  inputs: [
    { name: 'data', type: 'T' },
    { name: 'axes', type: 'I64', optional: true },
  ],
  outputs: ['squeezed'],
  types: { T: VIEW_TYPES, I64: INT64 },
  attributes: { axes: { kind: 'ints' } },
  normalize(inputs, attrs, ctx) {
    const axes = intsFromInputOrAttr('Squeeze', inputs, 1, 'axes', attrs, 'axes', ctx);
    // an empty axes list means "not given" (as onnxruntime reads it)
    if (axes && axes.length === 0) delete attrs.axes;
    return withAttrs(inputs, attrs, { axes: axes && axes.length ? axes : undefined });
  },
  infer(inputs, attrs, ctx) {
    const x = req('Squeeze', inputs, 0, 'data', ctx);
    if (attrs.axes === undefined) return [{ type: x.type, dims: x.dims.filter((d) => d !== 1) }];
    const axes = axesIn('Squeeze', 'axes', ints(attrs, 'axes'), x.rank, x.dims, ctx);
    for (const a of axes) {
      if (x.dims[a] !== 1) {
        fail('Squeeze', `cannot squeeze axis ${a} of input 'data' with shape ${fmtShape(x.dims)}: its size is ${x.dims[a]}, expected 1`, ctx);
      }
    }
    return [{ type: x.type, dims: x.dims.filter((_, i) => !axes.includes(i)) }];
  },
});

defineOp({
  name: 'Unsqueeze',
  inputs: [
    { name: 'data', type: 'T' },
    { name: 'axes', type: 'I64', optional: true },
  ],
  outputs: ['expanded'],
  types: { T: VIEW_TYPES, I64: INT64 },
  attributes: { axes: { kind: 'ints' } },
  normalize(inputs, attrs, ctx) {
    const axes = intsFromInputOrAttr('Unsqueeze', inputs, 1, 'axes', attrs, 'axes', ctx);
    if (!axes) fail('Unsqueeze', ctx.opset >= 13 ? `input 1 'axes' is required but missing` : `attribute 'axes' is required`, ctx);
    return withAttrs(inputs, attrs, { axes });
  },
  infer(inputs, attrs, ctx) {
    const x = req('Unsqueeze', inputs, 0, 'data', ctx);
    const given = ints(attrs, 'axes');
    const rank = x.rank + given.length;
    for (const a of given) {
      if (a < -rank || a >= rank) {
        fail('Unsqueeze', `axes [${given.join(', ')}]: ${a} is out of range for the output rank ${rank} (input 'data' with shape ${fmtShape(x.dims)} plus ${given.length} new axes); expected [${-rank}, ${rank - 1}]`, ctx);
      }
    }
    const axes = axesIn('Unsqueeze', 'axes', given, rank, x.dims, ctx);
    const dims: number[] = [];
    let next = 0;
    for (let i = 0; i < rank; i++) dims.push(axes.includes(i) ? 1 : x.dims[next++]!);
    return [{ type: x.type, dims }];
  },
});

defineOp({
  name: 'Identity',
  inputs: [{ name: 'input', type: 'T' }],
  outputs: ['output'],
  types: { T: VIEW_TYPES },
  attributes: {},
  infer: single,
});

// ---------------------------------------------------------------------------------------------------------
// Concat, Split

defineOp({
  name: 'Concat',
  inputs: [{ name: 'inputs', type: 'T', variadic: true }],
  outputs: ['concat_result'],
  types: { T: ALL_TYPES },
  // required from opset 4; Concat-1 defaulted to 1
  attributes: { axis: { kind: 'int' } },
  normalize(inputs, attrs, ctx) {
    if (attrs.axis === undefined) {
      if (ctx.opset >= 4) fail('Concat', `attribute 'axis' is required`, ctx);
      attrs.axis = 1;
    }
    return { inputs, attrs };
  },
  infer(inputs, attrs, ctx) {
    const first = req('Concat', inputs, 0, 'inputs[0]', ctx);
    const rank = first.rank;
    if (rank === 0) fail('Concat', `input 'inputs[0]' is a scalar (shape []); expected rank >= 1`, ctx);
    const axis = axisIn('Concat', 'axis', attrs.axis as number, rank, first.dims, ctx, 'inputs[0]');
    const dims = [...first.dims];
    dims[axis] = 0;
    inputs.forEach((t, i) => {
      if (!t) fail('Concat', `input ${i} 'inputs[${i}]' is missing`, ctx);
      const same = t.rank === rank && t.dims.every((d, k) => k === axis || d === first.dims[k]);
      if (!same) {
        fail('Concat', `input 'inputs[${i}]' has shape ${fmtShape(t.dims)} but 'inputs[0]' has ${fmtShape(first.dims)}; expected the same rank and equal dims except on axis ${axis}`, ctx);
      }
      dims[axis]! += t.dims[axis]!;
    });
    checkedSize('Concat', dims, ctx);
    return [{ type: first.type, dims }];
  },
});

defineOp({
  name: 'Split',
  inputs: [
    { name: 'input', type: 'T' },
    { name: 'split', type: 'I64', optional: true },
  ],
  outputs: ['outputs'],
  types: { T: ALL_TYPES, I64: INT64 },
  attributes: {
    axis: { kind: 'int', default: 0 },
    split: { kind: 'ints' },
    num_outputs: { kind: 'int' },
  },
  normalize(inputs, attrs, ctx) {
    const op = 'Split';
    const x = req(op, inputs, 0, 'input', ctx);
    if (x.rank === 0) fail(op, `input 'input' is a scalar (shape []); expected rank >= 1`, ctx);
    const axis = axisIn(op, 'axis', attrs.axis as number, x.rank, x.dims, ctx, 'input');
    const dim = x.dims[axis]!;
    let sizes = intsFromInputOrAttr(op, inputs, 1, 'split', attrs, 'split', ctx);
    const numOutputs = attrs.num_outputs as number | undefined;
    if (sizes && numOutputs !== undefined) fail(op, `give either 'split' or 'num_outputs', not both`, ctx);
    if (sizes) {
      if (sizes.length === 0) fail(op, `'split' is empty; expected one size per output`, ctx);
    } else if (numOutputs !== undefined || ctx.opset >= 18) {
      const n = numOutputs ?? ctx.numOutputs;
      if (n === undefined) fail(op, `the number of outputs is unknown; give 'split' or 'num_outputs'`, ctx);
      if (!Number.isInteger(n) || n < 1) fail(op, `num_outputs is ${n}; expected a positive integer`, ctx);
      // equal parts of ceil(dim / n); the last one takes what is left
      const chunk = Math.ceil(dim / n);
      const lastSize = dim - chunk * (n - 1);
      if (lastSize < 0) {
        fail(op, `axis ${axis} of input 'input' with shape ${fmtShape(x.dims)} has size ${dim}, too small for ${n} outputs of size ${chunk}`, ctx);
      }
      sizes = [...new Array<number>(n - 1).fill(chunk), lastSize];
    } else {
      const n = ctx.numOutputs;
      if (n === undefined) fail(op, `the number of outputs is unknown; give 'split' (or pass numOutputs)`, ctx);
      if (dim % n !== 0) {
        fail(op, `axis ${axis} of input 'input' with shape ${fmtShape(x.dims)} has size ${dim}, which does not split into ${n} equal parts`, ctx);
      }
      sizes = new Array<number>(n).fill(dim / n);
    }
    attrs.axis = axis;
    return withAttrs(inputs, attrs, { split: sizes });
  },
  infer(inputs, attrs, ctx) {
    const x = req('Split', inputs, 0, 'input', ctx);
    const axis = attrs.axis as number;
    const sizes = ints(attrs, 'split');
    const total = sizes.reduce((p, s) => p + s, 0);
    if (sizes.some((s) => s < 0) || total !== x.dims[axis]) {
      fail('Split', `split sizes [${sizes.join(', ')}] must be >= 0 and sum to ${x.dims[axis]}, the size of axis ${axis} of input 'input' with shape ${fmtShape(x.dims)}`, ctx);
    }
    if (ctx.numOutputs !== undefined && ctx.numOutputs !== sizes.length) {
      fail('Split', `split sizes [${sizes.join(', ')}] give ${sizes.length} outputs but the node has ${ctx.numOutputs}`, ctx);
    }
    return sizes.map((s) => {
      const dims = [...x.dims];
      dims[axis] = s;
      return { type: x.type, dims };
    });
  },
});

// ---------------------------------------------------------------------------------------------------------
// Slice

/** Per-axis start, step and count of a Slice (ONNX clamping rules), shared by infer and the kernel. */
interface SliceAxis {
  axis: number;
  start: number;
  step: number;
  count: number;
}

/** Resolve Slice's effective starts/steps/counts for `dims`. Inputs must be validated (lengths, axes, steps != 0). */
function resolveSlice(dims: readonly number[], starts: readonly number[], ends: readonly number[], axes: readonly number[], steps: readonly number[]): SliceAxis[] {
  return axes.map((axis, i) => {
    const d = dims[axis]!;
    const step = steps[i]!;
    const { start: s, count } = sliceRange(starts[i]!, ends[i]!, step, d);
    return { axis, start: s, step, count };
  });
}

defineOp({
  name: 'Slice',
  inputs: [
    { name: 'data', type: 'T' },
    // inputs from opset 10; Slice-1 takes starts/ends/axes as attributes
    { name: 'starts', type: 'Tind', optional: true },
    { name: 'ends', type: 'Tind', optional: true },
    { name: 'axes', type: 'Tind', optional: true },
    { name: 'steps', type: 'Tind', optional: true },
  ],
  outputs: ['output'],
  types: { T: ALL_TYPES, Tind: INDEX_TYPES },
  attributes: {
    starts: { kind: 'ints' },
    ends: { kind: 'ints' },
    axes: { kind: 'ints' },
  },
  normalize(inputs, attrs, ctx) {
    const op = 'Slice';
    const x = req(op, inputs, 0, 'data', ctx);
    const starts = intsFromInputOrAttr(op, inputs, 1, 'starts', attrs, 'starts', ctx);
    const ends = intsFromInputOrAttr(op, inputs, 2, 'ends', attrs, 'ends', ctx);
    if (!starts) fail(op, ctx.opset >= 10 ? `input 1 'starts' is required but missing` : `attribute 'starts' is required`, ctx);
    if (!ends) fail(op, ctx.opset >= 10 ? `input 2 'ends' is required but missing` : `attribute 'ends' is required`, ctx);
    const axesGiven = intsFromInputOrAttr(op, inputs, 3, 'axes', attrs, 'axes', ctx);
    const steps = inputs[4] ? intValues(op, 'steps', inputs[4], ctx) : starts.map(() => 1);
    if (ends.length !== starts.length || (axesGiven && axesGiven.length !== starts.length) || steps.length !== starts.length) {
      const parts = [`starts [${starts.join(', ')}]`, `ends [${ends.join(', ')}]`];
      if (axesGiven) parts.push(`axes [${axesGiven.join(', ')}]`);
      if (inputs[4]) parts.push(`steps [${steps.join(', ')}]`);
      fail(op, `${parts.join(', ')} must have the same length`, ctx);
    }
    if (starts.length > x.rank) fail(op, `${starts.length} starts for input 'data' with shape ${fmtShape(x.dims)} (rank ${x.rank})`, ctx);
    const axes = axesIn(op, 'axes', axesGiven ?? starts.map((_, i) => i), x.rank, x.dims, ctx);
    const zeroStep = steps.indexOf(0);
    if (zeroStep >= 0) fail(op, `steps [${steps.join(', ')}] has a 0 at position ${zeroStep}; steps must be non-zero`, ctx);
    attrs.starts = starts;
    attrs.ends = ends;
    attrs.axes = axes;
    attrs.steps = steps;
    return { inputs, attrs };
  },
  infer(inputs, attrs, ctx) {
    const x = req('Slice', inputs, 0, 'data', ctx);
    const dims = [...x.dims];
    for (const r of resolveSlice(x.dims, ints(attrs, 'starts'), ints(attrs, 'ends'), ints(attrs, 'axes'), ints(attrs, 'steps'))) dims[r.axis] = r.count;
    return [{ type: x.type, dims }];
  },
});

// ---------------------------------------------------------------------------------------------------------
// Expand, Tile

defineOp({
  name: 'Expand',
  inputs: [
    { name: 'input', type: 'T' },
    { name: 'shape', type: 'I64' },
  ],
  outputs: ['output'],
  types: { T: ALL_TYPES, I64: INT64 },
  attributes: {},
  normalize(inputs, attrs, ctx) {
    const shape = req('Expand', inputs, 1, 'shape', ctx);
    return withAttrs(inputs, attrs, { shape: intValues('Expand', 'shape', shape, ctx) });
  },
  infer(inputs, attrs, ctx) {
    const x = req('Expand', inputs, 0, 'input', ctx);
    const shape = ints(attrs, 'shape');
    if (shape.some((d) => d < 0)) fail('Expand', `input 'shape' is ${fmtShape(shape)}; dims must be >= 0`, ctx);
    const dims = broadcastOrFail('Expand', ctx, x.dims, shape);
    checkedSize('Expand', dims, ctx);
    return [{ type: x.type, dims }];
  },
});

defineOp({
  name: 'Tile',
  inputs: [
    { name: 'input', type: 'T' },
    { name: 'repeats', type: 'I64' },
  ],
  outputs: ['output'],
  types: { T: ALL_TYPES, I64: INT64 },
  attributes: {},
  normalize(inputs, attrs, ctx) {
    if (ctx.opset < 6) fail('Tile', `the opset ${ctx.opset} form (inputs 'tiles' and 'axis') is not supported; Tessera implements Tile-6 and later`, ctx);
    const repeats = req('Tile', inputs, 1, 'repeats', ctx);
    return withAttrs(inputs, attrs, { repeats: intValues('Tile', 'repeats', repeats, ctx) });
  },
  infer(inputs, attrs, ctx) {
    const x = req('Tile', inputs, 0, 'input', ctx);
    const repeats = ints(attrs, 'repeats');
    if (repeats.length !== x.rank) {
      fail('Tile', `input 'repeats' has ${repeats.length} values [${repeats.join(', ')}] for input 'input' with shape ${fmtShape(x.dims)}; expected ${x.rank}, one per axis`, ctx);
    }
    if (repeats.some((r) => r < 0)) fail('Tile', `input 'repeats' is [${repeats.join(', ')}]; repeats must be >= 0`, ctx);
    const dims = x.dims.map((d, i) => d * repeats[i]!);
    checkedSize('Tile', dims, ctx);
    return [{ type: x.type, dims }];
  },
});

// ---------------------------------------------------------------------------------------------------------
// Pad

/** Pad modes. */
export type PadMode = 'constant' | 'reflect' | 'edge' | 'wrap';
const PAD_MODES: readonly string[] = ['constant', 'reflect', 'edge', 'wrap'];

defineOp({
  name: 'Pad',
  inputs: [
    { name: 'data', type: 'T' },
    // inputs from opset 11 (axes from 18); Pad-1 has attribute `paddings`, Pad-2 `pads`, both with `value`
    { name: 'pads', type: 'I64', optional: true },
    { name: 'constant_value', type: 'T', optional: true },
    { name: 'axes', type: 'Tind', optional: true },
  ],
  outputs: ['output'],
  types: { T: ALL_TYPES, I64: INT64, Tind: INDEX_TYPES },
  attributes: {
    mode: { kind: 'string', default: 'constant' },
    pads: { kind: 'ints' },
    paddings: { kind: 'ints' },
    value: { kind: 'float', default: 0 },
  },
  normalize(inputs, attrs, ctx) {
    const op = 'Pad';
    const x = req(op, inputs, 0, 'data', ctx);
    let pads = intsFromInputOrAttr(op, inputs, 1, 'pads', attrs, 'pads', ctx);
    if (!pads && attrs.paddings !== undefined) pads = ints(attrs, 'paddings');
    if (!pads) fail(op, ctx.opset >= 11 ? `input 1 'pads' is required but missing` : `attribute 'pads' is required`, ctx);
    const axes = inputs[3] ? axesIn(op, 'axes', intValues(op, 'axes', inputs[3], ctx), x.rank, x.dims, ctx) : [...x.dims.keys()];
    if (pads.length !== 2 * axes.length) {
      const of = inputs[3] ? `${axes.length} axes` : `input 'data' with shape ${fmtShape(x.dims)} (rank ${x.rank})`;
      fail(op, `pads [${pads.join(', ')}] has ${pads.length} values for ${of}; expected ${2 * axes.length} ([begin..., end...])`, ctx);
    }
    const full = new Array<number>(2 * x.rank).fill(0);
    axes.forEach((a, i) => {
      full[a] = pads[i]!;
      full[a + x.rank] = pads[i + axes.length]!;
    });
    const value = inputs[2];
    if (value && value.size !== 1) fail(op, `input 2 'constant_value' has shape ${fmtShape(value.dims)}; expected a scalar (one element)`, ctx);
    attrs.pads = full;
    return { inputs, attrs };
  },
  infer(inputs, attrs, ctx) {
    const x = req('Pad', inputs, 0, 'data', ctx);
    const mode = attrs.mode as string;
    if (!PAD_MODES.includes(mode)) fail('Pad', `mode '${mode}' is not one of ${PAD_MODES.join(', ')}`, ctx);
    const pads = ints(attrs, 'pads');
    const dims = x.dims.map((d, i) => {
      const begin = pads[i]!;
      const end = pads[i + x.rank]!;
      const out = d + begin + end;
      // negative pads crop the input first (as onnxruntime does); they cannot remove more than the axis holds
      const kept = d - Math.max(0, -begin) - Math.max(0, -end);
      if (kept < 0) fail('Pad', `pads [${pads.join(', ')}] crop ${d - kept} elements from axis ${i} of input 'data' with shape ${fmtShape(x.dims)}, which has ${d}`, ctx);
      if (mode !== 'constant' && kept === 0 && (begin > 0 || end > 0)) {
        fail('Pad', `mode '${mode}' cannot pad axis ${i} of input 'data' with shape ${fmtShape(x.dims)}: no elements are left to copy from`, ctx);
      }
      return out;
    });
    checkedSize('Pad', dims, ctx);
    return [{ type: x.type, dims }];
  },
});

// ---------------------------------------------------------------------------------------------------------
// Shape, Size, ConstantOfShape, Range, Constant, NonZero

defineOp({
  name: 'Shape',
  inputs: [{ name: 'data', type: 'T' }],
  outputs: ['shape'],
  types: { T: VIEW_TYPES },
  attributes: { start: { kind: 'int', default: 0 }, end: { kind: 'int' } },
  infer(inputs, attrs, ctx) {
    const x = req('Shape', inputs, 0, 'data', ctx);
    const [start, end] = shapeRange(x.rank, attrs);
    return [{ type: 'int64', dims: [Math.max(end - start, 0)] }];
  },
});

/** Shape-15's clamped [start, end) over the dims of a rank-`rank` tensor. */
export function shapeRange(rank: number, attrs: Attrs): [number, number] {
  const clamp = (v: number): number => Math.min(Math.max(v < 0 ? v + rank : v, 0), rank);
  const start = clamp(attrs.start === undefined ? 0 : (attrs.start as number));
  const end = clamp(attrs.end === undefined ? rank : (attrs.end as number));
  return [start, end];
}

defineOp({
  name: 'Size',
  inputs: [{ name: 'data', type: 'T' }],
  outputs: ['size'],
  types: { T: VIEW_TYPES },
  attributes: {},
  infer: () => [{ type: 'int64', dims: [] }],
});

defineOp({
  name: 'ConstantOfShape',
  inputs: [{ name: 'input', type: 'I64' }],
  outputs: ['output'],
  types: { I64: INT64 },
  attributes: { value: { kind: 'tensor' } },
  normalize(inputs, attrs, ctx) {
    const shape = req('ConstantOfShape', inputs, 0, 'input', ctx);
    return withAttrs(inputs, attrs, { shape: intValues('ConstantOfShape', 'input', shape, ctx) });
  },
  infer(inputs, attrs, ctx) {
    const dims = ints(attrs, 'shape');
    if (dims.some((d) => d < 0)) fail('ConstantOfShape', `input 'input' is ${fmtShape(dims)}; dims must be >= 0`, ctx);
    const value = attrs.value as Tensor | undefined;
    if (value && value.size !== 1) fail('ConstantOfShape', `attribute 'value' has shape ${fmtShape(value.dims)}; expected one element`, ctx);
    checkedSize('ConstantOfShape', dims, ctx);
    return [{ type: value ? value.type : 'float32', dims }];
  },
});

const RANGE_TYPES: readonly DataType[] = ['float32', 'float64', 'float16', 'int16', 'int32', 'int64'];

/** Number of elements of Range(start, limit, delta): max(ceil((limit - start) / delta), 0). */
function rangeCount(start: number | bigint, limit: number | bigint, delta: number | bigint, type: DataType): number {
  if (typeof start === 'bigint') {
    const diff = (limit as bigint) - start;
    const d = delta as bigint;
    let q = diff / d;
    if (diff % d !== 0n && diff > 0n === d > 0n) q += 1n;
    return q > 0n ? (q > BigInt(MAX_ELEMENTS) + 1n ? MAX_ELEMENTS + 1 : Number(q)) : 0;
  }
  const diff = type === 'float32' ? Math.fround((limit as number) - start) : (limit as number) - start;
  const n = Math.ceil(diff / (delta as number));
  return n > 0 ? Math.min(n, MAX_ELEMENTS + 1) : 0;
}

defineOp({
  name: 'Range',
  inputs: [
    { name: 'start', type: 'T' },
    { name: 'limit', type: 'T' },
    { name: 'delta', type: 'T' },
  ],
  outputs: ['output'],
  types: { T: RANGE_TYPES },
  attributes: { stash_type: { kind: 'int', default: 1 } },
  infer(inputs, _attrs, ctx) {
    const names = ['start', 'limit', 'delta'];
    const vals = names.map((name, i) => {
      const t = req('Range', inputs, i, name, ctx);
      if (t.size !== 1) fail('Range', `input '${name}' has shape ${fmtShape(t.dims)}; expected a scalar`, ctx);
      return t.item();
    });
    const type = inputs[0]!.type;
    const delta = vals[2]!;
    if (delta === 0 || delta === 0n) fail('Range', `input 'delta' is 0; the range would never reach 'limit'`, ctx);
    if (vals.some((v) => typeof v === 'number' && !Number.isFinite(v))) {
      fail('Range', `start ${vals[0]}, limit ${vals[1]} and delta ${vals[2]} must be finite`, ctx);
    }
    const n = rangeCount(vals[0]!, vals[1]!, delta, type);
    if (n > MAX_ELEMENTS) fail('Range', `start ${vals[0]}, limit ${vals[1]}, delta ${vals[2]} give more than ${MAX_ELEMENTS} elements`, ctx);
    return [{ type, dims: [n] }];
  },
});

defineOp({
  name: 'Constant',
  inputs: [],
  outputs: ['output'],
  types: {},
  attributes: {
    value: { kind: 'tensor' },
    sparse_value: { kind: 'tensor' },
    value_float: { kind: 'float' },
    value_floats: { kind: 'floats' },
    value_int: { kind: 'int' },
    value_ints: { kind: 'ints' },
    value_string: { kind: 'string' },
    value_strings: { kind: 'strings' },
  },
  infer(_inputs, attrs, ctx) {
    const given = Object.keys(attrs);
    if (given.length !== 1) {
      fail('Constant', `exactly one of value, sparse_value, value_float(s), value_int(s), value_string(s) must be given; got ${given.length ? given.join(', ') : 'none'}`, ctx);
    }
    const name = given[0]!;
    switch (name) {
      case 'value': {
        const v = attrs.value as Tensor;
        return [{ type: v.type, dims: v.dims }];
      }
      case 'value_float':
        return [{ type: 'float32', dims: [] }];
      case 'value_floats':
        return [{ type: 'float32', dims: [(attrs.value_floats as readonly number[]).length] }];
      case 'value_int':
        return [{ type: 'int64', dims: [] }];
      case 'value_ints':
        return [{ type: 'int64', dims: [(attrs.value_ints as readonly number[]).length] }];
      case 'sparse_value':
        return fail('Constant', `attribute 'sparse_value' (a sparse tensor) is not supported; store the constant densely in 'value'`, ctx);
      default:
        return fail('Constant', `attribute '${name}' makes a string tensor; Tessera does not support string tensors`, ctx);
    }
  },
});

/** Truthiness of every element of `t` as 0/1 (NaN counts as non-zero, -0 as zero), by raw bits. */
function nonZeroFlags(t: Tensor): Uint8Array {
  const n = t.size;
  const flags = new Uint8Array(n);
  const d = t.data;
  switch (t.type) {
    case 'float16': {
      const h = d as Uint16Array;
      for (let i = 0; i < n; i++) flags[i] = h[i]! & 0x7fff ? 1 : 0;
      break;
    }
    case 'int64': {
      const b = d as BigInt64Array;
      for (let i = 0; i < n; i++) flags[i] = b[i] !== 0n ? 1 : 0;
      break;
    }
    default: {
      const v = d as Exclude<typeof d, BigInt64Array>;
      for (let i = 0; i < n; i++) flags[i] = v[i] !== 0 ? 1 : 0;
    }
  }
  return flags;
}

defineOp({
  name: 'NonZero',
  inputs: [{ name: 'X', type: 'T' }],
  outputs: ['Y'],
  types: { T: ALL_TYPES },
  attributes: {},
  infer(inputs, _attrs, ctx) {
    const x = req('NonZero', inputs, 0, 'X', ctx);
    const flags = nonZeroFlags(x);
    let count = 0;
    for (let i = 0; i < flags.length; i++) count += flags[i]!;
    // a scalar is read as a 1-D tensor of one element (as numpy and onnxruntime do)
    return [{ type: 'int64', dims: [Math.max(x.rank, 1), count] }];
  },
});

// ---------------------------------------------------------------------------------------------------------
// Eager API

/** An int64 1-D tensor of `values`, failing with the op's name on non-integers. */
function int64List(op: string, name: string, values: readonly number[]): Tensor {
  const out = new BigInt64Array(values.length);
  values.forEach((v, i) => {
    if (!Number.isInteger(v)) fail(op, `'${name}' [${values.join(', ')}] holds ${v} at ${i}; expected integers`);
    out[i] = BigInt(v);
  });
  return new Tensor('int64', out, [values.length]);
}

/** One input of an eager call: a tensor, an int64 index list given as numbers, or absent. */
type EagerInput = Tensor | readonly [name: string, values: readonly number[] | Tensor | undefined] | undefined;

/** Run `op`, turning number lists into temporary int64 tensors that are disposed afterwards. */
function runWithIndexInputs(op: string, inputs: readonly EagerInput[], attrs: Record<string, AttrValue | undefined> = {}): Tensor[] {
  const temps: Tensor[] = [];
  const args = inputs.map((input) => {
    if (input === undefined || input instanceof Tensor) return input;
    const [name, v] = input;
    if (v === undefined || v instanceof Tensor) return v;
    const t = int64List(op, name, v);
    temps.push(t);
    return t;
  });
  try {
    return runOp(op, args, attrs);
  } finally {
    for (const t of temps) t.dispose();
  }
}

/** Permute the axes of `x` (default: reverse them). Returns a new contiguous tensor. */
export function transpose(x: Tensor, perm?: readonly number[]): Tensor {
  return runOp1('Transpose', [x], { perm });
}

/**
 * `x` with new dims (a zero-copy view when `x` is contiguous). A 0 in `shape` copies the input's dim at that
 * position unless `allowzero` is set; one -1 is inferred.
 */
export function reshape(x: Tensor, shape: readonly number[] | Tensor, opts: { allowzero?: boolean } = {}): Tensor {
  return runWithIndexInputs('Reshape', [x, ['shape', shape]], { allowzero: opts.allowzero ? 1 : 0 })[0]!;
}

/** Flatten to 2-D: [prod(dims[:axis]), prod(dims[axis:])] (axis may be negative). A view. */
export function flatten(x: Tensor, axis = 1): Tensor {
  return runOp1('Flatten', [x], { axis });
}

/** Remove the listed axes (each of size 1), or every size-1 axis when `axes` is omitted. A view. */
export function squeeze(x: Tensor, axes?: readonly number[]): Tensor {
  return runWithIndexInputs('Squeeze', [x, ['axes', axes]])[0]!;
}

/** Insert size-1 axes at the listed positions of the output. A view. */
export function unsqueeze(x: Tensor, axes: readonly number[]): Tensor {
  return runWithIndexInputs('Unsqueeze', [x, ['axes', axes]])[0]!;
}

/** Join tensors along `axis` (negative counts from the end); all other dims must match. */
export function concat(xs: readonly Tensor[], axis: number): Tensor {
  return runOp1('Concat', xs, { axis });
}

/**
 * Split `x` along `axis` (default 0) into parts of the given `split` sizes, or into `numOutputs` parts of
 * ceil(dim / numOutputs) (the last one smaller).
 */
export function split(x: Tensor, opts: { axis?: number; split?: readonly number[]; numOutputs?: number }): Tensor[] {
  return runWithIndexInputs('Split', [x, ['split', opts.split]], { axis: opts.axis ?? 0, num_outputs: opts.numOutputs });
}

/**
 * Elements start, start+step, ... before end along each listed axis (ONNX Slice: negative indices count from
 * the end, out-of-range values clamp, steps may be negative). `axes` defaults to the first axes, `steps` to 1.
 */
export function slice(x: Tensor, starts: readonly number[], ends: readonly number[], axes?: readonly number[], steps?: readonly number[]): Tensor {
  return runWithIndexInputs('Slice', [x, ['starts', starts], ['ends', ends], ['axes', axes], ['steps', steps]])[0]!;
}

/** Broadcast `x` with `shape` (numpy rules in both directions) and materialise the result. */
export function expand(x: Tensor, shape: readonly number[]): Tensor {
  return runWithIndexInputs('Expand', [x, ['shape', shape]])[0]!;
}

/** Repeat `x` `repeats[i]` times along each axis i. */
export function tile(x: Tensor, repeats: readonly number[]): Tensor {
  return runWithIndexInputs('Tile', [x, ['repeats', repeats]])[0]!;
}

/**
 * Pad (or, with negative values, crop) `x`: `pads` is [begin..., end...] for every axis, or for the listed
 * `axes`. Modes: constant (with `value`, default 0), reflect, edge, wrap.
 */
export function pad(x: Tensor, pads: readonly number[], opts: { mode?: PadMode; value?: number | Tensor; axes?: readonly number[] } = {}): Tensor {
  const temps: Tensor[] = [];
  let value: Tensor | undefined;
  if (opts.value instanceof Tensor) value = opts.value;
  else if (opts.value !== undefined) {
    value = x.type === 'int64' ? new Tensor('int64', [BigInt(Math.trunc(opts.value))], []) : fromNumbers(x.type, [opts.value], []);
    temps.push(value);
  }
  try {
    return runWithIndexInputs('Pad', [x, ['pads', pads], value, ['axes', opts.axes]], { mode: opts.mode ?? 'constant' })[0]!;
  } finally {
    for (const t of temps) t.dispose();
  }
}

/** The shape of `x` as an int64 1-D tensor, optionally only dims [start, end) (negative counts from the end). */
export function shape(x: Tensor, opts: { start?: number; end?: number } = {}): Tensor {
  return runOp1('Shape', [x], { start: opts.start, end: opts.end });
}

/** The number of elements of `x` as an int64 scalar. */
export function size(x: Tensor): Tensor {
  return runOp1('Size', [x]);
}

/** A tensor of dims `shape` filled with the one element of `value` (default: float32 0). */
export function constantOfShape(shape: readonly number[] | Tensor, value?: Tensor): Tensor {
  return runWithIndexInputs('ConstantOfShape', [['input', shape]], { value })[0]!;
}

/**
 * [start, start + delta, ...) up to `limit` (exclusive). Numbers become scalars of `type` (default float32);
 * tensors are used as they are.
 */
export function range(start: number | Tensor, limit: number | Tensor, delta: number | Tensor, type: DataType = 'float32'): Tensor {
  const temps: Tensor[] = [];
  const scalar = (v: number | Tensor): Tensor => {
    if (v instanceof Tensor) return v;
    const t = type === 'int64' ? new Tensor('int64', [BigInt(Math.trunc(v))], []) : fromNumbers(type, [v], []);
    temps.push(t);
    return t;
  };
  try {
    return runOp1('Range', [scalar(start), scalar(limit), scalar(delta)]);
  } finally {
    for (const t of temps) t.dispose();
  }
}

/** The same values as `x` (a zero-copy view). */
export function identity(x: Tensor): Tensor {
  return runOp1('Identity', [x]);
}

/** Coordinates of the non-zero elements of `x`: int64 [rank, count], in row-major order. */
export function nonZero(x: Tensor): Tensor {
  return runOp1('NonZero', [x]);
}
