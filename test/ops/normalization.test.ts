import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import '../../src/kernels/cpu/index.js';
import { ops, OpValidationError, runOp, fromNumbers, Tensor, type DataType } from '../../src/index.js';
import {
  refBatchNorm,
  refBatchNormTraining,
  refGroupNorm,
  refInstanceNorm,
  refLayerNorm,
  refLpNorm,
  refMVN,
} from '../../src/kernels/cpu/reference/normalization.js';
import { arbShape, arbTensor, expectClose, nonContiguous } from '../util/tensors.js';

const f32 = (values: number[], dims: number[]): Tensor => fromNumbers('float32', values, dims);
const values = (t: Tensor): number[] => Array.from(t.numbers());
const floatType = fc.constantFrom<DataType>('float32', 'float64');
const tol = { rtol: 1e-4, atol: 1e-4 };

/** A positive-valued tensor (variances). */
function arbPositive(type: DataType, dims: number[]) {
  return arbTensor(type, dims, 4).map((t) => fromNumbers(type, values(t).map((v) => Math.abs(v) + 0.5), dims));
}

describe('BatchNormalization', () => {
  it('inference mode matches the reference (rank 1..5, strided, float32/float64)', () => {
    fc.assert(
      fc.property(
        fc.tuple(arbShape({ minRank: 1, maxRank: 5, maxDim: 3 }), floatType, fc.boolean()).chain(([s, t, strided]) => {
          const c = s.length === 1 ? 1 : s[1]!;
          return fc.tuple(arbTensor(t, s), arbTensor(t, [c]), arbTensor(t, [c]), arbTensor(t, [c]), arbPositive(t, [c]), fc.constant(strided));
        }),
        fc.float({ min: Math.fround(1e-5), max: Math.fround(0.1), noNaN: true }),
        ([x, scale, bias, mean, variance, strided], eps) => {
          const input = strided ? nonContiguous(x) : x;
          expectClose(ops.batchNormalization(input, scale, bias, mean, variance, { epsilon: eps }), refBatchNorm(x, scale, bias, mean, variance, eps), tol);
        },
      ),
      { numRuns: 50 },
    );
  });

  it('training mode returns Y with batch statistics and the running statistics', () => {
    fc.assert(
      fc.property(
        fc.tuple(arbShape({ minRank: 2, maxRank: 4, minDim: 1, maxDim: 3 }), floatType).chain(([s, t]) =>
          fc.tuple(arbTensor(t, s), arbTensor(t, [s[1]!]), arbTensor(t, [s[1]!]), arbTensor(t, [s[1]!]), arbPositive(t, [s[1]!])),
        ),
        ([x, scale, bias, mean, variance]) => {
          const got = runOp('BatchNormalization', [x, scale, bias, mean, variance], { training_mode: 1, momentum: 0.8, epsilon: 1e-3 });
          const want = refBatchNormTraining(x, scale, bias, mean, variance, 1e-3, 0.8);
          expect(got.length).toBe(3);
          got.forEach((g, i) => expectClose(g, want[i]!, tol));
        },
      ),
      { numRuns: 30 },
    );
  });

  it('known answer (Operators.md example) and legacy attributes', () => {
    const x = f32([-1, 0, 1, 2, 3, 4], [1, 2, 1, 3]);
    const s = f32([1, 1.5], [2]);
    const b = f32([0, 1], [2]);
    const mean = f32([0, 3], [2]);
    const v = f32([1, 1.5], [2]);
    const y = values(ops.batchNormalization(x, s, b, mean, v));
    const want = [-0.999995, 0, 0.999995, -0.22474074, 1, 2.2247407];
    y.forEach((q, i) => expect(q).toBeCloseTo(want[i]!, 5));
    // opset 6: is_test and consumed_inputs are accepted; opset 7: spatial
    const y6 = runOp('BatchNormalization', [x, s, b, mean, v], { is_test: 1, consumed_inputs: [0, 0, 0, 1, 1] }, { opset: 6 })[0]!;
    expectClose(y6, f32(y, [1, 2, 1, 3]), tol);
    // spatial = 0: one statistic per element of the [C, H, W] block
    const ns = f32([1, 2, 3, 4, 5, 6], [6]);
    const y7 = runOp('BatchNormalization', [x, ns, fromNumbers('float32', new Array(6).fill(0), [6]), fromNumbers('float32', new Array(6).fill(0), [6]), fromNumbers('float32', new Array(6).fill(1), [6])], { spatial: 0, epsilon: 0 }, { opset: 7 })[0]!;
    expect(values(y7)).toEqual([-1, 0, 3, 8, 15, 24]);
  });

  it('rejects wrong parameter shapes and legacy attributes in the wrong opset', () => {
    const x = f32([1, 2, 3, 4, 5, 6], [1, 2, 3]);
    const p2 = f32([1, 1], [2]);
    const p3 = f32([1, 1, 1], [3]);
    expect(() => ops.batchNormalization(x, p3, p2, p2, p2)).toThrow(OpValidationError);
    expect(() => ops.batchNormalization(x, p3, p2, p2, p2)).toThrow(/input 'scale' has shape \[3\]; expected \[2\]/);
    expect(() => runOp('BatchNormalization', [x, p2, p2, p2, p2], { spatial: 0 }, { opset: 15 })).toThrow(/'spatial' exists only in opsets 7 and 8/);
    expect(() => ops.batchNormalization(fromNumbers('int32', [1, 2], [1, 2]), p2, p2, p2, p2)).toThrow(/type int32/);
  });
});

