import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import '../../src/kernels/cpu/index.js';
import { ops, OpValidationError, runOp, Tensor, fromNumbers, type DataType } from '../../src/index.js';
import { refArg, refCumSum, refReduce, refSoftmax, refTopK, type RefReduceKind } from '../../src/kernels/cpu/reference/reduce.js';
import { arbShape, arbTensor, expectClose, nonContiguous } from '../util/tensors.js';

const f32 = (values: number[], dims: number[]): Tensor => fromNumbers('float32', values, dims);
const i64 = (values: number[], dims = [values.length]): Tensor => fromNumbers('int64', values, dims);
const values = (t: Tensor): number[] => (t.type === 'int64' ? Array.from(t.data as BigInt64Array, Number) : Array.from(t.numbers()));

/** A shape, a subset of its axes (possibly negative), keepdims, a dtype and a tensor of that shape. */
function arbReduceCase(types: DataType[], range = 4) {
  return fc
    .tuple(arbShape({ maxRank: 4, maxDim: 4 }), fc.constantFrom(...types), fc.boolean(), fc.boolean())
    .chain(([shape, type, keepdims, strided]) =>
      fc.tuple(
        arbTensor(type, shape, range),
        fc.subarray([...shape.keys()]).chain((axes) => fc.tuple(...axes.map((a) => fc.constantFrom(a, a - shape.length)))),
        fc.constant(keepdims),
        fc.constant(strided),
      ),
    );
}

/** A tensor of one of `types` (drawn by fast-check) with shape `s`. */
function arbTyped(types: DataType[], s: number[], range: number) {
  return fc.constantFrom(...types).chain((t) => arbTensor(t, s, range));
}

const KINDS: RefReduceKind[] = ['Sum', 'Mean', 'Max', 'Min', 'Prod', 'L1', 'L2', 'LogSum', 'LogSumExp', 'SumSquare'];

