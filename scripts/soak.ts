/**
 * Full soak: 10,000 runs (or --runs N) of the PP-OCR direction classifier, disposing every output, sampling
 * RSS (after a forced GC) and Tensor.liveCount. Passes when the live count never moves from its baseline and
 * RSS stays within --margin-mib (default 64) of its value after the warm-up. The reduced version runs in
 * vitest (test/reliability/soak.test.ts).
 *
 *   tsx scripts/soak.ts [--runs 10000] [--threads 1] [--margin-mib 64]
 */
import { parseArgs } from 'node:util';
import { shutdownPool } from '../src/kernels/cpu/pool.js';
import { soakClassifier } from '../test/reliability/soak-run.js';

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { runs: { type: 'string', default: '10000' }, threads: { type: 'string', default: '1' }, 'margin-mib': { type: 'string', default: '64' } },
    strict: true,
  });
  const runs = Number(values.runs);
  const threads = Number(values.threads);
  const margin = Number(values['margin-mib']);
  if (!Number.isInteger(runs) || runs < 1 || !Number.isInteger(threads) || threads < 1 || !(margin > 0)) {
    console.error('usage: tsx scripts/soak.ts [--runs N] [--threads T] [--margin-mib M]');
    return 2;
  }
  console.log(`soak: ${runs} runs of ch_ppocr_mobile_v2.0_cls_infer.onnx (1x3x48x192), ${threads} thread(s), RSS margin ${margin} MiB`);
  const r = await soakClassifier(runs, {
    warmup: 50,
    sampleEvery: Math.max(1, Math.floor(runs / 20)),
    threads,
    onSample: (run, rss, live) => console.log(`  run ${String(run).padStart(6)}: RSS ${rss.toFixed(1)} MiB, live tensors ${live >= 0 ? '+' : ''}${live}`),
  });
  await shutdownPool();
  const growth = r.rssMaxMiB - r.rssStartMiB;
  console.log(
    `soak: ${r.runs} runs, ${r.msPerRun.toFixed(1)} ms/run; RSS ${r.rssStartMiB.toFixed(1)} -> ${r.rssEndMiB.toFixed(1)} MiB (max +${growth.toFixed(1)}); live tensors max delta ${r.maxLiveDelta}, end delta ${r.endLiveDelta}`,
  );
  const ok = r.maxLiveDelta === 0 && r.endLiveDelta === 0 && growth < margin;
  console.log(ok ? 'soak: PASS' : 'soak: FAIL');
  return ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e);
    process.exit(2);
  },
);
