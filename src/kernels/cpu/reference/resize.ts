/**
 * Reference (naive) Resize: for every output element and every axis, compute the original coordinate, the
 * filter coefficients and the neighbour indices as the ONNX reference implementation describes them
 * (coefficients for ratio in (0, 1], the n positions nearest to the coordinate, preferring the smaller one,
 * edge-padded), then sum the tensor product of the per-axis coefficients over all neighbour combinations.
 * No tables, no separable passes: cost is taps^rank per output element. The fast kernel in ../resize.ts is
 * tested against this.
 *
 * Precision: the original coordinate is computed in float32, every operation rounded (Math.fround) in the
 * order onnxruntime's `float` code does it; the fast kernel repeats the same formula operation for
 * operation, so nearest rounding ties and the tf_crop_and_resize boundary test agree bit for bit. The
 * neighbours are counted from floor(x) (exact for a float32 x) instead of the ONNX reference's
 * "sort the padded positions by |x + pad - p|", which rounds x + pad and loses a tiny x (1e-45 + 1 == 1).
 *
 * Takes the canonical arguments (resolved per-axis scales, roi, output widths and sizes) the Resize op
 * computes.
 */
import { isFloat, type DataType } from '../../../tensor/dtype.js';
import { sizeOf } from '../../../tensor/shape.js';
import { fromNumbers, type Tensor } from '../../../tensor/tensor.js';
import { ravel, unravel } from './gather.js';

/** Canonical Resize arguments. */
export interface RefResizeArgs {
  scales: readonly number[];
  roi: readonly number[];
  /** The spec's output_width per axis: scale * input length when the size came from a scale, else the size. */
  widths: readonly number[];
  sizes: readonly number[];
  mode: 'nearest' | 'linear' | 'cubic';
  coordinateTransformationMode: string;
  nearestMode: string;
  cubicCoeffA: number;
  excludeOutside: boolean;
  extrapolationValue: number;
  antialias: boolean;
}

function cubicCoeffs(r: number, a: number): number[] {
  return [
    ((a * (r + 1) - 5 * a) * (r + 1) + 8 * a) * (r + 1) - 4 * a,
    ((a + 2) * r - (a + 3)) * r * r + 1,
    ((a + 2) * (1 - r) - (a + 3)) * (1 - r) * (1 - r) + 1,
    ((a * (1 - r + 1) - 5 * a) * (1 - r + 1) + 8 * a) * (1 - r + 1) - 4 * a,
  ];
}

function cubicCoeffsAntialias(r: number, scale: number, a: number): number[] {
  const s = Math.min(scale, 1);
  const weight = (x: number): number => {
    x = Math.abs(x);
    if (x <= 1) return (a + 2) * x ** 3 - (a + 3) * x ** 2 + 1;
    if (x < 2) return a * x ** 3 - 5 * a * x ** 2 + 8 * a * x - 4 * a;
    return 0;
  };
  const iStart = Math.floor(-2 / s) + 1;
  const iEnd = 2 - iStart;
  const c: number[] = [];
  for (let i = iStart; i < iEnd; i++) c.push(weight(s * (i - r)));
  const sum = c.reduce((p, v) => p + v, 0);
  return c.map((v) => v / sum);
}

function linearCoeffsAntialias(r: number, scale: number): number[] {
  const s = Math.min(scale, 1);
  const start = Math.floor(-1 / s) + 1;
  const footprint = 2 - 2 * start;
  const c: number[] = [];
  for (let i = start; i < start + footprint; i++) c.push(Math.min(Math.max(1 - Math.abs((i - r) * s), 0), 1));
  const sum = c.reduce((p, v) => p + v, 0);
  return c.map((v) => v / sum);
}

function nearestCoeffs(r: number, mode: string): number[] {
  if (r === 1) return [0, 1];
  switch (mode) {
    case 'round_prefer_floor':
      return r <= 0.5 ? [1, 0] : [0, 1];
    case 'round_prefer_ceil':
      return r < 0.5 ? [1, 0] : [0, 1];
    case 'floor':
      return [1, 0];
    default:
      return [0, 1];
  }
}

const f32 = Math.fround;

/**
 * Original coordinate of output position x on one axis (null = outside the crop box: extrapolate), in
 * float32 arithmetic: scale, output_width and roi are float32 values, each operation is rounded to float32,
 * except where onnxruntime computes in double (the tail of half_pixel_symmetric, the centre formula of
 * tf_crop_and_resize) and rounds once at the end.
 */
