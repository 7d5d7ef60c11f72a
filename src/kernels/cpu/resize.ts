/**
 * CPU kernel of Resize and Upsample (canonical form from src/ops/resize.ts: input X plus resolved per-axis
 * scales, roi and output sizes).
 *
 * Algorithm. Resize is separable: every mode computes an output element as a tensor product of per-axis
 * 1-D filters. So for each axis we precompute a tap table once (cost O(out_len * taps)):
 *   for output coordinate j: x = the input coordinate the coordinate transform gives (half_pixel,
 *   align_corners, ...; computed in float32 like onnxruntime, see sourceCoordinate, so rounding ties and the
 *   crop boundary test match it bit for bit), base = ceil(x) - 1 and ratio = x - base in (0, 1] (both exact
 *   for a float32 x); tap t reads input index
 *   clamp(base + start + t, 0, len - 1) with weight k((start + t - ratio) * s), where k is the linear
 *   (1 - |d|) or cubic (Keys, parameter a) kernel, s = min(scale, 1) with antialias (the filter is stretched
 *   by 1/scale when downscaling, start = floor(-radius / s) + 1, taps = 2 - 2 * start) and s = 1 otherwise.
 *   Nearest has one tap of weight 1 at the rounded coordinate. exclude_outside zeroes taps outside the input
 *   and renormalises; tf_crop_and_resize marks coordinates outside [0, len - 1] as extrapolated.
 * This is the ONNX reference's tap choice (neighbours preferring the left one, edge padding) made explicit.
 * A table that maps every j to input j with weight 1 is an identity and its axis is skipped.
 *
 * Execution:
 * - fast path, rank >= 2 with only the last two axes resized (NCHW images): nearest (any dtype) copies
 *   out[p, y, x] = in[p, row[y], col[x]] from the two index tables; linear on float32/float64 with 2 taps per
 *   axis (bilinear) reads four neighbours with table weights. No coordinate math in the inner loop.
 *   Cost: one write and 1 (nearest) or 4 (bilinear) reads per output element.
 * - general path: one pass per resized axis over a float64 buffer (nearest: a pass that copies rows in the
 *   input dtype), most-shrinking axes first. A pass costs outer * out_len * taps * inner multiply-adds and
 *   writes outer * out_len * inner elements, so an N-D resize costs about sum over axes of (size after that
 *   pass * taps). Extrapolated coordinates write extrapolation_value (a tensor product of extrapolated
 *   values is the same value, as in the reference).
 * - integer outputs of linear/cubic are rounded to nearest and saturated to the dtype's range; float16 is
 *   computed in float64 and encoded once at the end.
 */
import { isFloat, type DataType, type NumericArray, type TypedArray } from '../../tensor/dtype.js';
import { KernelError } from '../../tensor/errors.js';
import { encodeFloat16 } from '../../tensor/float16.js';
import { fromNumbers, Tensor } from '../../tensor/tensor.js';
import { registerKernel, type Attrs, type Kernel } from '../registry.js';
import { PlanCache, ScratchSlot } from './scratch.js';
import { outputTensor } from './util.js';

/** Axis tables by geometry and settings (read-only once built), and per-call column tables (./scratch.ts). */
const axisTables = new PlanCache<AxisTable>((t) => 2 * t.outLen * t.taps + t.outLen);
const COLUMN_INDEX = new ScratchSlot();
const COLUMN_INDEX_2 = new ScratchSlot();
const COLUMN_WEIGHT = new ScratchSlot();
const COLUMN_WEIGHT_2 = new ScratchSlot();
const COLUMN_OUTSIDE = new ScratchSlot();

/** Per-axis tap table: output coordinate j reads index[j*taps + t] with weight[j*taps + t]. */
export interface AxisTable {
  readonly inLen: number;
  readonly outLen: number;
  readonly taps: number;
  readonly index: Int32Array;
  readonly weight: Float64Array;
  /** 1 where the coordinate falls outside the input under tf_crop_and_resize (output = extrapolation value). */
  readonly outside: Uint8Array | undefined;
  /** True when the table maps every j to input j with weight 1 (the axis needs no work). */
  readonly identity: boolean;
}

/** Resolved options shared by every axis. */
interface ResizeSettings {
  mode: 'nearest' | 'linear' | 'cubic';
  coordinateMode: string;
  nearestMode: string;
  cubicA: number;
  excludeOutside: boolean;
  antialias: boolean;
  extrapolation: number;
}

