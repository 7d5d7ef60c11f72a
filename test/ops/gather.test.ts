import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import '../../src/kernels/cpu/index.js';
import { ops, Tensor, OpValidationError, runOp, fromNumbers, type DataType } from '../../src/index.js';
import {
  refDepthToSpace,
  refGather,
  refGatherElements,
  refGatherND,
  refOneHot,
  refScatterElements,
  refScatterND,
  refSpaceToDepth,
  refTrilu,
} from '../../src/kernels/cpu/reference/gather.js';
import { arbShape, arbTensor, expectClose, nonContiguous } from '../util/tensors.js';

const DATA_TYPES: DataType[] = ['float32', 'float64', 'float16', 'int32', 'int64', 'int8', 'uint8', 'bool'];
const arbDataType = fc.constantFrom(...DATA_TYPES);
const arbIndexType = fc.constantFrom<DataType>('int32', 'int64');
const RUNS = { numRuns: 60 };

/** Index values for a tensor of `dims`; the value at flat position p lies in [-b, b-1] with b = bounds[p % len]. */
function arbIndices(type: DataType, dims: readonly number[], bounds: readonly number[]): fc.Arbitrary<Tensor> {
  const n = dims.reduce((p, d) => p * d, 1);
  const cells = Array.from({ length: n }, (_, p) => {
    const b = bounds[p % bounds.length]!;
    return fc.integer({ min: -b, max: b - 1 });
  });
  return fc.tuple(...cells).map((vals) => fromNumbers(type, vals, dims));
}

/** Either `t` itself or a non-contiguous view with the same values. */
function maybeStrided(t: Tensor, strided: boolean): Tensor {
  return strided ? nonContiguous(t) : t;
}

function t(type: DataType, values: readonly number[], dims: readonly number[]): Tensor {
  return fromNumbers(type, values, dims);
}

function values(x: Tensor): number[] {
  return x.type === 'int64' ? Array.from(x.data as BigInt64Array, Number) : Array.from(x.numbers());
}

function tol(type: DataType): { rtol: number; atol: number } {
  return type === 'float16' ? { rtol: 2e-3, atol: 1e-3 } : { rtol: 0, atol: 0 };
}

// ---------------------------------------------------------------------------------------------------------

