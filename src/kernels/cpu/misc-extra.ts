/**
 * CPU kernels of the indexing and rearranging utilities (schemas in src/ops/misc-extra.ts); also imports the
 * spatial (./spatial.ts) and signal (./signal.ts) kernel files.
 *
 * - BitCast: one byte copy into a new typed array of the target dtype. O(bytes).
 * - Compress, ReverseSequence, CenterCropPad: block copies (typed-array set of contiguous runs): outer x kept
 *   slices for Compress, one run per (batch, time) step for ReverseSequence, one run per output row for
 *   CenterCropPad (padding rows stay zero). O(output size).
 * - Det: LU decomposition with partial pivoting per matrix in double: O(M^3 / 3) per matrix.
 * - Unique: a hash pass (Map from value, or from the slice's joined values with an axis) for first index and
 *   count, an optional sort of the unique entries (by value, or lexicographically by slice), then the outputs.
 *   O(n log n) with sorting.
 * - Binarizer: one compare per element. ArrayFeatureExtractor: one element copy per (row, index).
 * - RotaryEmbedding: one pass; per (b, s, h) the cache row (position_ids or b*S+s) is looked up once and the
 *   first rotary_dim features rotated pairwise (halves or interleaved pairs). O(size).
 */
import './spatial.js';
import './signal.js';
import { allocate, containerOf, type NumericArray, type TypedArray } from '../../tensor/dtype.js';
import { sizeOf, stridesOf } from '../../tensor/shape.js';
import { Tensor } from '../../tensor/tensor.js';
import { registerKernel, type Kernel } from '../registry.js';
import { floatArray, floatTensor, readFloats } from './misc-util.js';

/** Typed arrays with set/subarray over number or bigint elements. */
type Storage = TypedArray & { set(src: ArrayLike<number | bigint>, offset?: number): void; subarray(begin: number, end?: number): Storage };

const bitCast: Kernel = (inputs, _attrs, outputs) => {
  const x = inputs[0]!;
  const spec = outputs[0]!;
  const d = x.data as TypedArray;
  const bytes = new Uint8Array(d.buffer, d.byteOffset, d.byteLength).slice();
  const Ctor = containerOf(spec.type);
  return [new Tensor(spec.type, new Ctor(bytes.buffer, 0, x.size), spec.dims)];
};

const compress: Kernel = (inputs, attrs, outputs) => {
  const [x, cond] = inputs as [Tensor, Tensor];
  const spec = outputs[0]!;
  const c = cond.data as Uint8Array;
  const src = x.data as Storage;
  const dst = allocate(spec.type, sizeOf(spec.dims)) as Storage;
  const axis = attrs.axis as number | undefined;
  if (axis === undefined) {
    let o = 0;
    for (let i = 0; i < c.length && i < src.length; i++) if (c[i]) dst.set(src.subarray(i, i + 1), o++);
    return [new Tensor(spec.type, dst, spec.dims)];
  }
  const len = x.dims[axis]!;
  const outer = sizeOf(x.dims.slice(0, axis));
  const inner = sizeOf(x.dims.slice(axis + 1));
  let o = 0;
  for (let p = 0; p < outer; p++) {
    for (let j = 0; j < len && j < c.length; j++) {
      if (!c[j]) continue;
      const from = (p * len + j) * inner;
      dst.set(src.subarray(from, from + inner), o);
      o += inner;
    }
  }
  return [new Tensor(spec.type, dst, spec.dims)];
};

const reverseSequence: Kernel = (inputs, attrs, outputs) => {
  const [x, lensT] = inputs as [Tensor, Tensor];
  const spec = outputs[0]!;
  const batchAxis = attrs.batch_axis as number;
  const batch = x.dims[batchAxis]!;
  const steps = x.dims[1 - batchAxis]!;
  const inner = sizeOf(x.dims.slice(2));
  const lens = lensT.data as BigInt64Array;
  const src = x.data as Storage;
  const dst = allocate(spec.type, x.size) as Storage;
  for (let b = 0; b < batch; b++) {
    const n = Number(lens[b]!);
    for (let t = 0; t < steps; t++) {
      const from = t < n ? n - 1 - t : t;
      const at = (i: number): number => (batchAxis === 0 ? (b * steps + i) * inner : (i * batch + b) * inner);
      dst.set(src.subarray(at(from), at(from) + inner), at(t));
    }
  }
  return [new Tensor(spec.type, dst, spec.dims)];
};

