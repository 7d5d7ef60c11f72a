/**
 * CPU kernels of the shape and data-movement family. Every kernel works for every dtype by moving raw lanes
 * (./strided.ts): no values are decoded, so float16, int64 and NaN payloads pass through bit-exactly.
 *
 * - Reshape, Flatten, Squeeze, Unsqueeze, Identity: zero-copy views of the (contiguous) input.
 * - Transpose: tiled 2-D transpose over merged axes (./transpose.ts).
 * - Slice: a strided view; returned as is when it is contiguous (e.g. a slice along the first axis), else
 *   copied row by row. Split along leading axes likewise returns views; otherwise rows are copied.
 * - Concat: per input, a 2-D strided copy of [outer, rows] into its column band of the output.
 * - Expand: strided copy with stride 0 on broadcast axes. Tile: strided copy over the interleaved
 *   [r0, d0, r1, d1, ...] box with stride 0 on the repeat axes.
 * - Pad: constant mode fills then copies the (cropped) input into the inner box; edge/reflect/wrap gather
 *   through one source-offset table per axis.
 * Cost: one read and one write per output element (NonZero: two passes over the input).
 */
import { allocate, type DataType, type TypedArray } from '../../tensor/dtype.js';
import { broadcastStrides, stridesOf } from '../../tensor/shape.js';
import { fromNumbers, Tensor } from '../../tensor/tensor.js';
import { registerKernel, type Attrs, type Kernel, type OutputSpec } from '../registry.js';
import { copyStrided, fillLanes, gatherByAxisTables, lanesOf, type Lanes } from './strided.js';
import { ScratchSlot } from './scratch.js';
import { transposeLanes } from './transpose.js';

/** Per-call scratch (see ./scratch.ts): Pad's per-axis source tables, NonZero's flags, float16 Range values. */
const PAD_TABLES = new ScratchSlot();
const NONZERO_FLAGS = new ScratchSlot();
const HALF_WORK = new ScratchSlot();

/** A new contiguous output for `spec` together with its lanes. */
function newOutput(spec: OutputSpec): { out: Tensor; lanes: Lanes } {
  const data = allocate(spec.type, spec.dims.reduce((p, d) => p * d, 1)) as TypedArray;
  return { out: new Tensor(spec.type, data, spec.dims), lanes: lanesOf(data).lanes };
}

function intsAttr(attrs: Attrs, name: string): number[] {
  const v = attrs[name];
  return v === undefined ? [] : Array.from(v as readonly number[]);
}

// ---------------------------------------------------------------------------------------------------------
// Views

const view: Kernel = (inputs, _attrs, outputs) => [inputs[0]!.reshape(outputs[0]!.dims)];
for (const op of ['Reshape', 'Flatten', 'Squeeze', 'Unsqueeze', 'Identity']) registerKernel(op, 'cpu', view);

// ---------------------------------------------------------------------------------------------------------
// Transpose

registerKernel('Transpose', 'cpu', (inputs, attrs, outputs) => {
  const x = inputs[0]!;
  const perm = attrs.perm === undefined ? [...Array(x.rank).keys()].reverse() : intsAttr(attrs, 'perm');
  const { out, lanes } = newOutput(outputs[0]!);
  const src = lanesOf(x.data);
  transposeLanes(src.lanes, lanes, x.dims, perm, src.perElement);
  return [out];
});

// ---------------------------------------------------------------------------------------------------------
// Concat, Split

registerKernel('Concat', 'cpu', (inputs, attrs, outputs) => {
  const spec = outputs[0]!;
  const rank = spec.dims.length;
  const axis = (attrs.axis as number) < 0 ? (attrs.axis as number) + rank : (attrs.axis as number);
  const outer = spec.dims.slice(0, axis).reduce((p, d) => p * d, 1);
  const inner = spec.dims.slice(axis + 1).reduce((p, d) => p * d, 1);
  const outRow = spec.dims[axis]! * inner;
  const { out, lanes } = newOutput(spec);
  let column = 0;
  for (const t of inputs) {
    const x = t!;
    const row = x.dims[axis]! * inner;
    const src = lanesOf(x.data);
    copyStrided(src.lanes, 0, [row, 1], lanes, column, [outRow, 1], [outer, row], src.perElement);
    column += row;
  }
  return [out];
});

registerKernel('Split', 'cpu', (inputs, attrs, outputs) => {
  const x = inputs[0]!;
  const axis = attrs.axis as number;
  const outer = x.dims.slice(0, axis).reduce((p, d) => p * d, 1);
  const inner = x.dims.slice(axis + 1).reduce((p, d) => p * d, 1);
  const inRow = x.dims[axis]! * inner;
  const src = lanesOf(x.data);
  let start = 0;
  return outputs.map((spec) => {
    const part = spec.dims[axis]!;
    const begin = start;
    start += part;
    // along a leading axis every part is one contiguous run of the input: return a view
    if (outer === 1) return x.slice([begin], [begin + part], [axis]);
    const { out, lanes } = newOutput(spec);
    copyStrided(src.lanes, begin * inner, [inRow, 1], lanes, 0, [part * inner, 1], [outer, part * inner], src.perElement);
    return out;
  });
});

