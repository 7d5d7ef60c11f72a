import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import '../../src/kernels/cpu/index.js';
import { fromNumbers, ops, OpValidationError, runOp, Tensor, type DataType } from '../../src/index.js';
import {
  refCumProd,
  refEyeLike,
  refLrn,
  refNegativeLogLikelihoodLoss,
  refRmsNormalization,
  refShrink,
  refSoftmaxCrossEntropyLoss,
  refSwiGLU,
  refSwish,
  refTensorScatter,
} from '../../src/kernels/cpu/reference/misc.js';
import { arbShape, arbTensor, expectBitwise, expectClose, nonContiguous } from '../util/tensors.js';

const f32 = (values: number[], dims: number[]): Tensor => fromNumbers('float32', values, dims);
const i64 = (values: number[], dims: number[]): Tensor => fromNumbers('int64', values, dims);
const values = (t: Tensor): number[] => Array.from(t.numbers());
const floatType = fc.constantFrom<DataType>('float32', 'float64', 'float16');
const tolOf = (t: DataType): { rtol: number; atol: number } => (t === 'float16' ? { rtol: 2e-3, atol: 2e-3 } : { rtol: 1e-4, atol: 1e-5 });

describe('LRN', () => {
  it('matches the reference (rank 2..4, sizes 1..6, strided, float16/32/64)', () => {
    fc.assert(
      fc.property(
        fc.tuple(arbShape({ minRank: 2, maxRank: 4, maxDim: 4 }), floatType, fc.boolean()).chain(([s, t, strided]) => fc.tuple(arbTensor(t, s, 3), fc.constant(strided))),
        fc.integer({ min: 1, max: 6 }),
        fc.float({ min: Math.fround(0.01), max: Math.fround(2), noNaN: true }),
        fc.float({ min: Math.fround(0.1), max: Math.fround(1), noNaN: true }),
        ([x, strided], size, alpha, beta) => {
          const got = ops.lrn(strided ? nonContiguous(x) : x, size, { alpha, beta, bias: 2 });
          expectClose(got, refLrn(x, size, alpha, beta, 2), tolOf(x.type));
        },
      ),
      { numRuns: 60 },
    );
  });
  it('known answer: size 3 over 3 channels', () => {
    // channel 0 sees channels 0..1, channel 1 all three, channel 2 channels 1..2
    const y = ops.lrn(f32([1, 2, 3], [1, 3, 1, 1]), 3, { alpha: 3, beta: 1, bias: 1 });
    const expected = [1 / (1 + 1 * 5), 2 / (1 + 14), 3 / (1 + 13)];
    values(y).forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 6));
  });
  it('rejects rank 1, size 0 and a missing size', () => {
    expect(() => ops.lrn(f32([1, 2], [2]), 3)).toThrow(/LRN: input 'X' has shape \[2\] \(rank 1\); expected rank >= 2/);
    expect(() => ops.lrn(f32([1, 2], [1, 2]), 0)).toThrow(/LRN: attribute 'size' is 0; expected a positive number/);
    expect(() => runOp('LRN', [f32([1, 2], [1, 2])], {})).toThrow(/LRN: attribute 'size' is required/);
  });
});

