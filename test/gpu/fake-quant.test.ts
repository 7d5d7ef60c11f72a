/**
 * The GPU FakeQuantize shader against the CPU kernel (itself bitwise equal to QuantizeLinear ->
 * DequantizeLinear), and a static int8 QDQ model (PP-OCR cls, calibrated on the calibration split) running on
 * the GPU with no CPU fallback and no host op, matching the CPU session.
 */
import fc from 'fast-check';
import { expect, it } from 'vitest';
import '../../src/kernels/cpu/index.js';
import '../../src/ops/index.js';
import '../../src/kernels/gpu/index.js';
import { calibrationFeeds, CLS_MODEL, loadEvalSet } from '../../bench/ocr-eval.js';
import { InferenceSession } from '../../src/graph/session.js';
import { runOp } from '../../src/ops/dispatch.js';
import { loadForCompression, saveModel } from '../../src/quant/model.js';
import { quantizeStatic } from '../../src/quant/passes.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { arbShape, arbTensor, expectClose } from '../util/tensors.js';
import { describeGpu, RENDERER } from './gpu-env.js';

describeGpu('FakeQuantize on the GPU', () => {
  it('matches the CPU kernel within one quantization step (GPU division may round differently at ties)', () => {
    fc.assert(
      fc.property(
        arbShape({ minRank: 1, maxRank: 4, minDim: 1, maxDim: 7 }).chain((dims) =>
          fc.tuple(arbTensor('float32', dims, 300), fc.double({ min: 0.05, max: 3, noNaN: true }), fc.constantFrom('uint8' as const, 'int8' as const), fc.integer({ min: 0, max: 255 })),
        ),
        ([x, sv, zt, zv]) => {
          const s = new Tensor('float32', new Float32Array([sv]), []);
          const z = zt === 'uint8' ? new Tensor('uint8', new Uint8Array([zv]), []) : new Tensor('int8', new Int8Array([zv - 128]), []);
          const opts = { domain: 'com.tessera', opset: 1 };
          const want = runOp('FakeQuantize', [x, s, z], {}, { ...opts, backend: 'cpu' })[0]!;
          const got = runOp('FakeQuantize', [x, s, z], {}, { ...opts, backend: 'gpu' })[0]!;
          expect(got.location).toBe('gpu');
          const step = s.numbers()[0]!;
          const a = got.data as Float32Array;
          const b = want.data as Float32Array;
          let exact = 0;
          for (let i = 0; i < a.length; i++) {
            expect(Math.abs(a[i]! - b[i]!)).toBeLessThanOrEqual(step * 1.0001);
            if (a[i] === b[i]) exact++;
          }
          // a differing element is a tie decided the other way: rare
          expect(exact).toBeGreaterThanOrEqual(Math.floor(a.length * 0.9));
          got.dispose();
        },
      ),
      { numRuns: 8 },
    );
  });

  it('a static int8 QDQ model (PP-OCR cls) runs fully on the GPU and matches the CPU', { timeout: 300_000 }, async () => {
    const feeds = calibrationFeeds('cls', loadEvalSet('calibration').slice(0, 4));
    const bytes = saveModel(quantizeStatic(loadForCompression(CLS_MODEL), { calibration: feeds }).model);
    const x = feeds[1]!.get('x')!;
    const cpu = InferenceSession.createSync(bytes);
    const gpu = InferenceSession.createSync(bytes, { backend: 'gpu' });
    const want = cpu.runSync({ x });
    for (const pass of ['cold', 'warm']) {
      const t0 = performance.now();
      const got = gpu.runSync({ x });
      const stats = gpu.lastRunStats!;
      console.log(`cls static int8 on gpu (${pass}): ${(performance.now() - t0).toFixed(0)} ms on ${RENDERER}; uploads ${stats.gpu!.uploads}, dispatches ${stats.gpu!.dispatches}`);
      expect(stats.cpuFallbacks).toEqual([]);
      expect(stats.gpu!.hostOps).toEqual([]);
      if (pass === 'warm') expect(stats.gpu!.uploads).toBe(1);
      // the int8 weights stay int8 values in textures, dequantized per use by the DequantizeLinear shader
      expect(gpu.model.graph.nodes.some((n) => n.opType === 'FakeQuantize')).toBe(true);
      for (const k of Object.keys(want)) expectClose(got[k]!, want[k]!, { rtol: 1e-3, atol: 1e-3, label: `cls int8 ${k}` });
    }
    await cpu.release();
    await gpu.release();
  });
});
