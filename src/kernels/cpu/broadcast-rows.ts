/**
 * Row-wise broadcasting plans for elementwise kernels with two or more inputs.
 *
 * Numpy broadcasting reads each input with stride 0 along the axes where it has size 1. Rather than a
 * per-element index table, a plan collapses the output shape into the fewest axes on which every input is
 * either plainly contiguous or constant (adjacent axes merge when, for every input, the outer stride equals the
 * inner stride times the inner extent), then treats the innermost merged axis as a "row": a kernel runs one
 * tight loop per row in which each input advances by a constant stride of 0 or 1. The start offset of every row
 * in every input is precomputed (one Int32Array per input, rows = size / rowLength entries).
 *
 * Equal shapes collapse to a single row of the whole tensor; a scalar operand is a single row with stride 0;
 * `[N, C, H, W] + [1, C, 1, 1]` becomes N*C rows of H*W with the bias read at stride 0.
 *
 * Cost: O(rank * inputs) to build the axes plus O(rows * inputs) for the offset tables; no per-element work.
 * Plans depend on the shapes only and are memoized (./scratch.ts), so repeated calls with the same shapes
 * reuse them: callers must treat a plan as read-only.
 */
import { broadcastStrides, sizeOf } from '../../tensor/shape.js';
import { PlanCache, shapesKey } from './scratch.js';

const plans = new PlanCache<RowPlan>((p) => p.rows * p.rowOffsets.length);

/** How to walk the inputs of one broadcast elementwise call, row by row. */
export interface RowPlan {
  /** Number of rows (0 when the output is empty). */
  readonly rows: number;
  /** Elements per row (the innermost merged axis). */
  readonly rowLength: number;
  /** Per input: stride within a row (0 = repeated element, 1 = contiguous). */
  readonly innerStrides: readonly number[];
  /** Per input: flat offset of the first element of each row. */
  readonly rowOffsets: readonly Int32Array[];
}

/**
 * Plan the row walk of an output of shape `out` over inputs of shapes `inputs` (each must broadcast to `out`;
 * callers validate that first).
 */
export function planRows(out: readonly number[], inputs: readonly (readonly number[])[]): RowPlan {
  return plans.get(`${out.join(',')}|${shapesKey(inputs)}`, () => buildRowPlan(out, inputs));
}

function buildRowPlan(out: readonly number[], inputs: readonly (readonly number[])[]): RowPlan {
  const size = sizeOf(out);
  const k = inputs.length;
  if (size === 0) {
    return { rows: 0, rowLength: 0, innerStrides: new Array<number>(k).fill(0), rowOffsets: inputs.map(() => new Int32Array(0)) };
  }
  // Axes of extent 1 never move any index: drop them.
  const allStrides = inputs.map((dims) => broadcastStrides(dims, out));
  const dims: number[] = [];
  const strides: number[][] = inputs.map(() => []);
  for (let ax = 0; ax < out.length; ax++) {
    if (out[ax] === 1) continue;
    dims.push(out[ax]!);
    for (let j = 0; j < k; j++) strides[j]!.push(allStrides[j]![ax]!);
  }
  // Merge an axis into the one inside it when every input walks the pair as one axis.
  const mDims: number[] = [];
  const mStrides: number[][] = inputs.map(() => []);
  for (let ax = 0; ax < dims.length; ax++) {
    const last = mDims.length - 1;
    let mergeable = last >= 0;
    for (let j = 0; j < k && mergeable; j++) {
      const outer = mStrides[j]![last]!;
      const inner = strides[j]![ax]!;
      if (outer !== inner * dims[ax]!) mergeable = false;
    }
    if (mergeable) {
      mDims[last] = mDims[last]! * dims[ax]!;
      for (let j = 0; j < k; j++) mStrides[j]![last] = strides[j]![ax]!;
    } else {
      mDims.push(dims[ax]!);
      for (let j = 0; j < k; j++) mStrides[j]!.push(strides[j]![ax]!);
    }
  }
  if (mDims.length === 0) {
    // every axis had extent 1: a single element
    return { rows: 1, rowLength: 1, innerStrides: new Array<number>(k).fill(0), rowOffsets: inputs.map(() => new Int32Array(1)) };
  }
  const inner = mDims.length - 1;
  const rowLength = mDims[inner]!;
  const rows = size / rowLength;
  const innerStrides = mStrides.map((s) => s[inner]!);
  const rowOffsets = inputs.map(() => new Int32Array(rows));
  // Walk the outer merged axes with a counter, updating every input's offset incrementally.
  const outerRank = inner;
  const counter = new Array<number>(outerRank).fill(0);
  const pos = new Array<number>(k).fill(0);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < k; j++) rowOffsets[j]![r] = pos[j]!;
    for (let ax = outerRank - 1; ax >= 0; ax--) {
      counter[ax]!++;
      if (counter[ax]! < mDims[ax]!) {
        for (let j = 0; j < k; j++) pos[j] = pos[j]! + mStrides[j]![ax]!;
        break;
      }
      for (let j = 0; j < k; j++) pos[j] = pos[j]! - mStrides[j]![ax]! * (mDims[ax]! - 1);
      counter[ax] = 0;
    }
  }
  return { rows, rowLength, innerStrides, rowOffsets };
}
