/**
 * Raw element movement shared by the data-movement kernels (Slice, Expand, Tile, Pad, Concat, Split, ...).
 *
 * Data-movement ops never look at values, so they work on "lanes": the tensor's bytes seen as unsigned
 * integers of the element's width (Uint8Array for int8/uint8/bool, Uint16Array for int16/uint16/float16,
 * Uint32Array for 4-byte types). 8-byte types (float64, int64) become two Uint32 lanes per element, i.e. an
 * extra innermost axis of size 2. Copying integers is bit-exact (NaN payloads, -0 and int64 values survive)
 * and keeps every loop monomorphic on three plain array classes, with no BigInt traffic.
 *
 * `copyStrided` copies a strided box of elements into a strided destination: dims of size 1 are dropped,
 * adjacent dims that are contiguous in both source and destination are merged, then one odometer walks the
 * outer dims (an add per step, no division) and a flat loop covers the innermost dim. Cost: one read and one
 * write per element, plus O(rank) work per innermost row.
 *
 * `gatherByAxisTables` fills a contiguous output where each output coordinate along each axis maps to a
 * source offset through a per-axis table (Pad's edge/reflect/wrap modes); again an odometer over the outer
 * axes and a flat inner loop.
 */
import type { TensorStorage, TypedArray } from '../../tensor/dtype.js';
import { TensorError } from '../../tensor/errors.js';
import { ScratchSlot } from './scratch.js';

/** Odometer counters and doubled lane tables, reused from call to call (see ./scratch.ts). */
const COPY_COUNTER = new ScratchSlot();
const GATHER_COUNTER = new ScratchSlot();
const LANE_TABLES = new ScratchSlot();

/** An unsigned-integer view of a tensor's bytes, one lane per element (two for 8-byte elements). */
export type Lanes = Uint8Array | Uint16Array | Uint32Array;

/** Lanes over `data` and the number of lanes per element (1, or 2 for 8-byte types). */
export function lanesOf(storage: TensorStorage): { lanes: Lanes; perElement: 1 | 2 } {
  if (Array.isArray(storage)) throw new TensorError('lanesOf: string tensors have no byte lanes');
  const data = storage as TypedArray;
  const width = data.BYTES_PER_ELEMENT;
  const { buffer, byteOffset, length } = data;
  if (width === 1) return { lanes: new Uint8Array(buffer, byteOffset, length), perElement: 1 };
  if (width === 2) return { lanes: new Uint16Array(buffer, byteOffset, length), perElement: 1 };
  if (width === 4) return { lanes: new Uint32Array(buffer, byteOffset, length), perElement: 1 };
  return { lanes: new Uint32Array(buffer, byteOffset, length * 2), perElement: 2 };
}

/** Lane-unit geometry: element dims and strides with the extra lane axis for 8-byte types, 1-dims dropped. */
interface Geometry {
  dims: number[];
  srcStrides: number[];
  dstStrides: number[];
}

function toLaneGeometry(
  dims: readonly number[],
  srcStrides: readonly number[],
  dstStrides: readonly number[],
  perElement: number,
): Geometry {
  const g: Geometry = { dims: [], srcStrides: [], dstStrides: [] };
  for (let i = 0; i < dims.length; i++) {
    if (dims[i] === 1) continue;
    g.dims.push(dims[i]!);
    g.srcStrides.push(srcStrides[i]! * perElement);
    g.dstStrides.push(dstStrides[i]! * perElement);
  }
  if (perElement === 2) {
    g.dims.push(2);
    g.srcStrides.push(1);
    g.dstStrides.push(1);
  }
  // merge dim i into dim i+1 when both sides step over dim i+1 exactly once per step of dim i
  for (let i = g.dims.length - 2; i >= 0; i--) {
    const inner = g.dims[i + 1]!;
    if (g.srcStrides[i] === g.srcStrides[i + 1]! * inner && g.dstStrides[i] === g.dstStrides[i + 1]! * inner) {
      g.dims[i + 1] = inner * g.dims[i]!;
      g.dims.splice(i, 1);
      g.srcStrides.splice(i, 1);
      g.dstStrides.splice(i, 1);
    }
  }
  return g;
}

/** Rows shorter than this are copied with a loop; longer contiguous rows with TypedArray.set. */
const SET_THRESHOLD = 48;

/**
 * Copy the elements of a box with element `dims`: element (i0, i1, ...) is read at
 * `srcOffset + sum(ik * srcStrides[k])` and written at `dstOffset + sum(ik * dstStrides[k])` (offsets and
 * strides in elements; source strides may be 0 or negative). `src` and `dst` are lanes of the same width.
 */
