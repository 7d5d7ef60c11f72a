/**
 * Compression report: PP-OCR cls and rec as float32 (the shipped file), float16 weights, dynamic int8 and
 * static int8 QDQ (MinMax calibration; Percentile and Entropy with --methods), measured in Tessera on the
 * committed evaluation set (assets/eval/):
 *
 *   npx tsx bench/compression.ts                  (npm run bench:compression)
 *   npx tsx bench/compression.ts --models cls --lines 50 --rec-lines 40 --runs 9 --methods minmax,entropy
 *
 * Per model and variant: file size (bytes of the ONNX file), weight memory (initializer bytes a Tessera
 * session holds after loading), parameters and their sparsity, FLOPs at the latency input (cls 48x192,
 * rec 48x320), cpu latency (Tessera, 1 thread, median of --runs runs interleaved across variants so machine
 * load hits all of them alike), accuracy on the 'eval' split (cls: 0 vs 180 on upright and rotated lines;
 * rec: character accuracy of CTC greedy decode on upright lines), and the largest output difference to
 * onnxruntime-node running the same saved file. Calibration uses the 'calibration' split only.
 * Compressed files are saved with compactNames (short value names; the float32 file with the same treatment is
 * listed too, so the size ratio can be read both ways).
 * More rows: int4 weight-only on rec's MatMul/Gemm weights (standard ONNX: INT4 initializers behind
 * DequantizeLinear(axis 0, block_size 32), opset 21; Tessera runs them as com.tessera MatMulInt4 with the weights
 * packed in memory; onnxruntime is compared with qdq_matmulnbits_accuracy_level 0, since its default (4) turns the
 * same file into MatMulNBits with int8-quantized activations), 50% unstructured activation-aware magnitude
 * pruning on cls with per-layer shares from the calibration reconstruction error, bias correction and a
 * sequential least-squares refit of the surviving weights (src/quant/refit.ts; run with SparseConv on the layers
 * at or above the sparsity where the sparse kernel was measured to beat the dense one, in this process, before
 * the models), and 30% structured channel pruning of rec's prunable Conv channel spaces with the consumers
 * refit the same way. All on the calibration split; no fine-tuning: accuracy is reported as measured.
 * Then the issue's targets are checked. Prints Markdown and writes bench/results/compression.{json,md}.
 */
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { recInput, clsInput } from '../demo/ocr.js';
import { InferenceSession } from '../src/graph/index.js';
import type { CalibrationMethod } from '../src/quant/calibrate.js';
import { quantizeInt4Weights } from '../src/quant/int4.js';
import { compactNames, loadForCompression, saveModel, type CompressModel } from '../src/quant/model.js';
import { quantizeDynamic, quantizeFloat16, quantizeStatic } from '../src/quant/passes.js';
import { pruneChannels } from '../src/quant/prune-channels.js';
import { pruneMagnitude } from '../src/quant/prune.js';
import { measureSparseCrossover, sparsifyWeights, type CrossoverPoint } from '../src/quant/sparse.js';
import { modelStats, type ModelStats } from '../src/quant/stats.js';
import { Tensor } from '../src/tensor/tensor.js';
import { CLS_MODEL, REC_MODEL, ROOT, calibrationFeeds, clsAccuracy, loadEvalSet, recAccuracy, recCharset, type Runner } from './ocr-eval.js';

/** "0.25 points below" for a drop, "0.50 points above" for a gain. */
function dropText(drop: number): string {
  return drop > 0 ? `${drop.toFixed(2)} points below` : drop < 0 ? `${(-drop).toFixed(2)} points above` : '0.00 points below';
}

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

const MODELS = arg('models', 'cls,rec').split(',') as ('cls' | 'rec')[];
const LINES = Number(arg('lines', 'Infinity'));
const REC_LINES = Number(arg('rec-lines', String(LINES)));
const CALIBRATION_LINES = Number(arg('calibration', '40'));
const RUNS = Number(arg('runs', '9'));
const METHODS = arg('methods', 'minmax').split(',') as CalibrationMethod[];
const OUT = join(ROOT, 'bench', 'results');

