/**
 * CPU kernels of the int8 family.
 *
 * QuantizeLinear / DequantizeLinear walk the tensor as [outer, axis, inner] so the parameter index is found
 * without division per element: per tensor it is 0, per axis the axis position, blocked the block of it.
 * Division and multiplication are rounded to float32 as ONNX's reference does (x / scale in the scale's
 * precision), then rounded half to even and saturated.
 *
 * MatMulInteger / QLinearMatMul: JavaScript has no fast int8 arithmetic (FIELD-NOTES: Math.imul paths are
 * slower than float), so operands are unpacked once to Float64Array with zero points subtracted and
 * multiplied with an i-k-j loop; every partial sum of int8 products is an integer below 2^53, so float64 is
 * exact, and the final `| 0` wraps to int32 exactly as 32-bit accumulation would. Cost: 2*M*N*K flops,
 * M*K + K*N unpacked elements.
 */
import { f16round } from '@petamoriken/float16';
import { allocate, type DataType, type NumericArray } from '../../tensor/dtype.js';
import { integerRange, roundHalfEven } from '../../tensor/numeric.js';
import { Tensor, fromNumbers } from '../../tensor/tensor.js';
import { registerKernel, type Kernel } from '../registry.js';
import { outputTensor } from './util.js';
import { integerMatmul, unpackCentered } from './integer-gemm.js';
import { cachedPackedInt8B, int8Gemm, int8GemmAvailable, INT8_GEMM_MAX_K, packInt8B, rowMajorRows } from './gemm-int8.js';
import { ScratchSlot } from './scratch.js';
import './quantize-conv.js';
import './quant-fused.js';
import './int4-matmul.js';

/** float32 values of float16 dequantizations; QLinearMatMul's requantization multipliers (./scratch.ts). */
const HALF_WORK = new ScratchSlot();
const MULTIPLIERS = new ScratchSlot();

/** Geometry of a parameter layout over a tensor: sizes of the [outer, axis, inner] view and the block size. */
interface ParamWalk {
  outer: number;
  axisLen: number;
  inner: number;
  kind: 'tensor' | 'axis' | 'block';
  block: number;
}

/** Decide the [outer, axis, inner] walk for parameters of `scaleDims` over `dims` (shapes already validated). */
export function paramWalk(dims: readonly number[], scaleDims: readonly number[], axisAttr: number, blockSize: number): ParamWalk {
  const scaleSize = scaleDims.reduce((p, d) => p * d, 1);
  if (blockSize === 0 && scaleSize === 1 && scaleDims.length <= 1) return { outer: 1, axisLen: dims.reduce((p, d) => p * d, 1), inner: 1, kind: 'tensor', block: 1 };
  const axis = axisAttr < 0 ? axisAttr + dims.length : axisAttr;
  const outer = dims.slice(0, axis).reduce((p, d) => p * d, 1);
  const inner = dims.slice(axis + 1).reduce((p, d) => p * d, 1);
  return { outer, axisLen: dims[axis]!, inner, kind: blockSize > 0 ? 'block' : 'axis', block: Math.max(blockSize, 1) };
}

/** Parameter index for position (o, a, i) of a walk. */
function paramIndex(w: ParamWalk, o: number, a: number, i: number): number {
  if (w.kind === 'tensor') return 0;
  if (w.kind === 'axis') return a;
  const nb = Math.ceil(w.axisLen / w.block);
  return (o * nb + Math.floor(a / w.block)) * w.inner + i;
}

/** Rounding of an intermediate to the precision of a float dtype. */
function precisionOf(type: DataType): (v: number) => number {
  if (type === 'float16') return f16round;
  if (type === 'float64') return (v) => v;
  return Math.fround;
}

const quantizeLinear: Kernel = (inputs, attrs, outputs) => {
  const x = inputs[0]!;
  const scale = inputs[1]!;
  const zp = inputs[2];
  const out = outputTensor(outputs[0]!);
  const xs = x.numbers();
  const ss = scale.numbers();
  const zs = zp ? zp.numbers() : undefined;
  const dst = out.data as NumericArray;
  const [lo, hi] = integerRange(out.type);
  const w = paramWalk(x.dims, scale.dims, attrs.axis as number, attrs.block_size as number);
  const prec = precisionOf(scale.type === 'int32' ? 'float32' : scale.type);
  let p = 0;
  for (let o = 0; o < w.outer; o++) {
    for (let a = 0; a < w.axisLen; a++) {
      for (let i = 0; i < w.inner; i++, p++) {
        const pi = paramIndex(w, o, a, i);
        const q = roundHalfEven(prec(xs[p]! / ss[pi]!)) + (zs ? zs[pi]! : 0);
        // NaN saturates to the zero point's range start as ONNX Runtime does (NaN -> 0 after the cast)
        dst[p] = q < lo ? lo : q > hi ? hi : q === q ? q : 0;
      }
    }
  }
  return [out];
};

