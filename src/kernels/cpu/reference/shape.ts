/**
 * Reference (naive) data-movement kernels: for each output element, compute its multi-index by division
 * and modulo, map it to the source multi-index the ONNX definition names, and copy one element. Slow and
 * obviously correct; they define the semantics the fast kernels in ../shape.ts are tested against.
 * Elements are copied as raw container values (float16 as its bits, int64 as bigint), any dtype.
 */
import { allocate, type DataType, type TypedArray } from '../../../tensor/dtype.js';
import { sizeOf } from '../../../tensor/shape.js';
import { Tensor } from '../../../tensor/tensor.js';

type Raw = { [i: number]: number | bigint; readonly length: number };

/** Multi-index of flat position `flat` in row-major `dims`. */
export function unravel(flat: number, dims: readonly number[]): number[] {
  const idx = new Array<number>(dims.length);
  let rest = flat;
  for (let k = dims.length - 1; k >= 0; k--) {
    idx[k] = rest % dims[k]!;
    rest = Math.floor(rest / dims[k]!);
  }
  return idx;
}

/** Flat row-major position of multi-index `idx` in `dims`. */
export function ravel(idx: readonly number[], dims: readonly number[]): number {
  let flat = 0;
  for (let k = 0; k < dims.length; k++) flat = flat * dims[k]! + idx[k]!;
  return flat;
}

/** Build a tensor of `dims` whose element at multi-index idx is `source.data[pick(idx)]`. */
function build(source: Tensor, dims: readonly number[], pick: (idx: number[]) => number): Tensor {
  const src = source.data as unknown as Raw;
  const n = sizeOf(dims);
  const out = allocate(source.type, n) as unknown as Raw & { [i: number]: number | bigint };
  for (let i = 0; i < n; i++) out[i] = src[pick(unravel(i, dims))]!;
  return new Tensor(source.type, out as unknown as TypedArray, dims);
}

/** Transpose: output axis i is input axis perm[i]. */
export function refTranspose(x: Tensor, perm?: readonly number[]): Tensor {
  const p = perm ?? [...Array(x.rank).keys()].reverse();
  const dims = p.map((a) => x.dims[a]!);
  return build(x, dims, (idx) => {
    const inIdx = new Array<number>(x.rank);
    p.forEach((a, i) => (inIdx[a] = idx[i]!));
    return ravel(inIdx, x.dims);
  });
}

/** Concatenate along `axis` (non-negative). */
export function refConcat(xs: readonly Tensor[], axis: number): Tensor {
  const dims = [...xs[0]!.dims];
  dims[axis] = xs.reduce((p, t) => p + t.dims[axis]!, 0);
  const n = sizeOf(dims);
  const out = allocate(xs[0]!.type, n) as unknown as Raw & { [i: number]: number | bigint };
  for (let i = 0; i < n; i++) {
    const idx = unravel(i, dims);
    let c = idx[axis]!;
    let which = 0;
    while (c >= xs[which]!.dims[axis]!) c -= xs[which++]!.dims[axis]!;
    const t = xs[which]!;
    idx[axis] = c;
    out[i] = (t.data as unknown as Raw)[ravel(idx, t.dims)]!;
  }
  return new Tensor(xs[0]!.type, out as unknown as TypedArray, dims);
}

/** Split along `axis` (non-negative) into parts of `sizes`. */
export function refSplit(x: Tensor, axis: number, sizes: readonly number[]): Tensor[] {
  let start = 0;
  return sizes.map((s) => {
    const begin = start;
    start += s;
    const dims = [...x.dims];
    dims[axis] = s;
    return build(x, dims, (idx) => {
      idx[axis] = idx[axis]! + begin;
      return ravel(idx, x.dims);
    });
  });
}

/**
 * The input indices Slice visits along one axis of size d, enumerated one by one as the ONNX text states:
 * negative start/end get d added; start clamps to [0, d] (forward) or [0, d-1] (backward); end clamps to
 * [0, d] (forward) or [-1, d-1] (backward); then start, start+step, ... while before end.
 */
export function refSliceIndices(d: number, start: number, end: number, step: number): number[] {
  let s = start < 0 ? start + d : start;
  let e = end < 0 ? end + d : end;
  const out: number[] = [];
  if (step > 0) {
    s = Math.min(Math.max(s, 0), d);
    e = Math.min(Math.max(e, 0), d);
    for (let i = s; i < e; i += step) out.push(i);
  } else {
    s = Math.min(Math.max(s, 0), d - 1);
    e = Math.min(Math.max(e, -1), d - 1);
    for (let i = s; i > e; i += step) out.push(i);
  }
  return out;
}

