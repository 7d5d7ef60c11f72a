/**
 * Residency in a session on backend 'gpu': host values that GPU kernels read are uploaded per value, never
 * found again by their storage. The executor's buffer arena gives a dead host value's storage to a later
 * value of the same size; an upload cache keyed by storage would hand that later value the earlier value's
 * texture (a stale read that no single-kernel test sees). Here two CPU-fallback nodes (CumSum has no GPU
 * kernel) produce same-sized host values in turn, each read by a GPU kernel, and the GPU session must agree
 * with the CPU session.
 */
import { expect, it } from 'vitest';
import { InferenceSession } from '../../src/graph/session.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { graph, modelBytes, node, value } from '../graph/build.js';
import { expectClose } from '../util/tensors.js';
import { describeGpu } from './gpu-env.js';

const axis = new Tensor('int64', BigInt64Array.of(0n), []);

/** x, y -> CumSum(x) -> Neg -> a; CumSum(y) -> Neg -> b; out = a, b and a - b (the arena recycles CumSum(x)). */
const bytes = modelBytes(
  graph({
    nodes: [
      node('CumSum', ['x', 'axis'], ['cx'], {}, 'cumsum_x'),
      node('Neg', ['cx'], ['a'], {}, 'neg_x'),
      node('CumSum', ['y', 'axis'], ['cy'], {}, 'cumsum_y'),
      node('Neg', ['cy'], ['b'], {}, 'neg_y'),
      node('Sub', ['a', 'b'], ['d'], {}, 'sub'),
    ],
    inputs: [value('x', 'float32', [64]), value('y', 'float32', [64])],
    outputs: [value('a', 'float32', [64]), value('b', 'float32', [64]), value('d', 'float32', [64])],
    initializers: { axis },
  }),
);

describeGpu('GPU residency in a session', () => {
  it('host values in recycled arena buffers are uploaded afresh, run after run', () => {
    const cpu = InferenceSession.createSync(bytes);
    const gpu = InferenceSession.createSync(bytes, { backend: 'gpu' });
    try {
      for (let run = 0; run < 3; run++) {
        const x = new Tensor('float32', Float32Array.from({ length: 64 }, (_, i) => i + run), [64]);
        const y = new Tensor('float32', Float32Array.from({ length: 64 }, (_, i) => 100 - 2 * i * run), [64]);
        const want = cpu.runSync({ x, y });
        const got = gpu.runSync({ x, y });
        expect(gpu.lastRunStats!.cpuFallbacks).toEqual(['cumsum_x', 'cumsum_y']);
        for (const name of ['a', 'b', 'd']) expectClose(got[name]!, want[name]!, { rtol: 1e-6, atol: 0, label: `run ${run} ${name}` });
        for (const t of [...Object.values(want), ...Object.values(got)]) t.dispose();
      }
    } finally {
      void cpu.release();
      void gpu.release();
    }
  });
});