describe('Gather', () => {
  it('matches the reference (axes incl. negative, int32/int64 indices, dtypes, strided data)', () => {
    const arbCase = fc
      .record({
        dims: arbShape({ minRank: 1, maxRank: 3, maxDim: 4 }),
        idxDims: arbShape({ maxRank: 2, maxDim: 3 }),
        type: arbDataType,
        idxType: arbIndexType,
        strided: fc.boolean(),
        axisPick: fc.integer({ min: 0, max: 5 }),
        negative: fc.boolean(),
      })
      .chain((c) => {
        const axis = c.axisPick % c.dims.length;
        const bound = c.dims[axis]!;
        const idxDims = bound === 0 ? [0] : c.idxDims;
        return fc.tuple(fc.constant({ ...c, axis: c.negative ? axis - c.dims.length : axis }), arbTensor(c.type, c.dims), arbIndices(c.idxType, idxDims, [bound]));
      });
    fc.assert(
      fc.property(arbCase, ([c, x, idx]) => {
        expectClose(ops.gather(maybeStrided(x, c.strided), idx, c.axis), refGather(x, idx, c.axis), tol(c.type));
      }),
      RUNS,
    );
  });

  it('known answers: Operators.md axis-0 and axis-1 examples, negative indices', () => {
    const data = t('float32', [1, 1.2, 2.3, 3.4, 4.5, 5.7], [3, 2]);
    expect(values(ops.gather(data, t('int64', [0, 1, 1, 2], [2, 2]), 0))).toEqual(values(t('float32', [1, 1.2, 2.3, 3.4, 2.3, 3.4, 4.5, 5.7], [8])));
    const d3 = t('float32', [1, 1.2, 1.9, 2.3, 3.4, 3.9, 4.5, 5.7, 5.9], [3, 3]);
    const y = ops.gather(d3, t('int32', [0, 2], [1, 2]), 1);
    expect(y.dims).toEqual([3, 1, 2]);
    expect(values(y)).toEqual(values(t('float32', [1, 1.9, 2.3, 3.9, 4.5, 5.9], [6])));
    expect(values(ops.gather(t('int64', [10, 20, 30, 40], [4]), t('int64', [-1, -4, 0], [3])))).toEqual([40, 10, 10]);
  });

  it('gathers a scalar index, dropping the axis', () => {
    const y = ops.gather(t('float32', [1, 2, 3, 4, 5, 6], [2, 3]), t('int64', [2], []), 1);
    expect(y.dims).toEqual([2]);
    expect(values(y)).toEqual([3, 6]);
  });

  it('rejects an out-of-range index, naming the value, position and bound', () => {
    const data = t('float32', [1, 2, 3, 4, 5, 6], [2, 3]);
    const call = () => ops.gather(data, t('int64', [0, 3], [2]), 1);
    expect(call).toThrow(OpValidationError);
    expect(call).toThrow(/index 3 at position \[1\].*axis 1.*size 3; expected \[-3, 2\]/);
    expect(() => ops.gather(data, t('int32', [-3, -4], [2]), 1)).toThrow(/index -4/);
  });

  it('rejects a bad axis, float indices and scalar data', () => {
    const data = t('float32', [1, 2, 3, 4], [2, 2]);
    expect(() => ops.gather(data, t('int64', [0], [1]), 2)).toThrow(/attribute 'axis' is 2; expected \[-2, 1\]/);
    expect(() => ops.gather(data, t('float32', [0], [1]))).toThrow(/'indices' has type float32/);
    expect(() => ops.gather(t('float32', [1], []), t('int64', [0], [1]))).toThrow(/rank >= 1/);
  });
});

describe('GatherElements', () => {
  it('matches the reference', () => {
    const arbCase = fc
      .record({
        dims: arbShape({ minRank: 1, maxRank: 3, maxDim: 4 }),
        type: arbDataType,
        idxType: arbIndexType,
        strided: fc.boolean(),
        axisPick: fc.integer({ min: 0, max: 5 }),
        shrink: fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 3, maxLength: 3 }),
        axisLen: fc.integer({ min: 0, max: 4 }),
      })
      .chain((c) => {
        const axis = c.axisPick % c.dims.length;
        const bound = c.dims[axis]!;
        const idxDims = c.dims.map((d, i) => (i === axis ? (bound === 0 ? 0 : c.axisLen) : Math.max(0, d - c.shrink[i]!)));
        return fc.tuple(fc.constant({ ...c, axis: axis - (c.axisPick % 2) * c.dims.length }), arbTensor(c.type, c.dims), arbIndices(c.idxType, idxDims, [bound]));
      });
    fc.assert(
      fc.property(arbCase, ([c, x, idx]) => {
        expectClose(ops.gatherElements(maybeStrided(x, c.strided), maybeStrided(idx, c.strided), c.axis), refGatherElements(x, idx, c.axis), tol(c.type));
      }),
      RUNS,
    );
  });

  it('known answers from Operators.md (incl. negative indices)', () => {
    const y = ops.gatherElements(t('float32', [1, 2, 3, 4], [2, 2]), t('int64', [0, 0, 1, 0], [2, 2]), 1);
    expect(values(y)).toEqual([1, 1, 4, 3]);
    const data = t('float32', [1, 2, 3, 4, 5, 6, 7, 8, 9], [3, 3]);
    expect(values(ops.gatherElements(data, t('int32', [1, 2, 0, 2, 0, 0], [2, 3]), 0))).toEqual([4, 8, 3, 7, 2, 3]);
    expect(values(ops.gatherElements(data, t('int64', [-1, -2, 0, -2, 0, 0], [2, 3]), 0))).toEqual([7, 5, 3, 4, 2, 3]);
  });

  it('rejects rank mismatch, oversize index dims and out-of-range values', () => {
    const data = t('float32', [1, 2, 3, 4], [2, 2]);
    expect(() => ops.gatherElements(data, t('int64', [0, 1], [2]), 0)).toThrow(/rank 1\); expected rank 2/);
    expect(() => ops.gatherElements(data, t('int64', [0, 1, 0], [1, 3]), 0)).toThrow(/dim 1 \(3\) exceeds/);
    expect(() => ops.gatherElements(data, t('int64', [0, 2], [1, 2]), 0)).toThrow(/index 2 at position \[0, 1\]/);
  });
});

