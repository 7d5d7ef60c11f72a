/**
 * PP-OCR on backend 'gpu' against backend 'cpu': the direction classifier (MobileNetV3) and the recognizer
 * (SVTR) on a rendered text line must agree within rtol 1e-3 / atol 1e-3, with no CPU fallback, every
 * node on the GPU (no host op: shape arithmetic is folded for the input's dims), and transfers limited to the input upload and the output download once
 * the weights are resident. Then a leak check: repeated cls runs keep RSS growth bounded, and after release
 * no texture is left (ours, and gpu.js's once its compiled kernels are dropped).
 * Timings printed here come from the renderer named beside them (Mesa llvmpipe: software rendering).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { expect, it } from 'vitest';
import { clsInput, recInput, type Image8 } from '../../demo/ocr.js';
import { InferenceSession } from '../../src/graph/session.js';
import { getGpuDevice } from '../../src/kernels/gpu/index.js';
import { loadForCompression, saveModel } from '../../src/quant/model.js';
import { quantizeFloat16 } from '../../src/quant/passes.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { expectClose } from '../util/tensors.js';
import { describeGpu, RENDERER } from './gpu-env.js';

const ROOT = join(import.meta.dirname, '..', '..');
const MODELS = join(ROOT, 'node_modules', '@gutenye', 'ocr-models', 'assets');
const CLS = join(MODELS, 'ch_ppocr_mobile_v2.0_cls_infer.onnx');
const REC = join(MODELS, 'ch_PP-OCRv4_rec_infer.onnx');
const LEAK_RUNS = Number(process.env['TESSERA_GPU_LEAK_RUNS'] ?? 100);

function loadLine(file: string): Image8 {
  const png = PNG.sync.read(readFileSync(join(ROOT, 'assets', 'samples', file)));
  return { width: png.width, height: png.height, channels: 4, data: new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.length) };
}

function disposeAll(outputs: Record<string, Tensor>): void {
  for (const t of Object.values(outputs)) t.dispose();
}

/** Run `path` on cpu and gpu (twice on gpu: cold, then with resident weights) and compare. */
function compareBackends(path: string | Uint8Array, input: Tensor, label: string): void {
  const cpu = InferenceSession.createSync(path);
  const gpu = InferenceSession.createSync(path, { backend: 'gpu' });
  try {
    const want = cpu.runSync({ x: input });
    for (const pass of ['cold', 'warm']) {
      const t0 = performance.now();
      const got = gpu.runSync({ x: input });
      const ms = performance.now() - t0;
      const stats = gpu.lastRunStats!;
      console.log(`${label} on gpu (${pass}): ${ms.toFixed(0)} ms on ${RENDERER}; ${JSON.stringify({ ...stats.gpu, renderer: undefined, hostOps: stats.gpu!.hostOps.length })}`);
      expect(stats.cpuFallbacks).toEqual([]);
      expect(stats.gpu!.mode).toBe('headlessgl');
      // every node runs in a shader: the integer shape arithmetic (Shape -> Cast/Slice/Concat -> Reshape) was
      // folded away by shape specialization for this input's dims (src/graph/specialize.ts)
      expect(stats.gpu!.hostOps).toEqual([]);
      if (pass === 'warm') {
        expect(stats.gpu!.uploads).toBe(1); // the input image
        expect(stats.gpu!.downloads).toBe(Object.keys(got).length);
        expect(stats.gpu!.compiles).toBe(0);
      }
      for (const name of Object.keys(want)) {
        expect(got[name]!.location).toBe('cpu');
        expectClose(got[name]!, want[name]!, { rtol: 1e-3, atol: 1e-3, label: `${label} ${name}` });
      }
      disposeAll(got);
    }
    disposeAll(want);
  } finally {
    void cpu.release();
    void gpu.release();
  }
}

describeGpu('PP-OCR on the GPU backend', () => {
  it('cls (MobileNetV3, opset 9) matches the CPU with zero fallbacks', { timeout: 240_000 }, () => {
    compareBackends(CLS, clsInput(loadLine('line_0.png')), 'cls');
  });

  it('rec (SVTR with attention) matches the CPU with zero fallbacks', { timeout: 400_000 }, () => {
    compareBackends(REC, recInput(loadLine('line_1.png')), 'rec');
  });

  it('cls with float16 weights (Cast to float32 in the shader) matches the CPU with zero fallbacks', { timeout: 240_000 }, () => {
    compareBackends(saveModel(quantizeFloat16(loadForCompression(CLS))), clsInput(loadLine('line_0.png')), 'cls fp16');
  });

  it(`${LEAK_RUNS} cls runs keep RSS bounded; release leaves no texture`, { timeout: 900_000 }, async () => {
    const device = getGpuDevice();
    const input = clsInput(loadLine('line_2.png'));
    const session = InferenceSession.createSync(CLS, { backend: 'gpu' });
    for (let i = 0; i < 5; i++) disposeAll(session.runSync({ x: input }));
    const weights = device.counters.liveTextures;
    expect(weights).toBeGreaterThan(0);
    (globalThis as { gc?: () => void }).gc?.();
    const rss0 = process.memoryUsage().rss;
    const t0 = performance.now();
    for (let i = 0; i < LEAK_RUNS; i++) {
      disposeAll(session.runSync({ x: input }));
      // between runs only the session's uploaded weights hold textures
      if (i % 25 === 0) expect(device.counters.liveTextures).toBe(weights);
    }
    const perRun = (performance.now() - t0) / LEAK_RUNS;
    (globalThis as { gc?: () => void }).gc?.();
    const growth = (process.memoryUsage().rss - rss0) / 2 ** 20;
    console.log(`cls x${LEAK_RUNS} on gpu: ${perRun.toFixed(0)} ms/run on ${RENDERER}; RSS growth ${growth.toFixed(1)} MB`);
    expect(growth).toBeLessThan(50);
    await session.release();
    expect(device.counters.liveTextures).toBe(0);
    device.clearKernelCache();
    expect(device.counters.glTextures).toBe(0);
  });
});
