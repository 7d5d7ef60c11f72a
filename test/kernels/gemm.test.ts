import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chooseGemmPath, GEMM_PATH_COL_VECTOR, GEMM_PATH_NAIVE, GEMM_PATH_PACKED, GEMM_PATH_ROW_VECTOR, sgemm, type GemmArgs } from '../../src/kernels/cpu/gemm.js';
import { poolStats, shutdownPool, startPool } from '../../src/kernels/cpu/pool.js';
import { referenceSgemm } from '../../src/kernels/cpu/reference/gemm.js';
import { KernelError } from '../../src/tensor/errors.js';
import { randomFloats } from '../util/tensors.js';


/** A random GEMM problem: padded leading dimensions, offsets, C pre-filled (NaN when beta is 0). */
interface Problem {
  m: number;
  n: number;
  k: number;
  transA: boolean;
  transB: boolean;
  padA: number;
  padB: number;
  padC: number;
  aOffset: number;
  bOffset: number;
  cOffset: number;
  alpha: number;
  beta: number;
  seed: number;
}

function build(p: Problem): { args: GemmArgs; c0: Float32Array } {
  const aRows = p.transA ? p.k : p.m;
  const aCols = p.transA ? p.m : p.k;
  const bRows = p.transB ? p.n : p.k;
  const bCols = p.transB ? p.k : p.n;
  const lda = aCols + p.padA;
  const ldb = bCols + p.padB;
  const ldc = p.n + p.padC;
  const a = randomFloats(p.aOffset + aRows * lda, p.seed);
  const b = randomFloats(p.bOffset + bRows * ldb, p.seed + 1);
  const c0 = randomFloats(p.cOffset + p.m * ldc, p.seed + 2);
  if (p.beta === 0) c0.fill(NaN);
  return {
    args: { m: p.m, n: p.n, k: p.k, a, aOffset: p.aOffset, lda, transA: p.transA, b, bOffset: p.bOffset, ldb, transB: p.transB, c: c0, cOffset: p.cOffset, ldc, alpha: p.alpha, beta: p.beta },
    c0,
  };
}

function run(args: GemmArgs, c0: Float32Array, impl: (g: GemmArgs) => void, threads?: number): Float32Array {
  const c = c0.slice();
  impl({ ...args, c, threads });
  return c;
}

function expectClose(got: Float32Array, want: Float32Array, k: number): void {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    const x = got[i]!;
    const y = want[i]!;
    // NaN only where neither wrote (padding and offsets of a C pre-filled with NaN)
    if (Number.isNaN(y) && Number.isNaN(x)) continue;
    if (!(Math.abs(x - y) <= 1e-5 * (k + 1) + 1e-5 * Math.abs(y))) throw new Error(`element ${i}: got ${x}, expected ${y}`);
  }
}

function expectBitwise(x: Float32Array, y: Float32Array, label: string): void {
  const a = new Uint32Array(x.buffer, x.byteOffset, x.length);
  const b = new Uint32Array(y.buffer, y.byteOffset, y.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) throw new Error(`${label}: element ${i} differs (${x[i]} vs ${y[i]})`);
}

const dim = (max: number) => fc.oneof({ weight: 1, arbitrary: fc.constantFrom(0, 1) }, { weight: 5, arbitrary: fc.integer({ min: 1, max }) });

function arbProblem(maxM: number, maxN: number, maxK: number): fc.Arbitrary<Problem> {
  return fc.record({
    m: dim(maxM),
    n: dim(maxN),
    k: dim(maxK),
    transA: fc.boolean(),
    transB: fc.boolean(),
    padA: fc.integer({ min: 0, max: 3 }),
    padB: fc.integer({ min: 0, max: 3 }),
    padC: fc.integer({ min: 0, max: 3 }),
    aOffset: fc.integer({ min: 0, max: 5 }),
    bOffset: fc.integer({ min: 0, max: 5 }),
    cOffset: fc.integer({ min: 0, max: 5 }),
    alpha: fc.constantFrom(1, -1, 0.5, 2.25, 0),
    beta: fc.constantFrom(0, 0, 1, -0.5, 3),
    seed: fc.integer({ min: 1, max: 1 << 30 }),
  });
}

