/**
 * Reference (naive) kernels of the 'gather' family: each output element is computed from its multi-index
 * with the formula of the ONNX operator description, with plain arrays of values (numbers, or bigints for
 * int64) and no precomputed tables. Slow and obviously correct; the fast kernels in ../gather.ts are
 * property-tested against these. Inputs are assumed valid (the ops' `infer` checks them).
 */
import type { DataType } from '../../../tensor/dtype.js';
import { sizeOf } from '../../../tensor/shape.js';
import { Tensor } from '../../../tensor/tensor.js';

/** A tensor's values in row-major order: bigints for int64, decoded numbers for everything else. */
export function valuesOf(t: Tensor): (number | bigint)[] {
  return t.type === 'int64' ? Array.from(t.data as BigInt64Array) : Array.from(t.numbers());
}

/** Build a tensor of `type` from values as `valuesOf` returns them. */
export function tensorFrom(type: DataType, values: readonly (number | bigint)[], dims: readonly number[]): Tensor {
  if (type === 'int64') return new Tensor('int64', values.map((v) => BigInt(v)), dims);
  return new Tensor(type, values.map((v) => Number(v)), dims);
}

/** Multi-index of flat position `flat` in `dims` (row-major). */
export function unravel(flat: number, dims: readonly number[]): number[] {
  const idx = new Array<number>(dims.length);
  for (let i = dims.length - 1; i >= 0; i--) {
    idx[i] = flat % dims[i]!;
    flat = Math.floor(flat / dims[i]!);
  }
  return idx;
}

/** Flat position of multi-index `idx` in `dims` (row-major). */
export function ravel(idx: readonly number[], dims: readonly number[]): number {
  let flat = 0;
  for (let i = 0; i < dims.length; i++) flat = flat * dims[i]! + idx[i]!;
  return flat;
}

function indexList(t: Tensor): number[] {
  return Array.from(t.data as ArrayLike<number | bigint>, (v) => Number(v));
}

function wrap(i: number, bound: number): number {
  return i < 0 ? i + bound : i;
}

function norm(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}

/** Gather: out[a..., i..., b...] = data[a..., indices[i...], b...]. */
export function refGather(data: Tensor, indices: Tensor, axis: number): Tensor {
  const ax = norm(axis, data.rank);
  const dims = [...data.dims.slice(0, ax), ...indices.dims, ...data.dims.slice(ax + 1)];
  const src = valuesOf(data);
  const idx = indexList(indices);
  const out: (number | bigint)[] = [];
  const q = indices.rank;
  for (let f = 0; f < sizeOf(dims); f++) {
    const o = unravel(f, dims);
    const i = ravel(o.slice(ax, ax + q), indices.dims);
    const di = [...o.slice(0, ax), wrap(idx[i]!, data.dims[ax]!), ...o.slice(ax + q)];
    out.push(src[ravel(di, data.dims)]!);
  }
  return tensorFrom(data.type, out, dims);
}

/** GatherElements: out[p] = data[p with p[axis] replaced by indices[p]]. */
export function refGatherElements(data: Tensor, indices: Tensor, axis: number): Tensor {
  const ax = norm(axis, data.rank);
  const src = valuesOf(data);
  const idx = indexList(indices);
  const out: (number | bigint)[] = [];
  for (let f = 0; f < indices.size; f++) {
    const p = unravel(f, indices.dims);
    p[ax] = wrap(idx[f]!, data.dims[ax]!);
    out.push(src[ravel(p, data.dims)]!);
  }
  return tensorFrom(data.type, out, indices.dims);
}

/** GatherND with batch_dims b: out[batch, t..., rest...] = data[batch, indices[batch, t..., :], rest...]. */
export function refGatherND(data: Tensor, indices: Tensor, batchDims: number): Tensor {
  const b = batchDims;
  const k = indices.dims[indices.rank - 1]!;
  const dims = [...indices.dims.slice(0, -1), ...data.dims.slice(b + k)];
  const src = valuesOf(data);
  const idx = indexList(indices);
  const tupleDims = indices.dims.slice(0, -1);
  const out: (number | bigint)[] = [];
  for (let f = 0; f < sizeOf(dims); f++) {
    const o = unravel(f, dims);
    const tuple = o.slice(0, tupleDims.length);
    const rest = o.slice(tupleDims.length);
    const coords: number[] = [];
    for (let j = 0; j < k; j++) coords.push(wrap(idx[ravel([...tuple, j], indices.dims)]!, data.dims[b + j]!));
    out.push(src[ravel([...tuple.slice(0, b), ...coords, ...rest], data.dims)]!);
  }
  return tensorFrom(data.type, out, dims);
}

/** Combine an existing value with an update under a scatter reduction, in the semantics of `type`. */
function combine(type: DataType, reduction: string, a: number | bigint, u: number | bigint): number | bigint {
  if (reduction === 'none') return u;
  if (type === 'bool') return reduction === 'add' || reduction === 'max' ? (a || u ? 1 : 0) : a && u ? 1 : 0;
  const intBits: Partial<Record<DataType, [number, boolean]>> = {
    int8: [8, true],
    uint8: [8, false],
    int16: [16, true],
    uint16: [16, false],
    int32: [32, true],
    uint32: [32, false],
    int64: [64, true],
  };
  const bits = intBits[type];
  if (bits) {
    const x = BigInt(a);
    const y = BigInt(u);
    let r: bigint;
    if (reduction === 'add') r = x + y;
    else if (reduction === 'mul') r = x * y;
    else if (reduction === 'max') r = x > y ? x : y;
    else r = x < y ? x : y;
    r = bits[1] ? BigInt.asIntN(bits[0], r) : BigInt.asUintN(bits[0], r);
    return type === 'int64' ? r : Number(r);
  }
  const x = Number(a);
  const y = Number(u);
  const r = reduction === 'add' ? x + y : reduction === 'mul' ? x * y : reduction === 'max' ? Math.max(x, y) : Math.min(x, y);
  return type === 'float32' ? Math.fround(r) : r;
}

