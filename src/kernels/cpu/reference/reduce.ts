/**
 * Reference (naive) kernels of the reduce family: reductions, ArgMax/ArgMin, TopK, CumSum, Softmax,
 * LogSoftmax and Hardmax. Each walks explicit multi-indices, collects the values of one output element into
 * a plain array and applies the textbook formula. They define the semantics the fast kernels in
 * ../reduce.ts and ../softmax.ts are tested against; slow is fine.
 */
import type { DataType } from '../../../tensor/dtype.js';
import { sizeOf, stridesOf } from '../../../tensor/shape.js';
import { fromNumbers, Tensor } from '../../../tensor/tensor.js';

/** Values as plain numbers (int64 through Number; tests keep them small). */
export function plainValues(x: Tensor): number[] {
  if (x.type === 'int64') return Array.from(x.data as BigInt64Array, Number);
  return Array.from(x.numbers());
}

/** The multi-index of flat position `i` in `dims`. */
export function unravel(i: number, dims: readonly number[]): number[] {
  const idx = new Array<number>(dims.length);
  for (let k = dims.length - 1; k >= 0; k--) {
    idx[k] = i % dims[k]!;
    i = Math.floor(i / dims[k]!);
  }
  return idx;
}

/** The flat position of multi-index `idx` in `dims`. */
export function ravel(idx: readonly number[], dims: readonly number[]): number {
  const st = stridesOf(dims);
  let p = 0;
  for (let k = 0; k < idx.length; k++) p += idx[k]! * st[k]!;
  return p;
}

/** Reduction kinds, named after the ONNX ops without the `Reduce` prefix. */
export type RefReduceKind = 'Sum' | 'Mean' | 'Max' | 'Min' | 'Prod' | 'L1' | 'L2' | 'LogSum' | 'LogSumExp' | 'SumSquare';

const INT_LIMITS: Partial<Record<DataType, [number, number]>> = {
  int8: [-128, 127],
  uint8: [0, 255],
  int16: [-32768, 32767],
  uint16: [0, 65535],
  int32: [-(2 ** 31), 2 ** 31 - 1],
  uint32: [0, 2 ** 32 - 1],
  bool: [0, 1],
};

function combine(kind: RefReduceKind, vs: number[], type: DataType): number {
  const lim = INT_LIMITS[type];
  switch (kind) {
    case 'Sum':
      return vs.reduce((a, b) => a + b, 0);
    case 'Mean':
      return vs.reduce((a, b) => a + b, 0) / vs.length;
    case 'Max':
      if (vs.some((v) => Number.isNaN(v))) return NaN;
      return vs.length ? Math.max(...vs) : lim ? lim[0] : -Infinity;
    case 'Min':
      if (vs.some((v) => Number.isNaN(v))) return NaN;
      return vs.length ? Math.min(...vs) : lim ? lim[1] : Infinity;
    case 'Prod':
      return vs.reduce((a, b) => a * b, 1);
    case 'L1':
      return vs.reduce((a, b) => a + Math.abs(b), 0);
    case 'L2':
      return Math.sqrt(vs.reduce((a, b) => a + b * b, 0));
    case 'LogSum':
      return Math.log(vs.reduce((a, b) => a + b, 0));
    case 'LogSumExp':
      return Math.log(vs.reduce((a, b) => a + Math.exp(b), 0));
    case 'SumSquare':
      return vs.reduce((a, b) => a + b * b, 0);
  }
}

/** Store numbers into `type` the way the kernels do (NaN -> 0 and truncation for integers, wrap for int32). */
function store(type: DataType, values: number[], dims: readonly number[]): Tensor {
  if (type === 'bool') return fromNumbers('bool', values.map((v) => (v ? 1 : 0)), dims);
  if (type === 'int64') {
    // empty max/min give the int64 extremes (-inf/+inf here); NaN and other non-finite values give 0
    const big = values.map((v) => (v === -Infinity ? -(2n ** 63n) : v === Infinity ? 2n ** 63n - 1n : Number.isFinite(v) ? BigInt(Math.trunc(v)) : 0n));
    return new Tensor('int64', BigInt64Array.from(big), dims);
  }
  return fromNumbers(type, values, dims);
}

/** Reduce `x` over `axes` (already non-negative; empty = identity) with the textbook formula per output. */
export function refReduce(x: Tensor, kind: RefReduceKind, axes: readonly number[], keepdims: boolean): Tensor {
  const vals = plainValues(x);
  const red = new Set(axes);
  const keptDims = x.dims.map((d, i) => (red.has(i) ? 1 : d));
  const groups: number[][] = Array.from({ length: sizeOf(keptDims) }, () => []);
  for (let i = 0; i < x.size; i++) {
    const idx = unravel(i, x.dims).map((c, k) => (red.has(k) ? 0 : c));
    groups[ravel(idx, keptDims)]!.push(vals[i]!);
  }
  const out = groups.map((g) => combine(kind, g, x.type));
  const dims = keepdims ? keptDims : x.dims.filter((_, i) => !red.has(i));
  return store(x.type, out, dims);
}