// ---------------------------------------------------------------------------------------------------------
// Slice, Expand, Tile

registerKernel('Slice', 'cpu', (inputs, attrs, outputs) => {
  const x = inputs[0]!;
  const axes = intsAttr(attrs, 'axes');
  const steps = intsAttr(attrs, 'steps');
  // Tensor.slice clamps as ONNX Slice does (a backward start below -d becomes index 0)
  const v = x.slice(intsAttr(attrs, 'starts'), intsAttr(attrs, 'ends'), axes, steps);
  if (v.isContiguous) return [v];
  const { out, lanes } = newOutput(outputs[0]!);
  const src = lanesOf(v.raw());
  copyStrided(src.lanes, v.offset, v.strides, lanes, 0, stridesOf(v.dims), v.dims, src.perElement);
  v.dispose();
  return [out];
});

registerKernel('Expand', 'cpu', (inputs, _attrs, outputs) => {
  const x = inputs[0]!;
  const spec = outputs[0]!;
  const { out, lanes } = newOutput(spec);
  const src = lanesOf(x.data);
  copyStrided(src.lanes, 0, broadcastStrides(x.dims, spec.dims), lanes, 0, stridesOf(spec.dims), spec.dims, src.perElement);
  return [out];
});

registerKernel('Tile', 'cpu', (inputs, attrs, outputs) => {
  const x = inputs[0]!;
  const repeats = intsAttr(attrs, 'repeats');
  const { out, lanes } = newOutput(outputs[0]!);
  // output index along axis k is rep * d_k + i: the box [r0, d0, r1, d1, ...] in row-major order
  const inStrides = stridesOf(x.dims);
  const box: number[] = [];
  const boxSrc: number[] = [];
  x.dims.forEach((d, k) => {
    box.push(repeats[k]!, d);
    boxSrc.push(0, inStrides[k]!);
  });
  const src = lanesOf(x.data);
  copyStrided(src.lanes, 0, boxSrc, lanes, 0, stridesOf(box), box, src.perElement);
  return [out];
});

// ---------------------------------------------------------------------------------------------------------
// Pad

/** Lanes of the pad value: the `constant_value` input, else the legacy `value` attribute converted to `type`. */
function padValueLanes(type: DataType, valueInput: Tensor | undefined, attrs: Attrs): Lanes {
  if (valueInput) return lanesOf(valueInput.data).lanes;
  const v = (attrs.value as number | undefined) ?? 0;
  const t = fromNumbers(type, [v], []);
  const lanes = lanesOf(t.data).lanes;
  t.dispose();
  return lanes;
}

/** Map a coordinate `c` relative to the kept range [0, n) back into it, by pad mode. */
function foldCoordinate(c: number, n: number, mode: string): number {
  if (c >= 0 && c < n) return c;
  if (mode === 'edge') return c < 0 ? 0 : n - 1;
  if (mode === 'wrap') return ((c % n) + n) % n;
  // reflect: mirror about the first and last element, periodic with period 2(n - 1)
  if (n === 1) return 0;
  const period = 2 * (n - 1);
  const m = ((c % period) + period) % period;
  return m < n ? m : period - m;
}

registerKernel('Pad', 'cpu', (inputs, attrs, outputs) => {
  const x = inputs[0]!;
  const spec = outputs[0]!;
  const rank = x.rank;
  const pads = intsAttr(attrs, 'pads');
  const mode = attrs.mode as string;
  const { out, lanes } = newOutput(spec);
  const src = lanesOf(x.data);
  const inStrides = stridesOf(x.dims);
  // negative pads crop: the kept box of the input starts at keepStart and has keepDims
  const keepStart = x.dims.map((_, k) => Math.max(0, -pads[k]!));
  const keepDims = x.dims.map((d, k) => d - keepStart[k]! - Math.max(0, -pads[k + rank]!));
  const padBefore = x.dims.map((_, k) => Math.max(0, pads[k]!));
  const srcOffset = keepStart.reduce((p, s, k) => p + s * inStrides[k]!, 0);
  if (mode === 'constant') {
    fillLanes(lanes, padValueLanes(x.type, inputs[2], attrs), src.perElement);
    const outStrides = stridesOf(spec.dims);
    const dstOffset = padBefore.reduce((p, b, k) => p + b * outStrides[k]!, 0);
    copyStrided(src.lanes, srcOffset, inStrides, lanes, dstOffset, outStrides, keepDims, src.perElement);
    return [out];
  }
  const store = PAD_TABLES.take('int32', spec.dims.reduce((p, n) => p + n, 0));
  let at = 0;
  const tables = spec.dims.map((n, k) => {
    const table = store.subarray(at, (at += n));
    for (let o = 0; o < n; o++) table[o] = (keepStart[k]! + foldCoordinate(o - padBefore[k]!, keepDims[k]!, mode)) * inStrides[k]!;
    return table;
  });
  gatherByAxisTables(src.lanes, tables, spec.dims, lanes, src.perElement);
  return [out];
});