describe('GatherND', () => {
  it('matches the reference (batch_dims 0..2)', () => {
    const arbCase = fc
      .record({
        dims: arbShape({ minRank: 1, maxRank: 4, maxDim: 3 }),
        tupleDims: arbShape({ maxRank: 2, maxDim: 3 }),
        type: arbDataType,
        idxType: arbIndexType,
        strided: fc.boolean(),
        bPick: fc.integer({ min: 0, max: 2 }),
        kPick: fc.integer({ min: 0, max: 3 }),
      })
      .chain((c) => {
        const b = Math.min(c.bPick, c.dims.length - 1);
        const k = 1 + (c.kPick % (c.dims.length - b));
        const bounds = c.dims.slice(b, b + k);
        let tuple = c.tupleDims;
        if (bounds.includes(0)) tuple = [0];
        const idxDims = [...c.dims.slice(0, b), ...tuple, k];
        return fc.tuple(fc.constant({ ...c, b }), arbTensor(c.type, c.dims), arbIndices(c.idxType, idxDims, bounds));
      });
    fc.assert(
      fc.property(arbCase, ([c, x, idx]) => {
        expectClose(ops.gatherND(maybeStrided(x, c.strided), idx, c.b), refGatherND(x, idx, c.b), tol(c.type));
      }),
      RUNS,
    );
  });

  it('known answers from Operators.md', () => {
    const d2 = t('int32', [0, 1, 2, 3], [2, 2]);
    expect(values(ops.gatherND(d2, t('int64', [0, 0, 1, 1], [2, 2])))).toEqual([0, 3]);
    expect(values(ops.gatherND(d2, t('int64', [1, 0], [2, 1])))).toEqual([2, 3, 0, 1]);
    const d3 = t('float32', [0, 1, 2, 3, 4, 5, 6, 7], [2, 2, 2]);
    const y = ops.gatherND(d3, t('int64', [0, 1, 1, 0], [2, 1, 2]));
    expect(y.dims).toEqual([2, 1, 2]);
    expect(values(y)).toEqual([2, 3, 4, 5]);
    const yb = ops.gatherND(d3, t('int64', [1, 0], [2, 1]), 1);
    expect(yb.dims).toEqual([2, 2]);
    expect(values(yb)).toEqual([2, 3, 4, 5]);
  });

  it('rejects a too-long index tuple, bad batch_dims and mismatched batch dims', () => {
    const d = t('float32', [0, 1, 2, 3], [2, 2]);
    expect(() => ops.gatherND(d, t('int64', [0, 0, 0], [1, 3]))).toThrow(/last dim \(3\) must be in \[1, 2\]/);
    expect(() => ops.gatherND(d, t('int64', [0, 0], [1, 2]), 2)).toThrow(/'batch_dims' is 2/);
    expect(() => ops.gatherND(d, t('int64', [0, 0, 0], [3, 1]), 1)).toThrow(/batch dim 0 differs/);
    expect(() => ops.gatherND(d, t('int64', [0, -3], [1, 2]))).toThrow(/index -3 at position \[0, 1\].*axis 1/);
  });
});

const REDUCTIONS = ['none', 'add', 'mul', 'max', 'min'] as const;