describe('Reduce*', () => {
  for (const kind of KINDS) {
    it(`Reduce${kind} matches the reference (float32, float64, int32; negative axes; strided)`, () => {
      fc.assert(
        fc.property(arbReduceCase(['float32', 'float64', 'int32'], kind === 'Prod' ? 2 : 4), ([x, axes, keepdims, strided]) => {
          const input = strided ? nonContiguous(x) : x;
          const got = runOp(`Reduce${kind}`, [input, i64(axes)], { keepdims: keepdims ? 1 : 0 })[0]!;
          const norm = axes.map((a) => (a < 0 ? a + x.rank : a));
          // an empty axes list reduces everything (noop_with_empty_axes = 0)
          const resolved = norm.length ? norm : [...x.dims.keys()];
          expectClose(got, refReduce(x, kind, resolved, keepdims), { rtol: 1e-5, atol: 1e-5 });
        }),
        { numRuns: 40 },
      );
    });
  }

  it('float16 and int64 inputs reduce like the reference', () => {
    fc.assert(
      fc.property(arbReduceCase(['float16', 'int64', 'uint8'], 3), fc.constantFrom<RefReduceKind>('Sum', 'Max', 'Min', 'Mean', 'SumSquare'), ([x, axes, keepdims], kind) => {
        const got = runOp(`Reduce${kind}`, [x, i64(axes)], { keepdims: keepdims ? 1 : 0 })[0]!;
        const norm = axes.map((a) => (a < 0 ? a + x.rank : a));
        expectClose(got, refReduce(x, kind, norm.length ? norm : [...x.dims.keys()], keepdims), { rtol: 2e-3, atol: 1e-3 });
      }),
      { numRuns: 40 },
    );
  });

  it('Operators.md examples: ReduceSum/ReduceMean keepdims on [3, 2, 2]', () => {
    const data = f32([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], [3, 2, 2]);
    const s = ops.reduceSum(data, [1]);
    expect([...s.dims]).toEqual([3, 1, 2]);
    expect(values(s)).toEqual([4, 6, 12, 14, 20, 22]);
    expect(values(ops.reduceSum(data))).toEqual([78]);
    expect([...ops.reduceSum(data).dims]).toEqual([1, 1, 1]);
    const m = ops.reduceMean(f32([5, 1, 20, 2, 30, 1, 40, 2, 55, 1, 60, 2], [3, 2, 2]), [1], { keepdims: false });
    expect([...m.dims]).toEqual([3, 2]);
    expect(values(m)).toEqual([12.5, 1.5, 35, 1.5, 57.5, 1.5]);
    expect(values(ops.reduceProd(data, [-2]))).toEqual([3, 8, 35, 48, 99, 120]);
    expect(values(ops.reduceL1(data, [2]))).toEqual([3, 7, 11, 15, 19, 23]);
    expectClose(ops.reduceL2(data, [2], { keepdims: false }), f32([2.236068, 5, 7.81025, 10.630146, 13.453624, 16.278820], [3, 2]));
    expect(values(ops.reduceSumSquare(data, [2]))).toEqual([5, 25, 61, 113, 181, 265]);
    expectClose(ops.reduceLogSumExp(f32([1000, 1000], [2]), [0]), f32([1000 + Math.log(2)], [1]));
  });

  it('noop_with_empty_axes keeps the input (and applies the elementwise part)', () => {
    const x = f32([1, 2, 3, 4], [2, 2]);
    expect(values(ops.reduceSum(x, [], { noopWithEmptyAxes: true }))).toEqual([1, 2, 3, 4]);
    expect(values(ops.reduceSumSquare(x, undefined, { noopWithEmptyAxes: true }))).toEqual([1, 4, 9, 16]);
    expectClose(ops.reduceLogSum(x, [], { noopWithEmptyAxes: true }), f32([0, Math.log(2), Math.log(3), Math.log(4)], [2, 2]));
    expect(values(ops.reduceSum(x, []))).toEqual([10]);
  });

  it('reductions over an empty set give the identity', () => {
    const x = fromNumbers('float32', [], [2, 0, 4]);
    expect(values(ops.reduceSum(x, [1]))).toEqual(new Array(8).fill(0));
    expect(values(ops.reduceProd(x, [1]))).toEqual(new Array(8).fill(1));
    expect(values(ops.reduceMax(x, [1]))).toEqual(new Array(8).fill(-Infinity));
    expect(values(ops.reduceMin(x, [1]))).toEqual(new Array(8).fill(Infinity));
    expect(values(ops.reduceLogSumExp(x, [1]))).toEqual(new Array(8).fill(-Infinity));
    expect(values(ops.reduceLogSum(x, [1]))).toEqual(new Array(8).fill(-Infinity));
    expect(values(ops.reduceL2(x, [1]))).toEqual(new Array(8).fill(0));
    expect(values(ops.reduceMax(fromNumbers('int32', [], [0]), [0]))).toEqual([-(2 ** 31)]);
    expect(values(ops.reduceMin(fromNumbers('uint8', [], [0]), [0]))).toEqual([255]);
    expect(values(ops.reduceMax(fromNumbers('int64', [], [0]), [0]))).toEqual([Number(-(2n ** 63n))]);
    // a zero-sized kept axis gives an empty output
    const z = ops.reduceSum(x, [2]);
    expect([...z.dims]).toEqual([2, 0, 1]);
  });

  it('ReduceMax/Min on bool (False < True)', () => {
    const b = fromNumbers('bool', [1, 1, 1, 0, 0, 1, 0, 0], [4, 2]);
    const mx = ops.reduceMax(b, [1]);
    expect(mx.type).toBe('bool');
    expect(values(mx)).toEqual([1, 1, 1, 0]);
    expect(values(ops.reduceMin(b, [1]))).toEqual([1, 0, 0, 0]);
  });

  it('NaN propagates through max and min', () => {
    const x = f32([1, NaN, 3, 2], [2, 2]);
    expect(values(ops.reduceMax(x, [1]))[0]).toBeNaN();
    expect(values(ops.reduceMin(x, [0]))[1]).toBeNaN();
    expect(values(ops.reduceMax(x, [1]))[1]).toBe(3);
  });

  it('int64 sums are exact beyond 2^53', () => {
    const big = new Tensor('int64', BigInt64Array.of(2n ** 60n, 1n, 3n), [3]);
    const s = ops.reduceSum(big);
    expect((s.data as BigInt64Array)[0]).toBe(2n ** 60n + 4n);
  });

  it('accepts the attribute form of axes before opset 18 (13 for ReduceSum) and rejects it after', () => {
    const x = f32([1, 2, 3, 4, 5, 6], [2, 3]);
    expect(values(runOp('ReduceMean', [x], { axes: [1], keepdims: 0 }, { opset: 13 })[0]!)).toEqual([2, 5]);
    expect(values(runOp('ReduceSum', [x], { axes: [-2] }, { opset: 11 })[0]!)).toEqual([5, 7, 9]);
    expect(values(runOp('ReduceSum', [x], {}, { opset: 11 })[0]!)).toEqual([21]);
    expect(() => runOp('ReduceMean', [x], { axes: [1] }, { opset: 18 })).toThrow(/attribute 'axes' exists only before opset 18/);
    expect(() => runOp('ReduceSum', [x], { axes: [1] }, { opset: 13 })).toThrow(OpValidationError);
  });

  it('rejects bad axes and dtypes with clear messages', () => {
    const x = f32([1, 2, 3, 4, 5, 6], [2, 3]);
    expect(() => ops.reduceSum(x, [2])).toThrow(OpValidationError);
    expect(() => ops.reduceSum(x, [2])).toThrow(/axis 2 is out of range for input shape \[2, 3\]/);
    expect(() => ops.reduceSum(x, [1, -1])).toThrow(/repeat an axis/);
    expect(() => runOp('ReduceSum', [x, fromNumbers('int32', [0], [1])])).toThrow(/'axes' has type int32; expected int64/);
    expect(() => ops.reduceSum(fromNumbers('bool', [1, 0], [2]))).toThrow(/type bool/);
    expect(() => runOp('ReduceSum', [x], { keepdim: 1 })).toThrow(/unknown attribute 'keepdim'/);
  });
});