describe('InstanceNormalization / GroupNormalization', () => {
  it('InstanceNormalization matches the reference', () => {
    fc.assert(
      fc.property(
        fc.tuple(arbShape({ minRank: 3, maxRank: 4, minDim: 1, maxDim: 3 }), floatType, fc.boolean()).chain(([s, t, strided]) =>
          fc.tuple(arbTensor(t, s), arbTensor(t, [s[1]!]), arbTensor(t, [s[1]!]), fc.constant(strided)),
        ),
        ([x, scale, bias, strided]) => {
          expectClose(ops.instanceNormalization(strided ? nonContiguous(x) : x, scale, bias, { epsilon: 1e-3 }), refInstanceNorm(x, scale, bias, 1e-3), tol);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('GroupNormalization matches the reference (opset 21 per-channel scale)', () => {
    fc.assert(
      fc.property(
        fc
          .tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 2 }), arbShape({ minRank: 0, maxRank: 2, minDim: 1, maxDim: 3 }), floatType)
          .chain(([n, g, per, spatial, t]) => {
            const c = g * per;
            return fc.tuple(arbTensor(t, [n, c, ...spatial]), arbTensor(t, [c]), arbTensor(t, [c]), fc.constant(g));
          }),
        ([x, scale, bias, g]) => {
          expectClose(ops.groupNormalization(x, scale, bias, g, { epsilon: 1e-3 }), refGroupNorm(x, scale, bias, g, 1e-3), tol);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('GroupNormalization opset 18 takes one scale/bias value per group', () => {
    const x = f32([1, 2, 3, 4, 5, 6, 7, 8], [1, 4, 2]);
    const y18 = runOp('GroupNormalization', [x, f32([2, 3], [2]), f32([0, 1], [2])], { num_groups: 2 }, { opset: 18 })[0]!;
    const y21 = ops.groupNormalization(x, f32([2, 2, 3, 3], [4]), f32([0, 0, 1, 1], [4]), 2);
    expectClose(y18, y21);
    const [gs, gb, ls] = [f32([2, 3], [2]), f32([0, 1], [2]), f32([1, 1], [2])];
    const live = Tensor.liveCount;
    runOp('GroupNormalization', [x, gs, gb], { num_groups: 2 }, { opset: 18 })[0]!.dispose();
    ops.layerNormalization(x, ls).dispose();
    expect(Tensor.liveCount).toBe(live);
    expect(() => runOp('GroupNormalization', [x, f32([1, 1, 1, 1], [4]), f32([1, 1], [2])], { num_groups: 2 }, { opset: 18 })).toThrow(/'scale' has shape \[4\]; expected \[2\] \(one value per group before opset 21\)/);
    expect(() => ops.groupNormalization(x, f32([1, 1, 1], [3]), f32([1, 1, 1], [3]), 3)).toThrow(/num_groups = 3 must be positive and divide the 4 channels/);
    expect(() => ops.groupNormalization(x, f32([1, 1], [2]), f32([1, 1], [2]), 2)).toThrow(/'scale' has shape \[2\]; expected \[4\]/);
  });

  it('InstanceNormalization known answer and rank check', () => {
    const x = f32([-1, 0, 1, 2, 3, 4], [1, 2, 1, 3]);
    const y = values(ops.instanceNormalization(x, f32([1, 1.5], [2]), f32([0, 1], [2])));
    const want = [-1.2247356, 0, 1.2247356, -0.8371034, 1, 2.8371034];
    y.forEach((q, i) => expect(q).toBeCloseTo(want[i]!, 5));
    expect(() => ops.instanceNormalization(f32([1, 2], [1, 2]), f32([1, 1], [2]), f32([1, 1], [2]))).toThrow(/expected rank >= 3/);
  });
});

describe('LayerNormalization', () => {
  it('matches the reference for every axis, with and without bias, broadcast scale', () => {
    fc.assert(
      fc.property(
        fc
          .tuple(arbShape({ minRank: 1, maxRank: 4, minDim: 1, maxDim: 3 }), floatType, fc.boolean(), fc.boolean(), fc.boolean())
          .chain(([s, t, withBias, fullScale, strided]) =>
            fc.integer({ min: -s.length, max: s.length - 1 }).chain((axis) => {
              const a = axis < 0 ? axis + s.length : axis;
              // scale either the full normalised block or its last dim only (broadcast)
              const pdims = fullScale ? s.slice(a) : [s[s.length - 1]!];
              return fc.tuple(arbTensor(t, s), arbTensor(t, pdims), withBias ? arbTensor(t, pdims) : fc.constant(undefined), fc.constant(axis), fc.constant(strided));
            }),
          ),
        ([x, scale, bias, axis, strided]) => {
          const got = runOp('LayerNormalization', [strided ? nonContiguous(x) : x, scale, bias], { axis, epsilon: 1e-3 });
          const want = refLayerNorm(x, scale, bias, axis < 0 ? axis + x.rank : axis, 1e-3);
          got.forEach((g, i) => expectClose(g, want[i]!, tol));
        },
      ),
      { numRuns: 50 },
    );
  });

  it('a per-row scale (not a trailing block) broadcasts correctly', () => {
    const x = f32([1, 2, 3, 4, 6, 8], [2, 3]);
    const scale = f32([1, 10], [2, 1]);
    const y = ops.layerNormalization(x, scale, undefined, { axis: 1, epsilon: 0 });
    expectClose(y, refLayerNorm(x, scale, undefined, 1, 0)[0]!, tol);
    expect(values(y)[3]).toBeCloseTo(-10 * Math.sqrt(1.5), 4);
  });

  it('known answer, output dtypes and errors', () => {
    const x = f32([1, 2, 3, 4], [2, 2]);
    const [y, mean, inv] = runOp('LayerNormalization', [x, f32([1, 1], [2]), f32([0, 0], [2])], { epsilon: 0 });
    expect(values(y!)).toEqual([-1, 1, -1, 1]);
    expect([...mean!.dims]).toEqual([2, 1]);
    expect(values(mean!)).toEqual([1.5, 3.5]);
    expect(values(inv!)).toEqual([2, 2]);
    expect(mean!.type).toBe('float32');
    const h = ops.layerNormalization(fromNumbers('float16', [1, 2, 3, 4], [2, 2]), fromNumbers('float16', [1, 1], [2]));
    expect(h.type).toBe('float16');
    expect(() => ops.layerNormalization(x, f32([1, 1, 1], [3]))).toThrow(/'Scale' has shape \[3\], which does not broadcast/);
    expect(() => ops.layerNormalization(x, f32([1, 1], [2]), undefined, { axis: 2 })).toThrow(/axis 2 is out of range/);
    expect(() => runOp('LayerNormalization', [x, f32([1, 1], [2])], { stash_type: 7 })).toThrow(/stash_type/);
  });
});

describe('MeanVarianceNormalization / LpNormalization', () => {
  it('MVN matches the reference over random axes', () => {
    fc.assert(
      fc.property(
        fc.tuple(arbShape({ minRank: 1, maxRank: 4, minDim: 1, maxDim: 3 }), floatType).chain(([s, t]) =>
          fc.tuple(arbTensor(t, s), fc.subarray([...s.keys()], { minLength: 1 })),
        ),
        ([x, axes]) => expectClose(ops.meanVarianceNormalization(x, axes), refMVN(x, axes), tol),
      ),
      { numRuns: 40 },
    );
  });

  it('MVN default axes [0, 2, 3] and a known answer', () => {
    const x = f32([1, 3, 5, 7], [2, 1, 1, 2]);
    const y = values(ops.meanVarianceNormalization(x));
    // mean 4, population std sqrt(5)
    y.forEach((v, i) => expect(v).toBeCloseTo(([1, 3, 5, 7][i]! - 4) / Math.sqrt(5), 5));
    expect(() => ops.meanVarianceNormalization(f32([1, 2], [2]))).toThrow(/axis 2 is out of range/);
  });

  it('LpNormalization matches the reference (p = 1, 2; zero lines stay zero)', () => {
    fc.assert(
      fc.property(
        fc.tuple(arbShape({ minRank: 1, maxRank: 4, maxDim: 3 }), floatType).chain(([s, t]) =>
          fc.tuple(arbTensor(t, s, 2), fc.integer({ min: -s.length, max: s.length - 1 }), fc.constantFrom<1 | 2>(1, 2)),
        ),
        ([x, axis, p]) => expectClose(ops.lpNormalization(x, { axis, p }), refLpNorm(x, axis < 0 ? axis + x.rank : axis, p), tol),
      ),
      { numRuns: 40 },
    );
    expect(values(ops.lpNormalization(fromNumbers('float64', [3, 4, 0, 0], [2, 2])))).toEqual([0.6, 0.8, 0, 0]);
    expect(() => runOp('LpNormalization', [f32([1], [1])], { p: 3 })).toThrow(/only 1 and 2/);
  });
});
