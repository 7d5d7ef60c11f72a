/**
 * Reference (naive) kernels of BitCast, Compress, ReverseSequence, Det, CenterCropPad, Unique and
 * RotaryEmbedding: per-element loops over multi-indices straight from Operators.md, quadratic searches
 * instead of hashing, the permutation (Leibniz) formula for determinants. Slow by design.
 */
import { bytesPerElement, containerOf, type DataType, type NumericArray, type TypedArray } from '../../../tensor/dtype.js';
import { sizeOf, stridesOf } from '../../../tensor/shape.js';
import { fromNumbers, Tensor } from '../../../tensor/tensor.js';

type Slots = { [i: number]: number | bigint; readonly length: number };

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

/** A tensor of `type` and `dims` whose element i is `src[pick(i)]`, or zero when pick returns -1. */
function gatherElements(x: Tensor, dims: readonly number[], pick: (idx: number[]) => number): Tensor {
  const out = new (containerOf(x.type))(sizeOf(dims)) as unknown as Slots;
  const src = x.data as unknown as Slots;
  for (let i = 0; i < out.length; i++) {
    const p = pick(unravel(i, dims));
    if (p >= 0) out[i] = src[p]!;
  }
  return new Tensor(x.type, out as unknown as TypedArray, dims);
}

/** Reference BitCast: each element's bytes read and written through a little-endian DataView. */
export function refBitCast(x: Tensor, to: DataType): Tensor {
  const width = bytesPerElement(x.type);
  const bytes = new Uint8Array(x.size * width);
  const view = new DataView(bytes.buffer);
  const src = x.data as unknown as Slots;
  for (let i = 0; i < x.size; i++) {
    const v = src[i]!;
    const at = i * width;
    if (x.type === 'float32') view.setFloat32(at, v as number, true);
    else if (x.type === 'float64') view.setFloat64(at, v as number, true);
    else if (x.type === 'int64') view.setBigInt64(at, v as bigint, true);
    else if (width === 4) view.setUint32(at, (v as number) >>> 0, true);
    else if (width === 2) view.setUint16(at, (v as number) & 0xffff, true);
    else view.setUint8(at, (v as number) & 0xff);
  }
  const out = new (containerOf(to))(x.size) as unknown as Slots;
  for (let i = 0; i < x.size; i++) {
    const at = i * width;
    if (to === 'float32') out[i] = view.getFloat32(at, true);
    else if (to === 'float64') out[i] = view.getFloat64(at, true);
    else if (to === 'int64') out[i] = view.getBigInt64(at, true);
    else if (to === 'int32') out[i] = view.getInt32(at, true);
    else if (to === 'uint32') out[i] = view.getUint32(at, true);
    else if (to === 'int16') out[i] = view.getInt16(at, true);
    else if (to === 'uint16' || to === 'float16') out[i] = view.getUint16(at, true);
    else if (to === 'int8') out[i] = view.getInt8(at);
    else out[i] = view.getUint8(at);
  }
  return new Tensor(to, out as unknown as TypedArray, x.dims);
}

/** Reference Compress. */
export function refCompress(x: Tensor, condition: readonly boolean[], axis?: number): Tensor {
  if (axis === undefined) {
    const keep = [...Array(x.size).keys()].filter((i) => condition[i] === true);
    return gatherElements(x, [keep.length], ([i]) => keep[i!]!);
  }
  const a = axis < 0 ? axis + x.rank : axis;
  const keep = [...Array(x.dims[a]!).keys()].filter((i) => condition[i] === true);
  const dims = x.dims.map((d, i) => (i === a ? keep.length : d));
  return gatherElements(x, dims, (idx) => ravel(idx.map((v, i) => (i === a ? keep[v]! : v)), x.dims));
}

/** Reference ReverseSequence. */
export function refReverseSequence(x: Tensor, lens: readonly number[], batchAxis = 1, timeAxis = 0): Tensor {
  return gatherElements(x, x.dims, (idx) => {
    const n = lens[idx[batchAxis]!]!;
    const t = idx[timeAxis]!;
    const src = [...idx];
    src[timeAxis] = t < n ? n - 1 - t : t;
    return ravel(src, x.dims);
  });
}

/** All permutations of [0, n) with their signs. */
function permutations(n: number): [number[], number][] {
  if (n === 0) return [[[], 1]];
  const out: [number[], number][] = [];
  for (const [p, s] of permutations(n - 1)) {
    // insert n-1 at every position; moving it left past k elements flips the sign k times
    for (let pos = p.length; pos >= 0; pos--) {
      const q = [...p.slice(0, pos), n - 1, ...p.slice(pos)];
      out.push([q, (p.length - pos) % 2 === 0 ? s : -s]);
    }
  }
  return out;
}

/** Reference Det by the Leibniz formula (sum over permutations). */
export function refDet(x: Tensor): Tensor {
  const m = x.dims[x.rank - 1]!;
  const xs = Array.from(x.numbers() as NumericArray);
  const perms = permutations(m);
  const count = sizeOf(x.dims.slice(0, -2));
  const out: number[] = [];
  for (let k = 0; k < count; k++) {
    let d = 0;
    for (const [p, s] of perms) {
      let prod = s;
      for (let i = 0; i < m; i++) prod *= xs[k * m * m + i * m + p[i]!]!;
      d += prod;
    }
    out.push(d);
  }
  return fromNumbers(x.type, out, x.dims.slice(0, -2));
}

