/**
 * Pre-packed GEMM operands (packMatrixA/B, cachedPackedA/B, sgemm's packedA/packedB) and the constant-input
 * flag that lets Conv / MatMul / Gemm use them: results must be bitwise identical to the unpacked call for any
 * thread count, handles of the wrong shape are refused, and the cache is keyed by owner, offset and shape.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cachedPackedA, cachedPackedB, packMatrixA, packMatrixB, setGemmSimd, sgemm, type GemmArgs } from '../../src/kernels/cpu/gemm.js';
import { poolStats, shutdownPool, startPool } from '../../src/kernels/cpu/pool.js';
import { referenceSgemm } from '../../src/kernels/cpu/reference/gemm.js';
import { runOp } from '../../src/ops/dispatch.js';
import '../../src/ops/index.js';
import '../../src/kernels/cpu/index.js';
import { KernelError } from '../../src/tensor/errors.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { randomFloats } from '../util/tensors.js';


interface Problem {
  m: number;
  n: number;
  k: number;
  transA: boolean;
  transB: boolean;
  aOffset: number;
  bOffset: number;
  beta: number;
  seed: number;
}

function build(p: Problem): GemmArgs {
  const aRows = p.transA ? p.k : p.m;
  const aCols = p.transA ? p.m : p.k;
  const bRows = p.transB ? p.n : p.k;
  const bCols = p.transB ? p.k : p.n;
  const lda = aCols + 1;
  const ldb = bCols + 2;
  return {
    m: p.m,
    n: p.n,
    k: p.k,
    a: randomFloats(p.aOffset + aRows * lda, p.seed),
    aOffset: p.aOffset,
    lda,
    transA: p.transA,
    b: randomFloats(p.bOffset + bRows * ldb, p.seed + 1),
    bOffset: p.bOffset,
    ldb,
    transB: p.transB,
    c: randomFloats(p.m * p.n, p.seed + 2),
    ldc: p.n,
    alpha: 1.5,
    beta: p.beta,
  };
}

function run(args: GemmArgs, extra: Partial<GemmArgs>): Float32Array {
  const c = args.c.slice();
  sgemm({ ...args, ...extra, c });
  return c;
}

function expectBitwise(got: Float32Array, want: Float32Array, what: string): void {
  expect(got.length).toBe(want.length);
  const g = new Uint32Array(got.buffer, got.byteOffset, got.length);
  const w = new Uint32Array(want.buffer, want.byteOffset, want.length);
  for (let i = 0; i < w.length; i++) if (g[i] !== w[i]) throw new Error(`${what}: element ${i} is ${got[i]}, expected ${want[i]}`);
}

function packsOf(args: GemmArgs): { packedA: ReturnType<typeof packMatrixA>; packedB: ReturnType<typeof packMatrixB> } {
  return {
    packedA: packMatrixA(args.a, args.aOffset ?? 0, args.lda, args.transA ?? false, args.m, args.k),
    packedB: packMatrixB(args.b, args.bOffset ?? 0, args.ldb, args.transB ?? false, args.k, args.n),
  };
}

const arbProblem = (maxM: number, maxN: number, maxK: number) =>
  fc.record({
    m: fc.integer({ min: 0, max: maxM }),
    n: fc.integer({ min: 0, max: maxN }),
    k: fc.integer({ min: 0, max: maxK }),
    transA: fc.boolean(),
    transB: fc.boolean(),
    aOffset: fc.integer({ min: 0, max: 3 }),
    bOffset: fc.integer({ min: 0, max: 3 }),
    beta: fc.constantFrom(0, 0.5),
    seed: fc.integer({ min: 1, max: 1 << 30 }),
  });

describe('pre-packed operands, one thread', () => {
  it('give bitwise the same C as packing per call (any shape, transposes, offsets, K blocks)', () => {
    fc.assert(
      fc.property(arbProblem(40, 40, 600), (p) => {
        const args = build(p);
        const want = run(args, {});
        const { packedA, packedB } = packsOf(args);
        expectBitwise(run(args, { packedA }), want, 'packedA');
        expectBitwise(run(args, { packedB }), want, 'packedB');
        expectBitwise(run(args, { packedA, packedB }), want, 'both');
      }),
      { numRuns: 60 },
    );
  });

  it('matches the reference GEMM (known-answer: a 2x2 product)', () => {
    const a = Float32Array.of(1, 2, 3, 4);
    const b = Float32Array.of(5, 6, 7, 8);
    const args: GemmArgs = { m: 2, n: 2, k: 2, a, lda: 2, b, ldb: 2, c: new Float32Array(4), ldc: 2 };
    // 2x2x2 takes the direct path; a 20x20x20 product of the same pattern takes the packed one
    expect(Array.from(run(args, packsOf(args)))).toEqual([19, 22, 43, 50]);
    const big = build({ m: 20, n: 24, k: 300, transA: false, transB: true, aOffset: 1, bOffset: 2, beta: 0, seed: 5 });
    const ref = big.c.slice();
    referenceSgemm({ ...big, c: ref });
    const got = run(big, packsOf(big));
    for (let i = 0; i < ref.length; i++) expect(Math.abs(got[i]! - ref[i]!)).toBeLessThanOrEqual(1e-4 * (1 + Math.abs(ref[i]!)));
  });

  it('refuses a handle of another shape or side', () => {
    const args = build({ m: 12, n: 16, k: 20, transA: false, transB: false, aOffset: 0, bOffset: 0, beta: 0, seed: 3 });
    const { packedA, packedB } = packsOf(args);
    expect(() => run({ ...args, m: 8 }, { packedA })).toThrow(KernelError);
    expect(() => run(args, { packedA: packedB })).toThrow(/packedA holds side B/);
    expect(() => run({ ...args, k: 10 }, { packedB })).toThrow(/packedB/);
    expect(() => packMatrixA(new Float32Array(10), 0, 5, false, 4, 5)).toThrow(KernelError);
  });

  it('caches per owner, storage, offset and shape', () => {
    const owner = {};
    const w = randomFloats(2 * 30 * 40, 7);
    const p0 = cachedPackedA(owner, w, 0, 40, false, 30, 40);
    expect(cachedPackedA(owner, w, 0, 40, false, 30, 40)).toBe(p0);
    const p1 = cachedPackedA(owner, w, 30 * 40, 40, false, 30, 40);
    expect(p1).not.toBe(p0);
    expect(cachedPackedA(owner, w, 30 * 40, 40, false, 30, 40)).toBe(p1);
    expect(cachedPackedA({}, w, 0, 40, false, 30, 40)).not.toBe(p0);
    expect(cachedPackedB(owner, w, 0, 40, false, 30, 40)).not.toBe(p0);
    expect(cachedPackedA(owner, w.slice(), 0, 40, false, 30, 40)).not.toBe(p0);
  });
});

describe('pre-packed operands on worker threads', () => {
  beforeAll(async () => {
    await startPool(3);
  });
  afterAll(async () => {
    await shutdownPool();
  });

  it('are bitwise identical for threads = 1, 2, 3, packed or not, split by rows or columns', () => {
    const before = poolStats().tasksRun;
    fc.assert(
      fc.property(arbProblem(120, 120, 300), (p) => {
        const q = { ...p, m: p.m + 60, n: p.n + 60, k: p.k + 200 };
        const args = build(q);
        const want = run(args, { threads: 1 });
        const packs = packsOf(args);
        for (const threads of [2, 3]) {
          expectBitwise(run(args, { threads }), want, `threads ${threads}`);
          expectBitwise(run(args, { threads, packedA: packs.packedA }), want, `threads ${threads} packedA`);
          expectBitwise(run(args, { threads, packedB: packs.packedB }), want, `threads ${threads} packedB`);
          expectBitwise(run(args, { threads, ...packs }), want, `threads ${threads} both`);
        }
      }),
      { numRuns: 10 },
    );
    for (const [m, n] of [
      [400, 40],
      [24, 900],
    ] as const) {
      const args = build({ m, n, k: 300, transA: true, transB: false, aOffset: 1, bOffset: 0, beta: 0.5, seed: 11 });
      const want = run(args, { threads: 1 });
      expectBitwise(run(args, { threads: 3, ...packsOf(args) }), want, `${m}x${n}`);
    }
    expect(poolStats().tasksRun).toBeGreaterThan(before);
  });

  it('keeps working with a handle shared before the pool restarted', async () => {
    const args = build({ m: 200, n: 200, k: 200, transA: false, transB: false, aOffset: 0, bOffset: 0, beta: 0, seed: 13 });
    const packs = packsOf(args);
    const want = run(args, { threads: 1 });
    expectBitwise(run(args, { threads: 2, ...packs }), want, 'first pool');
    await shutdownPool();
    await startPool(3);
    const before = poolStats().tasksRun;
    expectBitwise(run(args, { threads: 3, ...packs }), want, 'restarted pool');
    expect(poolStats().tasksRun).toBeGreaterThan(before);
  });

  it('Conv, MatMul and Gemm with constantInputs give the same bits as without, for 1 and 3 threads', () => {
    // sizes above the parallel threshold (2mnk >= 4 MFLOP), so 3 threads really split them
    const before = poolStats().tasksRun;
    const x = new Tensor('float32', randomFloats(1 * 48 * 20 * 40, 21), [1, 48, 20, 40]);
    const w1 = new Tensor('float32', randomFloats(64 * 48, 22), [64, 48, 1, 1]);
    const w3 = new Tensor('float32', randomFloats(64 * 48 * 9, 23), [64, 48, 3, 3]);
    const bias = new Tensor('float32', randomFloats(64, 24), [64]);
    const a = new Tensor('float32', randomFloats(2 * 100 * 90, 25), [2, 100, 90]);
    const bm = new Tensor('float32', randomFloats(90 * 300, 26), [90, 300]);
    const a2 = new Tensor('float32', randomFloats(100 * 90, 27), [100, 90]);
    const bg = new Tensor('float32', randomFloats(300 * 90, 28), [300, 90]);
    const calls: [string, Tensor[], Record<string, number | number[]>][] = [
      ['Conv', [x, w1, bias], {}],
      ['Conv', [x, w3, bias], { pads: [1, 1, 1, 1] }],
      ['MatMul', [a, bm], {}],
      ['Gemm', [a2, bg], { transB: 1, alpha: 0.5 }],
    ];
    for (const [op, inputs, attrs] of calls) {
      const want = runOp(op, inputs, attrs, { threads: 1 })[0]!.data as Float32Array;
      const constantInputs = inputs.map((_, i) => i > 0);
      for (const threads of [1, 3]) {
        for (let repeat = 0; repeat < 2; repeat++) {
          const got = runOp(op, inputs, attrs, { threads, constantInputs })[0]!.data as Float32Array;
          expectBitwise(got, want, `${op} threads ${threads} run ${repeat}`);
        }
      }
    }
    expect(poolStats().tasksRun).toBeGreaterThan(before);
  });
});

describe('rowBias', () => {
  beforeAll(async () => {
    await startPool(3);
  });
  afterAll(async () => {
    await shutdownPool();
  });

  it('gives bitwise C[i, j] += bias[i] after the product, on every path and thread count', () => {
    const shapes: [number, number, number][] = [
      [3, 4, 5], // direct loop
      [1, 300, 40], // row vector
      [300, 1, 40], // column vector
      [37, 45, 600], // packed, 3 K blocks
      [200, 260, 300], // packed, split over threads
    ];
    for (const [m, n, k] of shapes) {
      for (const beta of [0, 0.5]) {
        const args = build({ m, n, k, transA: true, transB: false, aOffset: 2, bOffset: 1, beta, seed: m + n + k });
        const bias = randomFloats(m + 3, 77);
        const want = run(args, {});
        for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) want[i * n + j] += bias[3 + i]!;
        for (const threads of [1, 3]) {
          expectBitwise(run(args, { threads, rowBias: bias, rowBiasOffset: 3 }), want, `${m}x${n}x${k} beta ${beta} threads ${threads}`);
          expectBitwise(run(args, { threads, rowBias: bias, rowBiasOffset: 3, ...packsOf(args) }), want, `${m}x${n}x${k} packed threads ${threads}`);
        }
      }
    }
  });

  it('refuses a bias shorter than m', () => {
    const args = build({ m: 8, n: 8, k: 8, transA: false, transB: false, aOffset: 0, bOffset: 0, beta: 0, seed: 1 });
    expect(() => run(args, { rowBias: new Float32Array(8), rowBiasOffset: 1 })).toThrow(/rowBias needs 9 elements/);
  });
});

describe('the WebAssembly SIMD micro-kernel', () => {
  afterAll(() => {
    setGemmSimd(true);
  });

  it('is available here and gives bitwise the JavaScript kernel result', () => {
    expect(setGemmSimd(true)).toBe(true);
    fc.assert(
      fc.property(arbProblem(70, 70, 600), (p) => {
        const args = build(p);
        setGemmSimd(true);
        const simd = run(args, {});
        const simdPacked = run(args, packsOf(args));
        setGemmSimd(false);
        const scalar = run(args, {});
        const scalarPacked = run(args, packsOf(args));
        expectBitwise(simd, scalar, 'simd vs scalar');
        expectBitwise(simdPacked, scalar, 'simd packed vs scalar');
        expectBitwise(scalarPacked, scalar, 'scalar packed vs scalar');
      }),
      { numRuns: 40 },
    );
  });
});