describe('ScatterND', () => {
  it('matches the reference for every reduction (duplicates applied in order)', () => {
    const arbCase = fc
      .record({
        dims: arbShape({ minRank: 1, maxRank: 3, maxDim: 4 }),
        tupleDims: arbShape({ maxRank: 2, maxDim: 3 }),
        type: fc.constantFrom<DataType>('float32', 'float64', 'float16', 'int32', 'int64', 'uint8', 'int8', 'bool'),
        strided: fc.boolean(),
        kPick: fc.integer({ min: 0, max: 3 }),
        reduction: fc.constantFrom(...REDUCTIONS),
      })
      .chain((c) => {
        const k = 1 + (c.kPick % c.dims.length);
        const bounds = c.dims.slice(0, k);
        const tuple = bounds.includes(0) ? [0] : c.tupleDims;
        const updDims = [...tuple, ...c.dims.slice(k)];
        return fc.tuple(fc.constant(c), arbTensor(c.type, c.dims, 4), arbIndices('int64', [...tuple, k], bounds), arbTensor(c.type, updDims, 4));
      });
    fc.assert(
      fc.property(arbCase, ([c, data, idx, upd]) => {
        const got = ops.scatterND(maybeStrided(data, c.strided), idx, maybeStrided(upd, c.strided), c.reduction);
        expectClose(got, refScatterND(data, idx, upd, c.reduction), tol(c.type));
      }),
      RUNS,
    );
  });

  it('known answers: Operators.md examples and the reductions', () => {
    const data = t('float32', [1, 2, 3, 4, 5, 6, 7, 8], [8]);
    expect(values(ops.scatterND(data, t('int64', [4, 3, 1, 7], [4, 1]), t('float32', [9, 10, 11, 12], [4])))).toEqual([1, 11, 3, 10, 9, 6, 7, 12]);
    const idx = t('int64', [0, 0], [2, 1]);
    const upd = t('float32', [5, 3], [2]);
    expect(values(ops.scatterND(data, idx, upd, 'add'))).toEqual([9, 2, 3, 4, 5, 6, 7, 8]);
    expect(values(ops.scatterND(data, idx, upd, 'mul'))).toEqual([15, 2, 3, 4, 5, 6, 7, 8]);
    expect(values(ops.scatterND(data, idx, upd, 'max'))).toEqual([5, 2, 3, 4, 5, 6, 7, 8]);
    expect(values(ops.scatterND(data, idx, upd, 'min'))).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    // slices: rows 0 and 2 of a [3, 2] matrix replaced
    const m = ops.scatterND(t('int64', [1, 2, 3, 4, 5, 6], [3, 2]), t('int64', [2, 0], [2, 1]), t('int64', [7, 8, 9, 10], [2, 2]));
    expect(values(m)).toEqual([9, 10, 3, 4, 7, 8]);
  });

  it('wraps integer arithmetic like C (int32 mul, uint8 add)', () => {
    const big = ops.scatterND(t('int32', [65536], [1]), t('int64', [0], [1, 1]), t('int32', [65537], [1]), 'mul');
    expect(values(big)).toEqual([65536]); // 65536 * 65537 = 2^32 + 65536 wraps to 65536
    const u8 = ops.scatterND(t('uint8', [250], [1]), t('int64', [0], [1, 1]), t('uint8', [10], [1]), 'add');
    expect(values(u8)).toEqual([4]);
  });

  it('rejects bad updates shape, bad reduction and out-of-range indices', () => {
    const data = t('float32', [1, 2, 3, 4], [2, 2]);
    expect(() => ops.scatterND(data, t('int64', [0], [1, 1]), t('float32', [1, 2, 3], [1, 3]))).toThrow(/'updates' has shape \[1, 3\]; expected \[1, 2\]/);
    expect(() => runOp('ScatterND', [data, t('int64', [0], [1, 1]), t('float32', [1, 2], [1, 2])], { reduction: 'sum' })).toThrow(/'reduction' is "sum"/);
    expect(() => ops.scatterND(data, t('int64', [2], [1, 1]), t('float32', [1, 2], [1, 2]))).toThrow(/index 2 .*axis 0/);
  });
});

