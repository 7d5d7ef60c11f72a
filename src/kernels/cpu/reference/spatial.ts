/**
 * Reference (naive) kernels of GridSample, AffineGrid, Col2Im, NonMaxSuppression, MaxUnpool, RoiAlign,
 * DeformConv, DFT, STFT and the windows. GridSample interpolates recursively one spatial dim at a time as the ONNX
 * reference implementation describes; DFT sums e^{+-2 pi i k n / L} with Math.cos/Math.sin per term and builds
 * the full Hermitian spectrum for IRFFT; the rest are per-element loops. Slow by design.
 */
import { type DataType, type NumericArray } from '../../../tensor/dtype.js';
import { sizeOf, stridesOf } from '../../../tensor/shape.js';
import { fromNumbers, Tensor } from '../../../tensor/tensor.js';

function unravel(flat: number, dims: readonly number[]): number[] {
  const idx = new Array<number>(dims.length);
  for (let i = dims.length - 1; i >= 0; i--) {
    idx[i] = dims[i]! === 0 ? 0 : flat % dims[i]!;
    flat = dims[i]! === 0 ? 0 : Math.floor(flat / dims[i]!);
  }
  return idx;
}

function ravel(idx: readonly number[], dims: readonly number[]): number {
  const st = stridesOf(dims);
  return idx.reduce((p, v, i) => p + v * st[i]!, 0);
}

const nums = (t: Tensor): number[] => (t.type === 'int64' ? Array.from(t.data as BigInt64Array, Number) : Array.from(t.numbers() as NumericArray));

/** Mirror x into [lo, hi] repeatedly. */
function reflectRef(x: number, lo: number, hi: number): number {
  const range = hi - lo;
  if (range <= 0) return lo;
  let v = x;
  while (v < lo || v > hi) v = v < lo ? 2 * lo - v : 2 * hi - v;
  return v;
}

/** Reference GridSample. */
export function refGridSample(x: Tensor, grid: Tensor, mode = 'linear', padding = 'zeros', alignCorners = false): Tensor {
  const xs = nums(x);
  const gs = nums(grid);
  const r = x.rank - 2;
  const spatial = x.dims.slice(2);
  const outDims = [x.dims[0]!, x.dims[1]!, ...grid.dims.slice(1, -1)];
  const lo = spatial.map(() => (alignCorners ? 0 : -0.5));
  const hi = spatial.map((d) => (alignCorners ? d - 1 : d - 0.5));
  const f = Math.fround;
  const pixel = (n: number, c: number, idx: number[]): number => {
    const fixed: number[] = [];
    for (let d = 0; d < r; d++) {
      let i = idx[d]!;
      if (padding === 'zeros') {
        if (i < 0 || i >= spatial[d]!) return 0;
      } else if (padding === 'border') i = Math.min(Math.max(i, 0), spatial[d]! - 1);
      else i = Math.trunc(reflectRef(i, lo[d]!, hi[d]!));
      fixed.push(i);
    }
    return xs[ravel([n, c, ...fixed], x.dims)]!;
  };
  const cubicW = (t: number): number[] => {
    const a = -0.75;
    const w = (s: number): number => {
      const u = Math.abs(s);
      return u <= 1 ? (a + 2) * u ** 3 - (a + 3) * u ** 2 + 1 : u < 2 ? a * u ** 3 - 5 * a * u ** 2 + 8 * a * u - 4 * a : 0;
    };
    return [w(t + 1), w(t), w(1 - t), w(2 - t)];
  };
  const out: number[] = [];
  for (let flat = 0; flat < sizeOf(outDims); flat++) {
    const [n, c, ...o] = unravel(flat, outDims) as number[];
    const coords = spatial.map((size, d) => {
      const v = gs[ravel([n!, ...o, r - 1 - d], grid.dims)]!;
      let p = grid.type === 'float64' ? f(alignCorners ? ((v + 1) / 2) * (size - 1) : ((v + 1) * size - 1) / 2) : alignCorners ? f(f(f(v + 1) / 2) * (size - 1)) : f(f(f(f(v + 1) * size) - 1) / 2);
      if (mode === 'nearest') {
        const fl = Math.floor(p);
        p = p - fl === 0.5 ? (fl % 2 === 0 ? fl : fl + 1) : Math.round(p);
      }
      if (p < lo[d]! || p > hi[d]!) {
        if (padding === 'border') p = Math.min(Math.max(p, 0), size - 1);
        else if (padding === 'reflection') p = f(reflectRef(p, lo[d]!, hi[d]!));
      }
      return p;
    });
    // interpolate the last spatial dim first, then fold outwards, one dim at a time
    const interp = (d: number, prefix: number[]): number => {
      if (d === r) return pixel(n!, c!, prefix);
      const p = coords[d]!;
      if (mode === 'nearest') return interp(d + 1, [...prefix, Math.trunc(p)]);
      const i0 = Math.floor(p);
      const t = p - i0;
      if (mode === 'linear') return (1 - t) * interp(d + 1, [...prefix, i0]) + t * interp(d + 1, [...prefix, i0 + 1]);
      const w = cubicW(t);
      return w.reduce((s, wk, k) => s + wk * interp(d + 1, [...prefix, i0 - 1 + k]), 0);
    };
    out.push(interp(0, []));
  }
  const isF = x.type === 'float32' || x.type === 'float64' || x.type === 'float16';
  return fromNumbers(x.type, isF ? out : out.map(Math.trunc), outDims);
}