// ---------------------------------------------------------------------------------------------------------
// Shape, Size, ConstantOfShape, Range, Constant, NonZero

registerKernel('Shape', 'cpu', (inputs, attrs, outputs) => {
  const x = inputs[0]!;
  const rank = x.rank;
  const start = (attrs.start as number | undefined) ?? 0;
  const from = Math.min(Math.max(start < 0 ? start + rank : start, 0), rank);
  const n = outputs[0]!.dims[0]!;
  const data = allocate('int64', n);
  for (let i = 0; i < n; i++) data[i] = BigInt(x.dims[from + i]!);
  return [new Tensor('int64', data, [n])];
});

registerKernel('Size', 'cpu', (inputs) => {
  const data = allocate('int64', 1);
  data[0] = BigInt(inputs[0]!.size);
  return [new Tensor('int64', data, [])];
});

registerKernel('ConstantOfShape', 'cpu', (_inputs, attrs, outputs) => {
  const spec = outputs[0]!;
  const { out, lanes } = newOutput(spec);
  const value = attrs.value as Tensor | undefined;
  if (value) {
    const v = lanesOf(value.data);
    fillLanes(lanes, v.lanes, v.perElement);
  }
  return [out];
});

registerKernel('Range', 'cpu', (inputs, _attrs, outputs) => {
  const spec = outputs[0]!;
  const n = spec.dims[0]!;
  const [start, , delta] = inputs.map((t) => t!.item());
  if (spec.type === 'int64') {
    const data = allocate('int64', n);
    let v = start as bigint;
    for (let i = 0; i < n; i++, v += delta as bigint) data[i] = v;
    return [new Tensor('int64', data, [n])];
  }
  const s = start as number;
  const d = delta as number;
  if (spec.type === 'float16') {
    // stash_type 1: computed in float32, rounded to half once
    const values = HALF_WORK.take('float32', n, true);
    for (let i = 0; i < n; i++) values[i] = s + i * d;
    return [fromNumbers('float16', values, [n])];
  }
  const { out } = newOutput(spec);
  const data = out.data as Float32Array | Float64Array | Int16Array | Int32Array;
  for (let i = 0; i < n; i++) data[i] = s + i * d;
  return [out];
});

registerKernel('Constant', 'cpu', (_inputs, attrs, outputs) => {
  const spec = outputs[0]!;
  if (attrs.value !== undefined) return [(attrs.value as Tensor).reshape(spec.dims)];
  if (attrs.value_float !== undefined) return [fromNumbers('float32', [attrs.value_float as number], [])];
  if (attrs.value_floats !== undefined) return [fromNumbers('float32', attrs.value_floats as readonly number[], spec.dims)];
  const values = attrs.value_int !== undefined ? [attrs.value_int as number] : (attrs.value_ints as readonly number[]);
  const data = allocate('int64', values.length);
  for (let i = 0; i < values.length; i++) data[i] = BigInt(values[i]!);
  return [new Tensor('int64', data, spec.dims)];
});

/** Per-type bit masks that tell zero from non-zero on raw lanes (floats: ignore the sign bit, so -0 is zero). */
function zeroMasks(type: DataType): [lowMask: number, highMask: number] {
  if (type === 'float16') return [0x7fff, 0];
  if (type === 'float32') return [0x7fffffff, 0];
  if (type === 'float64') return [0xffffffff, 0x7fffffff];
  return [0xffffffff, 0xffffffff];
}

registerKernel('NonZero', 'cpu', (inputs, _attrs, outputs) => {
  const x = inputs[0]!;
  const n = x.size;
  const { lanes, perElement } = lanesOf(x.data);
  const [low, high] = zeroMasks(x.type);
  const flags = NONZERO_FLAGS.take('uint8', n, true);
  let count = 0;
  if (perElement === 1) {
    for (let i = 0; i < n; i++) count += flags[i] = (lanes[i]! & low) !== 0 ? 1 : 0;
  } else {
    // little-endian: lane 2i is the low word, 2i + 1 the high word
    for (let i = 0; i < n; i++) count += flags[i] = ((lanes[2 * i]! & low) | (lanes[2 * i + 1]! & high)) !== 0 ? 1 : 0;
  }
  const rows = outputs[0]!.dims[0]!;
  const data = allocate('int64', rows * count);
  if (x.rank === 0) return [new Tensor('int64', data, [rows, count])];
  // walk the multi-index with an odometer; column j gets the coordinates of the j-th non-zero element
  const counter = new Array<number>(x.rank).fill(0);
  const last = x.rank - 1;
  for (let i = 0, j = 0; i < n; i++) {
    if (flags[i]) {
      for (let k = 0; k < x.rank; k++) data[k * count + j] = BigInt(counter[k]!);
      j++;
    }
    for (let k = last; k >= 0; k--) {
      if (++counter[k]! < x.dims[k]!) break;
      counter[k] = 0;
    }
  }
  return [new Tensor('int64', data, [rows, count])];
});
