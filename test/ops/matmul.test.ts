import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import '../../src/kernels/cpu/index.js';
import { ops, OpValidationError, Tensor, runOp } from '../../src/index.js';
import { poolStats, shutdownPool, startPool } from '../../src/kernels/cpu/pool.js';
import { referenceGemm, referenceMatMul } from '../../src/kernels/cpu/reference/gemm.js';
import type { DataType } from '../../src/tensor/dtype.js';
import { arbShape, arbTensor, expectBitwise, expectClose, nonContiguous, randomTensor } from '../util/tensors.js';

const TOL: Record<string, { rtol: number; atol: number }> = {
  float32: { rtol: 1e-5, atol: 1e-4 },
  float64: { rtol: 1e-12, atol: 1e-12 },
  float16: { rtol: 2e-3, atol: 2e-2 },
};

/** Shapes of a MatMul pair: A [..batchA, M, K] (or [K]), B [..batchB, K, N] (or [K]); batch dims broadcast. */
const arbMatMulShapes = fc
  .record({
    batch: arbShape({ maxRank: 3, maxDim: 3 }),
    dropA: fc.integer({ min: 0, max: 3 }),
    dropB: fc.integer({ min: 0, max: 3 }),
    onesA: fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }),
    onesB: fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }),
    m: fc.integer({ min: 0, max: 6 }),
    k: fc.integer({ min: 0, max: 7 }),
    n: fc.integer({ min: 0, max: 6 }),
    vecA: fc.boolean(),
    vecB: fc.boolean(),
  })
  .map((r) => {
    const bA = r.batch.slice(Math.min(r.dropA, r.batch.length)).map((d, i) => (r.onesA[i] ? 1 : d));
    const bB = r.batch.slice(Math.min(r.dropB, r.batch.length)).map((d, i) => (r.onesB[i] ? 1 : d));
    const a = r.vecA ? [r.k] : [...bA, r.m, r.k];
    const b = r.vecB ? [r.k] : [...bB, r.k, r.n];
    return [a, b] as const;
  });