describe('ScatterElements / Scatter', () => {
  it('matches the reference for every reduction', () => {
    const arbCase = fc
      .record({
        dims: arbShape({ minRank: 1, maxRank: 3, maxDim: 4 }),
        type: fc.constantFrom<DataType>('float32', 'float64', 'float16', 'int32', 'int64', 'uint8', 'bool'),
        idxType: arbIndexType,
        strided: fc.boolean(),
        axisPick: fc.integer({ min: -3, max: 3 }),
        shrink: fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 3, maxLength: 3 }),
        axisLen: fc.integer({ min: 0, max: 5 }),
        reduction: fc.constantFrom(...REDUCTIONS),
      })
      .chain((c) => {
        const r = c.dims.length;
        const axis = ((c.axisPick % r) + r) % r;
        const bound = c.dims[axis]!;
        const idxDims = c.dims.map((d, i) => (i === axis ? (bound === 0 ? 0 : c.axisLen) : Math.max(0, d - c.shrink[i]!)));
        return fc.tuple(
          fc.constant({ ...c, axis: c.axisPick < 0 ? axis - r : axis }),
          arbTensor(c.type, c.dims, 4),
          arbIndices(c.idxType, idxDims, [bound]),
          arbTensor(c.type, idxDims, 4),
        );
      });
    fc.assert(
      fc.property(arbCase, ([c, data, idx, upd]) => {
        const got = ops.scatterElements(maybeStrided(data, c.strided), maybeStrided(idx, c.strided), upd, c.axis, c.reduction);
        expectClose(got, refScatterElements(data, idx, upd, c.axis, c.reduction), tol(c.type));
      }),
      RUNS,
    );
  });

  it('known answers from Operators.md; Scatter (opset 9/10) behaves as ScatterElements', () => {
    const data = t('float32', new Array(9).fill(0), [3, 3]);
    const idx = t('int64', [1, 0, 2, 0, 2, 1], [2, 3]);
    const upd = t('float32', [1.0, 1.1, 1.2, 2.0, 2.1, 2.2], [2, 3]);
    const want = values(t('float32', [2.0, 1.1, 0.0, 1.0, 0.0, 2.2, 0.0, 2.1, 1.2], [9]));
    expect(values(ops.scatterElements(data, idx, upd))).toEqual(want);
    expect(values(runOp('Scatter', [data, idx, upd], {}, { opset: 10 })[0]!)).toEqual(want);
    const row = t('float32', [1, 2, 3, 4, 5], [1, 5]);
    const y = ops.scatterElements(row, t('int64', [1, -2], [1, 2]), t('float32', [1.5, 2.5], [1, 2]), 1);
    expect(values(y)).toEqual([1, 1.5, 3, 2.5, 5]);
    const dup = ops.scatterElements(row, t('int64', [1, 1], [1, 2]), t('float32', [1.5, 2.5], [1, 2]), 1, 'add');
    expect(values(dup)).toEqual([1, 6, 3, 4, 5]);
  });

  it('rejects updates that do not match indices, and Scatter with a reduction', () => {
    const data = t('float32', [1, 2, 3, 4], [2, 2]);
    expect(() => ops.scatterElements(data, t('int64', [0, 1], [1, 2]), t('float32', [1], [1, 1]))).toThrow(/'updates' has shape \[1, 1\]; expected the shape of 'indices' \[1, 2\]/);
    expect(() => runOp('Scatter', [data, t('int64', [0], [1, 1]), t('float32', [1], [1, 1])], { reduction: 'add' }, { opset: 10 })).toThrow(/unknown attribute 'reduction'/);
  });
});