describe('ArgMax / ArgMin', () => {
  it('match the reference on random shapes (ties drawn often, strided inputs)', () => {
    fc.assert(
      fc.property(
        arbShape({ minRank: 1, maxRank: 4, minDim: 1, maxDim: 4 }).chain((s) =>
          fc.tuple(arbTyped(['float32', 'int32', 'int64'], s, 2), fc.integer({ min: -s.length, max: s.length - 1 })),
        ),
        fc.boolean(),
        fc.boolean(),
        fc.boolean(),
        fc.boolean(),
        ([x, axis], keepdims, last, isMin, strided) => {
          const input = strided ? nonContiguous(x) : x;
          const f = isMin ? ops.argMin : ops.argMax;
          const got = f(input, axis, { keepdims, selectLastIndex: last });
          expectClose(got, refArg(x, axis < 0 ? axis + x.rank : axis, keepdims, last, isMin));
        },
      ),
      { numRuns: 60 },
    );
  });

  it('Operators.md examples', () => {
    const data = f32([2, 1, 3, 10], [2, 2]);
    expect(values(ops.argMax(data))).toEqual([1, 1]);
    expect(values(ops.argMax(data, 1))).toEqual([0, 1]);
    expect(values(ops.argMin(data, 1, { keepdims: false }))).toEqual([1, 0]);
    const ties = f32([2, 2, 3, 10], [2, 2]);
    expect(values(ops.argMax(ties, 1))).toEqual([0, 1]);
    expect(values(ops.argMax(ties, 1, { selectLastIndex: true }))).toEqual([1, 1]);
    expect(ops.argMax(ties, 1).type).toBe('int64');
  });

  it('rejects an empty axis, a scalar and an out-of-range axis', () => {
    expect(() => ops.argMax(fromNumbers('float32', [], [2, 0]), 1)).toThrow(/axis 1 is empty/);
    expect(() => ops.argMax(f32([1], []))).toThrow(/scalar/);
    expect(() => ops.argMin(f32([1, 2], [2]), 1)).toThrow(/axis 1 is out of range/);
  });
});

