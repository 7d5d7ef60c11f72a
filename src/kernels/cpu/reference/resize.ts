/**
 * Reference (naive) Resize: for every output element and every axis, compute the original coordinate, the
 * filter coefficients and the neighbour indices exactly as the ONNX reference implementation describes them
 * (coefficients for ratio in (0, 1], the n nearest positions of the edge-padded axis, preferring the smaller
 * one), then sum the tensor product of the per-axis coefficients over all neighbour combinations. No tables,
 * no separable passes: cost is taps^rank per output element. The fast kernel in ../resize.ts is tested
 * against this.
 *
 * Takes the canonical arguments (resolved per-axis scales, roi, output sizes) the Resize op computes.
 */
import { isFloat, type DataType } from '../../../tensor/dtype.js';
import { sizeOf } from '../../../tensor/shape.js';
import { fromNumbers, type Tensor } from '../../../tensor/tensor.js';
import { ravel, unravel } from './gather.js';

/** Canonical Resize arguments. */
export interface RefResizeArgs {
  scales: readonly number[];
  roi: readonly number[];
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

/** Original coordinate of output position x on one axis (null = outside the crop box: extrapolate). */
function originalCoordinate(args: RefResizeArgs, axis: number, x: number, inWidth: number): number | null {
  const scale = args.scales[axis]!;
  const outWidth = scale * inWidth;
  const outWidthInt = args.sizes[axis]!;
  const rank = args.sizes.length;
  switch (args.coordinateTransformationMode) {
    case 'align_corners':
      return outWidth === 1 ? 0 : (x * (inWidth - 1)) / (outWidth - 1);
    case 'asymmetric':
      return x / scale;
    case 'tf_half_pixel_for_nn':
      return (x + 0.5) / scale;
    case 'tf_crop_and_resize': {
      const start = args.roi[axis]!;
      const end = args.roi[rank + axis]!;
      let xo = outWidth === 1 ? ((end - start) * (inWidth - 1)) / 2 : (x * (end - start) * (inWidth - 1)) / (outWidth - 1);
      xo += start * (inWidth - 1);
      return xo < 0 || xo > inWidth - 1 ? null : xo;
    }
    case 'pytorch_half_pixel':
      return outWidth === 1 ? 0 : (x + 0.5) / scale - 0.5;
    case 'half_pixel':
      return (x + 0.5) / scale - 0.5;
    case 'half_pixel_symmetric': {
      const adjustment = outWidthInt / outWidth;
      const center = inWidth / 2;
      const offset = center * (1 - adjustment);
      return offset + (x + 0.5) / scale - 0.5;
    }
    default:
      throw new Error(`unknown coordinate mode ${args.coordinateTransformationMode}`);
  }
}

/**
 * The `n` positions of the edge-padded axis nearest to x (ties to the smaller), as indices into the
 * original axis (may be outside [0, len) where they hit the padding).
 */
function neighbours(x: number, n: number, len: number): number[] {
  const pad = Math.ceil(n / 2);
  const xp = x + pad;
  const positions = [...Array(len + 2 * pad).keys()];
  positions.sort((p, q) => Math.abs(xp - p) - Math.abs(xp - q) || p - q);
  return positions
    .slice(0, n)
    .sort((p, q) => p - q)
    .map((p) => p - pad);
}

/** Per-axis (index, weight) pairs for output position x, or null to extrapolate. */
function axisTaps(args: RefResizeArgs, axis: number, x: number, inWidth: number): { index: number; weight: number }[] | null {
  const xo = originalCoordinate(args, axis, x, inWidth);
  if (xo === null) return null;
  const ratio = Number.isInteger(xo) ? 1 : xo - Math.floor(xo);
  const scale = args.scales[axis]!;
  let coeffs: number[];
  if (args.mode === 'nearest') coeffs = nearestCoeffs(ratio, args.nearestMode);
  else if (args.mode === 'linear') coeffs = args.antialias ? linearCoeffsAntialias(ratio, scale) : [1 - ratio, ratio];
  else coeffs = args.antialias ? cubicCoeffsAntialias(ratio, scale, args.cubicCoeffA) : cubicCoeffs(ratio, args.cubicCoeffA);
  const idx = neighbours(xo, coeffs.length, inWidth);
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