/** Reference AffineGrid. */
export function refAffineGrid(theta: Tensor, size: readonly number[], alignCorners = false): Tensor {
  const th = nums(theta);
  const r = size.length - 2;
  const spatial = size.slice(2);
  const outDims = [size[0]!, ...spatial, r];
  const base = (i: number, n: number): number => (n <= 1 ? 0 : alignCorners ? -1 + (2 * i) / (n - 1) : (2 * i + 1) / n - 1);
  const out = new Array<number>(sizeOf(outDims)).fill(0).map((_, flat) => {
    const idx = unravel(flat, outDims);
    const n = idx[0]!;
    const comp = idx[r + 1]!;
    // homogeneous position (x along the last spatial dim, then y, then z), then theta row `comp`
    const pos = [...spatial.map((d, k) => base(idx[1 + k]!, d)).reverse(), 1];
    return pos.reduce((s, p, j) => s + th[ravel([n, comp, j], [size[0]!, r, r + 1])]! * p, 0);
  });
  return fromNumbers(theta.type, out, outDims);
}

/** Reference Col2Im (scatter from each input element). */
export function refCol2Im(x: Tensor, image: readonly number[], block: readonly number[], dil?: readonly number[], pads?: readonly number[], strides?: readonly number[]): Tensor {
  const r = image.length;
  const d = dil ?? new Array<number>(r).fill(1);
  const p = pads ?? new Array<number>(2 * r).fill(0);
  const s = strides ?? new Array<number>(r).fill(1);
  const counts = image.map((v, i) => Math.floor((v + p[i]! + p[i + r]! - (d[i]! * (block[i]! - 1) + 1)) / s[i]!) + 1);
  const bsize = sizeOf(block);
  const channels = x.dims[1]! / bsize;
  const outDims = [x.dims[0]!, channels, ...image];
  const out = new Array<number>(sizeOf(outDims)).fill(0);
  const xs = nums(x);
  xs.forEach((v, flat) => {
    const [n, row, l] = unravel(flat, x.dims) as [number, number, number];
    const c = Math.floor(row / bsize);
    const k = unravel(row % bsize, block);
    const lb = unravel(l, counts);
    const pos = image.map((_, i) => lb[i]! * s[i]! - p[i]! + k[i]! * d[i]!);
    if (pos.every((q, i) => q >= 0 && q < image[i]!)) out[ravel([n, c, ...pos], outDims)]! += v;
  });
  return fromNumbers(x.type, out, outDims);
}