const det: Kernel = (inputs, _attrs, outputs) => {
  const x = inputs[0]!;
  const spec = outputs[0]!;
  const m = x.dims[x.rank - 1]!;
  const count = sizeOf(spec.dims);
  const xs = readFloats(x);
  const out = floatArray(spec.type, count);
  const a = new Float64Array(m * m);
  for (let k = 0; k < count; k++) {
    for (let i = 0; i < m * m; i++) a[i] = xs[k * m * m + i]!;
    let d = 1;
    for (let col = 0; col < m && d !== 0; col++) {
      // partial pivoting: the largest magnitude in this column at or below the diagonal
      let pivot = col;
      for (let r = col + 1; r < m; r++) if (Math.abs(a[r * m + col]!) > Math.abs(a[pivot * m + col]!)) pivot = r;
      const pv = a[pivot * m + col]!;
      if (pv === 0) {
        d = 0;
        break;
      }
      if (pivot !== col) {
        for (let c = 0; c < m; c++) {
          const t = a[col * m + c]!;
          a[col * m + c] = a[pivot * m + c]!;
          a[pivot * m + c] = t;
        }
        d = -d;
      }
      d *= pv;
      for (let r = col + 1; r < m; r++) {
        const f = a[r * m + col]! / pv;
        if (f === 0) continue;
        for (let c = col; c < m; c++) a[r * m + c]! -= f * a[col * m + c]!;
      }
    }
    out[k] = d;
  }
  return [floatTensor(spec.type, out, spec.dims)];
};

const centerCropPad: Kernel = (inputs, _attrs, outputs) => {
  const x = inputs[0]!;
  const spec = outputs[0]!;
  const rank = x.rank;
  const outDims = spec.dims;
  const dst = allocate(spec.type, sizeOf(outDims)) as Storage;
  const src = x.data as Storage;
  // source index = output index + shift per axis (crop start minus left padding)
  const shift = x.dims.map((d, a) => {
    const o = outDims[a]!;
    return d >= o ? Math.floor((d - o) / 2) : -Math.floor((o - d) / 2);
  });
  if (dst.length === 0) return [new Tensor(spec.type, dst, outDims)];
  if (rank === 0) {
    dst.set(src);
    return [new Tensor(spec.type, dst, outDims)];
  }
  const inStrides = stridesOf(x.dims);
  const last = rank - 1;
  const cols = outDims[last]!;
  const inCols = x.dims[last]!;
  // columns of the output row that map into the input row
  const c0 = Math.max(0, -shift[last]!);
  const c1 = Math.min(cols, inCols - shift[last]!);
  const rows = dst.length / cols;
  const idx = new Array<number>(last).fill(0);
  for (let r = 0; r < rows; r++) {
    let inside = true;
    let base = 0;
    for (let a = 0; a < last; a++) {
      const s = idx[a]! + shift[a]!;
      if (s < 0 || s >= x.dims[a]!) inside = false;
      base += s * inStrides[a]!;
    }
    if (inside && c1 > c0) dst.set(src.subarray(base + c0 + shift[last]!, base + c1 + shift[last]!), r * cols + c0);
    for (let a = last - 1; a >= 0; a--) {
      if (++idx[a]! < outDims[a]!) break;
      idx[a] = 0;
    }
  }
  return [new Tensor(spec.type, dst, outDims)];
};

