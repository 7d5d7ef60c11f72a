/**
 * `tessera quantize`: rewrite an ONNX model with one of the quantize passes of src/quant, save it, and print
 * and write (JSON and Markdown) the model before and after: file size, weight memory, parameters, sparsity,
 * FLOPs and cpu median latency at a given input shape, plus the largest output difference between the two.
 *
 *   tessera quantize model.onnx --mode fp16|dynamic|static|int4 -o out.onnx --shape x=1,3,48,320
 *                    [--calibration a.npy,b.npy,...] [--method minmax|percentile|entropy] [--runs 9]
 *                    [--short-names] [--report report-prefix]
 *
 * `tessera prune` does the same for the prune passes (src/quant/prune.ts, prune-channels.ts):
 *
 *   tessera prune model.onnx --method magnitude|nm|channels -o out.onnx --shape x=1,3,48,192
 *                 [--sparsity 0.5] [--scope global|layer|error] [--calibration a.npy,...] [--no-refit] [--n 2 --m 4] [--ratio 0.3]
 *                 [--sparse-threshold auto|<0..1>] [--runs 9] [--short-names] [--report prefix]
 *
 * The saved file is dense (zeros stored; onnxruntime loads it). For the "after" latency Tessera runs the pruned
 * model with SparseConv on every group-1 Conv at or above the sparse threshold: 'auto' (default) measures where
 * the CSR kernel beats the dense one on this machine (printed), a number fixes it.
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
import { quantizeInt4Weights } from '../quant/int4.js';
import { compactNames, loadForCompression, saveModel, type CompressModel } from '../quant/model.js';
import { quantizeDynamic, quantizeFloat16, quantizeStatic } from '../quant/passes.js';
import { pruneChannels } from '../quant/prune-channels.js';
import { pruneMagnitude, pruneNM } from '../quant/prune.js';
import { measureSparseCrossover, sparsifyWeights } from '../quant/sparse.js';
import { modelStats, type ModelStats } from '../quant/stats.js';
import { TesseraError } from '../tensor/errors.js';
import { Tensor } from '../tensor/tensor.js';
import type { CliIO } from './common.js';
import { readNpy } from './npy.js';

export const QUANTIZE_USAGE = `Usage: tessera quantize <model.onnx> --mode fp16|dynamic|static|int4 -o <out.onnx> --shape <input>=d0,d1,... [options]

Rewrite a model with a quantize pass, save it, and report file size, weight memory, parameters, sparsity,
FLOPs and cpu median latency before and after, plus the largest output difference.

  --mode fp16|dynamic|static|int4   float16 weights, dynamic int8, static int8 QDQ, int4 MatMul/Gemm weights
  -o, --output FILE                 where to write the quantized model
  --shape NAME=D0,D1,...            input used for latency and FLOPs (deterministic values)
  --calibration A.npy,B.npy         calibration inputs (required by --mode static)
  --method minmax|percentile|entropy   calibration method (default minmax)
  --runs N                          latency runs (default 9)
  --short-names                     save with short value names (smaller file)
  --report PREFIX                   also write PREFIX.json and PREFIX.md
  -h, --help                        show this help

Exit codes: 0 success, 1 the model failed to load or a pass failed, 2 bad command line.`;

export const PRUNE_USAGE = `Usage: tessera prune <model.onnx> --method magnitude|nm|channels -o <out.onnx> --shape <input>=d0,d1,... [options]

Prune a model, save it (dense: onnxruntime loads it), and report before and after like tessera quantize. The
"after" latency runs group-1 Convs at or above the sparse threshold with the CSR SparseConv kernel.

  --method magnitude|nm|channels    unstructured magnitude, N:M semi-structured, Conv output channels
  -o, --output FILE                 where to write the pruned model
  --shape NAME=D0,D1,...            input used for latency and FLOPs (deterministic values)
  --sparsity S                      magnitude: share of weights set to zero (default 0.5)
  --scope global|layer|error        magnitude: one threshold, one share per weight, or per-layer shares
                                    from each layer's reconstruction error (needs --calibration)
                                    (default global)
  --calibration A.npy,B.npy         magnitude: rank by |w| x rms(input channel), correct biases and refit
                                    the surviving weights by least squares (src/quant/refit.ts);
                                    channels: refit the consumers of the removed channels the same way
  --no-refit                        with --calibration: skip the least-squares refit
  --n N --m M                       nm: keep N of every M weights (default 2:4)
  --ratio R                         channels: share of each prunable channel space removed (default 0.3)
  --sparse-threshold auto|S         sparsity from which SparseConv runs (default auto: measured now)
  --runs N                          latency runs (default 9)
  --short-names                     save with short value names (smaller file)
  --report PREFIX                   also write PREFIX.json and PREFIX.md
  -h, --help                        show this help

Exit codes: 0 success, 1 the model failed to load or a pass failed, 2 bad command line.`;

/** Output through the CLI's streams when given (main.ts), else the console (direct calls, tests). */
function outputOf(io: CliIO | undefined): { log: (text: string) => void; error: (text: string) => void } {
  if (!io) return { log: (t) => console.log(t), error: (t) => console.error(t) };
  return { log: (t) => io.stdout(`${t}\n`), error: (t) => io.stderr(`${t}\n`) };
}

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