describe('sgemm against the reference', () => {
  it('small problems (naive and packed paths, edges, transposes, offsets, alpha/beta)', () => {
    fc.assert(
      fc.property(arbProblem(13, 13, 13), (p) => {
        const { args, c0 } = build(p);
        expectClose(run(args, c0, sgemm), run(args, c0, referenceSgemm), p.k);
      }),
      { numRuns: 150 },
    );
  });

  it('several K blocks and packed panels (k up to 700)', () => {
    fc.assert(
      fc.property(arbProblem(19, 21, 700), (p) => {
        const { args, c0 } = build(p);
        expectClose(run(args, c0, sgemm), run(args, c0, referenceSgemm), p.k);
      }),
      { numRuns: 40 },
    );
  });

  it('row-vector (m = 1) and column-vector (n = 1) paths', () => {
    fc.assert(
      fc.property(arbProblem(300, 300, 300), fc.boolean(), (p, rowVector) => {
        const q = rowVector ? { ...p, m: 1 } : { ...p, n: 1 };
        const { args, c0 } = build(q);
        expectClose(run(args, c0, sgemm), run(args, c0, referenceSgemm), q.k);
      }),
      { numRuns: 40 },
    );
  });

  it('beta = 0 ignores NaN in C on every path; k = 0 gives beta * C', () => {
    for (const [m, n, k] of [
      [3, 4, 5],
      [40, 30, 20],
      [1, 300, 2],
      [300, 1, 2],
      [1, 5000, 2],
      [5000, 1, 2],
    ] as const) {
      const { args, c0 } = build({ m, n, k, transA: false, transB: false, padA: 0, padB: 0, padC: 0, aOffset: 0, bOffset: 0, cOffset: 0, alpha: 1, beta: 0, seed: 3 });
      const c = run(args, c0, sgemm);
      expect(c.some(Number.isNaN)).toBe(false);
    }
    const c = new Float32Array([1, 2, 3, 4]);
    sgemm({ m: 2, n: 2, k: 0, a: new Float32Array(0), lda: 0, b: new Float32Array(0), ldb: 2, c, ldc: 2, beta: 0.5 });
    expect([...c]).toEqual([0.5, 1, 1.5, 2]);
  });

  it('computes a known product', () => {
    // [[1, 2, 3], [4, 5, 6]] x [[7, 8], [9, 10], [11, 12]] = [[58, 64], [139, 154]]
    const a = new Float32Array([1, 2, 3, 4, 5, 6]);
    const b = new Float32Array([7, 8, 9, 10, 11, 12]);
    const c = new Float32Array(4);
    sgemm({ m: 2, n: 2, k: 3, a, lda: 3, b, ldb: 2, c, ldc: 2 });
    expect([...c]).toEqual([58, 64, 139, 154]);
    // the packed path on a larger known product: A = all ones (64 x 100), B[p, j] = j -> C[i, j] = 100 j
    const ones = new Float32Array(64 * 100).fill(1);
    const bj = new Float32Array(100 * 40).map((_, i) => i % 40);
    const c2 = new Float32Array(64 * 40);
    sgemm({ m: 64, n: 40, k: 100, a: ones, lda: 100, b: bj, ldb: 40, c: c2, ldc: 40 });
    expect(chooseGemmPath(64, 40, 100)).toBe(GEMM_PATH_PACKED);
    for (let i = 0; i < 64 * 40; i++) expect(c2[i]).toBe(100 * (i % 40));
  });

  it('chooses paths from the shape alone', () => {
    expect(chooseGemmPath(6, 6, 6)).toBe(GEMM_PATH_NAIVE);
    expect(chooseGemmPath(4, 0, 9)).toBe(GEMM_PATH_NAIVE);
    expect(chooseGemmPath(1, 4096, 4096)).toBe(GEMM_PATH_ROW_VECTOR);
    expect(chooseGemmPath(4096, 1, 4096)).toBe(GEMM_PATH_COL_VECTOR);
    expect(chooseGemmPath(64, 64, 64)).toBe(GEMM_PATH_PACKED);
  });

  it('rejects operands too small for the stated shape', () => {
    const call = () => sgemm({ m: 4, n: 4, k: 4, a: new Float32Array(15), lda: 4, b: new Float32Array(16), ldb: 4, c: new Float32Array(16), ldc: 4 });
    expect(call).toThrow(KernelError);
    expect(call).toThrow(/A needs 16 elements/);
    expect(() => sgemm({ m: 2, n: 3, k: 2, a: new Float32Array(4), lda: 2, b: new Float32Array(6), ldb: 3, c: new Float32Array(6), ldc: 2 })).toThrow(/ldc 2/);
    expect(() => sgemm({ m: -1, n: 3, k: 2, a: new Float32Array(4), lda: 2, b: new Float32Array(6), ldb: 3, c: new Float32Array(6), ldc: 3 })).toThrow(/m = -1/);
  });
});

describe('sgemm on worker threads', () => {
  beforeAll(async () => {
    await startPool(4);
  });
  afterAll(async () => {
    await shutdownPool();
  });

  it('is bitwise identical for threads = 1, 2, 3, 4 and uses the workers', () => {
    const before = poolStats().tasksRun;
    fc.assert(
      fc.property(arbProblem(150, 150, 400), (p) => {
        // large enough to be split (2mnk >= 4 MFLOP) in most runs
        const q = { ...p, m: p.m + 40, n: p.n + 40, k: p.k + 300 };
        const { args, c0 } = build(q);
        const one = run(args, c0, sgemm, 1);
        for (const threads of [2, 3, 4]) expectBitwise(run(args, c0, sgemm, threads), one, `threads ${threads}`);
      }),
      { numRuns: 12 },
    );
    expect(poolStats().tasksRun).toBeGreaterThan(before);
  });

  it('matches the reference when split by rows and by columns', () => {
    for (const [m, n, k] of [
      [300, 40, 200],
      [20, 600, 200],
    ] as const) {
      const { args, c0 } = build({ m, n, k, transA: true, transB: true, padA: 1, padB: 2, padC: 3, aOffset: 1, bOffset: 2, cOffset: 3, alpha: 0.5, beta: -0.5, seed: 9 });
      const before = poolStats().tasksRun;
      const got = run(args, c0, sgemm, 3);
      expect(poolStats().tasksRun).toBeGreaterThan(before);
      expectClose(got, run(args, c0, referenceSgemm), k);
    }
  });
});
