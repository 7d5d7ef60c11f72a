/**
 * CPU kernels of the quantized-weight operators of src/ops/quant-fused.ts (domain 'com.tessera').
 *
 * QDQConv / QDQMatMul / QDQGemm: the weight stays int8 in the model; each call
 *  1. fake-quantizes the data input when X_scale is given, in one pass into a scratch buffer:
 *     x' = (saturate(roundHalfEven(fround(x / s)) + z) - z) * s, exactly QuantizeLinear then DequantizeLinear
 *     (no uint8 tensor, no second pass, no allocation);
 *  2. dequantizes the int8 weight into a reused scratch buffer, w' = q * scale[channel] rounded to float32
 *     (exactly DequantizeLinear with zero point 0): M * K multiplies, 1 / (2 * O) of the convolution's FLOPs,
 *     no resident float copy (the scratch holds the largest layer only while a call runs);
 *  3. runs the float base kernel (Conv / MatMul / Gemm, so the same GEMM, im2col and depthwise paths) on the
 *     scratch views and applies the activation in place on its fresh output.
 * The result equals the literal QDQ graph (Q -> DQ -> DQ(W) -> op -> activation) bit for bit.
 *
 * SparseConv: a group-1 2-D convolution with a CSR weight; per image and output channel, the output row starts
 * at the bias and gets one axpy of an input (1x1 kernels) or im2col row per nonzero weight. Cost 2 * nnz * O
 * per image, against the dense GEMM's 2 * M * C*kH*kW * O; which one is faster at which sparsity is measured
 * (src/quant/sparse.ts measureSparseCrossover), not assumed.
 *
 * MatMulNBits (com.microsoft, bits 4, block 32): Y[M, N] = A[M, K] x B[K, N] with B in 4-bit blocks of 32 weights along K per column
 * (src/quant/math.ts INT4_BLOCK). Scales are [N * blocks] in column-then-block order. Columns are processed in panels of PANEL columns: each panel is unpacked
 * into a K x PANEL float32 row buffer (code - 8) * scale, then one sgemm writes Y[:, panel] (ldc = N).
 * Memory: the packed codes plus K * PANEL floats; cost 2 * M * N * K FLOPs plus K * N unpacks per call.
 */
import type { TypedArray } from '../../tensor/dtype.js';
import { integerRange } from '../../tensor/numeric.js';
import { Tensor } from '../../tensor/tensor.js';
import { getKernel, registerKernel, type AttrValue, type Attrs, type Kernel } from '../registry.js';
import { activateInPlace, type FusedActivation } from './fused.js';
import { sgemm } from './gemm.js';
import { im2col, type ConvGridGeometry } from './im2col.js';
import { ScratchSlot } from './scratch.js';
import { outputTensor } from './util.js';

const DOMAIN = 'com.tessera';
/** Fake-quantized data input and dequantized weight of the QDQ kernels; int4 column panels. */
const INPUT_WORK = new ScratchSlot();
const WEIGHT_WORK = new ScratchSlot();
const PANEL_WORK = new ScratchSlot();
/** SparseConv's im2col column matrix. */
const UNFOLD_WORK = new ScratchSlot();
/** Columns of B unpacked per sgemm call by MatMulNBits. */
const PANEL = 256;

/** x' = DequantizeLinear(QuantizeLinear(x, scale, zeroPoint)) into `out` (zeroPoint's type gives the range). */
export function fakeQuantize(x: Float32Array, scale: number, zeroPoint: number, lo: number, hi: number, out: Float32Array): void {
  // codes relative to the zero point, so the clamp and the dequantization need no add/subtract per element
  const qlo = lo - zeroPoint;
  const qhi = hi - zeroPoint;
  for (let i = 0; i < x.length; i++) {
    const v = Math.fround(x[i]! / scale);
    // v + 1.5 * 2^52 - 1.5 * 2^52 rounds v to an integer, ties to even (float64 rounding; |v| < 2^51)
    let q = v + ROUNDING_SHIFT - ROUNDING_SHIFT;
    // NaN fails every comparison: it ends at code 0 - zeroPoint like QuantizeLinear's NaN -> 0
    q = q < qlo ? qlo : q > qhi ? qhi : q === q ? q : -zeroPoint;
    out[i] = q * scale;
  }
}

