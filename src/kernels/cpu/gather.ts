/**
 * CPU kernels of the 'gather' family: Gather, GatherElements, GatherND, ScatterND, ScatterElements/Scatter,
 * OneHot, Trilu, DepthToSpace, SpaceToDepth (and, through ./resize.js, Resize and Upsample).
 *
 * These ops move elements without arithmetic (except scatter reductions), so every kernel works on the raw
 * typed arrays of any dtype: float16 as raw half bits, bool as 0/1 bytes, int64 as bigints. Index tensors are
 * converted once into an Int32Array of non-negative positions (negative indices wrapped; the op's `infer`
 * has already rejected out-of-range values). Then:
 * - Gather / GatherND / ScatterND copy whole contiguous slices (`TypedArray.set` for long slices, a plain
 *   loop for short ones): cost = one read and one write per output element plus one index read per slice.
 * - GatherElements / ScatterElements walk the index tensor with an odometer that keeps the data offset of
 *   the current position up to date (O(1) amortized per element, no div/mod).
 * - Scatter reductions run one loop per (reduction, element kind): float, integer (Math.imul for mul so
 *   32-bit products wrap like C), int64 (BigInt with 64-bit wrap) and bool (add/max = or, mul/min = and);
 *   float16 is decoded to float32, reduced and re-encoded.
 * - DepthToSpace / SpaceToDepth are one pass with contiguous reads along W.
 */
import { allocate, type DataType, type NumericArray, type TensorStorage, type TypedArray } from '../../tensor/dtype.js';
import { stridesOf } from '../../tensor/shape.js';
import { fromNumbers, Tensor } from '../../tensor/tensor.js';
import { registerKernel, type Kernel } from '../registry.js';
import { ScratchSlot } from './scratch.js';
import { outputTensor } from './util.js';

/** Per-call scratch (see ./scratch.ts): wrapped indices, offset tables and their odometer, float index values. */
const WRAPPED = new ScratchSlot();
const OFFSETS = new ScratchSlot();
const ODOMETER = new ScratchSlot();
const INDEX_VALUES = new ScratchSlot();
const HALF_WORK = new ScratchSlot();

/** A copy of `src` (a contiguous tensor's data) in a new output buffer of `type` from `allocate`. */
function copyOf(type: DataType, src: TypedArray): TypedArray {
  if (Array.isArray(src)) return src.slice() as unknown as TypedArray; // string tensors: a plain array copy
  const out = allocate(type, src.length) as TypedArray;
  (out as { set(a: ArrayLike<number | bigint>): void }).set(src);
  return out;
}
import './resize.js';

/** A typed array seen as plain indexable storage (numbers, or bigints for int64; copied as they are). */
type Elements = { [i: number]: number; length: number };

function elements(a: TensorStorage): Elements {
  return a as unknown as Elements;
}

/** Slices at least this long are copied with TypedArray.set; shorter ones element by element. */
const SET_THRESHOLD = 16;

/** Copy `n` elements src[s..s+n) -> dst[d..d+n) between arrays of the same kind. */
function copyRun(dst: TensorStorage, d: number, src: TensorStorage, s: number, n: number): void {
  if (n >= SET_THRESHOLD && !Array.isArray(dst)) {
    (dst as Float32Array).set((src as Float32Array).subarray(s, s + n), d);
    return;
  }
  const de = elements(dst);
  const se = elements(src);
  for (let i = 0; i < n; i++) de[d + i] = se[s + i]!;
}

/**
 * Index tensor values as non-negative Int32 positions; the bound of flat position p is bounds[p % bounds.length].
 * The result is a reused scratch buffer, valid until the next call.
 */
export function wrapIndices(indices: Tensor, bounds: readonly number[]): Int32Array {
  const n = indices.size;
  const out = WRAPPED.take('int32', n);
  const m = bounds.length;
  if (indices.type === 'int64') {
    const src = indices.data as BigInt64Array;
    for (let p = 0; p < n; p++) {
      const v = Number(src[p]!);
      out[p] = v < 0 ? v + bounds[p % m]! : v;
    }
  } else {
    const src = indices.data as Int32Array;
    if (m === 1) {
      const b = bounds[0]!;
      for (let p = 0; p < n; p++) {
        const v = src[p]!;
        out[p] = v < 0 ? v + b : v;
      }
    } else {
      for (let p = 0; p < n; p++) {
        const v = src[p]!;
        out[p] = v < 0 ? v + bounds[p % m]! : v;
      }
    }
  }
  return out;
}