describe('MatMul', () => {
  for (const type of ['float32', 'float64', 'float16', 'int32', 'uint32', 'int64'] as DataType[]) {
    it(`matches the reference for ${type} (1-D promotion, batch broadcasting, size 0/1, strided inputs)`, () => {
      fc.assert(
        fc.property(
          arbMatMulShapes.chain(([sa, sb]) => fc.tuple(arbTensor(type, sa, 4), arbTensor(type, sb, 4))),
          fc.boolean(),
          ([a, b], strided) => {
            const got = ops.matmul(strided ? nonContiguous(a) : a, strided ? nonContiguous(b) : b);
            expectClose(got, referenceMatMul(a, b), TOL[type] ?? { rtol: 0, atol: 0 });
          },
        ),
        { numRuns: type === 'float32' ? 100 : 40 },
      );
    });
  }

  it('multiplies larger float32 matrices through the packed kernel', () => {
    const a = randomTensor('float32', [2, 37, 150], 3);
    const b = randomTensor('float32', [150, 45], 4);
    expectClose(ops.matmul(a, b), referenceMatMul(a, b), { rtol: 1e-5, atol: 1e-4 });
    const c = randomTensor('float32', [3, 1, 20, 70], 5);
    const d = randomTensor('float32', [4, 70, 33], 6);
    expectClose(ops.matmul(c, d), referenceMatMul(c, d), { rtol: 1e-5, atol: 1e-4 });
  });

  it('computes known products and result shapes', () => {
    const a = new Tensor('float32', [1, 2, 3, 4, 5, 6], [2, 3]);
    const b = new Tensor('float32', [7, 8, 9, 10, 11, 12], [3, 2]);
    expect(Array.from(ops.matmul(a, b).data as Float32Array)).toEqual([58, 64, 139, 154]);
    const v = new Tensor('float32', [1, 2, 3], [3]);
    const dot = ops.matmul(v, v);
    expect(dot.dims).toEqual([]);
    expect(dot.item()).toBe(14);
    expect(ops.matmul(a, v).dims).toEqual([2]);
    expect(Array.from(ops.matmul(a, v).data as Float32Array)).toEqual([14, 32]);
    expect(ops.matmul(new Tensor('float32', new Float32Array(0), [2, 0]), new Tensor('float32', new Float32Array(0), [0, 3])).data).toEqual(new Float32Array(6));
    const i64 = ops.matmul(new Tensor('int64', [3n, -2n], [1, 2]), new Tensor('int64', [5n, 7n], [2, 1]));
    expect(Array.from(i64.data as BigInt64Array)).toEqual([1n]);
    // int32 wraps like C: 65536 * 65536 = 2^32 -> 0
    expect(Array.from(ops.matmul(new Tensor('int32', [65536], [1, 1]), new Tensor('int32', [65536], [1, 1])).data as Int32Array)).toEqual([0]);
  });

  it('is bitwise identical for 1 and 2 threads through runOp', async () => {
    await startPool(2);
    const a = randomTensor('float32', [3, 100, 96], 11);
    const b = randomTensor('float32', [96, 80], 12);
    const one = runOp('MatMul', [a, b], {}, { threads: 1 })[0]!;
    const tasks = poolStats().tasksRun;
    const two = runOp('MatMul', [a, b], {}, { threads: 2 })[0]!;
    expect(poolStats().tasksRun).toBeGreaterThan(tasks);
    expectBitwise(two, one);
  });

  it('rejects bad inputs with clear messages', () => {
    const m23 = new Tensor('float32', new Float32Array(6), [2, 3]);
    const m43 = new Tensor('float32', new Float32Array(12), [4, 3]);
    expect(() => ops.matmul(m23, m43)).toThrow(OpValidationError);
    expect(() => ops.matmul(m23, m43)).toThrow(/MatMul: inner dimensions differ: A has shape \[2, 3\] \(K = 3\) and B has shape \[4, 3\] \(K = 4\)/);
    const scalar = new Tensor('float32', [1], []);
    expect(() => ops.matmul(scalar, m23)).toThrow(/input 'A' has shape \[\] \(rank 0\); expected rank >= 1/);
    const b1 = new Tensor('float32', new Float32Array(2 * 6), [2, 2, 3]);
    const b2 = new Tensor('float32', new Float32Array(3 * 3 * 4), [3, 3, 4]);
    expect(() => ops.matmul(b1, b2)).toThrow(/cannot be broadcast/);
    const i8 = new Tensor('int8', new Int8Array(6), [2, 3]);
    expect(() => ops.matmul(i8, i8)).toThrow(/has type int8; expected one of/);
    const f64 = new Tensor('float64', new Float64Array(6), [3, 2]);
    expect(() => ops.matmul(m23, f64)).toThrow(/must match/);
  });
});

/** Shapes C may take for an M x N Gemm. */
function cShapes(m: number, n: number): (number[] | undefined)[] {
  return [undefined, [], [1], [n], [1, n], [m, 1], [m, n], [1, 1]];
}

