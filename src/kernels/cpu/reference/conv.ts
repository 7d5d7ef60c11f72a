/**
 * Reference (naive) kernels of the 'conv' family: convolution over output multi-indices, transposed
 * convolution in scatter form, and pooling loops. No im2col, no tables, float64 arithmetic, any number of
 * spatial axes. They define the semantics the fast kernels in ../conv.ts and ../pooling.ts are tested
 * against, and serve as the fallback for more than 3 spatial axes.
 *
 * All take canonical attributes: explicit pads [begins..., ends...] (auto_pad already resolved).
 */
import type { DataType } from '../../../tensor/dtype.js';
import { sizeOf, stridesOf } from '../../../tensor/shape.js';
import { fromNumbers, type Tensor } from '../../../tensor/tensor.js';

/** Canonical window attributes of a convolution. */
export interface RefConvAttrs {
  strides: readonly number[];
  dilations: readonly number[];
  pads: readonly number[];
  group: number;
}

/** Values of a tensor as plain numbers (float16 decoded). */
function values(t: Tensor): ArrayLike<number> {
  return t.numbers();
}

/** Call `f` with every multi-index of `dims` in row-major order. */
function forEachIndex(dims: readonly number[], f: (idx: readonly number[]) => void): void {
  const n = sizeOf(dims);
  const idx = new Array<number>(dims.length).fill(0);
  for (let i = 0; i < n; i++) {
    f(idx);
    for (let a = dims.length - 1; a >= 0; a--) {
      if (++idx[a]! < dims[a]!) break;
      idx[a] = 0;
    }
  }
}

/** Flat row-major offset of a multi-index. */
function offsetOf(idx: readonly number[], strides: readonly number[]): number {
  let o = 0;
  for (let i = 0; i < idx.length; i++) o += idx[i]! * strides[i]!;
  return o;
}

/** Conv: y[n, m, o] = b[m] + sum over c in m's group and kernel index k of x[n, c, o*s - p + k*d] * w[m, c', k]. */
export function refConv(x: Tensor, w: Tensor, b: Tensor | undefined, attrs: RefConvAttrs): Tensor {
  const rank = x.rank - 2;
  const [N, C] = x.dims as [number, number];
  const M = w.dims[0]!;
  const kernel = w.dims.slice(2);
  const Cg = C / attrs.group;
  const Mg = M / attrs.group;
  const inSpatial = x.dims.slice(2);
  const outSpatial = inSpatial.map((d, i) => {
    const ek = (kernel[i]! - 1) * attrs.dilations[i]! + 1;
    return Math.floor((d + attrs.pads[i]! + attrs.pads[rank + i]! - ek) / attrs.strides[i]!) + 1;
  });
  const dims = [N, M, ...outSpatial];
  const xv = values(x);
  const wv = values(w);
  const bv = b ? values(b) : undefined;
  const xs = stridesOf(x.dims);
  const ws = stridesOf(w.dims);
  const out = new Float64Array(sizeOf(dims));
  let o = 0;
  const pos = new Array<number>(rank);
  forEachIndex(dims, (yi) => {
    const n = yi[0]!;
    const m = yi[1]!;
    const g = Math.floor(m / Mg);
    let sum = bv ? bv[m]! : 0;
    for (let cl = 0; cl < Cg; cl++) {
      const c = g * Cg + cl;
      forEachIndex(kernel, (k) => {
        for (let i = 0; i < rank; i++) {
          pos[i] = yi[2 + i]! * attrs.strides[i]! - attrs.pads[i]! + k[i]! * attrs.dilations[i]!;
          if (pos[i]! < 0 || pos[i]! >= inSpatial[i]!) return;
        }
        sum += xv[offsetOf([n, c, ...pos], xs)]! * wv[offsetOf([m, cl, ...k], ws)]!;
      });
    }
    out[o++] = sum;
  });
  return fromNumbers(x.type, out, dims);
}

/** Canonical attributes of a transposed convolution: pads as resolved, the output spatial dims given. */
export interface RefConvTransposeAttrs extends RefConvAttrs {
  outputShape: readonly number[];
}

/**
 * ConvTranspose in scatter form: every input element x[n, c, i] adds x * w[c, m', k] to
 * y[n, m, i*s - p + k*d] for each output channel m of c's group and kernel index k, when that lands inside y.
 */
export function refConvTranspose(x: Tensor, w: Tensor, b: Tensor | undefined, attrs: RefConvTransposeAttrs): Tensor {
  const rank = x.rank - 2;
  const [N, C] = x.dims as [number, number];
  const Mg = w.dims[1]!;
  const M = Mg * attrs.group;
  const Cg = C / attrs.group;
  const kernel = w.dims.slice(2);
  const dims = [N, M, ...attrs.outputShape];
  const ys = stridesOf(dims);
  const ws = stridesOf(w.dims);
  const xv = values(x);
  const wv = values(w);
  const out = new Float64Array(sizeOf(dims));
  let xi = 0;
  const pos = new Array<number>(rank);
  forEachIndex(x.dims, (idx) => {
    const v = xv[xi++]!;
    const n = idx[0]!;
    const c = idx[1]!;
    const g = Math.floor(c / Cg);
    for (let ml = 0; ml < Mg; ml++) {
      forEachIndex(kernel, (k) => {
        for (let i = 0; i < rank; i++) {
          pos[i] = idx[2 + i]! * attrs.strides[i]! - attrs.pads[i]! + k[i]! * attrs.dilations[i]!;
          if (pos[i]! < 0 || pos[i]! >= attrs.outputShape[i]!) return;
        }
        out[offsetOf([n, g * Mg + ml, ...pos], ys)] += v * wv[offsetOf([c, ml, ...k], ws)]!;
      });
    }
  });
  if (b) {
    const bv = values(b);
    let i = 0;
    forEachIndex(dims, (idx) => {
      out[i++] += bv[idx[1]!]!;
    });
  }
  return fromNumbers(x.type, out, dims);
}