/** Slice with per-axis index lists; axes default to 0..n-1, steps to 1 (axes non-negative). */
export function refSlice(x: Tensor, starts: readonly number[], ends: readonly number[], axes?: readonly number[], steps?: readonly number[]): Tensor {
  const lists = x.dims.map((d) => [...Array(d).keys()]);
  starts.forEach((s, i) => {
    const a = axes ? axes[i]! : i;
    lists[a] = refSliceIndices(x.dims[a]!, s, ends[i]!, steps ? steps[i]! : 1);
  });
  return build(
    x,
    lists.map((l) => l.length),
    (idx) => ravel(idx.map((c, k) => lists[k]![c]!), x.dims),
  );
}

/** Broadcast `x` to `dims` (which it must broadcast to). */
export function refExpand(x: Tensor, dims: readonly number[]): Tensor {
  const off = dims.length - x.rank;
  return build(x, dims, (idx) => ravel(x.dims.map((d, k) => (d === 1 ? 0 : idx[k + off]!)), x.dims));
}

/** Tile: output index c along axis k reads input index c mod d_k. */
export function refTile(x: Tensor, repeats: readonly number[]): Tensor {
  const dims = x.dims.map((d, k) => d * repeats[k]!);
  return build(x, dims, (idx) => ravel(idx.map((c, k) => c % x.dims[k]!), x.dims));
}

/**
 * Pad by the numpy definition, element by element. pads = [begin..., end...] (negative crops first).
 * `value` is the raw container value used in constant mode (bits for float16, bigint for int64).
 */
export function refPad(x: Tensor, pads: readonly number[], mode: 'constant' | 'reflect' | 'edge' | 'wrap', value: number | bigint = 0): Tensor {
  const r = x.rank;
  // crop first: the kept range along axis k is [lo_k, hi_k)
  const lo = x.dims.map((_, k) => Math.max(0, -pads[k]!));
  const hi = x.dims.map((d, k) => d - Math.max(0, -pads[k + r]!));
  const dims = x.dims.map((d, k) => d + pads[k]! + pads[k + r]!);
  const src = x.data as unknown as Raw;
  const n = sizeOf(dims);
  const out = allocate(x.type, n) as unknown as Raw & { [i: number]: number | bigint };
  for (let i = 0; i < n; i++) {
    const idx = unravel(i, dims);
    let inside = true;
    const srcIdx = idx.map((c, k) => {
      const len = hi[k]! - lo[k]!;
      let p = c - Math.max(0, pads[k]!); // position relative to the kept range
      if (p >= 0 && p < len) return lo[k]! + p;
      inside = false;
      if (mode === 'edge') p = p < 0 ? 0 : len - 1;
      else if (mode === 'wrap') {
        while (p < 0) p += len;
        while (p >= len) p -= len;
      } else if (mode === 'reflect') {
        // bounce between the first and last element until inside
        while (p < 0 || p >= len) {
          if (len === 1) p = 0;
          else if (p < 0) p = -p;
          else p = 2 * (len - 1) - p;
        }
      }
      return lo[k]! + p;
    });
    out[i] = mode === 'constant' && !inside ? value : src[ravel(srcIdx, x.dims)]!;
  }
  return new Tensor(x.type, out as unknown as TypedArray, dims);
}

/** NonZero: coordinates (int64 [max(rank, 1), count]) of elements whose value is not zero, row-major. */
export function refNonZero(x: Tensor): Tensor {
  const values = x.type === 'int64' ? Array.from(x.data as BigInt64Array, (v) => v !== 0n) : Array.from(x.numbers(), (v) => v !== 0);
  const coords: number[][] = [];
  values.forEach((nz, i) => {
    if (nz) coords.push(x.rank === 0 ? [0] : unravel(i, x.dims));
  });
  const rows = Math.max(x.rank, 1);
  const data = new BigInt64Array(rows * coords.length);
  coords.forEach((c, j) => c.forEach((v, k) => (data[k * coords.length + j] = BigInt(v))));
  return new Tensor('int64', data, [rows, coords.length]);
}

/** Range by repeated stepping (numbers, or bigints for int64). */
export function refRange(type: DataType, start: number | bigint, limit: number | bigint, delta: number | bigint): Tensor {
  if (type === 'int64') {
    const out: bigint[] = [];
    const d = delta as bigint;
    for (let v = start as bigint; d > 0n ? v < (limit as bigint) : v > (limit as bigint); v += d) out.push(v);
    return new Tensor('int64', BigInt64Array.from(out), [out.length]);
  }
  const out: number[] = [];
  const d = delta as number;
  for (let i = 0; ; i++) {
    const v = (start as number) + i * d;
    if (d > 0 ? v >= (limit as number) : v <= (limit as number)) break;
    out.push(v);
  }
  // the Tensor constructor converts plain numbers to the dtype (float16 with correct rounding)
  return new Tensor(type, out, [out.length]);
}
