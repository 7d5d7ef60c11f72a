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
 * The result equals the literal QDQ graph (Q -> DQ -> DQ(W) -> op -> activation) bit for bit. That is the
 * FALLBACK path, kept for calls without X_scale, Gemm with transA, Conv other than 2-D, weights other than 2-D
 * for MatMul/Gemm, K above INT8_GEMM_MAX_K, and engines without WebAssembly SIMD (`setInt8Gemm(false)`).
 *
 * FAST path (./gemm-int8.ts, WebAssembly SIMD): with X_scale given the product is an integer product scaled once,
 *   Y[m, n] = act(x_scale * w_scale[ch] * sum_k (qx[m, k] - zx) * qw[k, n]  (+ bias)).
 *  - The input is quantized (not fake-quantized) in f32x4, code = clamp(roundHalfEven(fround(x / s)) + z) - z,
 *    bit for bit fakeQuantize's code, straight into the kernel memory; 1x1 convolutions and MatMul/Gemm are
 *    packed into the GEMM's A panels there by wasm shuffles; other kernels unfold (im2col) the codes in JS.
 *  - The int8 weight is packed once into int8 panels cached per weight array (same bytes as the weight: no
 *    float copy of any weight exists, at rest or during a call); int32 accumulation is exact.
 *  - Conv runs transposed, Y^T[pos, m] = im2col(X)^T[pos, k] W^T[k, m], so the weight is always the int8 operand
 *    and the output channel a column; a wasm epilogue scales each column, rounds to float32, adds the bias,
 *    applies the activation (none / Relu / HardSwish / HardSigmoid in double, as the JS kernels) and stores
 *    channel-major; other activations and MatMul/Gemm outputs are finished in JavaScript.
 *  - Depthwise Conv (group = C) runs the direct float depthwise kernel on the SIMD fake-quantized input and a
 *    per-call dequantized weight (M * kH * kW floats): the literal graph bit for bit (see qdqDepthwise).
 * Numerics: the literal graph rounds every x' and w' to float32 and sums float products in double; the fast
 * path sums exact integer products, scales by the double x_scale * w_scale (exact) and rounds to float32 once
 * (plus once more with the bias, as the float Conv does). Per output the difference stays within
 * L * (2^-22 * sum |x'| |w'| + 2^-22 * |y|), L the activation's Lipschitz constant (test/kernels/quant-int8-gemm.test.ts).
 * Cost: 2 * M * N * K integer multiply-adds (8 per i32x4.dot_i16x8_s), one SIMD pass over the input, one over
 * the output; the weight panels are copied into the kernel memory per call (K * N bytes).
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
import { cachedPackedInt8B, fakeQuantizeSimd, int8Gemm, int8GemmAvailable, int8GemmQuantized, INT8_GEMM_MAX_K, packInt8B, quantizeCodes, type ChannelEpilogue, type CodeRange, type ConsumeRows, type PackedInt8B, EPILOGUE_ACTIVATIONS } from './gemm-int8.js';
import { depthwiseConv2d } from './depthwise.js';
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

function inputCodes(xs: Tensor, xz: Tensor | undefined): CodeRange {
  const zp = xz ? Number((xz.data as TypedArray)[0]) : 0;
  const [lo, hi] = integerRange(xz ? xz.type : 'uint8');
  return { scale: (xs.data as Float32Array)[0]!, qlo: lo - zp, qhi: hi - zp, nan: -zp };
}

/**
 * The activation of a QDQ node on out[from, to) in place: the formulas of fused.ts activateInPlace (so the same
 * values), run over the block the epilogue just wrote while it is in cache, branch-free where the formula
 * allows (Math.min / Math.max keep NaN and the comparisons' results).
 */
function activateRange(out: Float32Array, from: number, to: number, activation: string, params: readonly number[]): void {
  switch (activation) {
    case '':
      return;
    case 'Relu':
      // Math.max(-0, 0) is +0 and NaN stays NaN, as the standalone Relu on the float32 bits
      for (let i = from; i < to; i++) out[i] = Math.max(out[i]!, 0);
      return;
    case 'HardSwish':
      for (let i = from; i < to; i++) {
        const v = out[i]!;
        out[i] = v * Math.min(Math.max(v / 6 + 0.5, 0), 1);
      }
      return;
    case 'HardSigmoid': {
      const alpha = params[0]!;
      const beta = params[1]!;
      for (let i = from; i < to; i++) out[i] = Math.min(Math.max(alpha * out[i]! + beta, 0), 1);
      return;
    }
    default:
      activateInPlace(out.subarray(from, to), to - from, activation as FusedActivation, params);
  }
}

