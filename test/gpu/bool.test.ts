/**
 * Bool textures: comparisons write 0.0 / 1.0 into a texture typed bool, logic ops and Where read it there, and
 * it downloads as a Uint8Array of 0 / 1. Each op against the CPU kernel on random broadcast shapes (with ties,
 * so Equal and the <= / >= edges are exercised), and a graph mask -> logic -> Where -> Cast that runs with no
 * host op and no fallback.
 */
import fc from 'fast-check';
import { expect, it } from 'vitest';
import '../../src/kernels/cpu/index.js';
import '../../src/ops/index.js';
import '../../src/kernels/gpu/index.js';
import { GPU_BOOL_OPS } from '../../src/kernels/gpu/elementwise.js';
import { GpuTensor } from '../../src/kernels/gpu/runtime.js';
import { InferenceSession } from '../../src/graph/session.js';
import { runOp } from '../../src/ops/dispatch.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { graph, modelBytes, node, value } from '../graph/build.js';
import { arbBroadcastPair } from '../util/tensors.js';
import { describeGpu } from './gpu-env.js';

/** Small integers as floats, so ties are common. */
function ints(dims: readonly number[], seed: number): Tensor {
  const n = dims.reduce((a, b) => a * b, 1);
  let s = seed;
  return new Tensor('float32', Float32Array.from({ length: n }, () => ((s = (s * 1103515245 + 12345) >>> 0) % 5) - 2), dims);
}

function bools(dims: readonly number[], seed: number): Tensor {
  const f = ints(dims, seed);
  return new Tensor('bool', Uint8Array.from(f.data as Float32Array, (v) => (v > 0 ? 1 : 0)), dims);
}

describeGpu('bool textures', () => {
  it('comparisons and logic match the CPU, results stay on the GPU as bool', () => {
    expect(GPU_BOOL_OPS).toEqual(expect.arrayContaining(['Equal', 'Less', 'LessOrEqual', 'Greater', 'GreaterOrEqual', 'Not', 'And', 'Or', 'Xor']));
    let seed = 7;
    fc.assert(
      fc.property(arbBroadcastPair({ maxRank: 3, maxDim: 5 }), ([da, db]) => {
        if (da.includes(0) || db.includes(0)) return;
        const cases: [string, Tensor[]][] = [
          ...['Equal', 'Less', 'LessOrEqual', 'Greater', 'GreaterOrEqual'].map((op): [string, Tensor[]] => [op, [ints(da, seed++), ints(db, seed++)]]),
          ['Equal', [bools(da, seed++), bools(db, seed++)]],
          ...['And', 'Or', 'Xor'].map((op): [string, Tensor[]] => [op, [bools(da, seed++), bools(db, seed++)]]),
          ['Not', [bools(da, seed++)]],
        ];
        for (const [op, inputs] of cases) {
          const want = runOp(op, inputs, {}, { backend: 'cpu' })[0]!;
          const got = runOp(op, inputs, {}, { backend: 'gpu' })[0]!;
          expect(got).toBeInstanceOf(GpuTensor);
          expect(got.type).toBe('bool');
          expect(got.dims).toEqual(want.dims);
          expect(Array.from(got.data as Uint8Array)).toEqual(Array.from(want.data as Uint8Array));
          got.dispose();
        }
      }),
      { numRuns: 6 },
    );
  });

  it('a mask graph (Greater, Less, And, Not, Where, Cast) runs with no host op and matches the CPU', async () => {
    const bytes = modelBytes(
      graph({
        nodes: [
          node('Greater', ['x', 'lo'], ['above']),
          node('Less', ['x', 'hi'], ['below']),
          node('And', ['above', 'below'], ['inside']),
          node('Not', ['inside'], ['outside']),
          node('Where', ['outside', 'x', 'zero'], ['clipped']),
          node('Cast', ['inside'], ['insideF'], { to: 1 }),
          node('Add', ['clipped', 'insideF'], ['y']),
        ],
        inputs: [value('x', 'float32', [4, 6])],
        outputs: [value('y', 'float32', [4, 6]), value('inside', 'bool', [4, 6])],
        initializers: {
          lo: new Tensor('float32', new Float32Array([-1]), []),
          hi: new Tensor('float32', new Float32Array([1]), []),
          zero: new Tensor('float32', new Float32Array([0]), []),
        },
      }),
    );
    const x = ints([4, 6], 3);
    const cpu = InferenceSession.createSync(bytes);
    const gpu = InferenceSession.createSync(bytes, { backend: 'gpu' });
    const want = cpu.runSync({ x });
    const got = gpu.runSync({ x });
    const stats = gpu.lastRunStats!;
    expect(stats.cpuFallbacks).toEqual([]);
    expect(stats.gpu!.hostOps).toEqual([]);
    expect(got['inside']!.type).toBe('bool');
    expect(got['inside']!.location).toBe('cpu');
    expect(Array.from(got['inside']!.data as Uint8Array)).toEqual(Array.from(want['inside']!.data as Uint8Array));
    expect(Array.from(got['y']!.data as Float32Array)).toEqual(Array.from(want['y']!.data as Float32Array));
    await cpu.release();
    await gpu.release();
  });
});