function originalCoordinate(args: RefResizeArgs, axis: number, x: number, inWidth: number): number | null {
  const rank = args.sizes.length;
  const scale = f32(args.scales[axis]!);
  const outWidth = f32(args.widths[axis]!);
  const outWidthInt = args.sizes[axis]!;
  switch (args.coordinateTransformationMode) {
    case 'align_corners':
      return outWidth === 1 ? 0 : f32(f32(x * (inWidth - 1)) / f32(outWidth - 1));
    case 'asymmetric':
      return f32(x / scale);
    case 'tf_half_pixel_for_nn':
      return f32(f32(x + 0.5) / scale);
    case 'tf_crop_and_resize': {
      const start = f32(args.roi[axis]!);
      const end = f32(args.roi[rank + axis]!);
      const xo =
        outWidth === 1
          ? f32(0.5 * f32(start + end) * (inWidth - 1))
          : f32(f32(start * (inWidth - 1)) + f32(f32(f32(x * f32(end - start)) * (inWidth - 1)) / f32(outWidth - 1)));
      return xo < 0 || xo > inWidth - 1 ? null : xo;
    }
    case 'pytorch_half_pixel':
      return outWidthInt > 1 ? f32(f32(f32(x + 0.5) / scale) - 0.5) : 0;
    case 'half_pixel':
      return f32(f32(f32(x + 0.5) / scale) - 0.5);
    case 'half_pixel_symmetric': {
      const adjustment = f32(outWidthInt / outWidth);
      const center = f32(inWidth / 2);
      const offset = f32(center * f32(1 - adjustment));
      return f32(offset + (x + 0.5) / scale - 0.5);
    }
    default:
      throw new Error(`unknown coordinate mode ${args.coordinateTransformationMode}`);
  }
}

/**
 * The `n` (even) positions nearest to the coordinate whose integer part is `xInt` and fraction `ratio` in
 * (0, 1] (xInt = x - ratio), ties to the smaller: xInt - n/2 + 1 .. xInt + n/2. Indices may fall outside
 * [0, len), where they hit the edge padding.
 */
function neighbours(xInt: number, n: number): number[] {
  return Array.from({ length: n }, (_, t) => xInt - n / 2 + 1 + t);
}

/** Per-axis (index, weight) pairs for output position x, or null to extrapolate. */
function axisTaps(args: RefResizeArgs, axis: number, x: number, inWidth: number): { index: number; weight: number }[] | null {
  const xo = originalCoordinate(args, axis, x, inWidth);
  if (xo === null) return null;
  const ratio = Number.isInteger(xo) ? 1 : xo - Math.floor(xo);
  const scale = f32(args.scales[axis]!);
  let coeffs: number[];
  if (args.mode === 'nearest') coeffs = nearestCoeffs(ratio, args.nearestMode);
  else if (args.mode === 'linear') coeffs = args.antialias ? linearCoeffsAntialias(ratio, scale) : [1 - ratio, ratio];
  else coeffs = args.antialias ? cubicCoeffsAntialias(ratio, scale, args.cubicCoeffA) : cubicCoeffs(ratio, args.cubicCoeffA);
  const idx = neighbours(xo - ratio, coeffs.length);
  // exclude_outside applies to the interpolating filters; a nearest pick is never renormalized (the ONNX
  // reference would divide by zero when the picked neighbour is padding)
  if (args.excludeOutside && args.mode !== 'nearest') {
    coeffs = coeffs.map((c, i) => (idx[i]! < 0 || idx[i]! >= inWidth ? 0 : c));
    const sum = coeffs.reduce((p, v) => p + v, 0);
    coeffs = coeffs.map((c) => c / sum);
  }
  return idx.map((i, t) => ({ index: Math.min(Math.max(i, 0), inWidth - 1), weight: coeffs[t]! }));
}

/** Resize `x` to `args.sizes` by the reference algorithm. Integer outputs are rounded and saturated. */
export function refResize(x: Tensor, args: RefResizeArgs): Tensor {
  const rank = x.rank;
  const src = x.type === 'int64' ? Array.from(x.data as BigInt64Array, Number) : Array.from(x.numbers());
  const n = sizeOf(args.sizes);
  const out = new Array<number>(n);
  for (let f = 0; f < n; f++) {
    const o = unravel(f, args.sizes);
    const perAxis: { index: number; weight: number }[][] = [];
    let extrapolate = false;
    for (let d = 0; d < rank; d++) {
      const taps = axisTaps(args, d, o[d]!, x.dims[d]!);
      if (taps === null) {
        extrapolate = true;
        break;
      }
      perAxis.push(taps);
    }
    if (extrapolate) {
      out[f] = args.extrapolationValue;
      continue;
    }
    // sum over every combination of one tap per axis
    let acc = 0;
    const counts = perAxis.map((t) => t.length);
    const combos = counts.reduce((p, c) => p * c, 1);
    for (let c = 0; c < combos; c++) {
      const pick = unravel(c, counts);
      let w = 1;
      const at: number[] = [];
      for (let d = 0; d < rank; d++) {
        const tap = perAxis[d]![pick[d]!]!;
        w *= tap.weight;
        at.push(tap.index);
      }
      if (w !== 0) acc += w * src[ravel(at, x.dims)]!;
    }
    out[f] = acc;
  }
  return castOut(x.type, out, args.sizes, args.mode === 'nearest');
}

function castOut(type: DataType, values: number[], dims: readonly number[], exact: boolean): Tensor {
  if (isFloat(type) || exact) return fromNumbers(type, values, dims);
  const ranges: Record<string, [number, number]> = {
    int8: [-128, 127],
    uint8: [0, 255],
    int16: [-32768, 32767],
    uint16: [0, 65535],
    int32: [-(2 ** 31), 2 ** 31 - 1],
    uint32: [0, 2 ** 32 - 1],
    int64: [-Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  };
  const [lo, hi] = ranges[type]!;
  return fromNumbers(
    type,
    values.map((v) => Math.min(Math.max(Math.round(v), lo), hi)),
    dims,
  );
}