/** Reference NonMaxSuppression: repeatedly take the best remaining box, keep it unless a kept box overlaps it. */
export function refNonMaxSuppression(boxes: Tensor, scores: Tensor, maxOut: number, iou: number, scoreThreshold: number | undefined, center: boolean): number[][] {
  const bs = nums(boxes);
  const ss = nums(scores);
  const [batches, classes, count] = scores.dims as [number, number, number];
  const corners = (b: number, i: number): number[] => {
    const v = bs.slice((b * count + i) * 4, (b * count + i) * 4 + 4);
    if (center) return [v[1]! - v[3]! / 2, v[0]! - v[2]! / 2, v[1]! + v[3]! / 2, v[0]! + v[2]! / 2];
    return [Math.min(v[0]!, v[2]!), Math.min(v[1]!, v[3]!), Math.max(v[0]!, v[2]!), Math.max(v[1]!, v[3]!)];
  };
  const overlaps = (a: number[], b: number[]): boolean => {
    const ih = Math.min(a[2]!, b[2]!) - Math.max(a[0]!, b[0]!);
    const iw = Math.min(a[3]!, b[3]!) - Math.max(a[1]!, b[1]!);
    if (ih <= 0 || iw <= 0) return false;
    const inter = ih * iw;
    const aa = (a[2]! - a[0]!) * (a[3]! - a[1]!);
    const ab = (b[2]! - b[0]!) * (b[3]! - b[1]!);
    if (aa <= 0 || ab <= 0 || aa + ab - inter <= 0) return false;
    return inter / (aa + ab - inter) > iou;
  };
  const out: number[][] = [];
  for (let b = 0; b < batches; b++) {
    for (let c = 0; c < classes; c++) {
      const remaining = [...Array(count).keys()].filter((i) => scoreThreshold === undefined || ss[(b * classes + c) * count + i]! > scoreThreshold);
      const kept: number[] = [];
      while (remaining.length > 0 && kept.length < maxOut) {
        let best = 0;
        for (let j = 1; j < remaining.length; j++) if (ss[(b * classes + c) * count + remaining[j]!]! > ss[(b * classes + c) * count + remaining[best]!]!) best = j;
        const i = remaining.splice(best, 1)[0]!;
        if (kept.every((k) => !overlaps(corners(b, i), corners(b, k)))) {
          kept.push(i);
          out.push([b, c, i]);
        }
      }
    }
  }
  return out;
}

/** Reference MaxUnpool: scatter into the default-shaped result, placed in the corner of `outputShape`. */
export function refMaxUnpool(x: Tensor, indices: Tensor, kernel: readonly number[], strides: readonly number[], pads: readonly number[], outputShape?: readonly number[]): Tensor {
  const r = kernel.length;
  const inferred = [x.dims[0]!, x.dims[1]!, ...x.dims.slice(2).map((d, i) => (d - 1) * strides[i]! - pads[i]! - pads[i + r]! + kernel[i]!)];
  const dims = outputShape ?? inferred;
  const out = new Array<number>(sizeOf(dims)).fill(0);
  const xs = nums(x);
  const is = nums(indices);
  xs.forEach((v, i) => (out[ravel(unravel(is[i]!, inferred), dims)] = v));
  return fromNumbers(x.type, out, dims);
}

/** Reference DFT along `axis` (non-negative) with length L. */
export function refDft(x: Tensor, axis: number, length: number, inverse: boolean, onesided: boolean): Tensor {
  const xs = nums(x);
  const comps = x.dims[x.rank - 1]!;
  const irfft = inverse && onesided;
  const outDims = [...x.dims];
  outDims[axis] = onesided && !inverse ? Math.floor(length / 2) + 1 : length;
  outDims[x.rank - 1] = irfft ? 1 : 2;
  const value = (idx: number[], k: number): [number, number] => {
    if (k >= x.dims[axis]!) return [0, 0];
    const at = [...idx];
    at[axis] = k;
    at[x.rank - 1] = 0;
    const p = ravel(at, x.dims);
    return [xs[p]!, comps === 2 ? xs[p + 1]! : 0];
  };
  const out = new Array<number>(sizeOf(outDims)).fill(0).map((_, flat) => {
    const idx = unravel(flat, outDims);
    const k = idx[axis]!;
    const part = idx[x.rank - 1]!;
    let re = 0;
    let im = 0;
    for (let n = 0; n < length; n++) {
      let v: [number, number];
      if (irfft) {
        // full spectrum from the one-sided half: X[L - m] = conj(X[m]); DC and Nyquist use their real parts
        const half = Math.floor(length / 2);
        const m = n <= half ? n : length - n;
        const [a, b] = m > half ? [0, 0] : value(idx, m);
        v = m === 0 || (length % 2 === 0 && m === half) ? [a, 0] : n <= half ? [a, b] : [a, -b];
      } else v = value(idx, n);
      const angle = ((inverse ? 2 : -2) * Math.PI * k * n) / length;
      re += v[0] * Math.cos(angle) - v[1] * Math.sin(angle);
      im += v[0] * Math.sin(angle) + v[1] * Math.cos(angle);
    }
    const scale = inverse ? 1 / length : 1;
    return (part === 0 ? re : im) * scale;
  });
  return fromNumbers(x.type, out, outDims);
}