describe('OneHot', () => {
  it('matches the reference (negative and out-of-range indices, float indices, axes)', () => {
    const arbCase = fc
      .record({
        dims: arbShape({ maxRank: 3, maxDim: 4 }),
        depth: fc.integer({ min: 1, max: 5 }),
        idxType: fc.constantFrom<DataType>('int64', 'int32', 'float32'),
        valType: fc.constantFrom<DataType>('float32', 'int64', 'int32', 'bool', 'float16'),
        axisPick: fc.integer({ min: 0, max: 10 }),
        strided: fc.boolean(),
      })
      .chain((c) => {
        const r = c.dims.length + 1;
        const axis = (c.axisPick % (2 * r)) - r;
        const n = c.dims.reduce((p, d) => p * d, 1);
        const idx = fc
          .array(fc.integer({ min: -c.depth - 2, max: c.depth + 1 }), { minLength: n, maxLength: n })
          .map((v) => fromNumbers(c.idxType, v, c.dims));
        return fc.tuple(fc.constant({ ...c, axis }), idx, arbTensor(c.valType, [2], 5));
      });
    fc.assert(
      fc.property(arbCase, ([c, idx, vals]) => {
        expectClose(ops.oneHot(maybeStrided(idx, c.strided), c.depth, vals, c.axis), refOneHot(idx, c.depth, vals, c.axis), tol(c.valType));
      }),
      RUNS,
    );
  });

  it('known answers: Operators.md style example with axis 1 and a float depth', () => {
    const y = runOp('OneHot', [t('int64', [1, 9, -2], [3]), t('float32', [10], []), t('float32', [1, 3], [2])], { axis: 1 }, { opset: 11 })[0]!;
    expect(y.dims).toEqual([3, 10]);
    const rows = values(y);
    expect(rows.slice(0, 10)).toEqual([1, 3, 1, 1, 1, 1, 1, 1, 1, 1]);
    expect(rows.slice(10, 20)).toEqual([1, 1, 1, 1, 1, 1, 1, 1, 1, 3]);
    expect(rows.slice(20, 30)).toEqual([1, 1, 1, 1, 1, 1, 1, 1, 3, 1]);
    const first = ops.oneHot(t('int32', [0, 2], [2]), 3, [0, 1], 0);
    expect(first.dims).toEqual([3, 2]);
    expect(values(first)).toEqual([1, 0, 0, 0, 0, 1]);
  });

  it('rejects a bad depth, bad values and a bad axis', () => {
    const idx = t('int64', [0, 1], [2]);
    expect(() => ops.oneHot(idx, 0)).toThrow(/'depth' is 0; expected a positive/);
    expect(() => ops.oneHot(idx, t('int64', [2, 3], [2]))).toThrow(/'depth' has shape \[2\]/);
    expect(() => ops.oneHot(idx, 3, t('float32', [0, 1, 2], [3]))).toThrow(/'values' has shape \[3\]; expected \[2\]/);
    expect(() => ops.oneHot(idx, 3, [0, 1], 2)).toThrow(/'axis' is 2; expected \[-2, 1\]/);
  });
});

describe('Trilu', () => {
  it('matches the reference (upper/lower, k incl. far out of range, batches, dtypes)', () => {
    const arbCase = fc
      .record({
        dims: arbShape({ minRank: 2, maxRank: 4, maxDim: 5 }),
        type: arbDataType,
        upper: fc.boolean(),
        k: fc.integer({ min: -7, max: 7 }),
        strided: fc.boolean(),
      })
      .chain((c) => fc.tuple(fc.constant(c), arbTensor(c.type, c.dims)));
    fc.assert(
      fc.property(arbCase, ([c, x]) => {
        expectClose(ops.trilu(maybeStrided(x, c.strided), c.upper, c.k), refTrilu(x, c.upper, c.k), tol(c.type));
      }),
      RUNS,
    );
  });

  it('known answers; k omitted defaults to 0 and upper to 1', () => {
    const x = t('int64', [4, 7, 3, 7, 9, 1, 2, 8, 6, 9, 9, 4, 0, 8, 7, 4, 3, 4, 2, 4], [4, 5]);
    expect(values(runOp('Trilu', [x], {}, { opset: 14 })[0]!)).toEqual([4, 7, 3, 7, 9, 0, 2, 8, 6, 9, 0, 0, 0, 8, 7, 0, 0, 0, 2, 4]);
    expect(values(ops.trilu(x, false, -1))).toEqual([0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 9, 4, 0, 0, 0, 4, 3, 4, 0, 0]);
  });

  it('rejects rank < 2 and a non-scalar k', () => {
    expect(() => ops.trilu(t('float32', [1, 2], [2]))).toThrow(/rank >= 2/);
    expect(() => runOp('Trilu', [t('float32', [1, 2, 3, 4], [2, 2]), t('int64', [1, 2], [2])])).toThrow(/'k' has shape \[2\]; expected a scalar/);
  });
});

