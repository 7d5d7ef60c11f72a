/**
 * Before/after of the register-tiled GPU MatMul/Gemm/Conv kernels (src/kernels/gpu/gemm-tiled.ts): each case
 * runs with the tiling policy 'never' (one output per thread, the previous kernels) and 'auto', interleaved
 * round by round in one process so that load from other processes hits both alike; medians are printed.
 *
 *   xvfb-run -a npx tsx bench/gpu-tiling.ts [--runs 5] [--only kernels|models]
 *
 * kernels: single operator calls on resident inputs, each timed with the download of its result (which
 * waits for the renderer). models: warm PP-OCR cls and rec session runs (weights resident) on sample lines.
 * The renderer is printed first: under headless-gl it is Mesa llvmpipe, a software rasterizer, so these are
 * CPU timings of shader code, not GPU speed.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { PNG } from 'pngjs';
import { clsInput, recInput, type Image8 } from '../demo/ocr.js';
import { InferenceSession } from '../src/graph/session.js';
import '../src/kernels/cpu/index.js';
import '../src/ops/index.js';
import { setGemmTiling, type GemmTiling } from '../src/kernels/gpu/gemm-tiled.js';
import { getGpuDevice } from '../src/kernels/gpu/index.js';
import { uploadValues } from '../src/kernels/gpu/runtime.js';
import type { AttrValue } from '../src/kernels/registry.js';
import { runOp } from '../src/ops/dispatch.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { randomFloats } from '../test/util/tensors.js';

const { values: args } = parseArgs({ options: { runs: { type: 'string', default: '5' }, only: { type: 'string' } }, strict: true });
const RUNS = Math.max(1, Number(args.runs));
const ROOT = join(import.meta.dirname, '..');
const MODELS = join(ROOT, 'node_modules', '@gutenye', 'ocr-models', 'assets');
const MODES: readonly GemmTiling[] = ['never', 'auto'];

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Time `run` under each policy: one untimed warm-up round (compiles), then RUNS interleaved rounds. */
function compare(run: () => void): { never: number; auto: number } {
  const times: Record<string, number[]> = { never: [], auto: [] };
  for (let r = -1; r < RUNS; r++) {
    for (const mode of MODES) {
      setGemmTiling(mode);
      const t0 = performance.now();
      run();
      if (r >= 0) times[mode]!.push(performance.now() - t0);
    }
  }
  setGemmTiling('auto');
  return { never: median(times['never']!), auto: median(times['auto']!) };
}

const line = (label: string, t: { never: number; auto: number }): string =>
  `${label.padEnd(46)} one-output ${t.never.toFixed(1).padStart(8)} ms   tiled ${t.auto.toFixed(1).padStart(7)} ms   ${(t.never / t.auto).toFixed(2)}x`;

const device = getGpuDevice();
console.log(`renderer: ${device.renderer}${device.software ? ' (software rendering: not GPU speed)' : ''}; median of ${RUNS} runs`);

const KERNEL_CASES: readonly [string, string, number[][], Record<string, AttrValue>][] = [
  ['MatMul 256x256x256', 'MatMul', [[256, 256], [256, 256]], {}],
  ['MatMul 512x512x512', 'MatMul', [[512, 512], [512, 512]], {}],
  ['MatMul [1,40,120]x[120,6625] (padded N)', 'MatMul', [[1, 40, 120], [120, 6625]], {}],
  ['MatMul [1,33,120]x[120,360]', 'MatMul', [[1, 33, 120], [120, 360]], {}],
  ['MatMul [1,8,33,15]x[1,8,15,33]', 'MatMul', [[1, 8, 33, 15], [1, 8, 15, 33]], {}],
  ['Gemm 256x256x256 transB', 'Gemm', [[256, 256], [256, 256], [256]], { transB: 1 }],
  ['Conv 1x1 240->240 @12x67', 'Conv', [[1, 240, 12, 67], [240, 240, 1, 1], [240]], {}],
  ['Conv 1x1 480->480 @3x67 (padded plane)', 'Conv', [[1, 480, 3, 67], [480, 480, 1, 1], [480]], {}],
  ['Conv dw 5x5 240 @12x67', 'Conv', [[1, 240, 12, 67], [240, 1, 5, 5], [240]], { group: 240, pads: [2, 2, 2, 2] }],
  ['Conv dw 5x5 240 @12x72', 'Conv', [[1, 240, 12, 72], [240, 1, 5, 5], [240]], { group: 240, pads: [2, 2, 2, 2] }],
  ['Conv dw 3x3 64 @24x133', 'Conv', [[1, 64, 24, 133], [64, 1, 3, 3], [64]], { group: 64, pads: [1, 1, 1, 1] }],
  ['Conv dw 5x5 480 @6x67 (padded plane)', 'Conv', [[1, 480, 6, 67], [480, 1, 5, 5], [480]], { group: 480, pads: [2, 2, 2, 2] }],
  ['Conv 3x3 3->16 stride 2 @48x265', 'Conv', [[1, 3, 48, 265], [16, 3, 3, 3], [16]], { strides: [2, 2], pads: [1, 1, 1, 1] }],
];

if (args.only !== 'models') {
  let seed = 1;
  for (const [label, op, dims, attrs] of KERNEL_CASES) {
    const inputs = dims.map((d) => uploadValues(device, randomFloats(d.reduce((p, v) => p * v, 1), seed++), d));
    const t = compare(() => {
      const [y] = runOp(op, inputs, attrs, { backend: 'gpu' });
      void y!.data;
      y!.dispose();
    });
    console.log(line(label, t));
    for (const x of inputs) x.dispose();
  }
}

function loadLine(file: string): Image8 {
  const png = PNG.sync.read(readFileSync(join(ROOT, 'assets', 'samples', file)));
  return { width: png.width, height: png.height, channels: 4, data: new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.length) };
}

if (args.only !== 'kernels') {
  const models: readonly [string, string, (img: Image8) => Tensor, string][] = [
    ['cls', 'ch_ppocr_mobile_v2.0_cls_infer.onnx', clsInput, 'line_1.png'],
    ['rec', 'ch_PP-OCRv4_rec_infer.onnx', recInput, 'line_1.png'],
    ['rec', 'ch_PP-OCRv4_rec_infer.onnx', recInput, 'line_0.png'],
  ];
  for (const [name, file, toInput, sample] of models) {
    const x = toInput(loadLine(sample));
    const session = InferenceSession.createSync(join(MODELS, file), { backend: 'gpu' });
    const t = compare(() => {
      for (const v of Object.values(session.runSync({ x }))) v.dispose();
    });
    console.log(line(`${name} ${sample} [${x.dims.join(',')}] warm run`, t));
    await session.release();
  }
}