/** Input codes of one image for the im2col packing (int16: |code| <= 255). */
const CODE_WORK = new ScratchSlot();
/** x_scale * w_scale and the bias per output channel of a QDQConv (the wasm epilogue's inputs). */
const CHANNEL_SCALE_WORK = new ScratchSlot();
const CHANNEL_BIAS_WORK = new ScratchSlot();
/** x_scale * w_scale per output column of a QDQMatMul / QDQGemm. */
const COLUMN_SCALE_WORK = new ScratchSlot();

/**
 * QDQConv on the integer GEMM (see the file comment), or undefined when the call is not a 2-D, non-depthwise
 * convolution the fast path handles (the caller then takes the float path).
 */
function qdqConvInteger(inputs: readonly (Tensor | undefined)[], attrs: Attrs, outputs: Parameters<Kernel>[2], ctx: Parameters<Kernel>[3]): Tensor | undefined {
  const [x, w, ws, xs, xz, b] = inputs as [Tensor, Tensor, Tensor, Tensor, Tensor | undefined, Tensor | undefined];
  if (x.rank !== 4 || w.rank !== 4 || w.type !== 'int8' || (b && b.type !== 'float32')) return undefined;
  const group = attrs['group'] as number;
  const strides = attrs['strides'] as number[];
  const pads = attrs['pads'] as number[];
  const dilations = attrs['dilations'] as number[];
  const [N, C, H, W] = x.dims as [number, number, number, number];
  const [M, Cg, kh, kw] = w.dims as [number, number, number, number];
  const Mg = M / group;
  if (group === C && Cg === 1) return qdqDepthwise(x, w, ws, xs, xz, b, attrs, outputs, ctx);
  const K = Cg * kh * kw;
  if (K > INT8_GEMM_MAX_K) return undefined;
  const y = outputTensor(outputs[0]!);
  const [, , oh, ow] = y.dims as [number, number, number, number];
  const plane = oh * ow;
  const inPlane = H * W;
  const out = y.data as Float32Array;
  const xv = x.data as Float32Array;
  const wv = w.data as Int8Array;
  const wsv = ws.data as Float32Array;
  const bv = b ? (b.data as Float32Array) : undefined;
  const range = inputCodes(xs, xz);
  const sx = range.scale;
  const [sh, sw] = [strides[0]!, strides[1]!];
  const [dh, dw] = [dilations[0]!, dilations[1]!];
  const [pt, pl] = [pads[0]!, pads[1]!];
  const pointwise = kh === 1 && kw === 1 && sh === 1 && sw === 1 && pads.every((p) => p === 0);
  const khw = kh * kw;
  const constant = ctx.constantInputs?.[1] === true;
  const activation = attrs['activation'] as string;
  const params = attrs['activation_params'] as readonly number[];
  const codes = pointwise ? undefined : CODE_WORK.take('int16', C * inPlane);
  const wasmActivation = EPILOGUE_ACTIVATIONS.find((a) => a === activation);
  const scales = CHANNEL_SCALE_WORK.take('float64', M);
  const biases = CHANNEL_BIAS_WORK.take('float32', M, !bv);
  for (let ch = 0; ch < M; ch++) scales[ch] = sx * (wsv.length === 1 ? wsv[0]! : wsv[ch]!);
  if (bv) biases.set(bv.subarray(0, M));
  if (N * M * plane > 0) {
    for (let n = 0; n < N; n++) {
      // the input codes of this image, once: clamp(roundHalfEven(fround(x / s)) + z) - z (SIMD); a 1x1
      // convolution quantizes and packs inside the kernel memory instead (int8GemmQuantized)
      if (codes) quantizeCodes(xv, n * C * inPlane, C * inPlane, range, codes);
      for (let g = 0; g < group; g++) {
        // B[kk, m] = W[g * Mg + m, kk]: the weight rows of this group as columns
        const packed: PackedInt8B = constant ? cachedPackedInt8B(wv, g * Mg * K, 1, K, K, Mg) : packInt8B(wv, g * Mg * K, 1, K, K, Mg);
        const cOff = g * Cg * inPlane;
        const yOff = (n * M + g * Mg) * plane;
        const packA = (dst: Int16Array, at: number, kp: number, row0: number, rows: number): void => {
          // A[pos, (c, ki, kj)] = code(x[c, oy * sh - pt + ki * dh, ox * sw - pl + kj * dw]), 0 in the padding
          const kp8 = kp * 8;
          const oy0 = Math.floor(row0 / ow);
          const ox0 = row0 - oy0 * ow;
          for (let kk = 0; kk < K; kk++) {
            const c = Math.floor(kk / khw);
            const rem = kk - c * khw;
            const ki = Math.floor(rem / kw);
            const kj = rem - ki * kw;
            const src = cOff + c * inPlane;
            const base = at + (kk >> 1) * 8 + (kk & 1);
            let oy = oy0;
            let ox = ox0;
            for (let r = 0; r < rows; r++) {
              const iy = oy * sh - pt + ki * dh;
              const ix = ox * sw - pl + kj * dw;
              if (iy >= 0 && iy < H && ix >= 0 && ix < W) dst[base + (r >> 2) * kp8 + (r & 3) * 2] = codes![src + iy * W + ix]!;
              if (++ox === ow) {
                ox = 0;
                oy++;
              }
            }
          }
        };
        const consume: ConsumeRows = (acc, at, ldc, row0, rows) => {
          // Y[m, pos] = float32(ACC[pos, m] * x_scale * w_scale[m]) (+ bias[m], rounded again as the float Conv
          // does), then the activation on the run just written
          for (let m = 0; m < Mg; m++) {
            const ch = g * Mg + m;
            const scale = sx * (wsv.length === 1 ? wsv[0]! : wsv[ch]!);
            const yo = yOff + m * plane + row0;
            let ai = at + m;
            if (bv) {
              const add = bv[ch]!;
              for (let r = 0; r < rows; r++, ai += ldc) out[yo + r] = Math.fround(acc[ai]! * scale) + add;
            } else {
              for (let r = 0; r < rows; r++, ai += ldc) out[yo + r] = acc[ai]! * scale;
            }
            activateRange(out, yo, yo + rows, activation, params);
          }
        };
        // the wasm epilogue (scale, bias, activation, channel-major store) where it has the activation
        const sink: ConsumeRows | ChannelEpilogue = wasmActivation ? { scales, bias: biases, first: g * Mg, columns: Mg, activation: wasmActivation, params, out, outOffset: yOff } : consume;
        if (pointwise) int8GemmQuantized(xv, (n * C + g * Cg) * inPlane, Cg * inPlane, range, plane, packed, { kind: 'channels', ld: inPlane }, sink);
        else int8Gemm(plane, packed, packA, sink);
      }
    }
  }
  return y;
}

