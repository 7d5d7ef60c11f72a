/**
 * The register-tiled GPU kernels (src/kernels/gpu/gemm-tiled.ts: four outputs per fragment, vec4 texel reads)
 * against the CPU kernels on random shapes: MatMul with batch broadcasting and 1-D operands, Gemm with
 * transposes, alpha, beta and broadcast C, pointwise Conv as a GEMM, and the four-outputs Conv. N (and the
 * Conv output plane) is drawn freely, so the padded paths (not a multiple of 4) and the aligned ones all run; every property checks
 * that the tiled kernel actually ran (tiledCalls), so a silent fallback to the one-output kernel fails.
 * Then: no recompilation and no texture growth at steady state, and the 'auto' policy keeps tiny products
 * on the one-output kernel.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import '../../src/kernels/cpu/index.js';
import '../../src/ops/index.js';
import '../../src/kernels/gpu/index.js';
import { setGemmTiling, tiledCalls, type GemmTiling } from '../../src/kernels/gpu/gemm-tiled.js';
import { getGpuDevice } from '../../src/kernels/gpu/index.js';
import type { AttrValue } from '../../src/kernels/registry.js';
import { runOp } from '../../src/ops/dispatch.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { arbBroadcastPair, expectClose, randomTensor } from '../util/tensors.js';
import { describeGpu } from './gpu-env.js';

const RUNS = 8;
const TOL = { rtol: 1e-4, atol: 2e-5 };
type Attrs = Record<string, AttrValue | undefined>;

let seed = 7;
const rnd = (dims: readonly number[]): Tensor => randomTensor('float32', dims, seed++, 1);

/** Run `op` on cpu and gpu, compare, and return how many tiled calls (gemm + conv) the gpu run made. */
function tiledVsCpu(op: string, inputs: (Tensor | undefined)[], attrs: Attrs = {}, tol = TOL): number {
  const want = runOp(op, inputs, attrs, { backend: 'cpu' })[0]!;
  const before = tiledCalls.gemm + tiledCalls.conv;
  const got = runOp(op, inputs, attrs, { backend: 'gpu' })[0]!;
  const used = tiledCalls.gemm + tiledCalls.conv - before;
  expect(got.dims).toEqual(want.dims);
  if (got.size > 0) expect(got.location).toBe('gpu');
  expectClose(got, want, { ...tol, label: `${op} ${inputs.map((t) => (t ? `[${t.dims.join(',')}]` : '-')).join(' ')} ${JSON.stringify(attrs)}` });
  got.dispose();
  want.dispose();
  return used;
}