function product(dims: readonly number[], from = 0, to = dims.length): number {
  let p = 1;
  for (let i = from; i < to; i++) p *= dims[i]!;
  return p;
}

function normAxis(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}

// ---------------------------------------------------------------------------------------------------------
// Gather: out[o, j, i] = data[o, idx[j], i] with o over dims before axis, i over dims after it.

const gatherKernel: Kernel = (inputs, attrs, outputs) => {
  const data = inputs[0]!;
  const indices = inputs[1]!;
  const y = outputTensor(outputs[0]!);
  const axis = normAxis(attrs.axis as number, data.rank);
  const axisLen = data.dims[axis]!;
  const outer = product(data.dims, 0, axis);
  const inner = product(data.dims, axis + 1);
  const idx = wrapIndices(indices, [axisLen]);
  const nIdx = idx.length;
  const src = data.data;
  const dst = y.data;
  if (y.size === 0) return [y];
  if (inner === 1) {
    const se = elements(src);
    const de = elements(dst);
    let d = 0;
    for (let o = 0; o < outer; o++) {
      const base = o * axisLen;
      for (let j = 0; j < nIdx; j++) de[d++] = se[base + idx[j]!]!;
    }
    return [y];
  }
  let d = 0;
  for (let o = 0; o < outer; o++) {
    const base = o * axisLen;
    for (let j = 0; j < nIdx; j++, d += inner) copyRun(dst, d, src, (base + idx[j]!) * inner, inner);
  }
  return [y];
};

// ---------------------------------------------------------------------------------------------------------
// GatherElements / ScatterElements: odometer over the index tensor's dims with the data offset of the
// position kept current (the axis coordinate is replaced by the index value).

/**
 * For every flat position p (row-major) of an index tensor of shape `idxDims`, the flat offset in data of
 * the same coordinates with the `axis` coordinate set to 0; the caller adds index * stride(axis).
 */
function elementOffsets(idxDims: readonly number[], dataDims: readonly number[], axis: number): Int32Array {
  const n = product(idxDims);
  const out = OFFSETS.take('int32', n);
  if (n === 0) return out;
  const rank = idxDims.length;
  const ds = stridesOf(dataDims);
  const step = ds.map((s, d) => (d === axis ? 0 : s));
  const counter = ODOMETER.take('int32', rank, true);
  let pos = 0;
  for (let p = 0; p < n; p++) {
    out[p] = pos;
    for (let d = rank - 1; d >= 0; d--) {
      counter[d]!++;
      pos += step[d]!;
      if (counter[d]! < idxDims[d]!) break;
      pos -= step[d]! * idxDims[d]!;
      counter[d] = 0;
    }
  }
  return out;
}

const gatherElementsKernel: Kernel = (inputs, attrs, outputs) => {
  const data = inputs[0]!;
  const indices = inputs[1]!;
  const y = outputTensor(outputs[0]!);
  const axis = normAxis(attrs.axis as number, data.rank);
  const axisStride = stridesOf(data.dims)[axis]!;
  const idx = wrapIndices(indices, [data.dims[axis]!]);
  const offsets = elementOffsets(indices.dims, data.dims, axis);
  const se = elements(data.data);
  const de = elements(y.data);
  for (let p = 0; p < idx.length; p++) de[p] = se[offsets[p]! + idx[p]! * axisStride]!;
  return [y];
};

// ---------------------------------------------------------------------------------------------------------
// Scatter reductions. `apply(dst, d, src, s, n)` combines src[s..s+n) into dst[d..d+n).

type Reduction = 'none' | 'add' | 'mul' | 'max' | 'min';
type Combine = (dst: TypedArray, d: number, src: TypedArray, s: number, n: number) => void;

function floatCombine(r: Reduction): Combine {
  switch (r) {
    case 'none':
      return copyRun;
    case 'add':
      return (dst, d, src, s, n) => {
        const a = dst as Float32Array;
        const b = src as Float32Array;
        for (let i = 0; i < n; i++) a[d + i] = a[d + i]! + b[s + i]!;
      };
    case 'mul':
      return (dst, d, src, s, n) => {
        const a = dst as Float32Array;
        const b = src as Float32Array;
        for (let i = 0; i < n; i++) a[d + i] = a[d + i]! * b[s + i]!;
      };
    case 'max':
      return (dst, d, src, s, n) => {
        const a = dst as Float32Array;
        const b = src as Float32Array;
        for (let i = 0; i < n; i++) a[d + i] = Math.max(a[d + i]!, b[s + i]!);
      };
    case 'min':
      return (dst, d, src, s, n) => {
        const a = dst as Float32Array;
        const b = src as Float32Array;
        for (let i = 0; i < n; i++) a[d + i] = Math.min(a[d + i]!, b[s + i]!);
      };
  }
}