const dequantizeLinear: Kernel = (inputs, attrs, outputs) => {
  const x = inputs[0]!;
  const scale = inputs[1]!;
  const zp = inputs[2];
  const spec = outputs[0]!;
  const xs = x.numbers();
  const ss = scale.numbers();
  const zs = zp ? zp.numbers() : undefined;
  const vals = spec.type === 'float16' ? HALF_WORK.take('float32', x.size, true) : allocate('float32', x.size);
  const w = paramWalk(x.dims, scale.dims, attrs.axis as number, attrs.block_size as number);
  let p = 0;
  for (let o = 0; o < w.outer; o++) {
    for (let a = 0; a < w.axisLen; a++) {
      for (let i = 0; i < w.inner; i++, p++) {
        const pi = paramIndex(w, o, a, i);
        vals[p] = (xs[p]! - (zs ? zs[pi]! : 0)) * ss[pi]!;
      }
    }
  }
  if (spec.type === 'float16') return [fromNumbers('float16', vals, spec.dims)];
  return [new Tensor('float32', vals, spec.dims)];
};

/**
 * DynamicQuantizeLinear's uint8 parameters for `xs`: the range [min(x, 0), max(x, 0)] over 255 steps, in float32
 * as Operators.md writes it, and the zero point rounded half to even and saturated (NaN when a range of a few
 * denormals makes the scale 0; a uint8 store turns it into 0).
 */
export function dynamicQuantParams(xs: Float32Array): { scale: number; zeroPoint: number } {
  let max = 0;
  let min = 0;
  for (let i = 0; i < xs.length; i++) {
    const v = xs[i]!;
    if (v > max) max = v;
    if (v < min) min = v;
  }
  const scale = Math.fround(Math.fround(max === min ? 1 : max - min) / 255);
  const zpf = Math.fround(0 - Math.fround(min / scale));
  return { scale, zeroPoint: roundHalfEven(zpf < 0 ? 0 : zpf > 255 ? 255 : zpf) };
}

const dynamicQuantizeLinear: Kernel = (inputs, _attrs, outputs) => {
  const x = inputs[0]!;
  const xs = x.data as Float32Array;
  const { scale, zeroPoint: zp } = dynamicQuantParams(xs);
  const y = outputTensor(outputs[0]!);
  const d = y.data as Uint8Array;
  for (let i = 0; i < xs.length; i++) {
    const q = roundHalfEven(Math.fround(xs[i]! / scale)) + zp;
    d[i] = q < 0 ? 0 : q > 255 ? 255 : q;
  }
  const scaleData = allocate('float32', 1);
  scaleData[0] = scale;
  const zpData = allocate('uint8', 1);
  zpData[0] = zp;
  return [y, new Tensor('float32', scaleData, []), new Tensor('uint8', zpData, [])];
};

function promote(dims: readonly number[], side: 'a' | 'b'): number[] {
  if (dims.length >= 2) return [...dims];
  return side === 'a' ? [1, dims[0]!] : [dims[0]!, 1];
}

function batchOf(aDims: readonly number[], bDims: readonly number[]): number[] {
  const rank = Math.max(aDims.length, bDims.length) - 2;
  const a = aDims.slice(0, -2);
  const b = bDims.slice(0, -2);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const da = a[i - (rank - a.length)] ?? 1;
    const db = b[i - (rank - b.length)] ?? 1;
    out.push(da === 1 ? db : da);
  }
  return out;
}

/** Exact int32-valued accumulators (as float64) of a batched integer matmul with zero points subtracted. */
function integerMatmulAccumulators(a: Tensor, b: Tensor, azp: Tensor | undefined, bzp: Tensor | undefined): { acc: Float64Array; m: number; n: number } {
  const ad = promote(a.dims, 'a');
  const bd = promote(b.dims, 'b');
  const m = ad[ad.length - 2]!;
  const k = ad[ad.length - 1]!;
  const n = bd[bd.length - 1]!;
  const acc = integerMatmul(unpackCentered(a, azp, m, k, 'row'), ad, unpackCentered(b, bzp, k, n, 'col'), bd, batchOf(ad, bd), m, k, n);
  return { acc, m, n };
}