describe('CumProd', () => {
  for (const type of ['float32', 'float64', 'float16', 'int32', 'uint32', 'int64'] as DataType[]) {
    it(`matches the reference (${type}, every axis, exclusive/reverse, strided)`, () => {
      fc.assert(
        fc.property(
          arbShape({ minRank: 1, maxRank: 3, maxDim: 5 }).chain((s) => fc.tuple(arbTensor(type, s, type === 'float16' ? 2 : 40), fc.integer({ min: -s.length, max: s.length - 1 }))),
          fc.boolean(),
          fc.boolean(),
          fc.boolean(),
          ([x, axis], exclusive, reverse, strided) => {
            const got = ops.cumProd(strided ? nonContiguous(x) : x, axis, { exclusive, reverse });
            const want = refCumProd(x, axis, exclusive, reverse);
            if (type.startsWith('float')) expectClose(got, want, { rtol: type === 'float16' ? 2e-3 : 1e-5, atol: 1e-6 });
            else expectBitwise(got, want, `CumProd ${type}`);
          },
        ),
        { numRuns: 40 },
      );
    });
  }
  it('known answers from Operators.md', () => {
    const x = f32([1, 2, 3], [3]);
    expect(values(ops.cumProd(x, 0))).toEqual([1, 2, 6]);
    expect(values(ops.cumProd(x, 0, { exclusive: true }))).toEqual([1, 1, 2]);
    expect(values(ops.cumProd(x, 0, { reverse: true }))).toEqual([6, 6, 3]);
    expect(values(ops.cumProd(x, 0, { exclusive: true, reverse: true }))).toEqual([6, 3, 1]);
    // int32 products wrap like C
    expect(Array.from(ops.cumProd(fromNumbers('int32', [65536, 65536, 3], [3]), 0).data as Int32Array)).toEqual([65536, 0, 0]);
  });
  it('rejects a bad axis, a non-scalar axis, a scalar x and int8 data', () => {
    expect(() => ops.cumProd(f32([1, 2], [2]), 1)).toThrow(/CumProd: axis 1 is out of range for input shape \[2\]/);
    expect(() => runOp('CumProd', [f32([1, 2], [2]), i64([0, 0], [2])])).toThrow(/CumProd: input 'axis' has shape \[2\]; expected a scalar/);
    expect(() => ops.cumProd(f32([1], []), 0)).toThrow(/CumProd: input 'x' is a scalar/);
    expect(() => ops.cumProd(fromNumbers('int8', [1], [1]), 0)).toThrow(/CumProd: input 0 'x' has type int8/);
  });
});

describe('RMSNormalization', () => {
  it('matches the reference (any axis, scale broadcast, strided, mixed dtypes)', () => {
    fc.assert(
      fc.property(
        fc
          .tuple(arbShape({ minRank: 1, maxRank: 4, maxDim: 4 }), floatType, floatType, fc.boolean())
          .chain(([s, tx, ts, strided]) =>
            fc.tuple(
              arbTensor(tx, s, 3),
              fc.integer({ min: -s.length, max: s.length - 1 }),
              fc.integer({ min: 0, max: s.length }).chain((keep) => fc.array(fc.boolean(), { minLength: keep, maxLength: keep }).map((ones) => s.slice(s.length - keep).map((d, i) => (ones[i] ? 1 : d)))),
              fc.constant(ts),
              fc.constant(strided),
            ),
          )
          .chain(([x, axis, sdims, ts, strided]) => fc.tuple(fc.constant(x), fc.constant(axis), arbTensor(ts, sdims, 2), fc.constant(strided))),
        ([x, axis, scale, strided]) => {
          const got = ops.rmsNormalization(strided ? nonContiguous(x) : x, scale, { axis, epsilon: 1e-3 });
          const tol = x.type === 'float16' || scale.type === 'float16' ? { rtol: 3e-3, atol: 3e-3 } : { rtol: 1e-4, atol: 1e-5 };
          expectClose(got, refRmsNormalization(x, scale, axis, 1e-3), tol);
        },
      ),
      { numRuns: 80 },
    );
  });
  it('known answer: [3, 4] row has rms sqrt(12.5)', () => {
    const y = ops.rmsNormalization(f32([3, 4], [1, 2]), f32([1, 2], [2]), { epsilon: 0 });
    const r = Math.sqrt(12.5);
    expect(values(y)[0]).toBeCloseTo(3 / r, 6);
    expect(values(y)[1]).toBeCloseTo(8 / r, 6);
  });
  it('rejects a scale that does not broadcast, a bad axis and a bad stash_type', () => {
    expect(() => ops.rmsNormalization(f32([1, 2, 3, 4], [2, 2]), f32([1, 2, 3], [3]))).toThrow(/RMSNormalization: input 'scale' has shape \[3\], which does not broadcast to input shape \[2, 2\]/);
    expect(() => ops.rmsNormalization(f32([1, 2], [2]), f32([1], [1]), { axis: 1 })).toThrow(/RMSNormalization: attribute axis 1 is out of range for input shape \[2\]/);
    expect(() => runOp('RMSNormalization', [f32([1], [1]), f32([1], [1])], { stash_type: 7 })).toThrow(/attribute 'stash_type' is 7/);
  });
});

