/**
 * `tessera quantize`: rewrite an ONNX model with one of the quantize passes of src/quant, save it, and print
 * and write (JSON and Markdown) the model before and after: file size, weight memory, parameters, sparsity,
 * FLOPs and cpu median latency at a given input shape, plus the largest output difference between the two.
 *
 *   tessera quantize model.onnx --mode fp16|dynamic|static -o out.onnx --shape x=1,3,48,320
 *                    [--calibration a.npy,b.npy,...] [--method minmax|percentile|entropy] [--runs 9]
 *                    [--report report-prefix]
 *
 * Static quantization calibrates on the given .npy inputs (one per run, fed to the model's first input) and
 * shows a progress bar meanwhile; without them it refuses rather than calibrating on noise. Latency and FLOPs
 * use a deterministic random input of --shape. Accuracy on a task's evaluation set is measured by
 * `npm run bench:compression` for PP-OCR (this command knows no task).
 *
 * The function takes argv without the program and command names and returns the exit code; main.ts wires it.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { InferenceSession } from '../graph/session.js';
import type { CalibrationMethod } from '../quant/calibrate.js';
import { loadForCompression, saveModel } from '../quant/model.js';
import { quantizeDynamic, quantizeFloat16, quantizeStatic } from '../quant/passes.js';
import { modelStats, type ModelStats } from '../quant/stats.js';
import { TesseraError } from '../tensor/errors.js';
import { Tensor } from '../tensor/tensor.js';
import { readNpy } from './npy.js';

export const QUANTIZE_USAGE = 'usage: tessera quantize <model.onnx> --mode fp16|dynamic|static -o <out.onnx> --shape <input>=d0,d1,... [--calibration a.npy,b.npy] [--method minmax|percentile|entropy] [--runs N] [--report prefix]';

/** What one side of the report holds. */
export interface CompressionFigures {
  readonly fileBytes: number;
  readonly stats: ModelStats;
  readonly latencyMs: number;
}

/** Deterministic values in [-1, 1). */
function probeTensor(dims: readonly number[]): Tensor<'float32'> {
  let s = 0x9e3779b9;
  const out = new Float32Array(dims.reduce((p, d) => p * d, 1));
  for (let i = 0; i < out.length; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = ((s >>> 0) / 4294967296) * 2 - 1;
  }
  return new Tensor('float32', out, dims);
}

async function figures(bytes: Uint8Array, input: string, probe: Tensor, runs: number): Promise<{ figures: CompressionFigures; output: Tensor }> {
  const session = await InferenceSession.create(bytes, { intraOpNumThreads: 1 });
  const feeds = { [input]: probe };
  const stats = modelStats(session.model.graph, session.model.opsets, new Map([[input, probe]]));
  const output = (await session.run(feeds))[session.outputNames[0]!]!;
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await session.run(feeds);
    times.push(performance.now() - t0);
  }
  await session.release();
  times.sort((a, b) => a - b);
  return { figures: { fileBytes: bytes.length, stats, latencyMs: times[Math.floor(times.length / 2)]! }, output };
}

function progressBar(done: number, total: number): void {
  const width = 30;
  const filled = Math.round((done / total) * width);
  process.stderr.write(`\rcalibrating [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}`);
  if (done === total) process.stderr.write('\n');
}

/** Markdown table of the before/after figures. */
export function compressionTable(before: CompressionFigures, after: CompressionFigures, maxAbsDiff: number): string {
  const row = (label: string, f: CompressionFigures): string =>
    `| ${label} | ${f.fileBytes} | ${f.stats.weightBytes} | ${f.stats.parameters} | ${(f.stats.sparsity * 100).toFixed(1)}% | ${(f.stats.flops / 1e9).toFixed(3)} | ${f.latencyMs.toFixed(1)} |`;
  return [
    '| model | file bytes | weight bytes | parameters | sparsity | GFLOPs | cpu median ms |',
    '|---|---:|---:|---:|---:|---:|---:|',
    row('before', before),
    row('after', after),
    '',
    `file size after/before: ${((after.fileBytes / before.fileBytes) * 100).toFixed(1)}%; largest output difference: ${maxAbsDiff.toExponential(2)}`,
  ].join('\n');
}

/** `tessera quantize` (see the file comment). Returns the process exit code. */
export async function quantizeCommand(argv: readonly string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        mode: { type: 'string' },
        output: { type: 'string', short: 'o' },
        shape: { type: 'string' },
        calibration: { type: 'string' },
        method: { type: 'string', default: 'minmax' },
        runs: { type: 'string', default: '9' },
        report: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    console.error(`tessera quantize: ${(e as Error).message}\n${QUANTIZE_USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(QUANTIZE_USAGE);
    return 0;
  }
  const modelPath = positionals[0];
  if (!modelPath || !values.output || !values.mode || !values.shape) {
    console.error(`tessera quantize: the model, --mode, -o and --shape are required\n${QUANTIZE_USAGE}`);
    return 2;
  }
  const shapeMatch = /^([^=]+)=(\d+(?:,\d+)*)$/.exec(values.shape);
  if (!shapeMatch) {
    console.error(`tessera quantize: --shape must look like x=1,3,48,320, got '${values.shape}'`);
    return 2;
  }
  const input = shapeMatch[1]!;
  const probe = probeTensor(shapeMatch[2]!.split(',').map(Number));
  const runs = Math.max(1, Number(values.runs));
  const method = values.method as CalibrationMethod;
  if (!['minmax', 'percentile', 'entropy'].includes(method)) {
    console.error(`tessera quantize: --method must be minmax, percentile or entropy, got '${method}'`);
    return 2;
  }
  try {
    const original = readFileSync(modelPath);
    const base = loadForCompression(original);
    let out: Uint8Array;
    switch (values.mode) {
      case 'fp16':
        out = saveModel(quantizeFloat16(base));
        break;
      case 'dynamic':
        out = saveModel(quantizeDynamic(base).model);
        break;
      case 'static': {
        if (!values.calibration) {
          console.error('tessera quantize: --mode static needs --calibration with one or more .npy inputs');
          return 2;
        }
        const calibration = values.calibration.split(',').map((f) => new Map([[input, readNpy(readFileSync(f))]]));
        out = saveModel(quantizeStatic(base, { calibration, method, onProgress: progressBar }).model);
        break;
      }
      default:
        console.error(`tessera quantize: --mode must be fp16, dynamic or static, got '${values.mode}'`);
        return 2;
    }
    writeFileSync(values.output, out);
    const before = await figures(original, input, probe, runs);
    const after = await figures(out, input, probe, runs);
    const a = before.output.numbers();
    const b = after.output.numbers();
    let maxAbsDiff = 0;
    for (let i = 0; i < a.length; i++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(a[i]! - b[i]!));
    const md = `## tessera quantize ${modelPath} --mode ${values.mode}\n\n${compressionTable(before.figures, after.figures, maxAbsDiff)}\n`;
    console.log(md);
    if (values.report) {
      writeFileSync(`${values.report}.md`, md);
      writeFileSync(`${values.report}.json`, `${JSON.stringify({ model: modelPath, mode: values.mode, method, output: values.output, before: before.figures, after: after.figures, maxAbsDiff }, null, 2)}\n`);
    }
    return 0;
  } catch (e) {
    if (e instanceof TesseraError) {
      console.error(`tessera quantize: ${e.message}`);
      return 1;
    }
    throw e;
  }
}
