/**
 * The GPU DynamicFakeQuantize shaders against the CPU kernel (itself bitwise equal to DynamicQuantizeLinear
 * then q - z), and a dynamic int8 model (PP-OCR cls through quantizeDynamic) running on the GPU with no CPU
 * fallback and no host op, matching the CPU session.
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
import { quantizeDynamic } from '../../src/quant/passes.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { arbShape, arbTensor, expectClose } from '../util/tensors.js';
import { describeGpu, RENDERER } from './gpu-env.js';

describeGpu('DynamicFakeQuantize on the GPU', () => {
  it('matches the CPU kernel: same scale, codes within one step (GPU division may round differently at ties)', () => {
    fc.assert(
      fc.property(
        arbShape({ minRank: 1, maxRank: 4, minDim: 1, maxDim: 9 }).chain((dims) =>
          fc.tuple(arbTensor('float32', dims, 40), fc.constantFrom(0, 1, -1), fc.double({ min: 0.01, max: 50, noNaN: true })),
        ),
        ([x0, shift, mag]) => {
          const v = Float32Array.from(x0.data as Float32Array, (a) => (shift === 0 ? a : shift * (Math.abs(a) + 0.1)) * mag);
          // a range of denormals is outside the shader's contract (the GPU flushes them to 0; see the kernel)
          fc.pre(v.every((a) => a === 0 || Math.abs(a) > 1e-30));
          const x = new Tensor('float32', v, x0.dims);
          const opts = { domain: 'com.tessera', opset: 1 };
          const [wantY, wantS] = runOp('DynamicFakeQuantize', [x], {}, { ...opts, backend: 'cpu' });
          const [gotY, gotS] = runOp('DynamicFakeQuantize', [x], {}, { ...opts, backend: 'gpu' });
          expect(gotY!.location).toBe('gpu');
          expect(gotS!.location).toBe('gpu');
          expect(gotS!.dims).toEqual([]);
          const s = wantS!.numbers()[0]!;
          expect(Math.abs(gotS!.numbers()[0]! - s)).toBeLessThanOrEqual(s * 1e-6);
          const a = gotY!.data as Float32Array;
          const b = wantY!.data as Float32Array;
          let exact = 0;
          for (let i = 0; i < a.length; i++) {
            expect(Math.abs(a[i]! - b[i]!)).toBeLessThanOrEqual(1);
            if (a[i] === b[i]) exact++;
          }
          expect(exact).toBeGreaterThanOrEqual(Math.floor(a.length * 0.9));
          gotY!.dispose();
          gotS!.dispose();
        },
      ),
      { numRuns: 8 },
    );
  });

  it('an input larger than one chunk squared: range over all elements, zero point as on the CPU', () => {
    const n = 3 * 37 * 41;
    const v = Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37) * 5 + (i === n - 1 ? 9 : 0) - (i === 1234 ? 7 : 0));
    const x = new Tensor('float32', v, [3, 37, 41]);
    const opts = { domain: 'com.tessera', opset: 1 };
    const [wantY, wantS] = runOp('DynamicFakeQuantize', [x], {}, { ...opts, backend: 'cpu' });
    const [gotY, gotS] = runOp('DynamicFakeQuantize', [x], {}, { ...opts, backend: 'gpu' });
    expect(gotS!.numbers()[0]).toBeCloseTo(wantS!.numbers()[0]!, 7);
    const a = gotY!.data as Float32Array;
    const b = wantY!.data as Float32Array;
    // the extremes (the last element and element 1234) set the range; they map to the ends of the code range
    expect(a[n - 1]).toBe(b[n - 1]);
    expect(a[1234]).toBe(b[1234]);
    let diff = 0;
    for (let i = 0; i < n; i++) diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    expect(diff).toBeLessThanOrEqual(1);
    gotY!.dispose();
    gotS!.dispose();
  });

  it('a dynamic int8 model (PP-OCR cls) runs fully on the GPU and matches the CPU', { timeout: 300_000 }, async () => {
    const feeds = calibrationFeeds('cls', loadEvalSet('calibration').slice(0, 2));
    const bytes = saveModel(quantizeDynamic(loadForCompression(CLS_MODEL)).model);
    const x = feeds[1]!.get('x')!;
    const cpu = InferenceSession.createSync(bytes);
    const gpu = InferenceSession.createSync(bytes, { backend: 'gpu' });
    const want = cpu.runSync({ x });
    for (const pass of ['cold', 'warm']) {
      const t0 = performance.now();
      const got = gpu.runSync({ x });
      const stats = gpu.lastRunStats!;
      console.log(`cls dynamic int8 on gpu (${pass}): ${(performance.now() - t0).toFixed(0)} ms on ${RENDERER}; uploads ${stats.gpu!.uploads}, dispatches ${stats.gpu!.dispatches}`);
      expect(stats.cpuFallbacks).toEqual([]);
      expect(stats.gpu!.hostOps).toEqual([]);
      // the int8 weights stay uploaded (as integer values) across runs: only the input is uploaded warm
      if (pass === 'warm') expect(stats.gpu!.uploads).toBe(1);
      expect(gpu.model.graph.nodes.some((n) => n.opType === 'DynamicFakeQuantize')).toBe(true);
      expect(gpu.model.graph.nodes.some((n) => n.opType === 'ConvInteger' || n.opType === 'MatMulInteger')).toBe(false);
      for (const k of Object.keys(want)) expectClose(got[k]!, want[k]!, { rtol: 1e-3, atol: 1e-3, label: `cls dynamic int8 ${k}` });
    }
    await cpu.release();
    await gpu.release();
  });
});