describe('Swish, SwiGLU, Shrink', () => {
  it('Swish and SwiGLU match the reference', () => {
    fc.assert(
      fc.property(
        fc.tuple(arbShape({ maxRank: 3 }), floatType).chain(([s, t]) => fc.tuple(arbTensor(t, s, 8), arbTensor(t, s, 8))),
        fc.float({ min: Math.fround(-2), max: Math.fround(2), noNaN: true }),
        fc.boolean(),
        ([a, b], alpha, strided) => {
          const x = strided ? nonContiguous(a) : a;
          expectClose(ops.swish(x, alpha), refSwish(a, alpha), tolOf(a.type));
          expectClose(ops.swiGLU(x, b, alpha), refSwiGLU(a, b, alpha), tolOf(a.type));
        },
      ),
      { numRuns: 50 },
    );
  });
  for (const type of ['float32', 'float64', 'float16', 'int8', 'uint8', 'int32', 'int64'] as DataType[]) {
    it(`Shrink matches the reference (${type})`, () => {
      fc.assert(
        fc.property(
          arbShape({ maxRank: 3 }).chain((s) => arbTensor(type, s, 10)),
          fc.float({ min: Math.fround(0), max: Math.fround(3), noNaN: true }),
          fc.float({ min: Math.fround(-2), max: Math.fround(2), noNaN: true }),
          (x, lambd, bias) => {
            const got = ops.shrink(x, { lambd, bias });
            const want = refShrink(x, lambd, bias);
            if (type.startsWith('float')) expectClose(got, want, tolOf(type));
            else expectBitwise(got, want, `Shrink ${type}`);
          },
        ),
        { numRuns: 30 },
      );
    });
  }
  it('known answers', () => {
    expect(values(ops.shrink(f32([-2, -1, 0, 1, 2], [5]), { lambd: 1.5 }))).toEqual([-2, 0, 0, 0, 2]);
    expect(values(ops.shrink(f32([-2, -1, 0, 1, 2], [5]), { lambd: 1.5, bias: 1.5 }))).toEqual([-0.5, 0, 0, 0, 0.5]);
    expect(values(ops.swish(f32([0], [1])))).toEqual([0]);
    expect(values(ops.swish(f32([1], [1])))[0]).toBeCloseTo(1 / (1 + Math.exp(-1)), 6);
  });
  it('SwiGLU rejects shapes that differ (no broadcasting) and Swish rejects ints', () => {
    expect(() => ops.swiGLU(f32([1, 2], [2]), f32([1], [1]))).toThrow(/SwiGLU: input 'B' has shape \[1\] but 'A' has \[2\]/);
    expect(() => ops.swish(fromNumbers('int32', [1], [1]))).toThrow(/Swish: input 0 'X' has type int32/);
  });
});

describe('EyeLike', () => {
  it('matches the reference for every k and several dtypes', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 5 }),
        fc.integer({ min: 0, max: 5 }),
        fc.integer({ min: -6, max: 6 }),
        fc.constantFrom<DataType>('float32', 'float16', 'int64', 'bool', 'uint8', 'float64'),
        (r, c, k, type) => {
          const x = fromNumbers('int32', new Array<number>(r * c).fill(7), [r, c]);
          expectBitwise(ops.eyeLike(x, { k, dtype: type }), refEyeLike([r, c], type, k), `EyeLike ${type}`);
        },
      ),
      { numRuns: 60 },
    );
  });
  it('takes the input dtype by default and rejects rank 3 and bad dtype codes', () => {
    const e = ops.eyeLike(fromNumbers('int32', [0, 0, 0, 0], [2, 2]));
    expect(e.type).toBe('int32');
    expect(Array.from(e.data as Int32Array)).toEqual([1, 0, 0, 1]);
    expect(() => ops.eyeLike(f32([0], [1, 1, 1]))).toThrow(/EyeLike: input 'input' has shape \[1, 1, 1\] \(rank 3\); expected rank 2/);
    expect(() => runOp('EyeLike', [f32([0], [1, 1])], { dtype: 99 })).toThrow(OpValidationError);
  });
});