/**
 * Depthwise QDQConv (group = C, one input channel per group): a k x k GEMM per channel would be mostly packing,
 * so this runs the direct float depthwise kernel (./depthwise.ts) on the fake-quantized input (SIMD, bit for bit
 * fakeQuantize) and the weight dequantized into a call-time scratch (M * kH * kW floats, the size of one output
 * row or less; nothing resident), then the activation. Equal to the literal QDQ graph bit for bit.
 */
function qdqDepthwise(x: Tensor, w: Tensor, ws: Tensor, xs: Tensor, xz: Tensor | undefined, b: Tensor | undefined, attrs: Attrs, outputs: Parameters<Kernel>[2], ctx: Parameters<Kernel>[3]): Tensor {
  const strides = attrs['strides'] as number[];
  const pads = attrs['pads'] as number[];
  const dilations = attrs['dilations'] as number[];
  const [N, C, H, W] = x.dims as [number, number, number, number];
  const [M, , kh, kw] = w.dims as [number, number, number, number];
  const y = outputTensor(outputs[0]!);
  const [, , oh, ow] = y.dims as [number, number, number, number];
  const out = y.data as Float32Array;
  if (y.size === 0) return y;
  const xq = INPUT_WORK.take('float32', x.size);
  fakeQuantizeSimd(x.data as Float32Array, 0, x.size, inputCodes(xs, xz), xq);
  const wf = WEIGHT_WORK.take('float32', w.size);
  dequantizeChannels(w.data as Int8Array, ws.data as Float32Array, 1, M, kh * kw, wf);
  depthwiseConv2d(xq, wf, b ? (b.data as Float32Array) : undefined, out, {
    batch: N,
    channels: C,
    multiplier: M / C,
    inH: H,
    inW: W,
    outH: oh,
    outW: ow,
    kH: kh,
    kW: kw,
    strideH: strides[0]!,
    strideW: strides[1]!,
    dilationH: dilations[0]!,
    dilationW: dilations[1]!,
    padTop: pads[0]!,
    padLeft: pads[1]!,
  }, ctx.threads);
  activateRange(out, 0, y.size, attrs['activation'] as string, attrs['activation_params'] as readonly number[]);
  return y;
}

/**
 * QDQMatMul / QDQGemm on the integer GEMM: Y = X W (MatMul, W [K, N]) or alpha X op(W) + beta C (Gemm without
 * transA), or undefined when the call is not one of those (the caller takes the float path).
 */