/** 1.5 * 2^52: adding and subtracting it rounds a float64 of magnitude below 2^51 to an integer, ties to even. */
const ROUNDING_SHIFT = 6755399441055744;

/** out[i] = q[i] * scale[channel(i)] for int8 weights viewed as [outer, channels, inner] (scale scalar or per channel). */
export function dequantizeChannels(q: Int8Array, scales: Float32Array, outer: number, channels: number, inner: number, out: Float32Array): void {
  if (scales.length === 1) {
    const s = scales[0]!;
    for (let i = 0; i < q.length; i++) out[i] = q[i]! * s;
    return;
  }
  let i = 0;
  for (let o = 0; o < outer; o++) {
    for (let c = 0; c < channels; c++) {
      const s = scales[c]!;
      for (let e = 0; e < inner; e++, i++) out[i] = q[i]! * s;
    }
  }
}

function baseAttrs(attrs: Attrs): Record<string, AttrValue> {
  const out = Object.create(null) as Record<string, AttrValue>;
  for (const k of Object.keys(attrs)) if (k !== 'activation' && k !== 'activation_params') out[k] = attrs[k]!;
  return out;
}

function qdqKernel(base: 'Conv' | 'MatMul' | 'Gemm'): Kernel {
  return (inputs, attrs, outputs, ctx) => {
    const [x, w, ws, xs, xz, b] = inputs as [Tensor, Tensor, Tensor, Tensor | undefined, Tensor | undefined, Tensor | undefined];
    // 1. data input, fake-quantized when the QDQ graph quantized it
    let xIn = x;
    if (xs) {
      const zp = xz ? Number((xz.data as TypedArray)[0]) : 0;
      const [lo, hi] = integerRange(xz ? xz.type : 'uint8');
      const buf = INPUT_WORK.take('float32', x.size);
      fakeQuantize(x.data as Float32Array, (xs.data as Float32Array)[0]!, zp, lo, hi, buf);
      xIn = new Tensor('float32', buf, x.dims);
    }
    // 2. weight dequantized per output channel into scratch
    const perChannelAxis = base === 'Conv' || (base === 'Gemm' && attrs['transB']) ? 0 : 1;
    const outer = perChannelAxis === 0 ? 1 : w.dims[0]!;
    const channels = w.dims[perChannelAxis]!;
    const inner = w.size / Math.max(1, outer * channels);
    const wBuf = WEIGHT_WORK.take('float32', w.size);
    dequantizeChannels(w.data as Int8Array, ws.data as Float32Array, outer, channels, inner, wBuf);
    const wIn = new Tensor('float32', wBuf, w.dims);
    // 3. the float base kernel, then the activation on its fresh output
    const baseInputs = base === 'MatMul' ? [xIn, wIn] : [xIn, wIn, b];
    const [y] = getKernel(base, 'cpu')(baseInputs, baseAttrs(attrs), outputs, { ...ctx, op: base });
    const activation = attrs['activation'] as string;
    if (activation !== '') activateInPlace(y!.data as Float32Array, y!.size, activation as FusedActivation, attrs['activation_params'] as readonly number[]);
    return [y!];
  };
}

/** Unpack columns [n0, n0 + nc) of an int4 B[K, N] into panel[K, nc] (row-major) as float32. */
export function unpackInt4Panel(codes: Uint8Array, scales: Float32Array, k: number, blocks: number, n0: number, nc: number, panel: Float32Array): void {
  for (let j = 0; j < nc; j++) {
    const col = n0 + j;
    for (let blk = 0; blk < blocks; blk++) {
      const s = scales[col * blocks + blk]!;
      const base = (col * blocks + blk) * 16;
      const r0 = blk * 32;
      const r1 = Math.min(k, r0 + 32);
      for (let r = r0; r < r1; r += 2) {
        const byte = codes[base + ((r - r0) >> 1)]!;
        panel[r * nc + j] = ((byte & 15) - 8) * s;
        if (r + 1 < r1) panel[(r + 1) * nc + j] = ((byte >> 4) - 8) * s;
      }
    }
  }
}