describe('TopK', () => {
  it('matches the reference (largest/smallest, ties by lower index, strided, several dtypes)', () => {
    fc.assert(
      fc.property(
        arbShape({ minRank: 1, maxRank: 3, minDim: 0, maxDim: 5 }).chain((s) =>
          fc.tuple(
            arbTyped(['float32', 'float64', 'int32', 'int64'], s, 3),
            fc.integer({ min: -s.length, max: s.length - 1 }).chain((axis) => fc.tuple(fc.constant(axis), fc.integer({ min: 0, max: s[axis < 0 ? axis + s.length : axis]! }))),
          ),
        ),
        fc.boolean(),
        fc.boolean(),
        ([x, [axis, k]], largest, strided) => {
          const input = strided ? nonContiguous(x) : x;
          const got = ops.topK(input, k, { axis, largest });
          const want = refTopK(x, k, axis < 0 ? axis + x.rank : axis, largest);
          expectClose(got.values, want.values);
          expectClose(got.indices, want.indices);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('Operators.md example, the opset-1 attribute form, and errors', () => {
    const x = f32([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], [3, 4]);
    const { values: v, indices } = ops.topK(x, 3, { axis: 1 });
    expect(values(v)).toEqual([3, 2, 1, 7, 6, 5, 11, 10, 9]);
    expect(values(indices)).toEqual([3, 2, 1, 3, 2, 1, 3, 2, 1]);
    const small = ops.topK(x, 3, { axis: 1, largest: false });
    expect(values(small.values)).toEqual([0, 1, 2, 4, 5, 6, 8, 9, 10]);
    const same = ops.topK(fromNumbers('int64', [0, 0, 0, 0], [4]), 3, { axis: 0 });
    expect(values(same.indices)).toEqual([0, 1, 2]);
    const old = runOp('TopK', [x], { k: 2, axis: -1 }, { opset: 9 });
    expect(values(old[0]!)).toEqual([3, 2, 7, 6, 11, 10]);
    expect(() => runOp('TopK', [x], { k: 2 }, { opset: 11 })).toThrow(/attribute 'k' exists only before opset 10/);
    expect(() => ops.topK(x, 5, { axis: 1 })).toThrow(/k = 5 is out of range/);
    expect(() => runOp('TopK', [x])).toThrow(/'K' is required/);
  });

  it('puts NaN first when largest (and last when smallest)', () => {
    const x = f32([1, NaN, 3], [3]);
    expect(values(ops.topK(x, 1).indices)).toEqual([1]);
    expect(values(ops.topK(x, 3, { largest: false }).indices)).toEqual([0, 2, 1]);
  });
});

describe('CumSum', () => {
  it('matches the reference (exclusive, reverse, negative axis, strided, float32/float64/int32/int64)', () => {
    fc.assert(
      fc.property(
        arbShape({ minRank: 1, maxRank: 4, maxDim: 4 }).chain((s) =>
          fc.tuple(arbTyped(['float32', 'float64', 'int32', 'int64'], s, 5), fc.integer({ min: -s.length, max: s.length - 1 })),
        ),
        fc.boolean(),
        fc.boolean(),
        fc.boolean(),
        ([x, axis], exclusive, reverse, strided) => {
          const input = strided ? nonContiguous(x) : x;
          expectClose(ops.cumSum(input, axis, { exclusive, reverse }), refCumSum(x, axis < 0 ? axis + x.rank : axis, exclusive, reverse), { rtol: 1e-5, atol: 1e-4 });
        },
      ),
      { numRuns: 60 },
    );
  });

  it('Operators.md examples and an int32 axis input', () => {
    const x = fromNumbers('float64', [1, 2, 3, 4, 5], [5]);
    expect(values(ops.cumSum(x, 0))).toEqual([1, 3, 6, 10, 15]);
    expect(values(ops.cumSum(x, 0, { exclusive: true }))).toEqual([0, 1, 3, 6, 10]);
    expect(values(ops.cumSum(x, 0, { reverse: true }))).toEqual([15, 14, 12, 9, 5]);
    expect(values(ops.cumSum(x, 0, { reverse: true, exclusive: true }))).toEqual([14, 12, 9, 5, 0]);
    const m = fromNumbers('float64', [1, 2, 3, 4, 5, 6], [2, 3]);
    expect(values(runOp('CumSum', [m, fromNumbers('int32', [1], [])])[0]!)).toEqual([1, 3, 6, 4, 9, 15]);
    expect(values(ops.cumSum(m, 0))).toEqual([1, 2, 3, 5, 7, 9]);
    expect(() => runOp('CumSum', [m, i64([0, 1])])).toThrow(/'axis' has shape \[2\]; expected a scalar/);
    expect(() => ops.cumSum(m, 2)).toThrow(/axis 2 is out of range/);
  });
});

describe('Softmax / LogSoftmax / Hardmax', () => {
  const modes = ['Softmax', 'LogSoftmax', 'Hardmax'] as const;
  it('match the reference per axis (opset 13) and on the 2-D coercion (opset 11), float32 and float64', () => {
    fc.assert(
      fc.property(
        arbShape({ minRank: 1, maxRank: 4, maxDim: 4 }).chain((s) =>
          fc.tuple(arbTyped(['float32', 'float64'], s, 5), fc.integer({ min: -s.length, max: s.length - 1 })),
        ),
        fc.constantFrom(...modes),
        fc.constantFrom(11, 13),
        fc.boolean(),
        ([x, axis], mode, opset, strided) => {
          const input = strided ? nonContiguous(x) : x;
          const got = runOp(mode, [input], { axis }, { opset })[0]!;
          expectClose(got, refSoftmax(x, axis < 0 ? axis + x.rank : axis, mode, opset < 13), { rtol: 1e-5, atol: 1e-6 });
        },
      ),
      { numRuns: 60 },
    );
  });

  it('opset 12 and 13 differ: flattened trailing block vs one axis', () => {
    const x = f32([1, 2, 3, 4], [1, 2, 2]);
    const v12 = values(runOp('Softmax', [x], { axis: 1 }, { opset: 12 })[0]!);
    const v13 = values(runOp('Softmax', [x], { axis: 1 }, { opset: 13 })[0]!);
    const e = [1, 2, 3, 4].map(Math.exp);
    const s = e.reduce((a, b) => a + b, 0);
    v12.forEach((v, i) => expect(v).toBeCloseTo(e[i]! / s, 6));
    // per axis 1: pairs (1,3) and (2,4)
    expect(v13[0]).toBeCloseTo(Math.exp(1) / (Math.exp(1) + Math.exp(3)), 6);
    expect(v13[2]).toBeCloseTo(Math.exp(3) / (Math.exp(1) + Math.exp(3)), 6);
    // default axis: 1 before opset 13 (coerced), -1 from 13
    const d11 = values(runOp('Softmax', [x], {}, { opset: 11 })[0]!);
    d11.forEach((v, i) => expect(v).toBeCloseTo(v12[i]!, 7));
    const d13 = values(ops.softmax(x));
    expect(d13[0]).toBeCloseTo(Math.exp(1) / (Math.exp(1) + Math.exp(2)), 6);
  });

  it('Operators.md examples: large numbers stay finite, hardmax picks the first maximum', () => {
    const big = f32([0, 1, 2, 3, 10000, 10001, 10002, 10003], [2, 4]);
    const sm = values(ops.softmax(big));
    const want = [0.032058604, 0.08714432, 0.23688284, 0.6439143];
    sm.forEach((v, i) => expect(v).toBeCloseTo(want[i % 4]!, 6));
    const ls = values(ops.logSoftmax(f32([-1, 0, 1], [1, 3])));
    [-2.4076061, -1.4076061, -0.40760612].forEach((w, i) => expect(ls[i]).toBeCloseTo(w, 6));
    const hm = values(ops.hardmax(f32([3, 0, 1, 2, 2, 3, 1, 0, 0, 1, 3, 2, 0, 1, 2, 3], [4, 4])));
    expect(hm).toEqual([1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]);
    expect(values(ops.hardmax(f32([1, 1, 1, 1], [1, 4])))).toEqual([1, 0, 0, 0]);
  });

  it('float16 input is computed in float32 and encoded back', () => {
    const x = fromNumbers('float16', [1, 2, 3], [3]);
    const y = ops.softmax(x);
    expect(y.type).toBe('float16');
    expectClose(y, fromNumbers('float16', refSoftmax(f32([1, 2, 3], [3]), 0, 'Softmax', false).numbers(), [3]), { rtol: 1e-3 });
  });

  it('rejects integer inputs and out-of-range axes', () => {
    expect(() => ops.softmax(fromNumbers('int32', [1, 2], [2]))).toThrow(/type int32/);
    expect(() => ops.softmax(f32([1, 2], [2]), 1)).toThrow(/axis 1 is out of range for input shape \[2\]/);
    expect(() => runOp('Softmax', [f32([1, 2], [2])], { axis: 3 }, { opset: 11 })).toThrow(/before opset 13/);
  });
});

describe('resource use', () => {
  it('eager calls leave no live tensors behind besides their outputs', () => {
    const x = f32([1, 2, 3, 4, 5, 6], [2, 3]);
    const before = Tensor.liveCount;
    const outs: Tensor[] = [
      ops.reduceSum(x, [1]),
      ops.reduceLogSumExp(x),
      runOp('ReduceMean', [x], { axes: [0] }, { opset: 11 })[0]!,
      ops.argMax(x, 1),
      ...Object.values(ops.topK(x, 2)),
      ops.cumSum(x, 1),
      runOp('CumSum', [x, fromNumbers('int64', [1], [])])[0]!,
      ops.softmax(x),
      runOp('Hardmax', [x], {}, { opset: 11 })[0]!,
    ];
    expect(Tensor.liveCount - before).toBe(outs.length + 1);
    outs.forEach((t) => t.dispose());
  });
});

