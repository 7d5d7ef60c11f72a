/**
 * Helpers shared by the reduce-family CPU kernels (reduce, softmax, normalization, einsum): the
 * reduction plan (outer bases x reduced offsets x inner block), the [outer, D, inner] split around an axis, integer dtype ranges, and storing float64 results into any dtype.
 */
import { allocate, type DataType, type NumericArray } from '../../tensor/dtype.js';
import { fromNumbers, Tensor } from '../../tensor/tensor.js';
import type { OutputSpec } from '../registry.js';
import { PlanCache } from './scratch.js';
import { outputTensor } from './util.js';

/** Reduction plans by dims and axes (read-only once built; see ./scratch.ts). */
const reductionPlans = new PlanCache<ReductionPlan>((p) => p.outerBases.length + p.reducedOffsets.length);
/** The explicit 0..r-1 offset table of contiguous plans, built once per plan. */
const runTables = new WeakMap<ReductionPlan, Int32Array>();

/** Sizes before, at and after `axis`. */
export function splitAtAxis(dims: readonly number[], axis: number): { outer: number; d: number; inner: number } {
  let outer = 1;
  let inner = 1;
  for (let i = 0; i < axis; i++) outer *= dims[i]!;
  for (let i = axis + 1; i < dims.length; i++) inner *= dims[i]!;
  return { outer, d: dims[axis]!, inner };
}

export const INT_RANGE: Partial<Record<DataType, readonly [number, number]>> = {
  int8: [-128, 127],
  uint8: [0, 255],
  int16: [-32768, 32767],
  uint16: [0, 65535],
  int32: [-2147483648, 2147483647],
  uint32: [0, 4294967295],
  bool: [0, 1],
};

/** A tensor of `spec` from float64 values (float16 encoded, integers truncated and wrapped, NaN -> 0). */
export function storeFloat64(values: Float64Array, spec: OutputSpec): Tensor {
  if (spec.type === 'float16') return fromNumbers(spec.type, values, spec.dims);
  if (spec.type === 'int64') {
    // as fromNumbers: truncate, non-finite values become 0
    const d = allocate('int64', values.length);
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      d[i] = Number.isFinite(v) ? BigInt(Math.trunc(v)) : 0n;
    }
    return new Tensor('int64', d, spec.dims);
  }
  const out = outputTensor(spec);
  const d = out.data as NumericArray;
  if (spec.type === 'bool') for (let i = 0; i < values.length; i++) d[i] = values[i] ? 1 : 0;
  else d.set(values);
  return out;
}


/** How to walk the input of a reduction without moving data. */
export interface ReductionPlan {
  /** Input offset of each output row (an output row is `inner` consecutive output elements). */
  readonly outerBases: Int32Array;
  /** Offset, relative to a base, of every reduced position; empty when `reducedContiguous` (see reducedOffsetsOf). */
  readonly reducedOffsets: Int32Array;
  /** Length of the trailing kept block (1 when the last non-trivial dim is reduced). */
  readonly inner: number;
  /** Number of reduced positions per output (1 for an identity reduction, 0 for an empty set). */
  readonly reducedCount: number;
  /** Number of output elements. */
  readonly outCount: number;
  /** The reduced offsets are 0, 1, ..., reducedCount - 1 (inner == 1, one trailing reduced block). */
  readonly reducedContiguous: boolean;
}

/** Offsets of all positions of the multi-index over `sizes` with `strides` (row-major order). */
export function enumerateOffsets(sizes: readonly number[], strides: readonly number[]): Int32Array {
  let n = 1;
  for (const s of sizes) n *= s;
  const out = new Int32Array(n);
  if (n === 0) return out;
  const rank = sizes.length;
  if (rank === 0) return out;
  // the last dim is filled by a unit loop; a counter walks the others
  const lastSize = sizes[rank - 1]!;
  const lastStride = strides[rank - 1]!;
  const counter = new Array<number>(rank - 1).fill(0);
  let pos = 0;
  for (let i = 0; i < n; ) {
    for (let j = 0, p = pos; j < lastSize; j++, p += lastStride) out[i++] = p;
    for (let ax = rank - 2; ax >= 0; ax--) {
      counter[ax]!++;
      pos += strides[ax]!;
      if (counter[ax]! < sizes[ax]!) break;
      pos -= strides[ax]! * sizes[ax]!;
      counter[ax] = 0;
    }
  }
  return out;
}

/** Plan a reduction of a contiguous tensor of `dims` over the axes in `axes`. */
export function planReduction(dims: readonly number[], axes: readonly number[]): ReductionPlan {
  return reductionPlans.get(`${dims.join(',')}|${axes.join(',')}`, () => buildReductionPlan(dims, axes));
}

function buildReductionPlan(dims: readonly number[], axes: readonly number[]): ReductionPlan {
  const reduced = new Set(axes);
  let outCount = 1;
  let reducedCount = 1;
  dims.forEach((d, i) => {
    if (reduced.has(i)) reducedCount *= d;
    else outCount *= d;
  });
  if (outCount === 0 || reducedCount === 0) {
    return { outerBases: new Int32Array(0), reducedOffsets: new Int32Array(0), inner: 1, reducedCount, outCount, reducedContiguous: true };
  }
  // merged groups of (size, stride, reduced), outermost first; size-1 dims dropped
  const groups: { size: number; stride: number; reduced: boolean }[] = [];
  let stride = 1;
  const rev: { size: number; stride: number; reduced: boolean }[] = [];
  for (let i = dims.length - 1; i >= 0; i--) {
    const d = dims[i]!;
    if (d !== 1) {
      const isRed = reduced.has(i);
      const last = rev[rev.length - 1];
      if (last && last.reduced === isRed) last.size *= d;
      else rev.push({ size: d, stride, reduced: isRed });
    }
    stride *= d;
  }
  for (let i = rev.length - 1; i >= 0; i--) groups.push(rev[i]!);
  const trailing = groups[groups.length - 1];
  const inner = trailing && !trailing.reduced ? trailing.size : 1;
  const keptOuter = groups.filter((g, i) => !g.reduced && !(i === groups.length - 1 && inner > 1));
  const red = groups.filter((g) => g.reduced);
  const outerBases = enumerateOffsets(
    keptOuter.map((g) => g.size),
    keptOuter.map((g) => g.stride),
  );
  const reducedContiguous = inner === 1 && (red.length === 0 || (red.length === 1 && red[0]!.stride === 1));
  // a contiguous run needs no table (loops index base + k); reducedOffsetsOf builds one on demand
  const reducedOffsets = reducedContiguous
    ? new Int32Array(0)
    : enumerateOffsets(
        red.map((g) => g.size),
        red.map((g) => g.stride),
      );
  return { outerBases, reducedOffsets, inner, reducedCount, outCount, reducedContiguous };
}


/** The reduced offsets of a plan, as a table even when they are the run 0, 1, ..., reducedCount - 1. */
export function reducedOffsetsOf(plan: ReductionPlan): Int32Array {
  if (!plan.reducedContiguous || plan.reducedOffsets.length === plan.reducedCount) return plan.reducedOffsets;
  let out = runTables.get(plan);
  if (!out) {
    out = new Int32Array(plan.reducedCount);
    for (let k = 0; k < out.length; k++) out[k] = k;
    runTables.set(plan, out);
  }
  return out;
}