/** Pooling kinds. */
export type PoolKind = 'max' | 'average' | 'lp';

/** Canonical pooling attributes. */
export interface RefPoolAttrs {
  kernelShape: readonly number[];
  strides: readonly number[];
  dilations: readonly number[];
  pads: readonly number[];
  ceilMode?: boolean;
  /** AveragePool: divide by the window taps inside the padded input instead of the real ones. */
  countIncludePad?: boolean;
  /** LpPool's p (default 2). */
  p?: number;
  /** MaxPool Indices: 0 row-major, 1 spatial axes column-major. */
  storageOrder?: number;
}

/** Output spatial dims of a pool (floor or ceil; a last window starting in the end padding is dropped). */
export function refPoolOutputShape(inSpatial: readonly number[], a: RefPoolAttrs): number[] {
  const rank = inSpatial.length;
  return inSpatial.map((d, i) => {
    const ek = (a.kernelShape[i]! - 1) * a.dilations[i]! + 1;
    const span = (d + a.pads[i]! + a.pads[rank + i]! - ek) / a.strides[i]!;
    let o = (a.ceilMode ? Math.ceil(span) : Math.floor(span)) + 1;
    if (a.ceilMode && (o - 1) * a.strides[i]! >= d + a.pads[i]!) o--;
    return o;
  });
}

/** Value of an empty window (every tap in the padding): NaN for floats, the type's minimum for integers. */
function emptyValue(type: DataType): number {
  if (type === 'int8') return -128;
  if (type === 'uint8') return 0;
  return NaN;
}

/**
 * Pool each (n, c) plane. max: the largest real element (NaN elements are skipped unless the window holds
 * nothing else), with its flat input index; average: the sum of real elements divided by their count, or with
 * countIncludePad by the number of taps inside the padded extent [-padBegin, in + padEnd); lp: (sum |v|^p)^(1/p).
 */
export function refPool(kind: PoolKind, x: Tensor, a: RefPoolAttrs): { y: Tensor; indices: Tensor } {
  const rank = x.rank - 2;
  const [N, C] = x.dims as [number, number];
  const inSpatial = x.dims.slice(2);
  const outSpatial = refPoolOutputShape(inSpatial, a);
  const dims = [N, C, ...outSpatial];
  const xv = values(x);
  const xs = stridesOf(x.dims);
  // column-major strides of the spatial axes, for storage_order 1
  const colMajor = new Array<number>(rank);
  for (let i = 0, s = 1; i < rank; i++) {
    colMajor[i] = s;
    s *= inSpatial[i]!;
  }
  const plane = sizeOf(inSpatial);
  const p = a.p ?? 2;
  const out = new Float64Array(sizeOf(dims));
  const idxOut = new Float64Array(sizeOf(dims));
  let o = 0;
  const pos = new Array<number>(rank);
  forEachIndex(dims, (yi) => {
    let sum = 0;
    let real = 0;
    let padded = 0;
    let best = -Infinity;
    let bestIndex = -1;
    let firstReal = -1;
    let firstIndex = -1;
    forEachIndex(a.kernelShape, (k) => {
      let inside = true;
      let inPadded = true;
      for (let i = 0; i < rank; i++) {
        pos[i] = yi[2 + i]! * a.strides[i]! - a.pads[i]! + k[i]! * a.dilations[i]!;
        if (pos[i]! < 0 || pos[i]! >= inSpatial[i]!) inside = false;
        if (pos[i]! < -a.pads[i]! || pos[i]! >= inSpatial[i]! + a.pads[rank + i]!) inPadded = false;
      }
      if (inPadded) padded++;
      if (!inside) return;
      const v = xv[offsetOf([yi[0]!, yi[1]!, ...pos], xs)]!;
      const flat = (yi[0]! * C + yi[1]!) * plane + (a.storageOrder === 1 ? offsetOf(pos, colMajor) : offsetOf(pos, xs.slice(2)));
      if (real === 0) {
        firstReal = v;
        firstIndex = flat;
      }
      real++;
      if (kind === 'max') {
        if (v > best) {
          best = v;
          bestIndex = flat;
        }
      } else if (kind === 'average') sum += v;
      else sum += Math.abs(v) ** p;
    });
    if (kind === 'max') {
      if (real === 0) {
        best = emptyValue(x.type);
        bestIndex = -1;
      } else if (bestIndex < 0) {
        best = firstReal;
        bestIndex = firstIndex;
      }
      out[o] = best;
      idxOut[o] = bestIndex;
    } else if (kind === 'average') {
      out[o] = sum / (a.countIncludePad ? padded : real);
    } else {
      out[o] = sum ** (1 / p);
    }
    o++;
  });
  return { y: fromNumbers(x.type, out, dims), indices: fromNumbers('int64', idxOut, dims) };
}

/** Global pools: the whole spatial extent of each (n, c) plane is one window. */
export function refGlobalPool(kind: PoolKind, x: Tensor, p = 2): Tensor {
  const spatial = x.dims.slice(2);
  const rank = spatial.length;
  return refPool(kind, x, {
    kernelShape: spatial.map((d) => Math.max(d, 1)),
    strides: spatial.map(() => 1),
    dilations: spatial.map(() => 1),
    // a zero-size axis gets one padding tap so the single (empty) window exists
    pads: [...new Array<number>(rank).fill(0), ...spatial.map((d) => (d === 0 ? 1 : 0))],
    p,
  }).y;
}