describe('DepthToSpace / SpaceToDepth', () => {
  const arbBlocks = fc.record({
    n: fc.integer({ min: 0, max: 2 }),
    c: fc.integer({ min: 1, max: 3 }),
    h: fc.integer({ min: 0, max: 3 }),
    w: fc.integer({ min: 1, max: 3 }),
    b: fc.integer({ min: 1, max: 3 }),
    type: arbDataType,
    strided: fc.boolean(),
    crd: fc.boolean(),
  });

  it('DepthToSpace matches the reference in DCR and CRD modes', () => {
    fc.assert(
      fc.property(
        arbBlocks.chain((c) => fc.tuple(fc.constant(c), arbTensor(c.type, [c.n, c.c * c.b * c.b, c.h, c.w]))),
        ([c, x]) => {
          const mode = c.crd ? 'CRD' : 'DCR';
          expectClose(ops.depthToSpace(maybeStrided(x, c.strided), c.b, mode), refDepthToSpace(x, c.b, mode), tol(c.type));
        },
      ),
      RUNS,
    );
  });

  it('SpaceToDepth matches the reference and inverts DepthToSpace (DCR)', () => {
    fc.assert(
      fc.property(
        arbBlocks.chain((c) => fc.tuple(fc.constant(c), arbTensor(c.type, [c.n, c.c, c.h * c.b, c.w * c.b]))),
        ([c, x]) => {
          const y = ops.spaceToDepth(maybeStrided(x, c.strided), c.b);
          expectClose(y, refSpaceToDepth(x, c.b), tol(c.type));
          expectClose(ops.depthToSpace(y, c.b), x, tol(c.type));
        },
      ),
      RUNS,
    );
  });

  it('known answer: the Operators.md DCR/CRD examples (1x8x2x3, blocksize 2)', () => {
    const x = t('float32', Array.from({ length: 48 }, (_, i) => i), [1, 8, 2, 3]);
    const dcr = ops.depthToSpace(x, 2, 'DCR');
    expect(dcr.dims).toEqual([1, 2, 4, 6]);
    expect(values(dcr).slice(0, 12)).toEqual([0, 12, 1, 13, 2, 14, 24, 36, 25, 37, 26, 38]);
    const crd = ops.depthToSpace(x, 2, 'CRD');
    expect(values(crd).slice(0, 12)).toEqual([0, 6, 1, 7, 2, 8, 12, 18, 13, 19, 14, 20]);
  });

  it('rejects non-divisible channels/spatial dims, wrong rank, bad mode', () => {
    expect(() => ops.depthToSpace(t('float32', new Array(12).fill(0), [1, 3, 2, 2]), 2)).toThrow(/channels \(3\) must be divisible by blocksize\^2 \(4\)/);
    expect(() => ops.spaceToDepth(t('float32', new Array(6).fill(0), [1, 1, 2, 3]), 2)).toThrow(/divisible by blocksize 2/);
    expect(() => ops.spaceToDepth(t('float32', new Array(4).fill(0), [2, 2]), 2)).toThrow(/rank 2\); expected rank 4/);
    expect(() => runOp('DepthToSpace', [t('float32', new Array(4).fill(0), [1, 4, 1, 1])], { blocksize: 2, mode: 'XYZ' })).toThrow(/'mode' is "XYZ"/);
    expect(() => runOp('DepthToSpace', [t('float32', new Array(4).fill(0), [1, 4, 1, 1])], {})).toThrow(/'blocksize' is required/);
  });
});