describe('TensorScatter', () => {
  it('matches the reference (linear and circular, any axis but 0, several dtypes)', () => {
    fc.assert(
      fc.property(
        fc
          .tuple(arbShape({ minRank: 2, maxRank: 4, minDim: 1, maxDim: 4 }), fc.constantFrom<DataType>('float32', 'int64', 'bool', 'float16'), fc.boolean())
          .chain(([s, type, circular]) =>
            fc.integer({ min: 1, max: s.length - 1 }).chain((axis) =>
              fc.integer({ min: 0, max: s[axis]! }).chain((seq) => {
                const u = [...s];
                u[axis] = seq;
                const maxStart = s[axis]! - seq;
                return fc.tuple(
                  arbTensor(type, s),
                  arbTensor(type, u),
                  fc.array(circular ? fc.integer({ min: 0, max: 9 }) : fc.integer({ min: 0, max: maxStart }), { minLength: s[0]!, maxLength: s[0]! }),
                  fc.constant(axis),
                  fc.constant(circular),
                  fc.boolean(),
                );
              }),
            ),
          ),
        ([past, update, writes, axis, circular, withWrites]) => {
          const mode = circular ? 'circular' : 'linear';
          const w = withWrites ? writes : undefined;
          const got = ops.tensorScatter(past, update, { writeIndices: w ? i64(w, [w.length]) : undefined, axis, mode });
          expectBitwise(got, refTensorScatter(past, update, w, axis, mode), 'TensorScatter');
        },
      ),
      { numRuns: 60 },
    );
  });
  it('rejects axis 0, a mismatched update, an out-of-range linear write and a bad mode', () => {
    const past = f32(new Array<number>(8).fill(0), [2, 4]);
    expect(() => ops.tensorScatter(past, f32([1, 1], [2, 1]), { axis: 0 })).toThrow(/TensorScatter: attribute 'axis' is 0, the batch dimension/);
    expect(() => ops.tensorScatter(past, f32([1, 1, 1], [3, 1]), { axis: 1 })).toThrow(/input 'update' has shape \[3, 1\]; expected the shape of 'past_cache' \[2, 4\]/);
    expect(() => ops.tensorScatter(past, f32([1, 1, 1, 1], [2, 2]), { axis: 1, writeIndices: i64([3, 0], [2]) })).toThrow(/input 'write_indices'\[0\] is 3; linear mode needs/);
    expect(() => runOp('TensorScatter', [past, f32([1, 1], [2, 1])], { axis: 1, mode: 'ring' })).toThrow(/attribute 'mode' is 'ring'/);
  });
});

/** Scores, targets (some equal to the ignore index) and weights for the loss tests. */
function arbLossCall(type: DataType) {
  return fc
    .tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 1, max: 4 }), arbShape({ maxRank: 2, maxDim: 3 }))
    .chain(([n, c, rest]) => {
      const tdims = [n, ...rest];
      const count = tdims.reduce((p, d) => p * d, 1);
      return fc.tuple(
        arbTensor(type, [n, c, ...rest], 3),
        fc.array(fc.integer({ min: -1, max: c - 1 }), { minLength: count, maxLength: count }).map((v) => i64(v, tdims)),
        arbTensor(type, [c], 2).map((w) => fromNumbers(type, values(w).map((v) => Math.abs(v) + 0.25), [c])),
      );
    });
}