/** Reference CenterCropPad. */
export function refCenterCropPad(x: Tensor, shape: readonly number[], axes?: readonly number[]): Tensor {
  const ax = (axes ?? x.dims.map((_, i) => i)).map((a) => (a < 0 ? a + x.rank : a));
  const dims = [...x.dims];
  ax.forEach((a, i) => (dims[a] = shape[i]!));
  return gatherElements(x, dims, (idx) => {
    const src = idx.map((v, a) => {
      const d = x.dims[a]!;
      const o = dims[a]!;
      return d >= o ? v + Math.floor((d - o) / 2) : v - Math.floor((o - d) / 2);
    });
    return src.every((v, a) => v >= 0 && v < x.dims[a]!) ? ravel(src, x.dims) : -1;
  });
}

/** Reference Unique (quadratic search; sorting by insertion). */
export function refUnique(x: Tensor, axis?: number, sorted = true): { y: Tensor; indices: number[]; inverse: number[]; counts: number[] } {
  const vals: (number | bigint)[] = x.type === 'int64' ? Array.from(x.data as BigInt64Array) : Array.from(x.numbers() as NumericArray);
  const a = axis === undefined ? undefined : axis < 0 ? axis + x.rank : axis;
  const n = a === undefined ? x.size : x.dims[a]!;
  const slice = (j: number): (number | bigint)[] => {
    if (a === undefined) return [vals[j]!];
    const out: (number | bigint)[] = [];
    for (let flat = 0; flat < x.size; flat++) if (unravel(flat, x.dims)[a] === j) out.push(vals[flat]!);
    return out;
  };
  const same = (p: (number | bigint)[], q: (number | bigint)[]): boolean => p.every((v, i) => v === q[i] || (v !== v && q[i] !== q[i]));
  const less = (p: (number | bigint)[], q: (number | bigint)[]): boolean => {
    for (let i = 0; i < p.length; i++) if (p[i] !== q[i]) return p[i]! < q[i]!;
    return false;
  };
  let firsts: number[] = [];
  for (let j = 0; j < n; j++) if (!firsts.some((f) => same(slice(f), slice(j)))) firsts.push(j);
  if (sorted) {
    const s: number[] = [];
    for (const f of firsts) {
      let pos = s.length;
      while (pos > 0 && less(slice(f), slice(s[pos - 1]!))) pos--;
      s.splice(pos, 0, f);
    }
    firsts = s;
  }
  const inverse = [...Array(n).keys()].map((j) => firsts.findIndex((f) => same(slice(f), slice(j))));
  const counts = firsts.map((_, r) => inverse.filter((g) => g === r).length);
  const dims = a === undefined ? [firsts.length] : x.dims.map((d, i) => (i === a ? firsts.length : d));
  const y = gatherElements(x, dims, (idx) => (a === undefined ? firsts[idx[0]!]! : ravel(idx.map((v, i) => (i === a ? firsts[v]! : v)), x.dims)));
  return { y, indices: firsts, inverse, counts };
}

/** Reference RotaryEmbedding, per element of the [B, S, H, D] view as in the Operators.md algorithm. */
export function refRotaryEmbedding(x: Tensor, cos: Tensor, sin: Tensor, positionIds?: readonly number[], interleaved = false, numHeads?: number, rotaryDim = 0): Tensor {
  const four = x.rank === 4;
  const [B, H, S, D] = four ? (x.dims as [number, number, number, number]) : [x.dims[0]!, numHeads!, x.dims[1]!, x.dims[2]! / numHeads!];
  const rd = rotaryDim || D;
  const half = rd / 2;
  const xs = Array.from(x.numbers() as NumericArray);
  const cs = Array.from(cos.numbers() as NumericArray);
  const ss = Array.from(sin.numbers() as NumericArray);
  const at = (b: number, s: number, h: number, d: number): number => (four ? ravel([b, h, s, d], x.dims) : ravel([b, s, h * D + d], x.dims));
  const out = [...xs];
  for (let b = 0; b < B; b++) {
    for (let s = 0; s < S; s++) {
      const row = positionIds ? positionIds[b * S + s]! : b * S + s;
      for (let h = 0; h < H; h++) {
        for (let i = 0; i < half; i++) {
          const [p, q] = interleaved ? [2 * i, 2 * i + 1] : [i, i + half];
          const x1 = xs[at(b, s, h, p)]!;
          const x2 = xs[at(b, s, h, q)]!;
          const c = cs[row * half + i]!;
          const sn = ss[row * half + i]!;
          out[at(b, s, h, p)] = c * x1 - sn * x2;
          out[at(b, s, h, q)] = sn * x1 + c * x2;
        }
      }
    }
  }
  return fromNumbers(x.type, out, x.dims);
}

/** Reference Binarizer. */
export function refBinarizer(x: Tensor, threshold: number): Tensor {
  const vals = x.type === 'int64' ? Array.from(x.data as BigInt64Array, Number) : Array.from(x.numbers() as NumericArray);
  return fromNumbers(
    x.type,
    vals.map((v) => (v > threshold ? 1 : 0)),
    x.dims,
  );
}

/** Reference ArrayFeatureExtractor. */
export function refArrayFeatureExtractor(x: Tensor, indices: readonly number[]): Tensor {
  const last = x.dims[x.rank - 1]!;
  const dims = [...(x.rank === 1 ? [1] : x.dims.slice(0, -1)), indices.length];
  return gatherElements(x, dims, (idx) => {
    const row = x.rank === 1 ? 0 : ravel(idx.slice(0, -1), x.dims.slice(0, -1));
    return row * last + indices[idx[idx.length - 1]!]!;
  });
}