/** Integer (not int64) combine: typed-array stores wrap add; Math.imul keeps 32-bit products exact mod 2^32. */
function intCombine(r: Reduction): Combine {
  if (r === 'mul') {
    return (dst, d, src, s, n) => {
      const a = dst as Int32Array;
      const b = src as Int32Array;
      for (let i = 0; i < n; i++) a[d + i] = Math.imul(a[d + i]!, b[s + i]!);
    };
  }
  return floatCombine(r);
}

function int64Combine(r: Reduction): Combine {
  switch (r) {
    case 'none':
      return copyRun;
    case 'add':
      return (dst, d, src, s, n) => {
        const a = dst as BigInt64Array;
        const b = src as BigInt64Array;
        for (let i = 0; i < n; i++) a[d + i] = BigInt.asIntN(64, a[d + i]! + b[s + i]!);
      };
    case 'mul':
      return (dst, d, src, s, n) => {
        const a = dst as BigInt64Array;
        const b = src as BigInt64Array;
        for (let i = 0; i < n; i++) a[d + i] = BigInt.asIntN(64, a[d + i]! * b[s + i]!);
      };
    case 'max':
      return (dst, d, src, s, n) => {
        const a = dst as BigInt64Array;
        const b = src as BigInt64Array;
        for (let i = 0; i < n; i++) if (b[s + i]! > a[d + i]!) a[d + i] = b[s + i]!;
      };
    case 'min':
      return (dst, d, src, s, n) => {
        const a = dst as BigInt64Array;
        const b = src as BigInt64Array;
        for (let i = 0; i < n; i++) if (b[s + i]! < a[d + i]!) a[d + i] = b[s + i]!;
      };
  }
}

/** Bool combine: add and max are logical or, mul and min logical and (numpy's bool arithmetic). */
function boolCombine(r: Reduction): Combine {
  if (r === 'none') return copyRun;
  const or = r === 'add' || r === 'max';
  return (dst, d, src, s, n) => {
    const a = dst as Uint8Array;
    const b = src as Uint8Array;
    if (or) for (let i = 0; i < n; i++) a[d + i] = a[d + i]! | b[s + i]!;
    else for (let i = 0; i < n; i++) a[d + i] = a[d + i]! & b[s + i]!;
  };
}

/**
 * Prepare a scatter: the output buffer initialised from `data`, the updates buffer and the combine loop in
 * matching element kinds, and a finisher that wraps the buffer as the output tensor (re-encoding float16).
 */
function scatterSetup(data: Tensor, updates: Tensor, reduction: Reduction): { out: TypedArray; upd: TypedArray; combine: Combine; finish: () => Tensor } {
  if (data.type === 'float16' && reduction !== 'none') {
    const out = HALF_WORK.take('float32', data.size);
    out.set(data.numbers());
    return { out, upd: updates.numbers(), combine: floatCombine(reduction), finish: () => fromNumbers('float16', out, data.dims) };
  }
  const out = copyOf(data.type, data.data as TypedArray);
  const combine =
    data.type === 'int64'
      ? int64Combine(reduction)
      : data.type === 'bool'
        ? boolCombine(reduction)
        : data.type === 'float32' || data.type === 'float64' || data.type === 'float16'
          ? floatCombine(reduction)
          : intCombine(reduction);
  return { out, upd: updates.data as TypedArray, combine, finish: () => new Tensor(data.type, out, data.dims) };
}

const scatterElementsKernel: Kernel = (inputs, attrs) => {
  const data = inputs[0]!;
  const indices = inputs[1]!;
  const updates = inputs[2]!;
  const axis = normAxis(attrs.axis as number, data.rank);
  const axisStride = stridesOf(data.dims)[axis]!;
  const idx = wrapIndices(indices, [data.dims[axis]!]);
  const offsets = elementOffsets(indices.dims, data.dims, axis);
  const { out, upd, combine, finish } = scatterSetup(data, updates, (attrs.reduction as Reduction | undefined) ?? 'none');
  if (combine === copyRun) {
    const de = elements(out);
    const ue = elements(upd);
    for (let p = 0; p < idx.length; p++) de[offsets[p]! + idx[p]! * axisStride] = ue[p]!;
  } else {
    for (let p = 0; p < idx.length; p++) combine(out, offsets[p]! + idx[p]! * axisStride, upd, p, 1);
  }
  return [finish()];
};