describe('NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss', () => {
  it('match the references (reductions, weights, ignore_index, rank 2..4)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom<DataType>('float32', 'float64', 'float16').chain((t) => arbLossCall(t)),
        fc.constantFrom('none', 'sum', 'mean'),
        fc.boolean(),
        fc.boolean(),
        ([x, target, weight], reduction, useWeight, strided) => {
          const w = useWeight ? weight : undefined;
          const red = reduction as 'none' | 'sum' | 'mean';
          const tol = x.type === 'float16' ? { rtol: 3e-3, atol: 3e-3 } : { rtol: 1e-4, atol: 1e-5 };
          const input = strided ? nonContiguous(x) : x;
          expectClose(ops.negativeLogLikelihoodLoss(input, target, { weight: w, reduction: red, ignoreIndex: -1 }), refNegativeLogLikelihoodLoss(x, target, w, red, -1), tol);
          const got = ops.softmaxCrossEntropyLoss(input, target, { weight: w, reduction: red, ignoreIndex: -1 });
          const want = refSoftmaxCrossEntropyLoss(x, target, w, red, -1);
          expectClose(got.loss, want.loss, tol);
          expectClose(got.logProb, want.logProb, tol);
        },
      ),
      { numRuns: 80 },
    );
  });
  it('known answers from Operators.md (NLL examples 1-3)', () => {
    const input = f32([1, 2, 2, 2, 3, 2, 0, 1, 2, 2, 1, 2], [2, 3, 2]);
    const target = i64([2, 1, 0, 2], [2, 2]);
    expect(values(ops.negativeLogLikelihoodLoss(input, target, { reduction: 'none' }))).toEqual([-3, -2, -0, -2]);
    const weight = f32([0.2, 0.3, 0.1], [3]);
    expect(values(ops.negativeLogLikelihoodLoss(input, target, { weight, reduction: 'sum' }))[0]).toBeCloseTo(-1.1, 5);
    expect(values(ops.negativeLogLikelihoodLoss(input, target, { weight }))[0]).toBeCloseTo(-1.1 / 0.7, 5); // Operators.md prints -1.57
  });
  it('SoftmaxCrossEntropyLoss of equal scores is log(C)', () => {
    const { loss, logProb } = ops.softmaxCrossEntropyLoss(f32([0, 0, 0, 0], [1, 4]), i64([2], [1]));
    expect(values(loss)[0]).toBeCloseTo(Math.log(4), 6);
    expect(values(logProb)[0]).toBeCloseTo(-Math.log(4), 6);
  });
  it('returns only the loss when a graph node asks for one output', () => {
    const out = runOp('SoftmaxCrossEntropyLoss', [f32([0, 1], [1, 2]), i64([1], [1])], {}, { numOutputs: 1 });
    expect(out).toHaveLength(1);
  });
  it('rejects bad shapes, out-of-range targets and a bad reduction', () => {
    const x = f32([0, 0, 0, 0, 0, 0], [2, 3]);
    expect(() => ops.negativeLogLikelihoodLoss(x, i64([0, 1, 2], [3]))).toThrow(/NegativeLogLikelihoodLoss: input 'target' has shape \[3\]; expected \[2\]/);
    expect(() => ops.negativeLogLikelihoodLoss(x, i64([0, 3], [2]))).toThrow(/input 'target' holds 3 at flat index 1; expected a class in \[0, 3\)/);
    expect(() => ops.negativeLogLikelihoodLoss(x, i64([0, 1], [2]), { weight: f32([1, 1], [2]) })).toThrow(/input 'weight' has shape \[2\]; expected \[3\]/);
    expect(() => ops.softmaxCrossEntropyLoss(f32([0], [1]), i64([0], [1]))).toThrow(/SoftmaxCrossEntropyLoss: input 'scores' has shape \[1\] \(rank 1\)/);
    expect(() => runOp('SoftmaxCrossEntropyLoss', [x, i64([0, 1], [2])], { reduction: 'avg' })).toThrow(/attribute 'reduction' is 'avg'/);
    expect(() => ops.negativeLogLikelihoodLoss(x, fromNumbers('float32', [0, 1], [2]))).toThrow(/input 1 'target' has type float32/);
  });
});