const matMulNBits: Kernel = (inputs, attrs, outputs, ctx) => {
  const [a, codes, scales, , , bias] = inputs as [Tensor, Tensor, Tensor, undefined, undefined, Tensor | undefined];
  const k = attrs['K'] as number;
  const n = attrs['N'] as number;
  const m = a.size / k;
  const y = outputTensor(outputs[0]!);
  const out = y.data as Float32Array;
  if (m === 0) return [y];
  const blocks = Math.ceil(k / 32);
  const av = a.data as Float32Array;
  const cv = codes.data as Uint8Array;
  const sv = scales.data as Float32Array;
  for (let n0 = 0; n0 < n; n0 += PANEL) {
    const nc = Math.min(PANEL, n - n0);
    const panel = PANEL_WORK.take('float32', k * nc);
    unpackInt4Panel(cv, sv, k, blocks, n0, nc, panel);
    sgemm({ m, n: nc, k, a: av, lda: k, b: panel, ldb: nc, c: out, cOffset: n0, ldc: n, threads: ctx.threads });
  }
  if (bias) {
    const bv = bias.data as Float32Array;
    for (let r = 0; r < m; r++) for (let j = 0; j < n; j++) out[r * n + j]! += bv[j]!;
  }
  return [y];
};

/**
 * y[m, :] = b[m] + sum over the nonzeros (r, w) of row m of w * cols[r, :], cols = the input itself for a
 * 1x1 / stride 1 / unpadded kernel, else its im2col unfolding. Cost: 2 * nnz * O per image (plus the unfold).
 */
const sparseConv: Kernel = (inputs, attrs, outputs) => {
  const [x, values, columns, starts, bias] = inputs as [Tensor, Tensor, Tensor, Tensor, Tensor | undefined];
  const [m, c, kh, kw] = attrs['weight_shape'] as [number, number, number, number];
  const strides = attrs['strides'] as number[];
  const pads = attrs['pads'] as number[];
  const dilations = attrs['dilations'] as number[];
  const y = outputTensor(outputs[0]!);
  const out = y.data as Float32Array;
  const [n, , oh, ow] = y.dims as [number, number, number, number];
  const plane = oh * ow;
  const [h, w] = [x.dims[2]!, x.dims[3]!];
  const direct = kh === 1 && kw === 1 && strides[0] === 1 && strides[1] === 1 && pads.every((p) => p === 0);
  const xv = x.data as Float32Array;
  const vals = values.data as Float32Array;
  const cols = columns.data as Int32Array;
  const rowStart = starts.data as Int32Array;
  const bv = bias ? (bias.data as Float32Array) : undefined;
  const geom: ConvGridGeometry = { channels: c, imageShape: [h, w], gridShape: [oh, ow], kernelShape: [kh, kw], strides, dilations, padsBegin: [pads[0]!, pads[1]!] };
  for (let img = 0; img < n; img++) {
    let src = xv;
    let srcOff = img * c * h * w;
    if (!direct) {
      src = UNFOLD_WORK.take('float32', c * kh * kw * plane);
      im2col(xv, srcOff, geom, src);
      srcOff = 0;
    }
    for (let row = 0; row < m; row++) {
      const yOff = (img * m + row) * plane;
      out.fill(bv ? bv[row]! : 0, yOff, yOff + plane);
      for (let p = rowStart[row]!; p < rowStart[row + 1]!; p++) {
        const wv = vals[p]!;
        const cOff = srcOff + cols[p]! * plane;
        for (let o = 0; o < plane; o++) out[yOff + o]! += wv * src[cOff + o]!;
      }
    }
  }
  return [y];
};

registerKernel('SparseConv', 'cpu', sparseConv, DOMAIN);
registerKernel('QDQConv', 'cpu', qdqKernel('Conv'), DOMAIN);
registerKernel('QDQMatMul', 'cpu', qdqKernel('MatMul'), DOMAIN);
registerKernel('QDQGemm', 'cpu', qdqKernel('Gemm'), DOMAIN);
registerKernel('MatMulNBits', 'cpu', matMulNBits, 'com.microsoft');
