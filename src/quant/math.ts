/**
 * Quantization math: choosing scales and zero points, quantizing and dequantizing weights, float16 weight
 * conversion and the int4 weight-only block layout. Everything the quantize passes write into a model is
 * computed here; ./reference.ts holds a plain-loop twin of each function that the property tests compare with.
 *
 * Linear quantization maps a real x to q = saturate(roundHalfEven(x / scale) + zeroPoint) and back to
 * x' = (q - zeroPoint) * scale, exactly as ONNX's QuantizeLinear/DequantizeLinear do (x / scale rounded to
 * float32 first, ties to even, clamped to the integer type's range).
 *
 * Choosing (scale, zeroPoint) from an observed range [min, max]:
 * - The range is first widened to contain 0, so that 0 (padding, ReLU's floor) is represented exactly.
 * - Asymmetric: scale = (max - min) / (qmax - qmin), zeroPoint = qmin - round(min / scale), clamped into the
 *   type's range. Uses the whole integer range; the zero point is any value.
 * - Symmetric: a = max(|min|, |max|), the range becomes [-a, a]; int8 uses the 254 codes [-127, 127] with
 *   zeroPoint 0 and scale = a / 127; uint8 uses [1, 255] with zeroPoint 128 (the same grid shifted).
 *   Symmetric weights make w - zeroPoint a pure sign-magnitude value, which integer kernels like.
 * - A range of [0, 0] gets scale 1 (any positive scale represents it exactly), never 0 or a subnormal.
 *
 * Granularity: per tensor (one pair) or per channel (one pair per index along `axis`, e.g. each Conv output
 * channel, axis 0 of W, or each MatMul output column, axis 1 of B). Per-channel keeps small channels from being
 * flattened to zero by a large neighbour.
 *
 * int4 weight-only blocks (layout INT4_BLOCK, the layout onnxruntime's com.microsoft.MatMulNBits reads with
 * bits=4, block_size=32): for a MatMul weight B[K, N], every output column n is cut along K into blocks of 32
 * weights; each block stores 16 bytes of nibbles (element 2i in the low nibble of byte i, element 2i+1 in the
 * high nibble) as unsigned codes with an implicit zero point of 8, and one float32 scale = max|w| / 7, so
 * w' = (code - 8) * scale with code in [1, 15] (the symmetric grid -7..7; -8 is never produced). A block is
 * 20 bytes for 32 float32 weights (128 bytes): 15.6%. A last partial block is zero-padded.
 */
import { integerRange, roundHalfEven } from '../tensor/numeric.js';
import { TesseraError } from '../tensor/errors.js';
import { encodeFloat16 } from '../tensor/float16.js';
import { Tensor } from '../tensor/tensor.js';

/** Integer types weights and activations are quantized to. */
export type QuantType = 'int8' | 'uint8';

/** How (scale, zeroPoint) are chosen from a range. */
export interface QuantScheme {
  readonly type: QuantType;
  /** Symmetric range around 0 (zero point 0 for int8, 128 for uint8). */
  readonly symmetric: boolean;
}

/** One (scale, zeroPoint) pair. */
export interface QuantPair {
  readonly scale: number;
  readonly zeroPoint: number;
}

/** Integer code range a scheme uses: symmetric schemes drop the lowest code so the grid is balanced. */
export function codeRange(scheme: QuantScheme): readonly [number, number] {
  const [lo, hi] = integerRange(scheme.type);
  return scheme.symmetric ? [lo + 1, hi] : [lo, hi];
}

/** Scale and zero point for values observed in [min, max] (see the file comment). */
export function chooseQuantParams(min: number, max: number, scheme: QuantScheme): QuantPair {
  if (!Number.isFinite(min) || !Number.isFinite(max) || min > max) {
    throw new TesseraError(`chooseQuantParams: range [${min}, ${max}] must be finite with min <= max`);
  }
  const [qmin, qmax] = codeRange(scheme);
  let lo = Math.min(min, 0);
  let hi = Math.max(max, 0);
  if (scheme.symmetric) {
    const a = Math.max(-lo, hi);
    lo = -a;
    hi = a;
  }
  let scale = Math.fround((hi - lo) / (qmax - qmin));
  // a degenerate or subnormal range: any normal scale represents it (all values round to the zero point)
  if (!(scale >= 1.1754943508222875e-38)) scale = 1;
  if (scheme.symmetric) return { scale, zeroPoint: (qmin + qmax) / 2 };
  const zeroPoint = Math.min(qmax, Math.max(qmin, roundHalfEven(qmin - lo / scale)));
  return { scale, zeroPoint };
}

/** q = saturate(roundHalfEven(fround(x / scale)) + zeroPoint) for one value, codes clamped to [lo, hi]. */
export function quantizeValue(x: number, scale: number, zeroPoint: number, lo: number, hi: number): number {
  const q = roundHalfEven(Math.fround(x / scale)) + zeroPoint;
  return q < lo ? lo : q > hi ? hi : q;
}

