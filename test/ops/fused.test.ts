/**
 * Fused operators (FusedConv, FusedGemm, FusedMatMul in domain 'com.tessera'): property tests against the
 * unfused reference (base op then activation through runOp), bit for bit, on random shapes, dtypes,
 * activations and non-contiguous inputs; validation errors; known answers.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import '../../src/kernels/cpu/index.js';
import { referenceFused } from '../util/fused-reference.js';
import '../../src/ops/index.js';
import { runOp1 } from '../../src/ops/dispatch.js';
import { fusedConv, fusedGemm, fusedMatMul, type FusedActivation } from '../../src/ops/fused.js';
import type { DataType } from '../../src/tensor/dtype.js';
import { OpValidationError } from '../../src/tensor/errors.js';
import { fromNumbers, Tensor } from '../../src/tensor/tensor.js';
import { expectBitwise, nonContiguous, randomTensor } from '../util/tensors.js';

const DOMAIN = { domain: 'com.tessera', opset: 1 };

/** An activation with parameters (empty = defaults); Clip bounds are float16-representable. */
const arbActivation: fc.Arbitrary<[FusedActivation, number[]]> = fc.oneof(
  fc.constant<[FusedActivation, number[]]>(['Relu', []]),
  fc.constant<[FusedActivation, number[]]>(['Sigmoid', []]),
  fc.constant<[FusedActivation, number[]]>(['Tanh', []]),
  fc.constant<[FusedActivation, number[]]>(['HardSwish', []]),
  fc.constantFrom<[FusedActivation, number[]]>(['LeakyRelu', []], ['LeakyRelu', [0.25]], ['LeakyRelu', [-1.5]]),
  fc.constantFrom<[FusedActivation, number[]]>(['Clip', []], ['Clip', [0, 6]], ['Clip', [-0.5, 0.75]], ['Clip', [1, -1]]),
  fc.constantFrom<[FusedActivation, number[]]>(['HardSigmoid', []], ['HardSigmoid', [0.5, 0.25]]),
);

const arbFloat = fc.constantFrom<DataType>('float32', 'float32', 'float64', 'float16');

function maybeStrided(t: Tensor, strided: boolean): Tensor {
  return strided ? nonContiguous(t) : t;
}