interface Row {
  model: 'cls' | 'rec';
  variant: string;
  fileBytes: number;
  stats: ModelStats;
  accuracy: number;
  /** rec only: share of lines read exactly. */
  exact?: number;
  latencyMs: number;
  ortMaxAbsDiff: number | string;
  buildSeconds: number;
  /** Free-form facts of the variant (int4 weight bytes, pruned channels, sparse layers...). */
  note?: string;
  /** int4 row: bytes of the converted weights as int4 blocks and as float32. */
  int4?: { int4Bytes: number; float32Bytes: number };
}

/** The sparse-kernel crossover measured in this run. */
interface Crossover {
  shape: string;
  points: CrossoverPoint[];
  crossover: number | undefined;
}
const crossovers: Crossover[] = [];

/** Measure dense Conv vs SparseConv on two cls-like convolutions; the larger crossover is the threshold used. */
function sparseThreshold(): number {
  if (crossovers.length === 0) {
    for (const shape of [
      { outChannels: 96, inChannels: 96, kernel: 1, height: 6, width: 24 },
      { outChannels: 16, inChannels: 16, kernel: 3, height: 24, width: 96 },
    ]) {
      const r = measureSparseCrossover(shape, [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95], Math.max(RUNS, 15));
      crossovers.push({ shape: `${shape.outChannels}x${shape.inChannels}x${shape.kernel}x${shape.kernel} conv at ${shape.height}x${shape.width}`, ...r });
      console.error(`sparse crossover ${crossovers.at(-1)!.shape}: ${r.crossover ?? 'none'}`);
    }
  }
  return Math.max(...crossovers.map((c) => c.crossover ?? 1.01));
}

function progressBar(label: string): (done: number, total: number) => void {
  return (done, total) => {
    const width = 30;
    const filled = Math.round((done / total) * width);
    process.stderr.write(`\r${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}`);
    if (done === total) process.stderr.write('\n');
  };
}

/** A [1, 3, 48, w] line tensor right-padded with zeros to `width` columns (as PaddleOCR pads a batch). */
function padWidth(t: Tensor, width: number): Tensor {
  const [n, c, h, w] = t.dims as [number, number, number, number];
  const src = t.numbers();
  const out = new Float32Array(n * c * h * width);
  for (let row = 0; row < n * c * h; row++) for (let x = 0; x < Math.min(w, width); x++) out[row * width + x] = src[row * w + x]!;
  return new Tensor('float32', out, [n, c, h, width]);
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

async function ortRunner(bytes: Uint8Array, extra?: Record<string, unknown>): Promise<Runner> {
  const s = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, ...(extra ? { extra } : {}) });
  return async (feeds) => {
    const x = feeds['x']!;
    const out = await s.run({ x: new ort.Tensor('float32', Float32Array.from(x.data as Float32Array), x.dims.slice()) });
    const t = out[s.outputNames[0]!]!;
    return new Tensor('float32', Float32Array.from(t.data as Float32Array), t.dims.slice());
  };
}