/** Reference STFT. */
export function refStft(signal: Tensor, step: number, frameLength: number, window: Tensor | undefined, onesided: boolean): Tensor {
  const xs = nums(signal);
  const w = window ? nums(window) : undefined;
  const [batch, samples, comps] = signal.dims as [number, number, number];
  const frames = Math.floor((samples - frameLength) / step) + 1;
  const bins = onesided ? Math.floor(frameLength / 2) + 1 : frameLength;
  const outDims = [batch, frames, bins, 2];
  const out = new Array<number>(sizeOf(outDims)).fill(0).map((_, flat) => {
    const [b, f, k, part] = unravel(flat, outDims) as [number, number, number, number];
    let re = 0;
    let im = 0;
    for (let n = 0; n < frameLength; n++) {
      const at = (b * samples + f * step + n) * comps;
      const g = w ? w[n]! : 1;
      const a = xs[at]! * g;
      const c = comps === 2 ? xs[at + 1]! * g : 0;
      const angle = (-2 * Math.PI * k * n) / frameLength;
      re += a * Math.cos(angle) - c * Math.sin(angle);
      im += a * Math.sin(angle) + c * Math.cos(angle);
    }
    return part === 0 ? re : im;
  });
  return fromNumbers(signal.type, out, outDims);
}

/** Reference windows. */
export function refWindow(kind: 'hann' | 'hamming' | 'blackman', size: number, periodic: boolean, type: DataType): Tensor {
  const n = periodic ? size : size - 1;
  const values = [...Array(size).keys()].map((i) => {
    const t = n > 0 ? (2 * Math.PI * i) / n : 0;
    if (kind === 'hann') return 0.5 - 0.5 * Math.cos(t);
    if (kind === 'hamming') return 25 / 46 - (21 / 46) * Math.cos(t);
    return 0.42 - 0.5 * Math.cos(t) + 0.08 * Math.cos(2 * t);
  });
  const isF = type === 'float32' || type === 'float64' || type === 'float16';
  return fromNumbers(type, isF ? values : values.map(Math.trunc), [size]);
}

/** Reference RoiAlign: every output value from its bin's sample points, bilinear corners computed on the spot. */
export function refRoiAlign(x: Tensor, rois: Tensor, batchIndices: readonly number[], o: { mode: string; oh: number; ow: number; ratio: number; scale: number; halfPixel: boolean }): Tensor {
  const xs = nums(x);
  const bs = nums(rois);
  const [, C, H, W] = x.dims as [number, number, number, number];
  const R = rois.dims[0]!;
  const outDims = [R, C, o.oh, o.ow];
  const at = (n: number, c: number, y: number, xx: number): number => xs[ravel([n, c, y, xx], x.dims)]!;
  const out = new Array<number>(sizeOf(outDims)).fill(0).map((_, flat) => {
    const [r, c, by, bx] = unravel(flat, outDims) as [number, number, number, number];
    const off = o.halfPixel ? 0.5 : 0;
    const [sx, sy, ex, ey] = [0, 1, 2, 3].map((k) => bs[4 * r + k]! * o.scale - off) as [number, number, number, number];
    const rw = o.halfPixel ? ex - sx : Math.max(ex - sx, 1);
    const rh = o.halfPixel ? ey - sy : Math.max(ey - sy, 1);
    const gh = o.ratio > 0 ? o.ratio : Math.ceil(rh / o.oh);
    const gw = o.ratio > 0 ? o.ratio : Math.ceil(rw / o.ow);
    const vals: number[] = [];
    for (let iy = 0; iy < gh; iy++) {
      for (let ix = 0; ix < gw; ix++) {
        let y = sy + by * (rh / o.oh) + ((iy + 0.5) * (rh / o.oh)) / gh;
        let xx = sx + bx * (rw / o.ow) + ((ix + 0.5) * (rw / o.ow)) / gw;
        if (y < -1 || y > H || xx < -1 || xx > W) {
          vals.push(0);
          continue;
        }
        y = Math.min(Math.max(y, 0), H - 1);
        xx = Math.min(Math.max(xx, 0), W - 1);
        const y0 = Math.floor(y);
        const x0 = Math.floor(xx);
        const y1 = Math.min(y0 + 1, H - 1);
        const x1 = Math.min(x0 + 1, W - 1);
        const ly = y - y0;
        const lx = xx - x0;
        const n = batchIndices[r]!;
        const corners = [(1 - ly) * (1 - lx) * at(n, c, y0, x0), (1 - ly) * lx * at(n, c, y0, x1), ly * (1 - lx) * at(n, c, y1, x0), ly * lx * at(n, c, y1, x1)];
        vals.push(o.mode === 'max' ? Math.max(...corners) : corners.reduce((p, v) => p + v, 0));
      }
    }
    if (o.mode === 'max') return vals.length ? Math.max(...vals) : 0;
    return vals.reduce((p, v) => p + v, 0) / Math.max(gh * gw, 1);
  });
  return fromNumbers(x.type, out, outDims);
}