/** Parameters of one quantized tensor: per tensor (axis undefined, one pair) or one pair per index along `axis`. */
export interface QuantizedTensor {
  readonly q: Tensor<QuantType>;
  /** float32 scales: a scalar per tensor, [dims[axis]] per channel. */
  readonly scale: Tensor<'float32'>;
  /** Zero points in q's type, shaped like `scale`. */
  readonly zeroPoint: Tensor<QuantType>;
  /** Channel axis (non-negative) of per-channel parameters. */
  readonly axis?: number;
}

/** Sizes of a tensor viewed as [outer, channels, inner] around `axis` (per tensor: channels = size). */
function channelView(dims: readonly number[], axis: number | undefined): { outer: number; channels: number; inner: number } {
  const size = dims.reduce((p, d) => p * d, 1);
  if (axis === undefined) return { outer: 1, channels: 1, inner: size };
  if (!Number.isInteger(axis) || axis < 0 || axis >= dims.length) {
    throw new TesseraError(`quantize: axis ${axis} is out of range for a tensor of rank ${dims.length}`);
  }
  const outer = dims.slice(0, axis).reduce((p, d) => p * d, 1);
  const inner = dims.slice(axis + 1).reduce((p, d) => p * d, 1);
  return { outer, channels: dims[axis]!, inner };
}

/** Min and max of each channel (one entry per tensor when axis is undefined). Cost: one pass. */
export function channelRanges(values: ArrayLike<number>, dims: readonly number[], axis?: number): { min: Float64Array; max: Float64Array } {
  const { outer, channels, inner } = channelView(dims, axis);
  const min = new Float64Array(channels).fill(0);
  const max = new Float64Array(channels).fill(0);
  let i = 0;
  for (let o = 0; o < outer; o++) {
    for (let c = 0; c < channels; c++) {
      let lo = min[c]!;
      let hi = max[c]!;
      for (let e = 0; e < inner; e++, i++) {
        const v = values[i]!;
        if (v < lo) lo = v;
        else if (v > hi) hi = v;
      }
      min[c] = lo;
      max[c] = hi;
    }
  }
  return { min, max };
}

/**
 * Quantize a float tensor with parameters chosen from its own range: per tensor when `axis` is undefined,
 * else per channel along `axis`. NaN inputs are refused (they have no integer code). Cost: two passes.
 */
export function quantizeTensor(t: Tensor, scheme: QuantScheme, axis?: number): QuantizedTensor {
  const values = t.numbers();
  const dims = t.dims;
  const { outer, channels, inner } = channelView(dims, axis);
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i]!)) throw new TesseraError(`quantizeTensor: element ${i} is ${values[i]}; only finite values can be quantized`);
  }
  const { min, max } = channelRanges(values, dims, axis);
  const scales = new Float32Array(channels);
  const zeroPoints = new Float64Array(channels);
  for (let c = 0; c < channels; c++) {
    const p = chooseQuantParams(min[c]!, max[c]!, scheme);
    scales[c] = p.scale;
    zeroPoints[c] = p.zeroPoint;
  }
  const [lo, hi] = integerRange(scheme.type);
  const q = scheme.type === 'int8' ? new Int8Array(values.length) : new Uint8Array(values.length);
  let i = 0;
  for (let o = 0; o < outer; o++) {
    for (let c = 0; c < channels; c++) {
      const s = scales[c]!;
      const z = zeroPoints[c]!;
      for (let e = 0; e < inner; e++, i++) q[i] = quantizeValue(values[i]!, s, z, lo, hi);
    }
  }
  const paramDims = axis === undefined ? [] : [channels];
  const zp = scheme.type === 'int8' ? Int8Array.from(zeroPoints) : Uint8Array.from(zeroPoints);
  return {
    q: new Tensor(scheme.type, q, dims) as Tensor<QuantType>,
    scale: new Tensor('float32', scales, paramDims),
    zeroPoint: new Tensor(scheme.type, zp, paramDims) as Tensor<QuantType>,
    axis,
  };
}

/** (q - zeroPoint) * scale as float32, per tensor or per channel like `quantizeTensor`'s output. */
export function dequantizeTensor(qt: QuantizedTensor): Tensor<'float32'> {
  const q = qt.q.numbers();
  const scales = qt.scale.numbers();
  const zps = qt.zeroPoint.numbers();
  const { outer, channels, inner } = channelView(qt.q.dims, qt.axis);
  const out = new Float32Array(q.length);
  let i = 0;
  for (let o = 0; o < outer; o++) {
    for (let c = 0; c < channels; c++) {
      const s = scales[c]!;
      const z = zps[c]!;
      for (let e = 0; e < inner; e++, i++) out[i] = (q[i]! - z) * s;
    }
  }
  return new Tensor('float32', out, qt.q.dims);
}