/** Compare two numbers or two bigints ascending. */
function compareValues(a: number | bigint, b: number | bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

const unique: Kernel = (inputs, attrs, outputs) => {
  const x = inputs[0]!;
  const axis = attrs.axis as number | undefined;
  const sorted = attrs.sorted === 1;
  const v: ArrayLike<number | bigint> = x.type === 'int64' ? (x.data as BigInt64Array) : (x.numbers() as ArrayLike<number>);
  const len = axis === undefined ? x.size : x.dims[axis]!;
  const outer = axis === undefined ? 1 : sizeOf(x.dims.slice(0, axis));
  const inner = axis === undefined ? 1 : sizeOf(x.dims.slice(axis + 1));
  const sliceValues = (j: number): (number | bigint)[] => {
    const out: (number | bigint)[] = [];
    for (let o = 0; o < outer; o++) for (let i = 0; i < inner; i++) out.push(v[(o * len + j) * inner + i]!);
    return out;
  };
  // first occurrence (in input order) and count of each distinct value / slice
  const firstOf = new Map<number | bigint | string, number>();
  const firsts: number[] = [];
  const countOf: number[] = [];
  const groupOf = new Int32Array(len);
  for (let j = 0; j < len; j++) {
    const key = axis === undefined ? v[j]! : sliceValues(j).map(String).join(',');
    let g = firstOf.get(key);
    if (g === undefined) {
      g = firsts.length;
      firstOf.set(key, g);
      firsts.push(j);
      countOf.push(0);
    }
    countOf[g]!++;
    groupOf[j] = g;
  }
  const order = firsts.map((_, g) => g);
  if (sorted) {
    if (axis === undefined) order.sort((a, b) => compareValues(v[firsts[a]!]!, v[firsts[b]!]!));
    else {
      const keys = firsts.map((j) => sliceValues(j));
      order.sort((a, b) => {
        const p = keys[a]!;
        const q = keys[b]!;
        for (let i = 0; i < p.length; i++) {
          const c = compareValues(p[i]!, q[i]!);
          if (c !== 0) return c;
        }
        return 0;
      });
    }
  }
  const rankOf = new Int32Array(order.length);
  order.forEach((g, r) => (rankOf[g] = r));
  const u = order.length;
  const ySpec = outputs[0]!;
  const src = x.data as Storage;
  const y = allocate(ySpec.type, sizeOf(ySpec.dims)) as Storage;
  for (let r = 0; r < u; r++) {
    const j = firsts[order[r]!]!;
    for (let o = 0; o < outer; o++) {
      const from = (o * len + j) * inner;
      y.set(src.subarray(from, from + inner), (o * u + r) * inner);
    }
  }
  const result = [new Tensor(ySpec.type, y, ySpec.dims)];
  if (outputs.length > 1) result.push(new Tensor('int64', BigInt64Array.from(order, (g) => BigInt(firsts[g]!)), [u]));
  if (outputs.length > 2) result.push(new Tensor('int64', BigInt64Array.from(groupOf, (g) => BigInt(rankOf[g]!)), [len]));
  if (outputs.length > 3) result.push(new Tensor('int64', BigInt64Array.from(order, (g) => BigInt(countOf[g]!)), [u]));
  return result;
};

const rotaryEmbedding: Kernel = (inputs, attrs, outputs) => {
  const [x, cosT, sinT, posT] = inputs as [Tensor, Tensor, Tensor, Tensor | undefined];
  const spec = outputs[0]!;
  const four = x.rank === 4;
  const batch = x.dims[0]!;
  const heads = four ? x.dims[1]! : (attrs.num_heads as number);
  const seq = four ? x.dims[2]! : x.dims[1]!;
  const head = four ? x.dims[3]! : x.dims[2]! / heads;
  const rd = (attrs.rotary_embedding_dim as number) || head;
  const half = rd / 2;
  const interleaved = attrs.interleaved === 1;
  const xs = readFloats(x);
  const cos = readFloats(cosT);
  const sin = readFloats(sinT);
  const pos = posT ? (posT.data as BigInt64Array) : undefined;
  const out = floatArray(spec.type, x.size);
  out.set(xs);
  for (let b = 0; b < batch; b++) {
    for (let s = 0; s < seq; s++) {
      const row = (pos ? Number(pos[b * seq + s]!) : b * seq + s) * half;
      for (let h = 0; h < heads; h++) {
        const base = four ? ((b * heads + h) * seq + s) * head : (b * seq + s) * heads * head + h * head;
        for (let i = 0; i < half; i++) {
          const i1 = base + (interleaved ? 2 * i : i);
          const i2 = base + (interleaved ? 2 * i + 1 : i + half);
          const x1 = xs[i1]!;
          const x2 = xs[i2]!;
          const c = cos[row + i]!;
          const sn = sin[row + i]!;
          out[i1] = c * x1 - sn * x2;
          out[i2] = sn * x1 + c * x2;
        }
      }
    }
  }
  return [floatTensor(spec.type, out, spec.dims)];
};

const binarizer: Kernel = (inputs, attrs, outputs) => {
  const x = inputs[0]!;
  const spec = outputs[0]!;
  const threshold = attrs.threshold as number;
  if (x.type === 'int64') {
    const src = x.data as BigInt64Array;
    return [new Tensor('int64', BigInt64Array.from(src, (v) => (Number(v) > threshold ? 1n : 0n)), spec.dims)];
  }
  const src = x.data as NumericArray;
  const out = allocate(x.type, x.size) as NumericArray;
  for (let i = 0; i < src.length; i++) out[i] = src[i]! > threshold ? 1 : 0;
  return [new Tensor(x.type, out as TypedArray, spec.dims)];
};

const arrayFeatureExtractor: Kernel = (inputs, _attrs, outputs) => {
  const [x, idxT] = inputs as [Tensor, Tensor];
  const spec = outputs[0]!;
  const last = x.dims[x.rank - 1]!;
  const rows = last === 0 ? 0 : x.size / last;
  const idx = Array.from(idxT.data as BigInt64Array, Number);
  const src = x.data as Storage;
  const dst = allocate(spec.type, rows * idx.length) as Storage;
  for (let r = 0; r < rows; r++) for (let j = 0; j < idx.length; j++) dst.set(src.subarray(r * last + idx[j]!, r * last + idx[j]! + 1), r * idx.length + j);
  return [new Tensor(spec.type, dst, spec.dims)];
};

registerKernel('Binarizer', 'cpu', binarizer, 'ai.onnx.ml');
registerKernel('ArrayFeatureExtractor', 'cpu', arrayFeatureExtractor, 'ai.onnx.ml');
registerKernel('BitCast', 'cpu', bitCast);
registerKernel('Compress', 'cpu', compress);
registerKernel('ReverseSequence', 'cpu', reverseSequence);
registerKernel('Det', 'cpu', det);
registerKernel('CenterCropPad', 'cpu', centerCropPad);
registerKernel('Unique', 'cpu', unique);
registerKernel('RotaryEmbedding', 'cpu', rotaryEmbedding);
