/**
 * rec 30% structured channel pruning with and without the least-squares reconstruction of the Convs after the
 * removal (src/quant/prune-channels.ts, refit), scored like bench/compression.ts scores rec:
 *
 *   npx tsx bench/prune-rec-channels.ts --split holdout          (calibration split only)
 *   npx tsx bench/prune-rec-channels.ts --split eval --lines 50  (fit on the calibration split, score eval)
 *
 * --split holdout fits on the first 20 upright calibration lines and scores character accuracy on the other
 * 20 upright calibration lines; --split eval fits on the 40 upright calibration lines bench/compression.ts
 * uses and scores the first --lines upright eval lines (CTC greedy decode, character accuracy and exact lines).
 * --damp a,b,... tries several ridge strengths; --matmul no|yes|both also refits the constant-weight MatMuls;
 * --refit-only skips the unrefit row; --ort saves the last variant and compares onnxruntime-node.
 */
import * as ort from 'onnxruntime-node';
import { InferenceSession } from '../src/graph/index.js';
import { compactNames, loadForCompression, saveModel } from '../src/quant/model.js';
import { pruneChannels } from '../src/quant/prune-channels.js';
import { modelStats } from '../src/quant/stats.js';
import { Tensor } from '../src/tensor/tensor.js';
import { recInput } from '../demo/ocr.js';
import { REC_MODEL, calibrationFeeds, loadEvalSet, recAccuracy, recCharset } from './ocr-eval.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

const SPLIT = arg('split', 'holdout') as 'holdout' | 'eval';
const LINES = Number(arg('lines', '50'));
const DAMPS = arg('damp', '0.1').split(',').map(Number);
const RATIO = Number(arg('ratio', '0.3'));
/** Refit MatMuls too: no, yes, or both variants. */
const MATMUL = arg('matmul', 'no') as 'no' | 'yes' | 'both';
const SKIP_PLAIN = process.argv.includes('--refit-only');

async function main(): Promise<void> {
  const base = loadForCompression(REC_MODEL);
  const charset = recCharset();
  const calLines = loadEvalSet('calibration', SPLIT === 'holdout' ? 20 : 40);
  const fit = calibrationFeeds('rec', calLines);
  const scored = SPLIT === 'holdout' ? loadEvalSet('calibration').filter((l) => l.rotation === 0 && !calLines.some((c) => c.file === l.file)) : loadEvalSet('eval', LINES);
  console.log(`split ${SPLIT}: fit on ${fit.length} upright calibration lines, scored on ${scored.filter((l) => l.rotation === 0).length} upright ${SPLIT === 'holdout' ? 'held-out calibration' : 'eval'} lines (machine shared)`);
  console.log('| variant | GFLOPs at 48x320 | char accuracy | lines exact | build s |');
  console.log('|---|---:|---:|---:|---:|');
  const flopsInput = new Map([['x', padTo(recInput(scored[0]!.image), 320)]]);
  const variants: { name: string; make: () => ReturnType<typeof pruneChannels> | { model: typeof base } }[] = [
    { name: 'float32', make: () => ({ model: base }) },
    ...(SKIP_PLAIN ? [] : [{ name: `${RATIO * 100}% channels, no refit`, make: () => pruneChannels(base, { ratio: RATIO }) }]),
    ...DAMPS.flatMap((damp) =>
      (MATMUL === 'both' ? [false, true] : [MATMUL === 'yes']).map((matMul) => ({
        name: `${RATIO * 100}% channels + refit of Convs${matMul ? ' and MatMuls' : ''} (damp ${damp})`,
        make: () => pruneChannels(base, { ratio: RATIO, calibration: fit, refit: { damp, matMul, onLayer: (i, n, node, a, b) => console.error(`refit ${i}/${n} ${node}: relative error ${a.toFixed(4)} -> ${b.toFixed(4)}`) } }),
      })),
    ),
  ];
  let last: Uint8Array | undefined;
  for (const v of variants) {
    const t0 = performance.now();
    const r = v.make();
    const seconds = (performance.now() - t0) / 1000;
    last = saveModel(compactNames(r.model));
    const session = await InferenceSession.create(last, { intraOpNumThreads: 1 });
    const out = session.outputNames[0]!;
    const acc = await recAccuracy(async (f) => (await session.run(f))[out]!, scored, charset);
    const stats = modelStats(session.model.graph, session.model.opsets, flopsInput);
    console.log(`| ${v.name} | ${(stats.flops / 1e9).toFixed(3)} | ${(acc.accuracy * 100).toFixed(2)}% | ${(acc.exact * 100).toFixed(1)}% | ${seconds.toFixed(0)} |`);
    await session.release();
  }
  if (process.argv.includes('--ort') && last) {
    const x = padTo(recInput(scored[0]!.image), 320);
    const mine = (await (await InferenceSession.create(last, { intraOpNumThreads: 1 })).run({ x }));
    const s = await ort.InferenceSession.create(last, { intraOpNumThreads: 1 });
    const theirs = (await s.run({ x: new ort.Tensor('float32', Float32Array.from(x.numbers()), x.dims.slice()) }))[s.outputNames[0]!]!.data as Float32Array;
    const a = Object.values(mine)[0]!.numbers();
    let d = 0;
    for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - theirs[i]!));
    console.log(`last variant: onnxruntime-node max abs Δ ${d.toExponential(1)}`);
  }
}

/** A [1, 3, 48, w] line tensor right-padded with zeros to `width` columns. */
function padTo(t: Tensor, width: number): Tensor {
  const [n, c, h, w] = t.dims as [number, number, number, number];
  const src = t.numbers();
  const out = new Float32Array(n * c * h * width);
  for (let row = 0; row < n * c * h; row++) for (let x = 0; x < Math.min(w, width); x++) out[row * width + x] = src[row * w + x]!;
  return new Tensor('float32', out, [n, c, h, width]);
}

await main();