describe('Gemm', () => {
  afterAll(async () => {
    await shutdownPool();
  });

  for (const type of ['float32', 'float64', 'float16', 'int32', 'int64'] as DataType[]) {
    it(`matches the reference for ${type} (transposes, alpha/beta, broadcast C, strided inputs)`, () => {
      const isFloat = type.startsWith('float');
      fc.assert(
        fc.property(
          fc
            .record({
              m: fc.integer({ min: 0, max: 9 }),
              n: fc.integer({ min: 0, max: 9 }),
              k: fc.integer({ min: 0, max: 9 }),
              transA: fc.boolean(),
              transB: fc.boolean(),
              cIndex: fc.integer({ min: 0, max: 7 }),
              alpha: isFloat ? fc.constantFrom(1, 0.5, -2, 0) : fc.constantFrom(1, 1, 2, -1),
              beta: isFloat ? fc.constantFrom(1, 0.25, 0, -1) : fc.constantFrom(1, 1, 3, 0),
              strided: fc.boolean(),
            })
            .chain((r) => {
              const cs = cShapes(r.m, r.n)[r.cIndex];
              return fc.tuple(
                fc.constant(r),
                arbTensor(type, r.transA ? [r.k, r.m] : [r.m, r.k], 4),
                arbTensor(type, r.transB ? [r.n, r.k] : [r.k, r.n], 4),
                cs ? arbTensor(type, cs, 4).map((t): Tensor | undefined => t) : fc.constant(undefined),
              );
            }),
          ([r, a, b, c]) => {
            const s = (t: Tensor) => (r.strided ? nonContiguous(t) : t);
            const got = ops.gemm(s(a), s(b), c && s(c), { alpha: r.alpha, beta: r.beta, transA: r.transA, transB: r.transB });
            expectClose(got, referenceGemm(a, b, c, r), TOL[type] ?? { rtol: 0, atol: 0 });
          },
        ),
        { numRuns: type === 'float32' ? 100 : 40 },
      );
    });
  }

  it('runs larger float32 problems on the packed kernel and threads', async () => {
    await startPool(2);
    const a = randomTensor('float32', [200, 90], 21);
    const b = randomTensor('float32', [120, 200], 22);
    const c = randomTensor('float32', [120], 23);
    const attrs = { transA: 1, transB: 1, alpha: 0.5, beta: 2 };
    const one = runOp('Gemm', [a, b, c], attrs, { threads: 1 })[0]!;
    const tasks = poolStats().tasksRun;
    const two = runOp('Gemm', [a, b, c], attrs, { threads: 2 })[0]!;
    expect(poolStats().tasksRun).toBeGreaterThan(tasks);
    expectBitwise(two, one);
    expectClose(one, referenceGemm(a, b, c, { transA: true, transB: true, alpha: 0.5, beta: 2 }), { rtol: 1e-5, atol: 1e-4 });
  });

  it('computes the known answer and ignores C when beta is 0', () => {
    const a = new Tensor('float32', [1, 2, 3, 4], [2, 2]);
    const b = new Tensor('float32', [5, 6, 7, 8], [2, 2]);
    const c = new Tensor('float32', [10, 20], [2]);
    // A B = [[19, 22], [43, 50]]; 0.5 * that + 2 * C
    expect(Array.from(ops.gemm(a, b, c, { alpha: 0.5, beta: 2 }).data as Float32Array)).toEqual([29.5, 51, 41.5, 65]);
    // A^T B^T = [[23, 31], [34, 46]]
    expect(Array.from(ops.gemm(a, b, undefined, { transA: true, transB: true }).data as Float32Array)).toEqual([23, 31, 34, 46]);
    const nan = new Tensor('float32', [NaN], [1]);
    expect(Array.from(ops.gemm(a, b, nan, { beta: 0 }).data as Float32Array)).toEqual([19, 22, 43, 50]);
  });

  it('accepts the legacy broadcast attribute (opset 6) and C omitted', () => {
    const a = randomTensor('float32', [3, 4], 1);
    const b = randomTensor('float32', [4, 5], 2);
    const c = randomTensor('float32', [5], 3);
    const old = runOp('Gemm', [a, b, c], { broadcast: 1, alpha: 1, beta: 1 }, { opset: 6 })[0]!;
    expectClose(old, referenceGemm(a, b, c), { rtol: 1e-6, atol: 1e-6 });
    const noC = runOp('Gemm', [a, b], {}, { opset: 13 })[0]!;
    expectClose(noC, referenceGemm(a, b, undefined), { rtol: 1e-6, atol: 1e-6 });
  });

  it('rejects bad inputs with clear messages', () => {
    const a = new Tensor('float32', new Float32Array(6), [2, 3]);
    const b = new Tensor('float32', new Float32Array(8), [4, 2]);
    expect(() => ops.gemm(a, b)).toThrow(OpValidationError);
    expect(() => ops.gemm(a, b)).toThrow(/inner dimensions differ: A has shape \[2, 3\] giving K = 3 and B has shape \[4, 2\] giving K = 4/);
    const a3 = new Tensor('float32', new Float32Array(6), [1, 2, 3]);
    expect(() => ops.gemm(a3, b)).toThrow(/input 'A' has shape \[1, 2, 3\] \(rank 3\); expected rank 2/);
    const b32 = new Tensor('float32', new Float32Array(6), [3, 2]);
    const badC = new Tensor('float32', new Float32Array(3), [3]);
    expect(() => ops.gemm(a, b32, badC)).toThrow(/input 'C' has shape \[3\]; expected a shape unidirectionally broadcastable to \[2, 2\]/);
    expect(() => runOp('Gemm', [a, b32], { transA: 1.5 })).toThrow(/attribute 'transA' must be int/);
    expect(() => runOp('Gemm', [a, b32], { gamma: 1 })).toThrow(/unknown attribute 'gamma'/);
    const u8 = new Tensor('uint8', new Uint8Array(6), [2, 3]);
    expect(() => ops.gemm(u8, u8)).toThrow(/has type uint8; expected one of/);
  });
});
