/**
 * int4 / uint4 DequantizeLinear (blocked and per tensor) on the GPU backend: the GPU kernel does not take 4-bit
 * or blocked inputs, so they run on the host and must give exactly the CPU kernel's values.
 */
import { expect, it } from 'vitest';
import '../../src/kernels/cpu/index.js';
import '../../src/ops/index.js';
import '../../src/kernels/gpu/index.js';
import { runOp } from '../../src/ops/dispatch.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { expectClose } from '../util/tensors.js';
import { describeGpu } from './gpu-env.js';

describeGpu('int4 DequantizeLinear on the GPU backend', () => {
  it('blocked int4 and per-tensor uint4 with zero points equal the CPU kernel', () => {
    const q = new Tensor('int4', Int8Array.from({ length: 5 * 3 }, (_, i) => (i % 16) - 8), [5, 3]);
    const scale = new Tensor('float32', Float32Array.from([0.5, 0.25, 2, 1, 0.125, 3]), [2, 3]);
    const zp = new Tensor('int4', Int8Array.from([0, 1, -2, 3, -8, 7]), [2, 3]);
    const u = new Tensor('uint4', Uint8Array.from({ length: 7 }, (_, i) => (i * 5) % 16), [7]);
    for (const [inputs, attrs] of [
      [[q, scale, zp], { axis: 0, block_size: 3 }],
      [[q, scale], { axis: 0, block_size: 3 }],
      [[u, new Tensor('float32', Float32Array.from([0.5]), []), new Tensor('uint4', Uint8Array.from([4]), [])], {}],
    ] as const) {
      const want = runOp('DequantizeLinear', [...inputs], attrs, { backend: 'cpu' })[0]!;
      const got = runOp('DequantizeLinear', [...inputs], attrs, { backend: 'gpu' })[0]!;
      expectClose(got, want, { rtol: 0, atol: 0 });
      expect(Array.from(got.numbers()).some((v) => v !== 0)).toBe(true);
    }
  });
});