/** Reference 2-D DeformConv: every output from the sum over its taps, each tap bilinear with zero outside. */
export function refDeformConv(
  x: Tensor,
  w: Tensor,
  offset: Tensor,
  o: { bias?: Tensor; mask?: Tensor; strides: number[]; pads: number[]; dilations: number[]; group: number; offsetGroup: number },
): Tensor {
  const xs = nums(x);
  const ws = nums(w);
  const offs = nums(offset);
  const ms = o.mask ? nums(o.mask) : undefined;
  const bs = o.bias ? nums(o.bias) : undefined;
  const [N, C, H, W] = x.dims as [number, number, number, number];
  const [OC, CG, KH, KW] = w.dims as [number, number, number, number];
  const [oh, ow] = [offset.dims[2]!, offset.dims[3]!];
  const outDims = [N, OC, oh, ow];
  const px = (n: number, c: number, y: number, xx: number): number => (y >= 0 && y < H && xx >= 0 && xx < W ? xs[ravel([n, c, y, xx], x.dims)]! : 0);
  const out = new Array<number>(sizeOf(outDims)).fill(0).map((_, flat) => {
    const [n, oc, y, xx] = unravel(flat, outDims) as [number, number, number, number];
    const g = Math.floor(oc / (OC / o.group));
    let sum = bs ? bs[oc]! : 0;
    for (let ci = 0; ci < CG; ci++) {
      const c = g * CG + ci;
      const og = Math.floor(c / (C / o.offsetGroup));
      for (let i = 0; i < KH; i++) {
        for (let j = 0; j < KW; j++) {
          const tap = i * KW + j;
          const hy = y * o.strides[0]! - o.pads[0]! + i * o.dilations[0]! + offs[ravel([n, og * KH * KW * 2 + 2 * tap, y, xx], offset.dims)]!;
          const wx = xx * o.strides[1]! - o.pads[1]! + j * o.dilations[1]! + offs[ravel([n, og * KH * KW * 2 + 2 * tap + 1, y, xx], offset.dims)]!;
          const y0 = Math.floor(hy);
          const x0 = Math.floor(wx);
          const ly = hy - y0;
          const lx = wx - x0;
          let v = (1 - ly) * (1 - lx) * px(n, c, y0, x0) + (1 - ly) * lx * px(n, c, y0, x0 + 1) + ly * (1 - lx) * px(n, c, y0 + 1, x0) + ly * lx * px(n, c, y0 + 1, x0 + 1);
          if (ms) v *= ms[ravel([n, og * KH * KW + tap, y, xx], [N, o.offsetGroup * KH * KW, oh, ow])]!;
          sum += ws[ravel([oc, ci, i, j], w.dims)]! * v;
        }
      }
    }
    return sum;
  });
  return fromNumbers(x.type, out, outDims);
}