/** Index of the first (or last) maximum/minimum along `axis`, int64. */
export function refArg(x: Tensor, axis: number, keepdims: boolean, selectLast: boolean, isMin: boolean): Tensor {
  const vals = plainValues(x);
  const d = x.dims[axis]!;
  const keptDims = x.dims.map((n, i) => (i === axis ? 1 : n));
  const out: number[] = [];
  for (let o = 0; o < sizeOf(keptDims); o++) {
    const idx = unravel(o, keptDims);
    let best = 0;
    let bestV = NaN;
    for (let t = 0; t < d; t++) {
      idx[axis] = t;
      const v = vals[ravel(idx, x.dims)]!;
      if (t === 0) {
        bestV = v;
        continue;
      }
      if (Number.isNaN(bestV)) continue;
      const better = Number.isNaN(v) || (isMin ? v < bestV || (selectLast && v === bestV) : v > bestV || (selectLast && v === bestV));
      if (better) {
        best = t;
        bestV = v;
      }
    }
    out.push(best);
  }
  const dims = keepdims ? keptDims : x.dims.filter((_, i) => i !== axis);
  return fromNumbers('int64', out, dims);
}

/** The k largest/smallest along `axis` by sorting (value, index) pairs; ties by lower index. */
export function refTopK(x: Tensor, k: number, axis: number, largest: boolean): { values: Tensor; indices: Tensor } {
  const vals = plainValues(x);
  const d = x.dims[axis]!;
  const keptDims = x.dims.map((n, i) => (i === axis ? 1 : n));
  const outDims = x.dims.map((n, i) => (i === axis ? k : n));
  const outVals = new Array<number>(sizeOf(outDims));
  const outIdx = new Array<number>(sizeOf(outDims));
  for (let o = 0; o < sizeOf(keptDims); o++) {
    const idx = unravel(o, keptDims);
    const pairs: [number, number][] = [];
    for (let t = 0; t < d; t++) {
      idx[axis] = t;
      pairs.push([vals[ravel(idx, x.dims)]!, t]);
    }
    pairs.sort((p, q) => (p[0] === q[0] ? p[1] - q[1] : largest ? q[0] - p[0] : p[0] - q[0]));
    for (let t = 0; t < k; t++) {
      idx[axis] = t;
      const at = ravel(idx, outDims);
      outVals[at] = pairs[t]![0];
      outIdx[at] = pairs[t]![1];
    }
  }
  return { values: store(x.type, outVals, outDims), indices: fromNumbers('int64', outIdx, outDims) };
}

/** Cumulative sum along `axis` by summing the prefix (or suffix) of each element. */
export function refCumSum(x: Tensor, axis: number, exclusive: boolean, reverse: boolean): Tensor {
  const vals = plainValues(x);
  const d = x.dims[axis]!;
  const out = new Array<number>(x.size);
  for (let i = 0; i < x.size; i++) {
    const idx = unravel(i, x.dims);
    const me = idx[axis]!;
    let s = 0;
    for (let t = 0; t < d; t++) {
      const include = reverse ? (exclusive ? t > me : t >= me) : exclusive ? t < me : t <= me;
      if (!include) continue;
      idx[axis] = t;
      s += vals[ravel(idx, x.dims)]!;
    }
    out[i] = s;
  }
  return store(x.type, out, x.dims);
}

/**
 * Softmax / LogSoftmax / Hardmax over `axis`; with `coerce2d` (opset < 13) over the flattened block of dims
 * from `axis` to the end. exp(x - max) / sum for Softmax, x - max - log(sum exp(x - max)) for LogSoftmax.
 */
export function refSoftmax(x: Tensor, axis: number, mode: 'Softmax' | 'LogSoftmax' | 'Hardmax', coerce2d: boolean): Tensor {
  const vals = plainValues(x);
  // the set of flat positions normalised together with position i
  const lineOf = (i: number): number[] => {
    const idx = unravel(i, x.dims);
    const members: number[] = [];
    for (let j = 0; j < x.size; j++) {
      const jdx = unravel(j, x.dims);
      const same = coerce2d ? jdx.slice(0, axis).every((c, k) => c === idx[k]) : jdx.every((c, k) => k === axis || c === idx[k]);
      if (same) members.push(j);
    }
    return members;
  };
  const out = new Array<number>(x.size);
  for (let i = 0; i < x.size; i++) {
    const members = lineOf(i);
    const mv = members.map((j) => vals[j]!);
    const max = Math.max(...mv);
    if (mode === 'Hardmax') {
      out[i] = members[mv.indexOf(max)] === i ? 1 : 0;
      continue;
    }
    const sum = mv.reduce((a, v) => a + Math.exp(v - max), 0);
    out[i] = mode === 'Softmax' ? Math.exp(vals[i]! - max) / sum : vals[i]! - max - Math.log(sum);
  }
  return store(x.type, out, x.dims);
}
