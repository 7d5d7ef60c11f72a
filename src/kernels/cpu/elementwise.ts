/**
 * Elementwise CPU kernels, family root: imports the unary (./unary.ts), binary and variadic (./binary.ts) and
 * cast (./cast.ts) kernel files and holds the kernels that fit none of them: Where (three-way broadcast
 * select), Clip (scalar bounds) and Dropout (inference: identity plus an all-true mask).
 *
 * Where walks a row plan over (condition, X, Y) like the binary kernels (./broadcast-rows.ts), with a
 * float32 row and a generic row for the other dtypes (raw element copies, so float16 bits and int64 pass
 * unchanged). Clip is one loop per dtype class. Cost: one read per input element, one write per
 * output element.
 */
import './unary.js';
import './binary.js';
import './cast.js';
import { allocate, type NumericArray, type TypedArray } from '../../tensor/dtype.js';
import { numberToHalfBits } from '../../tensor/float16.js';
import { sizeOf } from '../../tensor/shape.js';
import { Tensor } from '../../tensor/tensor.js';
import { registerKernel, type Kernel } from '../registry.js';
import { planRows, type RowPlan } from './broadcast-rows.js';
import { float32ToHalfBits } from './half.js';

interface Slots<V> {
  [i: number]: V;
  readonly length: number;
}

/** Where rows for float32 (monomorphic). */
function whereRowsFloat32(plan: RowPlan, c: Uint8Array, x: Float32Array, y: Float32Array, out: Float32Array): void {
  const { rows, rowLength: n, innerStrides, rowOffsets } = plan;
  const [sc, sx, sy] = innerStrides as [number, number, number];
  for (let r = 0; r < rows; r++) {
    let ic = rowOffsets[0]![r]!;
    let ix = rowOffsets[1]![r]!;
    let iy = rowOffsets[2]![r]!;
    for (let o = r * n, end = o + n; o < end; o++, ic += sc, ix += sx, iy += sy) out[o] = c[ic] ? x[ix]! : y[iy]!;
  }
}

/** Where rows for any other storage (element copies). */
function whereRowsGeneric(plan: RowPlan, c: Uint8Array, x: Slots<number | bigint>, y: Slots<number | bigint>, out: Slots<number | bigint>): void {
  const { rows, rowLength: n, innerStrides, rowOffsets } = plan;
  const [sc, sx, sy] = innerStrides as [number, number, number];
  for (let r = 0; r < rows; r++) {
    let ic = rowOffsets[0]![r]!;
    let ix = rowOffsets[1]![r]!;
    let iy = rowOffsets[2]![r]!;
    for (let o = r * n, end = o + n; o < end; o++, ic += sc, ix += sx, iy += sy) out[o] = c[ic] ? x[ix]! : y[iy]!;
  }
}

const where: Kernel = (inputs, _attrs, outputs) => {
  const [c, x, y] = inputs as [Tensor, Tensor, Tensor];
  const spec = outputs[0]!;
  const plan = planRows(spec.dims, [c.dims, x.dims, y.dims]);
  const out = allocate(spec.type, sizeOf(spec.dims));
  if (spec.type === 'float32') {
    whereRowsFloat32(plan, c.data as Uint8Array, x.data as Float32Array, y.data as Float32Array, out as Float32Array);
  } else {
    const slots = (t: TypedArray): Slots<number | bigint> => t as unknown as Slots<number | bigint>;
    whereRowsGeneric(plan, c.data as Uint8Array, slots(x.data as TypedArray), slots(y.data as TypedArray), slots(out as TypedArray));
  }
  return [new Tensor(spec.type, out, spec.dims)];
};

/**
 * Clip floats into [lo, hi] as onnxruntime does (x < lo ? lo : x, then > hi): NaN stays NaN, -0 stays -0
 * (Math.max(-0, 0) would give +0), lo > hi gives hi everywhere.
 */
function clipFloats(x: Float32Array | Float64Array, out: Float32Array | Float64Array, lo: number, hi: number): void {
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    const above = v < lo ? lo : v;
    out[i] = above > hi ? hi : above;
  }
}

/** Clip integers into [lo, hi] (lo > hi gives hi everywhere). */
function clipIntegers(x: NumericArray, out: NumericArray, lo: number, hi: number): void {
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    const above = v < lo ? lo : v;
    out[i] = above > hi ? hi : above;
  }
}

const clip: Kernel = (inputs, _attrs, outputs) => {
  const [x, minT, maxT] = inputs as [Tensor, Tensor | undefined, Tensor | undefined];
  const spec = outputs[0]!;
  if (x.type === 'int64') {
    const lo = minT ? (minT.data as BigInt64Array)[0]! : undefined;
    const hi = maxT ? (maxT.data as BigInt64Array)[0]! : undefined;
    const s = x.data as BigInt64Array;
    const d = allocate('int64', s.length);
    for (let i = 0; i < s.length; i++) {
      let v = s[i]!;
      if (lo !== undefined && v < lo) v = lo;
      if (hi !== undefined && v > hi) v = hi;
      d[i] = v;
    }
    return [new Tensor('int64', d, spec.dims)];
  }
  const lo = minT ? Number(minT.item()) : -Infinity;
  const hi = maxT ? Number(maxT.item()) : Infinity;
  if (x.type === 'float16') {
    const values = x.numbers() as Float32Array;
    clipFloats(values, values, lo, hi);
    return [new Tensor('float16', float32ToHalfBits(values), spec.dims)];
  }
  const out = allocate(x.type, x.size) as NumericArray;
  if (x.type === 'float32' || x.type === 'float64') clipFloats(x.data as Float32Array, out as Float32Array, lo, hi);
  else clipIntegers(x.data as NumericArray, out, lo, hi);
  return [new Tensor(spec.type, out as TypedArray, spec.dims)];
};

/** Dropout in inference mode: the output is the input (a zero-copy view); the mask, when present, is all true. */
const dropout: Kernel = (inputs, _attrs, outputs) => {
  const x = inputs[0]!;
  const result = [x.reshape(x.dims)];
  const maskSpec = outputs[1];
  if (maskSpec) {
    const n = sizeOf(maskSpec.dims);
    const mask = allocate(maskSpec.type, n) as NumericArray;
    // before opset 10 the mask has the data's float type; a float16 one is stored as half bits
    mask.fill(maskSpec.type === 'float16' ? numberToHalfBits(1) : 1);
    result.push(new Tensor(maskSpec.type, mask as TypedArray, maskSpec.dims));
  }
  return result;
};

registerKernel('Where', 'cpu', where);
registerKernel('Clip', 'cpu', clip);
registerKernel('Dropout', 'cpu', dropout);