/**
 * MatMulInteger with a 2-D int8 B and no B zero point (a dynamically quantized model's weight) and a uint8/int8
 * A with one zero point: straight into the int8 SIMD GEMM (./gemm-int8.ts). A's rows (leading dims
 * flattened) are packed centred (a - za, exact in int16); B is packed once per weight when it is a constant of
 * the graph (`ctx.constantInputs`), else per call; the int32 accumulators are the result. Exact like the
 * general path (integerMatmulAccumulators), without widening B to float64 on every call. Returns false when
 * the call does not fit.
 */
function matMulIntegerInt8(a: Tensor, b: Tensor, azp: Tensor | undefined, bzp: Tensor | undefined, out: Int32Array, constantB: boolean): boolean {
  if (!int8GemmAvailable() || b.type !== 'int8' || b.rank !== 2 || a.rank < 1 || (a.type !== 'uint8' && a.type !== 'int8')) return false;
  if (azp && azp.size !== 1) return false;
  if (bzp && bzp.numbers().some((v) => v !== 0)) return false;
  const [k, n] = b.dims as [number, number];
  if (k === 0 || n === 0 || k > INT8_GEMM_MAX_K || a.dims[a.rank - 1] !== k) return false;
  const m = a.size / k;
  if (m === 0) return true;
  const za = azp ? azp.numbers()[0]! : 0;
  const ad = a.data as Uint8Array | Int8Array;
  const bw = b.data as Int8Array;
  const packed = constantB ? cachedPackedInt8B(bw, 0, n, 1, k, n) : packInt8B(bw, 0, n, 1, k, n);
  int8Gemm(
    m,
    packed,
    rowMajorRows(ad, 0, k, za),
    (acc, at, ldc, row0, rows) => {
      for (let r = 0; r < rows; r++) out.set(acc.subarray(at + r * ldc, at + r * ldc + n), (row0 + r) * n);
    },
  );
  return true;
}

const matMulInteger: Kernel = (inputs, _attrs, outputs, ctx) => {
  const fast = outputTensor(outputs[0]!);
  if (matMulIntegerInt8(inputs[0]!, inputs[1]!, inputs[2], inputs[3], fast.data as Int32Array, ctx.constantInputs?.[1] === true)) return [fast];
  fast.dispose();
  const { acc } = integerMatmulAccumulators(inputs[0]!, inputs[1]!, inputs[2], inputs[3]);
  const y = outputTensor(outputs[0]!);
  const d = y.data as Int32Array;
  for (let i = 0; i < acc.length; i++) d[i] = acc[i]! | 0;
  return [y];
};

const qlinearMatMul: Kernel = (inputs, _attrs, outputs) => {
  const [a, as, azp, b, bs, bzp, ys, yzp] = inputs as Tensor[];
  const { acc, m, n } = integerMatmulAccumulators(a!, b!, azp, bzp);
  const prec = precisionOf(as!.type);
  const asv = as!.numbers();
  const bsv = bs!.numbers();
  const ysv = ys!.numbers()[0]!;
  const zy = yzp!.numbers()[0]!;
  // requantisation multiplier per (row, column): (a_scale * b_scale / y_scale) in the scales' precision
  const mult = MULTIPLIERS.take('float64', m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) mult[i * n + j] = prec(prec(asv[asv.length === 1 ? 0 : i]! * bsv[bsv.length === 1 ? 0 : j]!) / ysv);
  }
  const y = outputTensor(outputs[0]!);
  const d = y.data as NumericArray;
  const [lo, hi] = integerRange(y.type);
  const plane = m * n;
  for (let p = 0; p < acc.length; p++) {
    const q = roundHalfEven(acc[p]! * mult[p % plane]!) + zy;
    d[p] = q < lo ? lo : q > hi ? hi : q;
  }
  return [y];
};

registerKernel('QuantizeLinear', 'cpu', quantizeLinear);
registerKernel('DequantizeLinear', 'cpu', dequantizeLinear);
registerKernel('DynamicQuantizeLinear', 'cpu', dynamicQuantizeLinear);
registerKernel('MatMulInteger', 'cpu', matMulInteger);
registerKernel('QLinearMatMul', 'cpu', qlinearMatMul);