describe('FusedConv', () => {
  it('equals Conv then the activation, bit for bit', () => {
    fc.assert(
      fc.property(
        fc.record({
          type: arbFloat,
          n: fc.integer({ min: 0, max: 2 }),
          group: fc.integer({ min: 1, max: 2 }),
          cPerGroup: fc.integer({ min: 1, max: 3 }),
          mPerGroup: fc.integer({ min: 1, max: 3 }),
          h: fc.integer({ min: 1, max: 6 }),
          w: fc.integer({ min: 1, max: 6 }),
          kh: fc.integer({ min: 1, max: 3 }),
          kw: fc.integer({ min: 1, max: 3 }),
          stride: fc.integer({ min: 1, max: 2 }),
          pad: fc.integer({ min: 0, max: 1 }),
          bias: fc.boolean(),
          strided: fc.boolean(),
          act: arbActivation,
          seed: fc.integer({ min: 1, max: 1000 }),
        }),
        (p) => {
          const h = Math.max(p.h, p.kh);
          const w = Math.max(p.w, p.kw);
          const c = p.cPerGroup * p.group;
          const m = p.mPerGroup * p.group;
          const x = maybeStrided(randomTensor(p.type, [p.n, c, h, w], p.seed, 3), p.strided);
          const wt = randomTensor(p.type, [m, p.cPerGroup, p.kh, p.kw], p.seed + 1, 1);
          const b = p.bias ? randomTensor(p.type, [m], p.seed + 2, 1) : undefined;
          const attrs = { group: p.group, strides: [p.stride, p.stride], pads: [p.pad, p.pad, p.pad, p.pad] };
          const [activation, params] = p.act;
          const got = fusedConv(x, wt, b, { group: p.group, strides: attrs.strides, pads: attrs.pads, activation, activationParams: params });
          const want = referenceFused('Conv', [x, wt, b], attrs, activation, params);
          expectBitwise(got, want, `${activation} ${p.type}`);
        },
      ),
      { numRuns: 60 },
    );
  });
  it('accepts auto_pad and 1-D/3-D convolutions like Conv', () => {
    const x = randomTensor('float32', [1, 2, 5], 3);
    const w = randomTensor('float32', [3, 2, 3], 4);
    const got = runOp1('FusedConv', [x, w], { auto_pad: 'SAME_UPPER', activation: 'Relu' }, DOMAIN);
    expectBitwise(got, referenceFused('Conv', [x, w], { auto_pad: 'SAME_UPPER' }, 'Relu'));
    const x3 = randomTensor('float32', [1, 1, 3, 3, 3], 5);
    const w3 = randomTensor('float32', [2, 1, 2, 2, 2], 6);
    expectBitwise(fusedConv(x3, w3, undefined, { activation: 'Tanh' }), referenceFused('Conv', [x3, w3], {}, 'Tanh'));
  });
  it('known answer: 1x1 conv with bias, then Relu / Clip', () => {
    const x = fromNumbers('float32', [1, -2, 3, -4], [1, 1, 2, 2]);
    const w = fromNumbers('float32', [2], [1, 1, 1, 1]);
    const b = fromNumbers('float32', [1], [1]);
    expect(Array.from(fusedConv(x, w, b, { activation: 'Relu' }).data as Float32Array)).toEqual([3, 0, 7, 0]);
    expect(Array.from(fusedConv(x, w, b, { activation: 'Clip', activationParams: [-5, 6] }).data as Float32Array)).toEqual([3, -3, 6, -5]);
    // Relu maps -0 to +0, as the standalone kernel does
    const zero = fusedConv(fromNumbers('float32', [-0], [1, 1, 1, 1]), fromNumbers('float32', [1], [1, 1, 1, 1]), undefined, { activation: 'Relu' });
    expect(Object.is((zero.data as Float32Array)[0], 0)).toBe(true);
  });
});

describe('FusedGemm and FusedMatMul', () => {
  it('FusedGemm equals Gemm then the activation, bit for bit', () => {
    fc.assert(
      fc.property(
        fc.record({
          type: arbFloat,
          m: fc.integer({ min: 0, max: 5 }),
          k: fc.integer({ min: 0, max: 5 }),
          n: fc.integer({ min: 0, max: 5 }),
          transA: fc.boolean(),
          transB: fc.boolean(),
          cShape: fc.constantFrom('none', 'full', 'row', 'scalar'),
          alpha: fc.constantFrom(1, 0.5, -2),
          beta: fc.constantFrom(1, 0, 1.5),
          strided: fc.boolean(),
          act: arbActivation,
          seed: fc.integer({ min: 1, max: 1000 }),
        }),
        (p) => {
          const a = maybeStrided(randomTensor(p.type, p.transA ? [p.k, p.m] : [p.m, p.k], p.seed, 2), p.strided);
          const b = randomTensor(p.type, p.transB ? [p.n, p.k] : [p.k, p.n], p.seed + 1, 2);
          const cDims = { none: undefined, full: [p.m, p.n], row: [p.n], scalar: [] }[p.cShape];
          const c = cDims ? randomTensor(p.type, cDims, p.seed + 2, 2) : undefined;
          const attrs = { alpha: p.alpha, beta: p.beta, transA: p.transA ? 1 : 0, transB: p.transB ? 1 : 0 };
          const [activation, params] = p.act;
          const got = fusedGemm(a, b, c, { alpha: p.alpha, beta: p.beta, transA: p.transA, transB: p.transB, activation, activationParams: params });
          expectBitwise(got, referenceFused('Gemm', [a, b, c], attrs, activation, params), `${activation} ${p.type}`);
        },
      ),
      { numRuns: 60 },
    );
  });
  it('FusedMatMul equals MatMul then the activation (batched, broadcast, 1-D), bit for bit', () => {
    fc.assert(
      fc.property(
        fc.record({
          type: arbFloat,
          batchA: fc.constantFrom<number[]>([], [2], [1], [2, 1]),
          batchB: fc.constantFrom<number[]>([], [2], [1]),
          m: fc.integer({ min: 0, max: 4 }),
          k: fc.integer({ min: 1, max: 4 }),
          n: fc.integer({ min: 0, max: 4 }),
          vecA: fc.boolean(),
          vecB: fc.boolean(),
          strided: fc.boolean(),
          act: arbActivation,
          seed: fc.integer({ min: 1, max: 1000 }),
        }),
        (p) => {
          const aDims = p.vecA ? [p.k] : [...p.batchA, p.m, p.k];
          const bDims = p.vecB ? [p.k] : [...p.batchB, p.k, p.n];
          const a = maybeStrided(randomTensor(p.type, aDims, p.seed, 2), p.strided);
          const b = randomTensor(p.type, bDims, p.seed + 1, 2);
          const [activation, params] = p.act;
          const got = fusedMatMul(a, b, { activation, activationParams: params });
          expectBitwise(got, referenceFused('MatMul', [a, b], {}, activation, params), `${activation} ${p.type}`);
        },
      ),
      { numRuns: 60 },
    );
  });
  it('known answer: MatMul + Sigmoid and Gemm + HardSigmoid', () => {
    const a = fromNumbers('float32', [1, 2], [1, 2]);
    const b = fromNumbers('float32', [1, -1], [2, 1]);
    expect((fusedMatMul(a, b, { activation: 'Sigmoid' }).data as Float32Array)[0]).toBeCloseTo(1 / (1 + Math.exp(1)), 6);
    expect((fusedGemm(a, b, undefined, { activation: 'HardSigmoid' }).data as Float32Array)[0]).toBeCloseTo(0.3, 6);
  });
});