function settingsOf(attrs: Attrs): ResizeSettings {
  return {
    mode: attrs.mode as ResizeSettings['mode'],
    coordinateMode: attrs.coordinate_transformation_mode as string,
    nearestMode: attrs.nearest_mode as string,
    cubicA: attrs.cubic_coeff_a as number,
    excludeOutside: attrs.exclude_outside === 1,
    antialias: attrs.antialias === 1,
    extrapolation: attrs.extrapolation_value as number,
  };
}

/** What the coordinate transform of one axis needs, every value already rounded to float32. */
interface AxisGeometry {
  readonly inLen: number;
  readonly outLen: number;
  /** output_width of the spec: scale * inLen (fractional) when the size came from a scale, else outLen. */
  readonly outWidth: number;
  readonly scale: number;
  readonly roiStart: number;
  readonly roiEnd: number;
}

const f32 = Math.fround;

/**
 * The input coordinate of output coordinate j, in float32 arithmetic: ONNX's scales and roi are float
 * tensors and onnxruntime's CPU kernel computes every transform in `float`, so each operation below is
 * rounded to float32 in the same order as there (Math.fround of a float64 op on float32 operands is exactly
 * the float32 op). Two steps are float64 in onnxruntime and here too: the tail of half_pixel_symmetric and
 * the centre formula of tf_crop_and_resize (a `0.5 *` double literal). Nearest rounding and the
 * tf_crop_and_resize boundary test then see the same bits as onnxruntime; the reference in
 * reference/resize.ts repeats this formula operation for operation. Which length each mode reads follows
 * the ONNX reference: align_corners and tf_crop_and_resize divide by output_width - 1 (fractional when from
 * a scale, as conformance expects), pytorch_half_pixel tests the integer length_resized > 1 (the spec text).
 */
function sourceCoordinate(mode: string, j: number, g: AxisGeometry): number {
  switch (mode) {
    case 'half_pixel':
      return f32(f32(f32(j + 0.5) / g.scale) - 0.5);
    case 'half_pixel_symmetric': {
      const adjustment = f32(g.outLen / g.outWidth);
      const center = f32(g.inLen / 2);
      const offset = f32(center * f32(1 - adjustment));
      return f32(offset + (j + 0.5) / g.scale - 0.5);
    }
    case 'pytorch_half_pixel':
      return g.outLen > 1 ? f32(f32(f32(j + 0.5) / g.scale) - 0.5) : 0;
    case 'align_corners':
      return g.outWidth === 1 ? 0 : f32(f32(j * (g.inLen - 1)) / f32(g.outWidth - 1));
    case 'asymmetric':
      return f32(j / g.scale);
    case 'tf_half_pixel_for_nn':
      return f32(f32(j + 0.5) / g.scale);
    case 'tf_crop_and_resize': {
      if (g.outWidth === 1) return f32(0.5 * f32(g.roiStart + g.roiEnd) * (g.inLen - 1));
      const span = f32(f32(f32(j * f32(g.roiEnd - g.roiStart)) * (g.inLen - 1)) / f32(g.outWidth - 1));
      return f32(f32(g.roiStart * (g.inLen - 1)) + span);
    }
    default:
      throw new KernelError(`Resize: unknown coordinate_transformation_mode ${mode}`);
  }
}