function qdqMatMulInteger(base: 'MatMul' | 'Gemm', inputs: readonly (Tensor | undefined)[], attrs: Attrs, outputs: Parameters<Kernel>[2], ctx: Parameters<Kernel>[3]): Tensor | undefined {
  const [x, w, ws, xs, xz, bias] = inputs as [Tensor, Tensor, Tensor, Tensor, Tensor | undefined, Tensor | undefined];
  if (w.rank !== 2 || w.type !== 'int8' || x.rank < 1) return undefined;
  const transB = base === 'Gemm' && Boolean(attrs['transB']);
  if (base === 'Gemm' && (attrs['transA'] || x.rank !== 2)) return undefined;
  const c = base === 'Gemm' ? bias : undefined;
  if (c && (c.type !== 'float32' || c.rank > 2)) return undefined;
  const K = transB ? w.dims[1]! : w.dims[0]!;
  const N = transB ? w.dims[0]! : w.dims[1]!;
  if (K > INT8_GEMM_MAX_K || x.dims[x.rank - 1] !== K) return undefined;
  const rows = K === 0 ? x.size : x.size / K;
  const y = outputTensor(outputs[0]!);
  const out = y.data as Float32Array;
  const m = K === 0 ? y.size / Math.max(1, N) : rows;
  const xv = x.data as Float32Array;
  const wv = w.data as Int8Array;
  const wsv = ws.data as Float32Array;
  const range = inputCodes(xs, xz);
  const sx = range.scale;
  const alpha = base === 'Gemm' ? ((attrs['alpha'] as number | undefined) ?? 1) : 1;
  const beta = base === 'Gemm' ? ((attrs['beta'] as number | undefined) ?? 1) : 1;
  const colScale = COLUMN_SCALE_WORK.take('float64', N);
  for (let j = 0; j < N; j++) colScale[j] = alpha * (sx * (wsv.length === 1 ? wsv[0]! : wsv[j]!));
  // C broadcast to [m, N] by strides (0 along a broadcast dimension)
  const cv = c ? (c.data as Float32Array) : undefined;
  const cDims = c ? (c.rank === 2 ? c.dims : c.rank === 1 ? [1, c.dims[0]!] : [1, 1]) : [1, 1];
  const cRow = cDims[0] === 1 ? 0 : cDims[1]!;
  const cCol = cDims[1] === 1 ? 0 : 1;
  const [rs, cs] = transB ? [1, K] : [N, 1];
  const packed = ctx.constantInputs?.[1] === true ? cachedPackedInt8B(wv, 0, rs, cs, K, N) : packInt8B(wv, 0, rs, cs, K, N);
  const activation = attrs['activation'] as string;
  const params = attrs['activation_params'] as readonly number[];
  int8GemmQuantized(xv, 0, m * K, range, m, packed, { kind: 'rows' }, (acc, at, ldc, row0, count) => {
    for (let r = 0; r < count; r++) {
      const yo = (row0 + r) * N;
      const ai = at + r * ldc;
      if (cv && beta !== 0) {
        const co = (row0 + r) * cRow;
        for (let j = 0; j < N; j++) out[yo + j] = acc[ai + j]! * colScale[j]! + beta * cv[co + j * cCol]!;
      } else {
        for (let j = 0; j < N; j++) out[yo + j] = acc[ai + j]! * colScale[j]!;
      }
      activateRange(out, yo, yo + N, activation, params);
    }
  });
  return y;
}

function qdqKernel(base: 'Conv' | 'MatMul' | 'Gemm'): Kernel {
  return (inputs, attrs, outputs, ctx) => {
    const [x, w, ws, xs, xz, b] = inputs as [Tensor, Tensor, Tensor, Tensor | undefined, Tensor | undefined, Tensor | undefined];
    if (xs && x.type === 'float32' && int8GemmAvailable()) {
      const fast = base === 'Conv' ? qdqConvInteger(inputs, attrs, outputs, ctx) : qdqMatMulInteger(base, inputs, attrs, outputs, ctx);
      if (fast) return [fast];
    }
    // 1. data input, fake-quantized when the QDQ graph quantized it
    let xIn = x;
    if (xs) {
      const zp = xz ? Number((xz.data as TypedArray)[0]) : 0;
      const [lo, hi] = integerRange(xz ? xz.type : 'uint8');
      const buf = INPUT_WORK.take('float32', x.size);
      if (x.type === 'float32' && int8GemmAvailable()) fakeQuantizeSimd(x.data as Float32Array, 0, x.size, inputCodes(xs, xz), buf);
      else fakeQuantize(x.data as Float32Array, (xs.data as Float32Array)[0]!, zp, lo, hi, buf);
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