/** `--shape NAME=D0,D1,...`: the input's name and a probe tensor of those dims, or undefined when malformed. */
function parseShapeOption(text: string): { input: string; probe: ReturnType<typeof probeTensor> } | undefined {
  const match = /^([^=]+)=(\d+(?:,\d+)*)$/.exec(text);
  if (!match) return undefined;
  return { input: match[1]!, probe: probeTensor(match[2]!.split(',').map(Number)) };
}

/** `tessera quantize` (see the file comment). Returns the process exit code. */
export async function quantizeCommand(argv: readonly string[], io?: CliIO): Promise<number> {
  const { log, error } = outputOf(io);
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
        'short-names': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    error(`tessera quantize: ${(e as Error).message}\n${QUANTIZE_USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    log(QUANTIZE_USAGE);
    return 0;
  }
  const modelPath = positionals[0];
  if (!modelPath || !values.output || !values.mode || !values.shape) {
    error(`tessera quantize: the model, --mode, -o and --shape are required\n${QUANTIZE_USAGE}`);
    return 2;
  }
  const shape = parseShapeOption(values.shape);
  if (!shape) {
    error(`tessera quantize: --shape must look like x=1,3,48,320, got '${values.shape}'`);
    return 2;
  }
  const { input, probe } = shape;
  const runs = Math.max(1, Number(values.runs));
  const method = values.method as CalibrationMethod;
  if (!['minmax', 'percentile', 'entropy'].includes(method)) {
    error(`tessera quantize: --method must be minmax, percentile or entropy, got '${method}'`);
    return 2;
  }
  try {
    const original = readFileSync(modelPath);
    const base = loadForCompression(original);
    const save = (m: CompressModel): Uint8Array => saveModel(values['short-names'] ? compactNames(m) : m);
    let out: Uint8Array;
    switch (values.mode) {
      case 'fp16':
        out = save(quantizeFloat16(base));
        break;
      case 'dynamic':
        out = save(quantizeDynamic(base).model);
        break;
      case 'int4': {
        const r = quantizeInt4Weights(base);
        error(`int4: ${r.quantizedNodes} MatMul/Gemm weights, ${r.int4Bytes} bytes as int4 blocks vs ${r.float32Bytes} float32 (${((r.int4Bytes / Math.max(1, r.float32Bytes)) * 100).toFixed(1)}%)`);
        out = save(r.model);
        break;
      }
      case 'static': {
        if (!values.calibration) {
          error('tessera quantize: --mode static needs --calibration with one or more .npy inputs');
          return 2;
        }
        const calibration = values.calibration.split(',').map((f) => new Map([[input, readNpy(readFileSync(f))]]));
        out = save(quantizeStatic(base, { calibration, method, onProgress: progressBar }).model);
        break;
      }
      default:
        error(`tessera quantize: --mode must be fp16, dynamic, static or int4, got '${values.mode}'`);
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
    log(md);
    if (values.report) {
      writeFileSync(`${values.report}.md`, md);
      writeFileSync(`${values.report}.json`, `${JSON.stringify({ model: modelPath, mode: values.mode, method, output: values.output, before: before.figures, after: after.figures, maxAbsDiff }, null, 2)}\n`);
    }
    return 0;
  } catch (e) {
    if (e instanceof TesseraError) {
      error(`tessera quantize: ${e.message}`);
      return 1;
    }
    throw e;
  }
}

/** A number option in [lo, hi) (hi inclusive when `closed`), or an error message. */
function fraction(name: string, text: string, closed = false): number | string {
  const v = Number(text);
  return Number.isFinite(v) && v >= 0 && (closed ? v <= 1 : v < 1) ? v : `--${name} must be a number in [0, 1${closed ? ']' : ')'}, got '${text}'`;
}

/** `tessera prune` (see the file comment). Returns the process exit code. */
export async function pruneCommand(argv: readonly string[], io?: CliIO): Promise<number> {
  const { log, error } = outputOf(io);
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        method: { type: 'string' },
        output: { type: 'string', short: 'o' },
        shape: { type: 'string' },
        sparsity: { type: 'string', default: '0.5' },
        scope: { type: 'string', default: 'global' },
        n: { type: 'string', default: '2' },
        m: { type: 'string', default: '4' },
        ratio: { type: 'string', default: '0.3' },
        'sparse-threshold': { type: 'string', default: 'auto' },
        calibration: { type: 'string' },
        'no-refit': { type: 'boolean' },
        runs: { type: 'string', default: '9' },
        report: { type: 'string' },
        'short-names': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    error(`tessera prune: ${(e as Error).message}\n${PRUNE_USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    log(PRUNE_USAGE);
    return 0;
  }
  const modelPath = positionals[0];
  if (!modelPath || !values.output || !values.method || !values.shape) {
    error(`tessera prune: the model, --method, -o and --shape are required\n${PRUNE_USAGE}`);
    return 2;
  }
  const shape = parseShapeOption(values.shape);
  if (!shape) {
    error(`tessera prune: --shape must look like x=1,3,48,192, got '${values.shape}'`);
    return 2;
  }
  const sparsity = fraction('sparsity', values.sparsity);
  const ratio = fraction('ratio', values.ratio);
  const threshold = values['sparse-threshold'] === 'auto' ? 'auto' : fraction('sparse-threshold', values['sparse-threshold'], true);
  const n = Number(values.n);
  const m = Number(values.m);
  for (const problem of [sparsity, ratio, threshold]) {
    if (typeof problem === 'string' && problem !== 'auto') {
      error(`tessera prune: ${problem}`);
      return 2;
    }
  }
  if (values.scope !== 'global' && values.scope !== 'layer' && values.scope !== 'error') {
    error(`tessera prune: --scope must be global, layer or error, got '${values.scope}'`);
    return 2;
  }
  if (values.scope === 'error' && !values.calibration) {
    error('tessera prune: --scope error measures each layer on the calibration inputs: give --calibration A.npy,...');
    return 2;
  }
  if (!Number.isInteger(n) || !Number.isInteger(m) || n < 0 || m < 1 || n > m) {
    error(`tessera prune: --n and --m must be integers with 0 <= n <= m, m >= 1, got ${values.n}:${values.m}`);
    return 2;
  }
  const { input, probe } = shape;
  const runs = Math.max(1, Number(values.runs));
  try {
    const original = readFileSync(modelPath);
    const base = loadForCompression(original);
    let pruned: CompressModel;
    let summary: string;
    const calibration = values.calibration ? values.calibration.split(',').map((f) => new Map([[input, readNpy(readFileSync(f))]])) : undefined;
    switch (values.method) {
      case 'magnitude': {
        const r = pruneMagnitude(base, { sparsity: sparsity as number, scope: values.scope, calibration, refit: calibration ? !values['no-refit'] : false });
        pruned = r.model;
        const how = calibration ? ` (activation-aware, bias-corrected${r.refit?.length ? `, ${r.refit.length} layers refit by least squares` : ''})` : '';
        summary = `${values.scope} magnitude pruning${how}: ${r.zeros} of ${r.elements} weights in ${r.tensors} tensors are zero`;
        break;
      }
      case 'nm': {
        const r = pruneNM(base, { n, m });
        pruned = r.model;
        summary = `${n}:${m} pruning: ${r.zeros} of ${r.elements} weights in ${r.tensors} tensors are zero`;
        break;
      }
      case 'channels': {
        const r = pruneChannels(base, { ratio: ratio as number, calibration, refit: calibration ? !values['no-refit'] : false });
        pruned = r.model;
        const refit = r.refit?.length ? `; ${r.refit.length} Convs refit by least squares` : '';
        summary = `channel pruning: ${r.removedChannels} of ${r.channels} channels removed in ${r.prunedSpaces} of ${r.spaces} channel spaces${refit}`;
        break;
      }
      default:
        error(`tessera prune: --method must be magnitude, nm or channels, got '${values.method}'`);
        return 2;
    }
    const out = saveModel(values['short-names'] ? compactNames(pruned) : pruned);
    writeFileSync(values.output, out);
    let minSparsity: number;
    let crossoverNote: string;
    if (threshold === 'auto') {
      const c = measureSparseCrossover({ outChannels: 96, inChannels: 96, kernel: 1, height: 6, width: 24 }, [0.5, 0.6, 0.7, 0.8, 0.9, 0.95], 7);
      minSparsity = c.crossover ?? 1.01;
      crossoverNote = `sparse kernel crossover (96x96 1x1 conv at 6x24, measured now): ${c.crossover === undefined ? 'never faster' : `${(c.crossover * 100).toFixed(0)}%`} (${c.points.map((p) => `${(p.sparsity * 100).toFixed(0)}%: ${p.denseMs.toFixed(2)}/${p.sparseMs.toFixed(2)} ms`).join(', ')})`;
    } else {
      minSparsity = threshold as number;
      crossoverNote = `sparse kernel threshold: ${(minSparsity * 100).toFixed(0)}% (given)`;
    }
    const sparse = sparsifyWeights(pruned, { minSparsity });
    const before = await figures(original, input, probe, runs);
    const after = await figures(sparse.sparseNodes ? saveModel(sparse.model) : out, input, probe, runs);
    after.figures = { ...after.figures, fileBytes: out.length };
    const a = before.output.numbers();
    const b = after.output.numbers();
    let maxAbsDiff = 0;
    for (let i = 0; i < a.length; i++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(a[i]! - b[i]!));
    const md = `## tessera prune ${modelPath} --method ${values.method}\n\n${summary}; ${crossoverNote}; ${sparse.sparseNodes} Convs run as SparseConv.\n\n${compressionTable(before.figures, after.figures, maxAbsDiff)}\n`;
    log(md);
    if (values.report) {
      writeFileSync(`${values.report}.md`, md);
      writeFileSync(`${values.report}.json`, `${JSON.stringify({ model: modelPath, method: values.method, output: values.output, summary, minSparsity, sparseNodes: sparse.sparseNodes, before: before.figures, after: after.figures, maxAbsDiff }, null, 2)}\n`);
    }
    return 0;
  } catch (e) {
    if (e instanceof TesseraError) {
      error(`tessera prune: ${e.message}`);
      return 1;
    }
    throw e;
  }
}