describeGpu('register-tiled GPU MatMul, Gemm and Conv match the CPU', () => {
  let previous: GemmTiling;
  beforeAll(() => {
    previous = setGemmTiling('always');
  });
  afterAll(() => {
    setGemmTiling(previous);
  });

  it('MatMul: random M, K, N (N % 4 any), broadcast batches, 1-D operands', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 1, max: 13 }),
        fc.integer({ min: 1, max: 13 }),
        arbBroadcastPair({ maxRank: 2, maxDim: 3 }),
        fc.constantFrom('both', 'a1d', 'b1d'),
        (m, k, n, [ba, bb], form) => {
          const a = form === 'a1d' ? rnd([k]) : rnd([...ba, m, k]);
          const b = form === 'b1d' ? rnd([k]) : rnd([...bb, k, n]);
          if (a.size === 0 || b.size === 0) return;
          expect(tiledVsCpu('MatMul', [a, b])).toBe(1);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('Gemm: transA, transB, alpha, beta and C broadcast from [], [N], [M, 1], [M, N]', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 1, max: 13 }),
        fc.integer({ min: 1, max: 13 }),
        fc.boolean(),
        fc.boolean(),
        fc.constantFrom('none', 'scalar', 'row', 'col', 'full'),
        fc.constantFrom(1, 0.5, -1.25),
        fc.constantFrom(1, 0, 2.5),
        (m, k, n, ta, tb, cForm, alpha, beta) => {
          const a = rnd(ta ? [k, m] : [m, k]);
          const b = rnd(tb ? [n, k] : [k, n]);
          const cDims = { none: undefined, scalar: [], row: [n], col: [m, 1], full: [m, n] }[cForm];
          const c = cDims ? rnd(cDims) : undefined;
          expect(tiledVsCpu('Gemm', [a, b, c], { transA: ta ? 1 : 0, transB: tb ? 1 : 0, alpha, beta })).toBe(1);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('pointwise Conv (1x1, unit strides, one group) runs as the tiled GEMM, any H*W', () => {
    fc.assert(
      fc.property(
        fc.record({
          n: fc.integer({ min: 1, max: 2 }),
          c: fc.integer({ min: 1, max: 9 }),
          m: fc.integer({ min: 1, max: 9 }),
          h: fc.integer({ min: 1, max: 6 }),
          w: fc.integer({ min: 1, max: 7 }),
          bias: fc.boolean(),
        }),
        (g) => {
          const used = tiledVsCpu('Conv', [rnd([g.n, g.c, g.h, g.w]), rnd([g.m, g.c, 1, 1]), g.bias ? rnd([g.m]) : undefined]);
          expect(used).toBe(1);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('Conv with four outputs per fragment: groups, depthwise, strides, dilations, pads, 1-D and 2-D, any plane', () => {
    fc.assert(
      fc.property(
        fc.record({
          n: fc.integer({ min: 1, max: 2 }),
          groups: fc.integer({ min: 1, max: 3 }),
          cg: fc.integer({ min: 1, max: 3 }),
          mg: fc.integer({ min: 1, max: 2 }),
          h: fc.integer({ min: 3, max: 8 }),
          w: fc.integer({ min: 3, max: 21 }),
          k: fc.integer({ min: 1, max: 5 }),
          s: fc.integer({ min: 1, max: 2 }),
          d: fc.integer({ min: 1, max: 2 }),
          p: fc.integer({ min: 0, max: 2 }),
          oneD: fc.boolean(),
          bias: fc.boolean(),
        }),
        (g) => {
          const c = g.groups * g.cg;
          const m = g.groups * g.mg;
          const span = (g.k - 1) * g.d + 1;
          if (span > g.w + 2 * g.p || (!g.oneD && span > g.h + 2 * g.p)) return;
          const r = g.oneD ? 1 : 2;
          const oh = g.oneD ? 1 : Math.floor((g.h + 2 * g.p - span) / g.s) + 1;
          const ow = Math.floor((g.w + 2 * g.p - span) / g.s) + 1;
          const x = rnd(g.oneD ? [g.n, c, g.w] : [g.n, c, g.h, g.w]);
          const w = rnd(g.oneD ? [m, g.cg, g.k] : [m, g.cg, g.k, g.k]);
          const used = tiledVsCpu('Conv', [x, w, g.bias ? rnd([m]) : undefined], {
            group: g.groups,
            strides: new Array(r).fill(g.s),
            dilations: new Array(r).fill(g.d),
            pads: new Array(2 * r).fill(g.p),
          });
          // pointwise: the tiled GEMM; otherwise the four-outputs kernel (a plane not a multiple of 4 padded)
          expect(used, `plane ${oh}x${ow}`).toBe(1);
        },
      ),
      { numRuns: RUNS * 2 },
    );
    // an explicit case of each kind, whatever the random draw did: row quads (OW a multiple of 4, or padded
    // when OW >= 16) with the input window, strided, dilated and wide kernels; plane quads for narrow outputs
    expect(tiledVsCpu('Conv', [rnd([1, 6, 5, 17]), rnd([6, 1, 5, 5]), rnd([6])], { group: 6, pads: [2, 2, 2, 2] })).toBe(1); // OW 17 -> 20
    expect(tiledVsCpu('Conv', [rnd([2, 4, 5, 35]), rnd([6, 2, 3, 3])], { group: 2, strides: [1, 2], pads: [1, 1, 1, 1] })).toBe(1); // OW 18, strided
    expect(tiledVsCpu('Conv', [rnd([1, 3, 6, 20]), rnd([4, 3, 3, 3]), rnd([4])], { dilations: [1, 2], pads: [0, 2, 0, 2] })).toBe(1); // OW 20, dilated
    expect(tiledVsCpu('Conv', [rnd([1, 2, 3, 24]), rnd([2, 2, 1, 11])], { pads: [0, 5, 0, 5] })).toBe(1); // KW 11: no window
    expect(tiledVsCpu('Conv', [rnd([1, 2, 16]), rnd([3, 2, 3]), rnd([3])], { pads: [1, 1] })).toBe(1); // 1-D, OW 16
    expect(tiledVsCpu('Conv', [rnd([1, 6, 6, 8]), rnd([6, 1, 5, 5]), rnd([6])], { group: 6, pads: [2, 2, 2, 2] })).toBe(1);
    expect(tiledVsCpu('Conv', [rnd([1, 3, 9, 9]), rnd([4, 3, 3, 3])], { strides: [2, 2], pads: [1, 0, 1, 0] })).toBe(1); // 4x4 plane
    expect(tiledVsCpu('Conv', [rnd([1, 3, 9, 9]), rnd([4, 3, 3, 3])], { strides: [2, 2], pads: [1, 1, 1, 1] })).toBe(1); // 5x5 plane, padded
  });

  it('larger shapes: aligned and padded N, K not a multiple of 4, batched attention-like products', () => {
    const tol = { rtol: 2e-4, atol: 1e-4 };
    expect(tiledVsCpu('MatMul', [rnd([64, 64]), rnd([64, 64])], {}, tol)).toBe(1);
    expect(tiledVsCpu('MatMul', [rnd([1, 33, 120]), rnd([120, 50])], {}, tol)).toBe(1);
    expect(tiledVsCpu('MatMul', [rnd([1, 8, 33, 15]), rnd([1, 8, 15, 33])], {}, tol)).toBe(1);
    expect(tiledVsCpu('Gemm', [rnd([37, 30]), rnd([30, 41]), rnd([41])], { transB: 0 }, tol)).toBe(1);
    expect(tiledVsCpu('Gemm', [rnd([30, 37]), rnd([41, 30]), rnd([37, 1])], { transA: 1, transB: 1, alpha: 0.5 }, tol)).toBe(1);
    expect(tiledVsCpu('Conv', [rnd([1, 24, 3, 11]), rnd([20, 24, 1, 1]), rnd([20])], {}, tol)).toBe(1);
  });
});

describeGpu('tiled GPU kernels at steady state', () => {
  it('compile once per signature and leave no texture behind', () => {
    const previous = setGemmTiling('always');
    try {
      const device = getGpuDevice();
      const calls: [string, Tensor[], Attrs][] = [
        ['MatMul', [rnd([2, 5, 12]), rnd([12, 8])], {}], // aligned N
        ['MatMul', [rnd([5, 12]), rnd([12, 7])], {}], // padded N: pad, tiled, drop passes
        ['Gemm', [rnd([12, 5]), rnd([7, 12]), rnd([7])], { transA: 1, transB: 1 }],
        ['Conv', [rnd([1, 4, 3, 5]), rnd([6, 4, 1, 1]), rnd([6])], {}],
        ['Conv', [rnd([1, 4, 4, 6]), rnd([4, 1, 3, 3])], { group: 4, pads: [1, 1, 1, 1] }],
        ['Conv', [rnd([1, 4, 5, 5]), rnd([4, 1, 3, 3])], { group: 4, pads: [1, 1, 1, 1] }], // padded plane: quad + gather
        ['Conv', [rnd([1, 4, 3, 17]), rnd([4, 1, 3, 3])], { group: 4, pads: [1, 1, 1, 1] }], // padded rows: quad + gather
      ];
      const runAll = (): void => {
        for (const [op, inputs, attrs] of calls) {
          const [y] = runOp(op, inputs, attrs, { backend: 'gpu' });
          void y!.data;
          y!.dispose();
        }
      };
      runAll();
      const compiles = device.counters.compiles;
      const live = device.counters.liveTextures;
      const gl = device.counters.glTextures;
      for (let i = 0; i < 3; i++) runAll();
      expect(device.counters.compiles).toBe(compiles);
      expect(device.counters.liveTextures).toBe(live);
      expect(device.counters.glTextures).toBe(gl);
    } finally {
      setGemmTiling(previous);
    }
  });

  it("'auto' keeps tiny products on the one-output kernel and tiles the rest; 'never' never tiles", () => {
    const previous = setGemmTiling('auto');
    try {
      expect(tiledVsCpu('MatMul', [rnd([1, 200]), rnd([200, 2])])).toBe(0); // N < 4
      expect(tiledVsCpu('MatMul', [rnd([3, 3]), rnd([3, 8])])).toBe(0); // K < 4, few flops
      expect(tiledVsCpu('MatMul', [rnd([16, 32]), rnd([32, 24])])).toBe(1);
      expect(tiledVsCpu('Conv', [rnd([1, 16, 4, 4]), rnd([16, 16, 1, 1])])).toBe(1);
      expect(tiledVsCpu('Conv', [rnd([1, 4, 2, 3]), rnd([4, 1, 3, 3])], { group: 4, pads: [1, 1, 1, 1] })).toBe(0); // 24 outputs
      expect(tiledVsCpu('Conv', [rnd([1, 8, 5, 5]), rnd([8, 1, 3, 3])], { group: 8, pads: [1, 1, 1, 1] })).toBe(1); // padded 5x5 planes
      expect(tiledVsCpu('Conv', [rnd([1, 32, 1, 1]), rnd([8, 32, 1, 1])])).toBe(0); // a 1x1 plane (squeeze-excite)
      setGemmTiling('never');
      expect(tiledVsCpu('MatMul', [rnd([16, 32]), rnd([32, 24])])).toBe(0);
      expect(tiledVsCpu('Conv', [rnd([1, 4, 4, 4]), rnd([4, 1, 3, 3])], { group: 4, pads: [1, 1, 1, 1] })).toBe(0);
    } finally {
      setGemmTiling(previous);
    }
  });
});