// ---------------------------------------------------------------------------------------------------------
// GatherND / ScatterND: each coordinate tuple (last dim of indices) selects a contiguous slice of data.

/** Flat data offsets (in elements, within one batch) of each coordinate tuple of `idx` (k values per tuple). */
function tupleOffsets(idx: Int32Array, k: number, strides: readonly number[], first: number): Int32Array {
  const nTuples = k === 0 ? 0 : idx.length / k;
  const out = OFFSETS.take('int32', nTuples);
  for (let t = 0, p = 0; t < nTuples; t++) {
    let off = 0;
    for (let j = 0; j < k; j++, p++) off += idx[p]! * strides[first + j]!;
    out[t] = off;
  }
  return out;
}

const gatherNDKernel: Kernel = (inputs, attrs, outputs) => {
  const data = inputs[0]!;
  const indices = inputs[1]!;
  const y = outputTensor(outputs[0]!);
  const b = attrs.batch_dims as number;
  const k = indices.dims[indices.rank - 1]!;
  const strides = stridesOf(data.dims);
  const idx = wrapIndices(indices, data.dims.slice(b, b + k));
  const offsets = tupleOffsets(idx, k, strides, b);
  const batches = product(data.dims, 0, b);
  const batchStride = product(data.dims, b);
  const tuplesPerBatch = batches === 0 ? 0 : offsets.length / batches;
  const slice = product(data.dims, b + k);
  const src = data.data;
  const dst = y.data;
  let d = 0;
  for (let bi = 0, t = 0; bi < batches; bi++) {
    const base = bi * batchStride;
    for (let j = 0; j < tuplesPerBatch; j++, t++, d += slice) copyRun(dst, d, src, base + offsets[t]!, slice);
  }
  return [y];
};

const scatterNDKernel: Kernel = (inputs, attrs) => {
  const data = inputs[0]!;
  const indices = inputs[1]!;
  const updates = inputs[2]!;
  const k = indices.dims[indices.rank - 1]!;
  const idx = wrapIndices(indices, data.dims.slice(0, k));
  const offsets = tupleOffsets(idx, k, stridesOf(data.dims), 0);
  const slice = product(data.dims, k);
  const { out, upd, combine, finish } = scatterSetup(data, updates, attrs.reduction as Reduction);
  for (let t = 0; t < offsets.length; t++) combine(out, offsets[t]!, upd, t * slice, slice);
  return [finish()];
};

// ---------------------------------------------------------------------------------------------------------
// OneHot: fill with off, then write on at (outer, index, inner) for each in-range index.

/** Index values as integers (float indices truncated as ONNX's cast to int64 does; int64 clamped). */
function indexNumbers(t: Tensor): NumericArray {
  if (t.type === 'int64') {
    const src = t.data as BigInt64Array;
    const out = INDEX_VALUES.take('float64', src.length);
    const max = BigInt(Number.MAX_SAFE_INTEGER);
    for (let i = 0; i < src.length; i++) {
      const v = src[i]!;
      out[i] = v > max ? Number.MAX_SAFE_INTEGER : v < -max ? -Number.MAX_SAFE_INTEGER : Number(v);
    }
    return out;
  }
  return t.numbers();
}

const oneHotKernel: Kernel = (inputs, attrs, outputs) => {
  const indices = inputs[0]!;
  const values = inputs[2]!;
  const y = outputTensor(outputs[0]!);
  const axis = normAxis(attrs.axis as number, indices.rank + 1);
  const depth = y.dims[axis]!;
  const outer = product(indices.dims, 0, axis);
  const inner = product(indices.dims, axis);
  const ve = elements(values.data);
  const off = ve[0]!;
  const on = ve[1]!;
  (y.data as Float32Array).fill(off);
  const de = elements(y.data);
  const iv = indexNumbers(indices);
  for (let o = 0, p = 0; o < outer; o++) {
    const base = o * depth * inner;
    for (let i = 0; i < inner; i++, p++) {
      let v = Math.trunc(iv[p]!);
      if (v < 0) v += depth;
      if (v >= 0 && v < depth) de[base + v * inner + i] = on;
    }
  }
  return [y];
};

// ---------------------------------------------------------------------------------------------------------
// Trilu: copy, then zero the part of each row outside the kept triangle.