async function measureModel(model: 'cls' | 'rec'): Promise<Row[]> {
  const path = model === 'cls' ? CLS_MODEL : REC_MODEL;
  const evalSet = loadEvalSet('eval', model === 'cls' ? LINES : REC_LINES);
  const calibration = calibrationFeeds(model, loadEvalSet('calibration', CALIBRATION_LINES));
  const charset = recCharset();
  // the latency and FLOPs input: the first eval line at the model's full input width
  const first = evalSet[0]!.image;
  const latencyInput = model === 'cls' ? clsInput(first) : padWidth(recInput(first), 320);
  console.error(`${model}: ${evalSet.length} eval images, ${calibration.length} calibration inputs, latency input [${latencyInput.dims.join(', ')}]`);

  const base = loadForCompression(path);
  compactFloat32Bytes.set(model, saveModel(compactNames(base)).length);
  /** bytes: the saved file (onnxruntime runs it); run: what the Tessera session loads when it differs. */
  /** ortExtra: onnxruntime session config for the comparison (the int4 row's accuracy level). */
  const variants: { name: string; bytes: Uint8Array; run?: Uint8Array; seconds: number; note?: string; int4?: Row['int4']; ortExtra?: Record<string, unknown> }[] = [{ name: 'float32', bytes: readFileSync(path), seconds: 0 }];
  const timed = (name: string, make: () => { bytes: Uint8Array; run?: Uint8Array; note?: string; int4?: Row['int4']; ortExtra?: Record<string, unknown> }): void => {
    const t0 = performance.now();
    const made = make();
    variants.push({ name, ...made, seconds: (performance.now() - t0) / 1000 });
  };
  const save = (m: CompressModel): Uint8Array => saveModel(compactNames(m));
  timed('fp16', () => ({ bytes: save(quantizeFloat16(base)) }));
  timed('dynamic int8', () => ({ bytes: save(quantizeDynamic(base).model) }));
  for (const method of METHODS) {
    timed(`static int8 (${method})`, () => ({ bytes: save(quantizeStatic(base, { calibration, method, onProgress: progressBar(`${model} calibrating (${method})`) }).model) }));
  }
  if (model === 'rec') {
    timed('int4 weight-only (MatMul/Gemm)', () => {
      const r = quantizeInt4Weights(base);
      return {
        bytes: save(r.model),
        int4: { int4Bytes: r.int4Bytes, float32Bytes: r.float32Bytes },
        ortExtra: { session: { qdq_matmulnbits_accuracy_level: '0' } },
        note: `${r.quantizedNodes} MatMul/Gemm weights: ${r.int4Bytes} B as int4 blocks (4-bit codes + one float32 scale per 32 weights along K, unpadded) vs ${r.float32Bytes} B float32 (${pct(r.int4Bytes / r.float32Bytes)}); saved as INT4 + DequantizeLinear(block_size 32) at opset 21, run by Tessera as MatMulInt4 on the packed bytes; onnxruntime compared at qdq_matmulnbits_accuracy_level 0 (its default 4 quantizes activations to int8)`,
      };
    });
    timed('30% channels pruned', () => {
      const r = pruneChannels(base, { ratio: 0.3, calibration });
      return { bytes: save(r.model), note: `${r.removedChannels} of ${r.channels} channels removed in ${r.prunedSpaces} of ${r.spaces} channel spaces (the others reach Reshape/Transpose/Concat/outputs); ${r.refit?.length ?? 0} Convs refit by ridge least squares on the calibration split (damp 0.03); no fine-tuning` };
    });
  } else {
    timed('50% unstructured pruned', () => {
      const r = pruneMagnitude(base, { sparsity: 0.5, scope: 'error', calibration });
      const threshold = sparseThreshold();
      const sparse = sparsifyWeights(r.model, { minSparsity: threshold });
      return { bytes: save(r.model), run: save(sparse.model), note: `per-layer shares from the calibration reconstruction error, scores |w| x rms(input channel), bias correction and a sequential ridge least-squares refit of the surviving weights (damp 0.1) on the calibration split, ${pct(r.zeros / r.elements)} of ${r.elements} weights zero; ${sparse.sparseNodes} Convs at >= ${pct(threshold)} sparsity run as SparseConv (measured crossover); no fine-tuning` };
    });
  }

  const rows: Row[] = [];
  const sessions: InferenceSession[] = [];
  for (const v of variants) {
    const session = await InferenceSession.create(v.run ?? v.bytes, { intraOpNumThreads: 1 });
    sessions.push(session);
    const out = session.outputNames[0]!;
    const run: Runner = async (feeds) => (await session.run(feeds))[out]!;
    const stats = modelStats(session.model.graph, session.model.opsets, new Map([['x', latencyInput]]));
    const t0 = performance.now();
    let accuracy: number;
    let exact: number | undefined;
    if (model === 'cls') accuracy = await clsAccuracy(run, evalSet);
    else ({ accuracy, exact } = await recAccuracy(run, evalSet, charset));
    let ortMaxAbsDiff: number | string;
    try {
      const theirs = (await (await ortRunner(v.bytes, v.ortExtra))({ x: latencyInput })).numbers();
      const mine = (await run({ x: latencyInput })).numbers();
      ortMaxAbsDiff = 0;
      for (let i = 0; i < mine.length; i++) ortMaxAbsDiff = Math.max(ortMaxAbsDiff, Math.abs(mine[i]! - theirs[i]!));
    } catch (e) {
      ortMaxAbsDiff = `onnxruntime failed: ${(e as Error).message.slice(0, 80)}`;
    }
    console.error(`${model} ${v.name}: accuracy ${(accuracy * 100).toFixed(2)}% in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    rows.push({ model, variant: v.name, fileBytes: v.bytes.length, stats, accuracy, exact, latencyMs: 0, ortMaxAbsDiff, buildSeconds: v.seconds, note: v.note, int4: v.int4 });
  }
  // latency: one warm-up, then RUNS rounds, each running every variant once
  const samples = sessions.map(() => [] as number[]);
  for (const s of sessions) await s.run({ x: latencyInput });
  for (let r = 0; r < RUNS; r++) {
    for (let i = 0; i < sessions.length; i++) {
      const t0 = performance.now();
      await sessions[i]!.run({ x: latencyInput });
      samples[i]!.push(performance.now() - t0);
    }
  }
  rows.forEach((row, i) => (row.latencyMs = median(samples[i]!)));
  for (const s of sessions) await s.release();
  return rows;
}

const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;
/** Size of each model's float32 file saved with compactNames (the fair size baseline for compacted variants). */
const compactFloat32Bytes = new Map<string, number>();
const kib = (b: number): string => `${(b / 1024).toFixed(0)} KiB`;

function table(rows: Row[]): string {
  const lines = [
    '| model | variant | file | file vs f32 | weight memory | params | sparsity | GFLOPs | cpu median | latency vs f32 | accuracy | Δ acc (points) | ort max abs Δ |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    const f = rows.find((x) => x.model === r.model && x.variant === 'float32')!;
    const acc = r.model === 'rec' ? `${pct(r.accuracy)} char (${pct(r.exact ?? 0)} lines exact)` : pct(r.accuracy);
    const diff = typeof r.ortMaxAbsDiff === 'number' ? r.ortMaxAbsDiff.toExponential(1) : r.ortMaxAbsDiff;
    lines.push(
      `| ${r.model} | ${r.variant} | ${kib(r.fileBytes)} | ${pct(r.fileBytes / f.fileBytes)} | ${kib(r.stats.weightBytes)} | ${(r.stats.parameters / 1e6).toFixed(2)} M | ${pct(r.stats.sparsity)} | ${(r.stats.flops / 1e9).toFixed(3)} | ${r.latencyMs.toFixed(1)} ms | ${(r.latencyMs / f.latencyMs).toFixed(2)}x | ${acc} | ${((r.accuracy - f.accuracy) * 100).toFixed(2)} | ${diff} |`,
    );
  }
  return lines.join('\n');
}

interface Check {
  target: string;
  measured: string;
  holds: boolean;
}

function checks(rows: Row[]): Check[] {
  const out: Check[] = [];
  const models = [...new Set(rows.map((r) => r.model))];
  for (const m of models) {
    const f = rows.find((r) => r.model === m && r.variant === 'float32')!;
    for (const r of rows.filter((x) => x.model === m && x.variant !== 'float32')) {
      const drop = (f.accuracy - r.accuracy) * 100;
      if (!r.variant.includes('pruned') && !r.variant.startsWith('int4')) out.push({ target: `${m} ${r.variant}: accuracy within 1 point of float32`, measured: dropText(drop), holds: drop <= 1 });
      if (r.variant.startsWith('int4') || r.variant.includes('channels pruned')) out.push({ target: `${m} ${r.variant}: accuracy reported`, measured: `${dropText(drop)} float32`, holds: true });
      if (r.variant === 'fp16') out.push({ target: `${m} fp16: file at most 52% of float32`, measured: pct(r.fileBytes / f.fileBytes), holds: r.fileBytes <= 0.52 * f.fileBytes });
      if (r.variant.startsWith('static')) {
        const compact = compactFloat32Bytes.get(m)!;
        out.push({ target: `${m} ${r.variant}: file at most 30% of float32`, measured: `${pct(r.fileBytes / f.fileBytes)} of the shipped file (${pct(r.fileBytes / compact)} of float32 saved with the same short names)`, holds: r.fileBytes <= 0.3 * f.fileBytes });
        out.push({ target: `${m} ${r.variant}: cpu latency at most 1.2x float32`, measured: `${(r.latencyMs / f.latencyMs).toFixed(2)}x`, holds: r.latencyMs <= 1.2 * f.latencyMs });
      }
      if (r.int4) out.push({ target: `${m} int4: MatMul/Gemm weights at most 16% of their float32 bytes`, measured: pct(r.int4.int4Bytes / r.int4.float32Bytes), holds: r.int4.int4Bytes <= 0.16 * r.int4.float32Bytes });
      if (r.variant.includes('unstructured')) {
        const c = crossovers.map((x) => `${x.shape}: ${x.crossover === undefined ? 'never' : pct(x.crossover)}`).join('; ');
        out.push({ target: `${m} ${r.variant}: accuracy within 2 points (sparse crossover reported)`, measured: `${dropText(drop)}; crossover ${c}`, holds: drop <= 2 });
      }
      if (r.variant.includes('channels pruned')) {
        out.push({ target: `${m} ${r.variant}: FLOPs down at least 25%`, measured: `${pct(1 - r.stats.flops / f.stats.flops)} down`, holds: r.stats.flops <= 0.75 * f.stats.flops });
        out.push({ target: `${m} ${r.variant}: cpu latency down at least 15%`, measured: `${pct(1 - r.latencyMs / f.latencyMs)} down`, holds: r.latencyMs <= 0.85 * f.latencyMs });
      }
    }
  }
  return out;
}

async function main(): Promise<void> {
  const started = Date.now();
  const rows: Row[] = [];
  for (const m of MODELS) rows.push(...(await measureModel(m)));
  const result = checks(rows);
  const command = `npx tsx bench/compression.ts ${process.argv.slice(2).join(' ')}`.trim();
  const cpu = cpus()[0]?.model ?? 'unknown cpu';
  const md = [
    `## Compression (PP-OCR, Tessera CPU, 1 thread)`,
    '',
    `Command: \`${command}\` (${new Date().toISOString().slice(0, 10)}, ${cpu}, ${cpus().length} cores shared with other work; ${((Date.now() - started) / 1000).toFixed(0)} s)`,
    `Eval set: assets/eval (cls: ${LINES === Infinity ? 'all' : LINES} eval lines per rotation; rec: ${REC_LINES === Infinity ? 'all' : REC_LINES} upright eval lines); calibration: ${CALIBRATION_LINES} lines of the calibration split.`,
    '',
    table(rows),
    '',
    ...rows.filter((r) => r.note).map((r) => `- ${r.model} ${r.variant}: ${r.note}`),
    ...[...compactFloat32Bytes].map(([m, b]) => `- ${m} float32 saved with compactNames: ${kib(b)} (the compressed rows are saved that way)`),
    '',
    ...(crossovers.length
      ? [
          'Sparse (CSR) vs dense Conv kernel, same process, interleaved medians:',
          '',
          '| shape | ' + crossovers[0]!.points.map((p) => pct(p.sparsity)).join(' | ') + ' | crossover |',
          '|---|' + crossovers[0]!.points.map(() => '---:').join('|') + '|---:|',
          ...crossovers.map((c) => `| ${c.shape} (dense / sparse ms) | ${c.points.map((p) => `${p.denseMs.toFixed(2)} / ${p.sparseMs.toFixed(2)}`).join(' | ')} | ${c.crossover === undefined ? 'never' : pct(c.crossover)} |`),
          '',
        ]
      : []),
    '| target | measured | holds |',
    '|---|---|---|',
    ...result.map((c) => `| ${c.target} | ${c.measured} | ${c.holds ? 'yes' : 'NO'} |`),
    '',
  ].join('\n');
  console.log(md);
  mkdirSync(OUT, { recursive: true });
  writeFileSync(join(OUT, 'compression.md'), md);
  writeFileSync(join(OUT, 'compression.json'), `${JSON.stringify({ command, date: new Date().toISOString(), cpu, rows, crossovers, compactFloat32Bytes: Object.fromEntries(compactFloat32Bytes), checks: result }, null, 2)}\n`);
  console.error(`wrote ${join(OUT, 'compression.md')} and compression.json (${statSync(join(OUT, 'compression.json')).size} bytes)`);
}

await main();