describe('fused operator validation', () => {
  const x = randomTensor('float32', [1, 1, 3, 3], 1);
  const w = randomTensor('float32', [1, 1, 2, 2], 2);
  it('rejects an unknown activation and a wrong parameter count', () => {
    expect(() => runOp1('FusedConv', [x, w], { activation: 'Gelu' }, DOMAIN)).toThrow(OpValidationError);
    expect(() => runOp1('FusedConv', [x, w], { activation: 'Gelu' }, DOMAIN)).toThrow(/FusedConv: attribute 'activation' is 'Gelu'; expected one of Relu/);
    expect(() => runOp1('FusedConv', [x, w], { activation: 'Clip', activation_params: [1] }, DOMAIN)).toThrow(/'activation_params' has 1 values \[1\]; activation Clip takes 2/);
    expect(() => runOp1('FusedMatMul', [x, w], {}, DOMAIN)).toThrow(/attribute 'activation' is required/);
  });
  it('keeps the base operator checks (ranks, channels, inner dims) and rejects integer types', () => {
    expect(() => runOp1('FusedConv', [x, randomTensor('float32', [1, 2, 2, 2], 3)], { activation: 'Relu' }, DOMAIN)).toThrow(/Conv: input 'W' has shape \[1, 2, 2, 2\]/);
    expect(() => runOp1('FusedGemm', [randomTensor('float32', [2, 3], 1), randomTensor('float32', [2, 3], 2)], { activation: 'Relu' }, DOMAIN)).toThrow(/inner dimensions differ/);
    expect(() => runOp1('FusedGemm', [randomTensor('float32', [2], 1), randomTensor('float32', [2, 3], 2)], { activation: 'Relu' }, DOMAIN)).toThrow(/input 'A' has shape \[2\] \(rank 1\); expected rank 2/);
    const i32 = fromNumbers('int32', [1, 2, 3, 4], [2, 2]);
    expect(() => runOp1('FusedMatMul', [i32, i32], { activation: 'Relu' }, DOMAIN)).toThrow(/input 0 'A' has type int32; expected one of float32, float16, float64/);
    expect(() => runOp1('FusedMatMul', [i32, i32], { activation: 'Relu', bogus: 1 }, DOMAIN)).toThrow(/unknown attribute 'bogus'/);
  });
});