const triluKernel: Kernel = (inputs, attrs) => {
  const x = inputs[0]!;
  const kInput = inputs[1];
  const k = kInput ? Number((kInput.data as BigInt64Array)[0]!) : 0;
  const upper = attrs.upper !== 0;
  const out = copyOf(x.type, x.data as TypedArray);
  const rows = x.dims[x.rank - 2]!;
  const cols = x.dims[x.rank - 1]!;
  const matrices = product(x.dims, 0, x.rank - 2);
  const zero = (x.type === 'int64' ? 0n : 0) as number;
  const z = out as Float32Array;
  for (let m = 0; m < matrices; m++) {
    for (let i = 0; i < rows; i++) {
      const row = (m * rows + i) * cols;
      if (upper) {
        // keep j >= i + k: zero columns [0, i + k)
        const end = Math.min(Math.max(i + k, 0), cols);
        if (end > 0) z.fill(zero, row, row + end);
      } else {
        // keep j <= i + k: zero columns [i + k + 1, cols)
        const start = Math.min(Math.max(i + k + 1, 0), cols);
        if (start < cols) z.fill(zero, row + start, row + cols);
      }
    }
  }
  return [new Tensor(x.type, out, x.dims)];
};

// ---------------------------------------------------------------------------------------------------------
// DepthToSpace / SpaceToDepth on NCHW.
//   DCR: out[n, c, h*b + i, w*b + j] = in[n, (i*b + j)*C' + c, h, w]
//   CRD: out[n, c, h*b + i, w*b + j] = in[n, c*b*b + i*b + j, h, w]
// SpaceToDepth is DCR's inverse: out[n, (i*b + j)*C + c, h, w] = in[n, c, h*b + i, w*b + j].

const depthToSpaceKernel: Kernel = (inputs, attrs, outputs) => {
  const x = inputs[0]!;
  const y = outputTensor(outputs[0]!);
  const b = attrs.blocksize as number;
  const crd = attrs.mode === 'CRD';
  const [n, c, h, w] = x.dims as [number, number, number, number];
  const cOut = c / (b * b);
  const wOut = w * b;
  const plane = h * w;
  const se = elements(x.data);
  const de = elements(y.data);
  for (let ni = 0; ni < n; ni++) {
    for (let co = 0; co < cOut; co++) {
      const outPlane = (ni * cOut + co) * plane * b * b;
      for (let i = 0; i < b; i++) {
        for (let j = 0; j < b; j++) {
          const cIn = crd ? co * b * b + i * b + j : (i * b + j) * cOut + co;
          const inPlane = (ni * c + cIn) * plane;
          for (let hi = 0; hi < h; hi++) {
            let s = inPlane + hi * w;
            let d = outPlane + (hi * b + i) * wOut + j;
            for (let wi = 0; wi < w; wi++, s++, d += b) de[d] = se[s]!;
          }
        }
      }
    }
  }
  return [y];
};

const spaceToDepthKernel: Kernel = (inputs, attrs, outputs) => {
  const x = inputs[0]!;
  const y = outputTensor(outputs[0]!);
  const b = attrs.blocksize as number;
  const [n, c, h, w] = x.dims as [number, number, number, number];
  const hOut = h / b;
  const wOut = w / b;
  const se = elements(x.data);
  const de = elements(y.data);
  for (let ni = 0; ni < n; ni++) {
    for (let i = 0; i < b; i++) {
      for (let j = 0; j < b; j++) {
        for (let ci = 0; ci < c; ci++) {
          const inPlane = (ni * c + ci) * h * w;
          let d = (ni * c * b * b + (i * b + j) * c + ci) * hOut * wOut;
          for (let ho = 0; ho < hOut; ho++) {
            let s = inPlane + (ho * b + i) * w + j;
            for (let wo = 0; wo < wOut; wo++, s += b) de[d++] = se[s]!;
          }
        }
      }
    }
  }
  return [y];
};

registerKernel('Gather', 'cpu', gatherKernel);
registerKernel('GatherElements', 'cpu', gatherElementsKernel);
registerKernel('GatherND', 'cpu', gatherNDKernel);
registerKernel('ScatterND', 'cpu', scatterNDKernel);
registerKernel('ScatterElements', 'cpu', scatterElementsKernel);
registerKernel('Scatter', 'cpu', scatterElementsKernel);
registerKernel('OneHot', 'cpu', oneHotKernel);
registerKernel('Trilu', 'cpu', triluKernel);
registerKernel('DepthToSpace', 'cpu', depthToSpaceKernel);
registerKernel('SpaceToDepth', 'cpu', spaceToDepthKernel);
