/**
 * The cls 50% unstructured pruning variants only (bench/compression.ts builds and times every variant of both
 * models; this runs in a fraction of the time), as an ablation of what each post-training step buys:
 *
 *   npx tsx bench/prune-cls.ts --split holdout     (choose settings: calibration split only)
 *   npx tsx bench/prune-cls.ts --split eval        (report: fit on the calibration split, score on eval)
 *   npx tsx bench/prune-cls.ts --split eval --variants plain,refit-seq --ort
 *
 * --split holdout never reads the eval split: it fits on the first 20 calibration lines of each rotation and
 * scores the other 20 of each (accuracy, the mean |p(0°) - p_dense(0°)| and the mean KL(dense || pruned) of the
 * softmax), so settings can be chosen without looking at eval. --split eval fits on the 40 + 40 calibration
 * lines bench/compression.ts uses and scores accuracy on all 400 eval lines. --ort also saves each variant,
 * loads it in a Tessera session and in onnxruntime-node and prints the largest output difference.
 * Each row prints the measured sparsity of the prunable weights (Conv / MatMul / Gemm initializers with at
 * least 64 elements, depthwise and first Conv included: 52 tensors, 124,040 weights in cls).
 */
import * as ort from 'onnxruntime-node';
import { Executor } from '../src/graph/executor.js';
import { InferenceSession } from '../src/graph/index.js';
import { loadForCompression, saveModel, compactNames, type CompressModel } from '../src/quant/model.js';
import { pruneMagnitude, type MagnitudeOptions } from '../src/quant/prune.js';
import { CLS_MODEL, calibrationFeeds, clsAccuracy, loadEvalSet, type EvalImage } from './ocr-eval.js';
import { clsInput } from '../demo/ocr.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

type Variant = Omit<MagnitudeOptions, 'calibration'> & { calibrated: boolean };
/** The ablation ladder: each row adds one step to the one before (names are the --variants keys). */
const VARIANTS: Record<string, Variant> = {
  'magnitude': { sparsity: 0.5, scope: 'global', calibrated: false },
  'act-aware+bias': { sparsity: 0.5, scope: 'global', calibrated: true, refit: false },
  'refit-dense-inputs': { sparsity: 0.5, scope: 'global', calibrated: true, refit: { sequential: false } },
  'refit-seq': { sparsity: 0.5, scope: 'global', calibrated: true, refit: { sequential: true } },
  'layer+refit-seq': { sparsity: 0.5, scope: 'layer', calibrated: true, refit: { sequential: true } },
  'error-alloc+bias': { sparsity: 0.5, scope: 'error', calibrated: true, refit: false },
  'error-alloc+refit-dense-inputs': { sparsity: 0.5, scope: 'error', calibrated: true, refit: { sequential: false } },
  'error-alloc+refit-seq': { sparsity: 0.5, scope: 'error', calibrated: true, refit: { sequential: true } },
};

const SPLIT = arg('split', 'holdout') as 'holdout' | 'eval';
const NAMES = arg('variants', Object.keys(VARIANTS).join(',')).split(',');
const DAMPS = arg('damp', '').split(',').filter((x) => x).map(Number);
const ORT = process.argv.includes('--ort');

function probabilities(ex: Executor, m: CompressModel, lines: readonly EvalImage[]): Float64Array[] {
  const out = m.graph.outputs[0]!.name;
  return lines.map((l) => {
    const { outputs } = ex.run(m.graph, new Map([['x', clsInput(l.image)]]), [out]);
    const p = Float64Array.from(outputs[0]!.numbers());
    outputs[0]!.dispose();
    return p;
  });
}

async function main(): Promise<void> {
  const base = loadForCompression(CLS_MODEL);
  const calLines = loadEvalSet('calibration', SPLIT === 'holdout' ? 20 : 40);
  const fit = calibrationFeeds('cls', calLines);
  const held = SPLIT === 'holdout' ? loadEvalSet('calibration').filter((l) => !calLines.some((c) => c.file === l.file)) : loadEvalSet('eval');
  const ex = new Executor(base.opsets, { backend: 'cpu' });
  const denseP = probabilities(ex, base, held);
  const acc = (ps: Float64Array[]): number => ps.filter((p, i) => (p[0]! >= p[1]! ? 0 : 180) === held[i]!.rotation).length / ps.length;
  console.log(`split ${SPLIT}: fit on ${fit.length} calibration inputs, scored on ${held.length} ${SPLIT === 'holdout' ? 'held-out calibration' : 'eval'} lines (machine shared)`);
  console.log(`| variant | sparsity | accuracy | Δ points | mean abs Δp | mean KL | build s |`);
  console.log(`|---|---:|---:|---:|---:|---:|---:|`);
  console.log(`| float32 | 0.0% | ${(acc(denseP) * 100).toFixed(2)}% | 0.00 | 0 | 0 | 0 |`);
  const rows: { name: string; v: Variant }[] = [];
  for (const name of NAMES) {
    const v = VARIANTS[name];
    if (!v) throw new Error(`unknown variant '${name}'; known: ${Object.keys(VARIANTS).join(', ')}`);
    if (DAMPS.length && v.refit) for (const d of DAMPS) rows.push({ name: `${name} damp ${d}`, v: { ...v, refit: { ...(v.refit === true ? {} : v.refit), damp: d } } });
    else rows.push({ name, v });
  }
  for (const { name, v } of rows) {
    const t0 = performance.now();
    const r = pruneMagnitude(base, { ...v, calibration: v.calibrated ? fit : undefined });
    const seconds = (performance.now() - t0) / 1000;
    const ps = probabilities(ex, r.model, held);
    let dp = 0;
    let kl = 0;
    ps.forEach((p, i) => {
      const q = denseP[i]!;
      dp += Math.abs(p[0]! - q[0]!);
      for (let k = 0; k < q.length; k++) if (q[k]! > 0) kl += q[k]! * Math.log(q[k]! / Math.max(p[k]!, 1e-12));
    });
    const a = acc(ps);
    console.log(`| ${name} | ${((r.zeros / r.elements) * 100).toFixed(1)}% (${r.zeros}/${r.elements}) | ${(a * 100).toFixed(2)}% | ${((a - acc(denseP)) * 100).toFixed(2)} | ${(dp / ps.length).toFixed(4)} | ${(kl / ps.length).toFixed(4)} | ${seconds.toFixed(0)} |`);
    if (ORT) {
      const bytes = saveModel(compactNames(r.model));
      const session = await InferenceSession.create(bytes, { intraOpNumThreads: 1 });
      const outName = session.outputNames[0]!;
      const sessAcc = await clsAccuracy(async (f) => (await session.run(f))[outName]!, held);
      const theirs = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
      const x = clsInput(held[0]!.image);
      const o = await theirs.run({ x: new ort.Tensor('float32', Float32Array.from(x.numbers()), x.dims.slice()) });
      const mine = (await session.run({ x }))[outName]!.numbers();
      const t = o[theirs.outputNames[0]!]!.data as Float32Array;
      let d = 0;
      for (let i = 0; i < mine.length; i++) d = Math.max(d, Math.abs(mine[i]! - t[i]!));
      console.log(`  saved ${bytes.length} B; Tessera session on the saved file: ${(sessAcc * 100).toFixed(2)}%; onnxruntime-node max abs Δ ${d.toExponential(1)}`);
      await session.release();
    }
  }
}

await main();