/** Keys cubic convolution kernel with parameter a. */
function cubicKernel(d: number, a: number): number {
  const x = Math.abs(d);
  if (x <= 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
  return 0;
}

/** The input index nearest mode picks for coordinate x (before clamping). */
function nearestIndex(x: number, mode: string): number {
  const f = Math.floor(x);
  if (f === x) return x;
  const ratio = x - f;
  switch (mode) {
    case 'round_prefer_floor':
      return ratio <= 0.5 ? f : f + 1;
    case 'round_prefer_ceil':
      return ratio < 0.5 ? f : f + 1;
    case 'floor':
      return f;
    default:
      return f + 1;
  }
}

/**
 * Build the tap table of one axis. `outWidth` is the spec's output_width (see sourceCoordinate); scale,
 * outWidth and roi are rounded to float32 here, as onnxruntime holds them.
 */
export function buildAxisTable(inLen: number, outLen: number, outWidth: number, scale: number, roiStart: number, roiEnd: number, s: ResizeSettings): AxisTable {
  const g: AxisGeometry = { inLen, outLen, outWidth: f32(outWidth), scale: f32(scale), roiStart: f32(roiStart), roiEnd: f32(roiEnd) };
  const cropping = s.coordinateMode === 'tf_crop_and_resize';
  const outside = cropping ? new Uint8Array(outLen) : undefined;
  const last = inLen - 1;
  if (s.mode === 'nearest') {
    const index = new Int32Array(outLen);
    const weight = new Float64Array(outLen).fill(1);
    let identity = inLen === outLen;
    for (let j = 0; j < outLen; j++) {
      const x = sourceCoordinate(s.coordinateMode, j, g);
      if (outside && (x < 0 || x > last)) {
        outside[j] = 1;
        identity = false;
        continue;
      }
      const i = Math.min(Math.max(nearestIndex(x, s.nearestMode), 0), last);
      index[j] = i;
      if (i !== j) identity = false;
    }
    return { inLen, outLen, taps: 1, index, weight, outside, identity };
  }
  const radius = s.mode === 'linear' ? 1 : 2;
  const stretch = s.antialias ? Math.min(g.scale, 1) : 1;
  const start = Math.floor(-radius / stretch) + 1;
  const taps = 2 - 2 * start;
  const index = new Int32Array(outLen * taps);
  const weight = new Float64Array(outLen * taps);
  let identity = inLen === outLen;
  for (let j = 0; j < outLen; j++) {
    const x = sourceCoordinate(s.coordinateMode, j, g);
    const row = j * taps;
    if (outside && (x < 0 || x > last)) {
      outside[j] = 1;
      identity = false;
      continue;
    }
    const base = Math.ceil(x) - 1;
    const ratio = x - base;
    let sum = 0;
    for (let t = 0; t < taps; t++) {
      const d = (start + t - ratio) * stretch;
      const w = radius === 1 ? Math.max(0, 1 - Math.abs(d)) : cubicKernel(d, s.cubicA);
      const i = base + start + t;
      const keep = !(s.excludeOutside && (i < 0 || i > last));
      weight[row + t] = keep ? w : 0;
      index[row + t] = i < 0 ? 0 : i > last ? last : i;
      sum += keep ? w : 0;
    }
    if (s.antialias || s.excludeOutside) {
      for (let t = 0; t < taps; t++) weight[row + t] = weight[row + t]! / sum;
    }
    if (identity) {
      for (let t = 0; t < taps; t++) {
        const w = weight[row + t]!;
        if (w !== 0 && (w !== 1 || index[row + t] !== j)) identity = false;
      }
    }
  }
  return { inLen, outLen, taps, index, weight, outside, identity };
}

function product(dims: readonly number[], from: number, to: number): number {
  let p = 1;
  for (let i = from; i < to; i++) p *= dims[i]!;
  return p;
}

/** The extrapolation value as a raw element of `type` (half bits for float16, bigint for int64). */
function rawValue(type: DataType, v: number): number {
  if (type === 'float16') return encodeFloat16([v])[0]!;
  if (type === 'int64') return BigInt(Number.isFinite(v) ? Math.trunc(v) : 0) as unknown as number;
  if (isFloat(type)) return v;
  const a = fromNumbers(type, [v], [1]);
  const r = (a.data as NumericArray)[0]!;
  a.dispose();
  return r;
}

type Elements = { [i: number]: number; length: number };

// ---------------------------------------------------------------------------------------------------------
// Fast path: only the last two axes resized.

function planeNearest(src: TypedArray, dst: TypedArray, planes: number, h: number, w: number, rows: AxisTable, cols: AxisTable, extrap: number): void {
  const se = src as unknown as Elements;
  const de = dst as unknown as Elements;
  const oh = rows.outLen;
  const ow = cols.outLen;
  // column index table with -1 marking extrapolated columns
  const col = COLUMN_INDEX.take('int32', ow);
  let anyOutside = false;
  for (let x = 0; x < ow; x++) {
    const out = cols.outside?.[x] === 1;
    col[x] = out ? -1 : cols.index[x]!;
    anyOutside ||= out;
  }
  let d = 0;
  for (let p = 0; p < planes; p++) {
    const plane = p * h * w;
    for (let y = 0; y < oh; y++) {
      if (rows.outside?.[y] === 1) {
        for (let x = 0; x < ow; x++) de[d++] = extrap;
        continue;
      }
      const r = plane + rows.index[y]! * w;
      if (anyOutside) {
        for (let x = 0; x < ow; x++) {
          const c = col[x]!;
          de[d++] = c < 0 ? extrap : se[r + c]!;
        }
      } else {
        for (let x = 0; x < ow; x++) de[d++] = se[r + col[x]!]!;
      }
    }
  }
}

function planeBilinear(src: Float32Array | Float64Array, dst: Float32Array | Float64Array, planes: number, h: number, w: number, rows: AxisTable, cols: AxisTable, extrap: number): void {
  const oh = rows.outLen;
  const ow = cols.outLen;
  const c0 = COLUMN_INDEX.take('int32', ow);
  const c1 = COLUMN_INDEX_2.take('int32', ow);
  const wx0 = COLUMN_WEIGHT.take('float64', ow);
  const wx1 = COLUMN_WEIGHT_2.take('float64', ow);
  const colOut = COLUMN_OUTSIDE.take('uint8', ow);
  for (let x = 0; x < ow; x++) {
    c0[x] = cols.index[2 * x]!;
    c1[x] = cols.index[2 * x + 1]!;
    wx0[x] = cols.weight[2 * x]!;
    wx1[x] = cols.weight[2 * x + 1]!;
    colOut[x] = cols.outside?.[x] ?? 0;
  }
  const anyColOut = colOut.includes(1);
  let d = 0;
  for (let p = 0; p < planes; p++) {
    const plane = p * h * w;
    for (let y = 0; y < oh; y++) {
      if (rows.outside?.[y] === 1) {
        dst.fill(extrap, d, d + ow);
        d += ow;
        continue;
      }
      const r0 = plane + rows.index[2 * y]! * w;
      const r1 = plane + rows.index[2 * y + 1]! * w;
      const wy0 = rows.weight[2 * y]!;
      const wy1 = rows.weight[2 * y + 1]!;
      for (let x = 0; x < ow; x++, d++) {
        const a = c0[x]!;
        const b = c1[x]!;
        const top = wx0[x]! * src[r0 + a]! + wx1[x]! * src[r0 + b]!;
        const bottom = wx0[x]! * src[r1 + a]! + wx1[x]! * src[r1 + b]!;
        dst[d] = wy0 * top + wy1 * bottom;
      }
      if (anyColOut) {
        for (let x = 0; x < ow; x++) if (colOut[x]) dst[d - ow + x] = extrap;
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// General path: one pass per axis.

/** Nearest pass along `axis` in the source dtype: copies inner blocks. */
function nearestPass(src: TypedArray, dims: readonly number[], axis: number, t: AxisTable, extrap: number): TypedArray {
  const outer = product(dims, 0, axis);
  const inner = product(dims, axis + 1, dims.length);
  const dst = new (src.constructor as new (n: number) => TypedArray)(outer * t.outLen * inner);
  const se = src as unknown as Elements;
  const de = dst as unknown as Elements;
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < t.outLen; j++) {
      const d = (o * t.outLen + j) * inner;
      if (t.outside?.[j] === 1) {
        for (let k = 0; k < inner; k++) de[d + k] = extrap;
        continue;
      }
      const s = (o * t.inLen + t.index[j]!) * inner;
      if (inner >= 16) (dst as Float32Array).set((src as Float32Array).subarray(s, s + inner), d);
      else for (let k = 0; k < inner; k++) de[d + k] = se[s + k]!;
    }
  }
  return dst;
}

/** Weighted pass along `axis` into a new float64 buffer. */
function filterPass(src: NumericArray, dims: readonly number[], axis: number, t: AxisTable, extrap: number): Float64Array {
  const outer = product(dims, 0, axis);
  const inner = product(dims, axis + 1, dims.length);
  const taps = t.taps;
  const dst = new Float64Array(outer * t.outLen * inner);
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < t.outLen; j++) {
      const d = (o * t.outLen + j) * inner;
      if (t.outside?.[j] === 1) {
        dst.fill(extrap, d, d + inner);
        continue;
      }
      for (let k = 0; k < taps; k++) {
        const w = t.weight[j * taps + k]!;
        if (w === 0) continue;
        const s = (o * t.inLen + t.index[j * taps + k]!) * inner;
        if (inner === 1) dst[d] = dst[d]! + w * src[s]!;
        else for (let i = 0; i < inner; i++) dst[d + i] = dst[d + i]! + w * src[s + i]!;
      }
    }
  }
  return dst;
}

/** Round and saturate float results into an integer dtype's range. */
function toIntegerOutput(values: Float64Array, type: DataType, dims: readonly number[]): Tensor {
  const limits: Partial<Record<DataType, [number, number]>> = {
    int8: [-128, 127],
    uint8: [0, 255],
    int16: [-32768, 32767],
    uint16: [0, 65535],
    int32: [-2147483648, 2147483647],
    uint32: [0, 4294967295],
    int64: [-Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  };
  const [lo, hi] = limits[type]!;
  const out = new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const r = Math.round(values[i]!);
    out[i] = r < lo ? lo : r > hi ? hi : r;
  }
  return fromNumbers(type, out, dims);
}

const resizeKernel: Kernel = (inputs, attrs, outputs) => {
  const x = inputs[0]!;
  const spec = outputs[0]!;
  const s = settingsOf(attrs);
  const scales = attrs.resolved_scales as readonly number[];
  const widths = attrs.resolved_widths as readonly number[];
  const roi = attrs.resolved_roi as readonly number[];
  const rank = x.rank;
  const y = outputTensor(spec);
  if (y.size === 0) return [y];
  const settingsKey = `${s.mode}|${s.coordinateMode}|${s.nearestMode}|${s.cubicA}|${s.excludeOutside}|${s.antialias}`;
  const tables = x.dims.map((len, d) => {
    const out = spec.dims[d]!;
    const key = `${len}|${out}|${widths[d]}|${scales[d]}|${roi[d]}|${roi[rank + d]}|${settingsKey}`;
    return axisTables.get(key, () => buildAxisTable(len, out, widths[d]!, scales[d]!, roi[d]!, roi[rank + d]!, s));
  });
  const active = tables.map((t, d) => (t.identity ? -1 : d)).filter((d) => d >= 0);
  if (active.length === 0) {
    (y.data as Float32Array).set(x.data as Float32Array);
    return [y];
  }

  const lastTwo = rank >= 2 && active.every((d) => d >= rank - 2);
  if (lastTwo) {
    const h = x.dims[rank - 2]!;
    const w = x.dims[rank - 1]!;
    const planes = product(x.dims, 0, rank - 2);
    const rows = tables[rank - 2]!;
    const cols = tables[rank - 1]!;
    if (s.mode === 'nearest') {
      planeNearest(x.data as TypedArray, y.data as TypedArray, planes, h, w, rows, cols, rawValue(x.type, s.extrapolation));
      return [y];
    }
    if ((x.type === 'float32' || x.type === 'float64') && rows.taps === 2 && cols.taps === 2) {
      planeBilinear(x.data as Float32Array, y.data as Float32Array, planes, h, w, rows, cols, s.extrapolation);
      return [y];
    }
  }

  // General path: most-shrinking axes first keeps the intermediate buffers small.
  const order = [...active].sort((a, b) => tables[a]!.outLen / tables[a]!.inLen - tables[b]!.outLen / tables[b]!.inLen);
  const dims = [...x.dims];
  if (s.mode === 'nearest') {
    let buf = x.data as TypedArray;
    const extrap = rawValue(x.type, s.extrapolation);
    for (const d of order) {
      buf = nearestPass(buf, dims, d, tables[d]!, extrap);
      dims[d] = tables[d]!.outLen;
    }
    y.dispose();
    return [new Tensor(x.type, buf, spec.dims)];
  }
  let buf: NumericArray = x.numbers();
  for (const d of order) {
    buf = filterPass(buf, dims, d, tables[d]!, s.extrapolation);
    dims[d] = tables[d]!.outLen;
  }
  y.dispose();
  if (isFloat(x.type)) return [fromNumbers(x.type, buf, spec.dims)];
  return [toIntegerOutput(buf as Float64Array, x.type, spec.dims)];
};

registerKernel('Resize', 'cpu', resizeKernel);
registerKernel('Upsample', 'cpu', resizeKernel);