/** ScatterElements: out = data; out[p with p[axis] = indices[p]] (op)= updates[p], in row-major order of p. */
export function refScatterElements(data: Tensor, indices: Tensor, updates: Tensor, axis: number, reduction = 'none'): Tensor {
  const ax = norm(axis, data.rank);
  const out = valuesOf(data);
  const idx = indexList(indices);
  const upd = valuesOf(updates);
  for (let f = 0; f < indices.size; f++) {
    const p = unravel(f, indices.dims);
    p[ax] = wrap(idx[f]!, data.dims[ax]!);
    const at = ravel(p, data.dims);
    out[at] = combine(data.type, reduction, out[at]!, upd[f]!);
  }
  return tensorFrom(data.type, out, data.dims);
}

/** ScatterND: out = data; out[indices[t..., :], rest...] (op)= updates[t..., rest...], tuples in order. */
export function refScatterND(data: Tensor, indices: Tensor, updates: Tensor, reduction = 'none'): Tensor {
  const k = indices.dims[indices.rank - 1]!;
  const out = valuesOf(data);
  const idx = indexList(indices);
  const upd = valuesOf(updates);
  for (let f = 0; f < updates.size; f++) {
    const u = unravel(f, updates.dims);
    const tuple = u.slice(0, indices.rank - 1);
    const rest = u.slice(indices.rank - 1);
    const coords: number[] = [];
    for (let j = 0; j < k; j++) coords.push(wrap(idx[ravel([...tuple, j], indices.dims)]!, data.dims[j]!));
    const at = ravel([...coords, ...rest], data.dims);
    out[at] = combine(data.type, reduction, out[at]!, upd[f]!);
  }
  return tensorFrom(data.type, out, data.dims);
}

/** OneHot: out[a..., d, b...] = values[1] if trunc(indices[a..., b...]) (wrapped by depth) == d else values[0]. */
export function refOneHot(indices: Tensor, depth: number, values: Tensor, axis: number): Tensor {
  const ax = norm(axis, indices.rank + 1);
  const dims = [...indices.dims];
  dims.splice(ax, 0, depth);
  const idx = indices.type === 'int64' ? Array.from(indices.data as BigInt64Array, Number) : Array.from(indices.numbers());
  const [off, on] = valuesOf(values) as [number | bigint, number | bigint];
  const out: (number | bigint)[] = [];
  for (let f = 0; f < sizeOf(dims); f++) {
    const o = unravel(f, dims);
    const d = o[ax]!;
    const p = [...o.slice(0, ax), ...o.slice(ax + 1)];
    let v = Math.trunc(idx[ravel(p, indices.dims)]!);
    if (v < 0) v += depth;
    out.push(v === d ? on : off);
  }
  return tensorFrom(values.type, out, dims);
}

/** Trilu: keep x[..., i, j] where j - i >= k (upper) or j - i <= k (lower), else 0. */
export function refTrilu(x: Tensor, upper: boolean, k: number): Tensor {
  const src = valuesOf(x);
  const zero = x.type === 'int64' ? 0n : 0;
  const out = src.map((v, f) => {
    const p = unravel(f, x.dims);
    const i = p[p.length - 2]!;
    const j = p[p.length - 1]!;
    const keep = upper ? j - i >= k : j - i <= k;
    return keep ? v : zero;
  });
  return tensorFrom(x.type, out, x.dims);
}

/** DepthToSpace by the reshape-transpose-reshape definition of the ONNX spec, DCR or CRD. */
export function refDepthToSpace(x: Tensor, b: number, mode: 'DCR' | 'CRD'): Tensor {
  const [n, c, h, w] = x.dims as [number, number, number, number];
  const cOut = c / (b * b);
  const dims = [n, cOut, h * b, w * b];
  const src = valuesOf(x);
  const out: (number | bigint)[] = [];
  for (let f = 0; f < sizeOf(dims); f++) {
    const [ni, co, y, xx] = unravel(f, dims) as [number, number, number, number];
    const hi = Math.floor(y / b);
    const i = y % b;
    const wi = Math.floor(xx / b);
    const j = xx % b;
    // DCR views the input as [n, b, b, c', h, w]; CRD as [n, c', b, b, h, w]
    const cIn = mode === 'DCR' ? ravel([i, j, co], [b, b, cOut]) : ravel([co, i, j], [cOut, b, b]);
    out.push(src[ravel([ni, cIn, hi, wi], x.dims)]!);
  }
  return tensorFrom(x.type, out, dims);
}

/** SpaceToDepth: input viewed as [n, c, h/b, b, w/b, b], transposed to [n, b, b, c, h/b, w/b]. */
export function refSpaceToDepth(x: Tensor, b: number): Tensor {
  const [n, c, h, w] = x.dims as [number, number, number, number];
  const dims = [n, c * b * b, h / b, w / b];
  const src = valuesOf(x);
  const out: (number | bigint)[] = [];
  for (let f = 0; f < sizeOf(dims); f++) {
    const [ni, co, y, xx] = unravel(f, dims) as [number, number, number, number];
    const [i, j, ci] = unravel(co, [b, b, c]) as [number, number, number];
    out.push(src[ravel([ni, ci, y * b + i, xx * b + j], x.dims)]!);
  }
  return tensorFrom(x.type, out, dims);
}