export function copyStrided(
  src: Lanes,
  srcOffset: number,
  srcStrides: readonly number[],
  dst: Lanes,
  dstOffset: number,
  dstStrides: readonly number[],
  dims: readonly number[],
  perElement: 1 | 2,
): void {
  for (const d of dims) if (d === 0) return;
  const g = toLaneGeometry(dims, srcStrides, dstStrides, perElement);
  let sPos = srcOffset * perElement;
  let dPos = dstOffset * perElement;
  const rank = g.dims.length;
  if (rank === 0) {
    dst[dPos] = src[sPos]!;
    return;
  }
  const last = rank - 1;
  const rowLength = g.dims[last]!;
  const sStep = g.srcStrides[last]!;
  const dStep = g.dstStrides[last]!;
  const useSet = sStep === 1 && dStep === 1 && rowLength >= SET_THRESHOLD;
  const counter = COPY_COUNTER.take('int32', rank, true);
  for (;;) {
    if (useSet) {
      (dst as Uint8Array).set((src as Uint8Array).subarray(sPos, sPos + rowLength), dPos);
    } else if (sStep === 1 && dStep === 1) {
      for (let j = 0; j < rowLength; j++) dst[dPos + j] = src[sPos + j]!;
    } else {
      for (let j = 0, s = sPos, d = dPos; j < rowLength; j++, s += sStep, d += dStep) dst[d] = src[s]!;
    }
    let ax = last - 1;
    for (; ax >= 0; ax--) {
      sPos += g.srcStrides[ax]!;
      dPos += g.dstStrides[ax]!;
      if (++counter[ax]! < g.dims[ax]!) break;
      sPos -= g.srcStrides[ax]! * g.dims[ax]!;
      dPos -= g.dstStrides[ax]! * g.dims[ax]!;
      counter[ax] = 0;
    }
    if (ax < 0) return;
  }
}

/**
 * Fill the contiguous `dst` (element dims `dims`) so that output element (i0, i1, ...) is the source element
 * at `sum(tables[k][ik])` (source offsets in elements, one Int32Array per axis of length dims[k]).
 */
export function gatherByAxisTables(src: Lanes, tables: readonly Int32Array[], dims: readonly number[], dst: Lanes, perElement: 1 | 2): void {
  for (const d of dims) if (d === 0) return;
  const laneTables = perElement === 1 ? tables : doubledLaneTables(tables);
  const rank = laneTables.length;
  if (rank === 0) {
    dst[0] = src[0]!;
    return;
  }
  const last = rank - 1;
  const inner = laneTables[last]!;
  const rowLength = inner.length;
  const counter = GATHER_COUNTER.take('int32', rank, true);
  let base = 0;
  for (let ax = 0; ax < last; ax++) base += laneTables[ax]![0]!;
  let o = 0;
  for (;;) {
    for (let j = 0; j < rowLength; j++) dst[o++] = src[base + inner[j]!]!;
    let ax = last - 1;
    for (; ax >= 0; ax--) {
      const table = laneTables[ax]!;
      const c = counter[ax]!;
      if (c + 1 < table.length) {
        base += table[c + 1]! - table[c]!;
        counter[ax] = c + 1;
        break;
      }
      base += table[0]! - table[c]!;
      counter[ax] = 0;
    }
    if (ax < 0) return;
  }
}

/** Element offset tables as 32-bit lane offsets (x2), plus a last table [0, 1] for the two lanes of an element. */
function doubledLaneTables(tables: readonly Int32Array[]): Int32Array[] {
  let total = 2;
  for (const t of tables) total += t.length;
  const store = LANE_TABLES.take('int32', total);
  const out: Int32Array[] = [];
  let at = 0;
  for (const t of tables) {
    const lanes = store.subarray(at, at + t.length);
    for (let i = 0; i < t.length; i++) lanes[i] = t[i]! * 2;
    out.push(lanes);
    at += t.length;
  }
  const pair = store.subarray(at, at + 2);
  pair[0] = 0;
  pair[1] = 1;
  out.push(pair);
  return out;
}

/** Fill every element of `dst` with the element whose lanes are `value` (length perElement). */
export function fillLanes(dst: Lanes, value: Lanes, perElement: 1 | 2): void {
  if (perElement === 1) {
    dst.fill(value[0]!);
    return;
  }
  const lo = value[0]!;
  const hi = value[1]!;
  for (let i = 0; i < dst.length; i += 2) {
    dst[i] = lo;
    dst[i + 1] = hi;
  }
}