/** A float tensor converted to float16 (round to nearest, ties to even; out-of-range values become +-Infinity). */
export function toFloat16(t: Tensor): Tensor<'float16'> {
  return new Tensor('float16', encodeFloat16(t.numbers()), t.dims);
}

/** The int4 block layout (see the file comment), declared once with its byte size checked below. */
export const INT4_BLOCK = Object.freeze({
  /** Weights per block. */
  weights: 32,
  /** Bytes of packed 4-bit codes per block (two per byte). */
  codeBytes: 16,
  /** Bytes of the block's float32 scale. */
  scaleBytes: 4,
  /** Total bytes per block. */
  bytes: 20,
  /** Implicit zero point of the unsigned codes. */
  zeroPoint: 8,
  /** Largest |code - zeroPoint| produced. */
  maxMagnitude: 7,
});
if (INT4_BLOCK.codeBytes !== (INT4_BLOCK.weights * 4) / 8 || INT4_BLOCK.bytes !== INT4_BLOCK.codeBytes + INT4_BLOCK.scaleBytes) {
  throw new TesseraError('INT4_BLOCK: declared sizes do not add up');
}

/** A MatMul weight B[K, N] in the int4 block layout: codes [N, blocks, 16] and scales [N, blocks]. */
export interface Int4Weight {
  readonly k: number;
  readonly n: number;
  /** Blocks per column: ceil(K / 32). */
  readonly blocksPerColumn: number;
  readonly codes: Uint8Array;
  readonly scales: Float32Array;
}

/** Bytes an int4 weight of [K, N] takes (codes plus scales). */
export function int4WeightBytes(k: number, n: number): number {
  return n * Math.ceil(k / INT4_BLOCK.weights) * INT4_BLOCK.bytes;
}

/**
 * Quantize B[K, N] (row-major float values) into int4 blocks along K for each column. Cost: one pass over B,
 * reading it column-wise.
 */
export function quantizeInt4(values: ArrayLike<number>, k: number, n: number): Int4Weight {
  if (values.length !== k * n) throw new TesseraError(`quantizeInt4: ${values.length} values do not form a [${k}, ${n}] matrix`);
  const { weights: bw, codeBytes, zeroPoint, maxMagnitude } = INT4_BLOCK;
  const blocks = Math.ceil(k / bw);
  const codes = new Uint8Array(n * blocks * codeBytes);
  const scales = new Float32Array(n * blocks);
  for (let col = 0; col < n; col++) {
    for (let b = 0; b < blocks; b++) {
      const k0 = b * bw;
      const k1 = Math.min(k, k0 + bw);
      let amax = 0;
      for (let r = k0; r < k1; r++) {
        const v = Math.abs(values[r * n + col]!);
        if (v > amax) amax = v;
      }
      if (!Number.isFinite(amax)) throw new TesseraError(`quantizeInt4: column ${col} holds a non-finite value in rows ${k0}..${k1 - 1}`);
      let scale = Math.fround(amax / maxMagnitude);
      if (!(scale >= 1.1754943508222875e-38)) scale = 1;
      const blockIndex = col * blocks + b;
      scales[blockIndex] = scale;
      const base = blockIndex * codeBytes;
      for (let r = k0; r < k1; r++) {
        const code = quantizeValue(values[r * n + col]!, scale, zeroPoint, zeroPoint - maxMagnitude, zeroPoint + maxMagnitude);
        const j = r - k0;
        codes[base + (j >> 1)]! |= (j & 1) === 0 ? code : code << 4;
      }
      // padding past K keeps code 8 (value 0) so a kernel may read whole blocks
      for (let j = k1 - k0; j < bw; j++) codes[base + (j >> 1)]! |= (j & 1) === 0 ? zeroPoint : zeroPoint << 4;
    }
  }
  const bytes = codes.byteLength + scales.byteLength;
  if (bytes !== int4WeightBytes(k, n)) throw new TesseraError(`quantizeInt4: layout holds ${bytes} bytes; INT4_BLOCK declares ${int4WeightBytes(k, n)}`);
  return { k, n, blocksPerColumn: blocks, codes, scales };
}

/** Dequantize int4 blocks back to B[K, N] row-major float32. */
export function dequantizeInt4(w: Int4Weight): Float32Array {
  const { weights: bw, codeBytes, zeroPoint } = INT4_BLOCK;
  const out = new Float32Array(w.k * w.n);
  for (let col = 0; col < w.n; col++) {
    for (let b = 0; b < w.blocksPerColumn; b++) {
      const blockIndex = col * w.blocksPerColumn + b;
      const scale = w.scales[blockIndex]!;
      const base = blockIndex * codeBytes;
      const k0 = b * bw;
      const k1 = Math.min(w.k, k0 + bw);
      for (let r = k0; r < k1; r++) {
        const j = r - k0;
        const byte = w.codes[base + (j >> 1)]!;
        const code = (j & 1) === 0 ? byte & 15 : byte >> 4;
        out[r * w.n + col] = (code - zeroPoint) * scale;
      }
    }
  }
  return out;
}
