/**
 * The depthwise convolution kernel (src/kernels/cpu/depthwise.ts) on sizes large enough to take its
 * multi-threaded path: random geometries (3-, 5- and 7-wide kernels, which take its three interior loops;
 * strides, dilations, asymmetric pads, channel multipliers, batches) compared with the direct reference Conv,
 * and bitwise identical with 1 and 2 threads, with the pool really running tasks.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import '../../src/kernels/cpu/index.js';
import { DEPTHWISE_PARALLEL_MIN_FLOPS } from '../../src/kernels/cpu/depthwise.js';
import { poolStats, shutdownPool, startPool } from '../../src/kernels/cpu/pool.js';
import { refConv } from '../../src/kernels/cpu/reference/conv.js';
import '../../src/ops/index.js';
import { runOp } from '../../src/ops/dispatch.js';
import { expectBitwise, expectClose, randomTensor } from '../util/tensors.js';

interface Case {
  batch: number;
  channels: number;
  multiplier: number;
  h: number;
  w: number;
  kh: number;
  kw: number;
  strides: [number, number];
  dilations: [number, number];
  pads: [number, number, number, number];
  bias: boolean;
}

const arbCase: fc.Arbitrary<Case> = fc.record({
  batch: fc.integer({ min: 1, max: 2 }),
  channels: fc.integer({ min: 2, max: 24 }),
  multiplier: fc.integer({ min: 1, max: 2 }),
  h: fc.integer({ min: 8, max: 20 }),
  w: fc.integer({ min: 8, max: 48 }),
  kh: fc.constantFrom(1, 3, 5),
  kw: fc.constantFrom(1, 3, 5, 7),
  strides: fc.tuple(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 2 })),
  dilations: fc.tuple(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 2 })),
  pads: fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 })),
  bias: fc.boolean(),
});

function inputs(c: Case, seed: number) {
  const x = randomTensor('float32', [c.batch, c.channels, c.h, c.w], seed, 2);
  const w = randomTensor('float32', [c.channels * c.multiplier, 1, c.kh, c.kw], seed + 1);
  const b = c.bias ? randomTensor('float32', [c.channels * c.multiplier], seed + 2) : undefined;
  const attrs = { strides: c.strides, dilations: c.dilations, pads: c.pads, group: c.channels };
  return { x, w, b, attrs };
}

describe('depthwise convolution kernel', () => {
  beforeAll(async () => {
    await startPool(2);
  });
  afterAll(async () => {
    await shutdownPool();
  });

  it('matches the reference and is bitwise identical on 1 and 2 threads', () => {
    fc.assert(
      fc.property(arbCase, fc.integer({ min: 1, max: 1000 }), (c, seed) => {
        const { x, w, b, attrs } = inputs(c, seed);
        // skip windows larger than the padded input (Conv rejects them; conv.test.ts covers that)
        if (c.h + c.pads[0] + c.pads[2] < (c.kh - 1) * c.dilations[0] + 1 || c.w + c.pads[1] + c.pads[3] < (c.kw - 1) * c.dilations[1] + 1) return;
        const one = runOp('Conv', [x, w, b], attrs, { threads: 1 })[0]!;
        const two = runOp('Conv', [x, w, b], attrs, { threads: 2 })[0]!;
        expectBitwise(two, one);
        expectClose(one, refConv(x, w, b, attrs), { rtol: 1e-5, atol: 1e-5 });
      }),
      { numRuns: 40 },
    );
  });

  it('hands planes to a worker on a large input', () => {
    const c: Case = { batch: 1, channels: 64, multiplier: 1, h: 24, w: 80, kh: 5, kw: 5, strides: [1, 1], dilations: [1, 1], pads: [2, 2, 2, 2], bias: true };
    expect(2 * c.channels * c.h * c.w * c.kh * c.kw).toBeGreaterThanOrEqual(DEPTHWISE_PARALLEL_MIN_FLOPS);
    const { x, w, b, attrs } = inputs(c, 7);
    const before = poolStats().tasksRun;
    const two = runOp('Conv', [x, w, b], attrs, { threads: 2 })[0]!;
    expect(poolStats().tasksRun).toBe(before + 1);
    expectBitwise(two, runOp('Conv', [x, w, b], attrs, { threads: 1 })[0]!);
    expectClose(two, refConv(x, w, b, attrs), { rtol: 1e-5, atol: 1e-5 });
  });
});
