/**
 * Soak measurement shared by test/reliability/soak.test.ts (a few hundred runs) and scripts/soak.ts (10,000):
 * run the PP-OCR direction classifier N times on varying inputs, disposing every output, and sample the
 * process RSS (after a forced GC) and Tensor.liveCount. A leak shows as a live count that does not return to
 * its baseline after a run, or as RSS that keeps climbing after the warm-up.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { InferenceSession } from '../../src/graph/session.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { REAL_MODEL_FILES } from './hostile.js';

/** A forced full GC (exposed at run time, so no node flag is needed). */
export const forceGc: () => void = (() => {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
})();

export interface SoakResult {
  readonly runs: number;
  readonly msPerRun: number;
  /** RSS after warm-up and GC, and the highest RSS sampled (after GC) afterwards, in MiB. */
  readonly rssStartMiB: number;
  readonly rssMaxMiB: number;
  readonly rssEndMiB: number;
  /** Largest difference between Tensor.liveCount after a run (outputs disposed) and before the first run. */
  readonly maxLiveDelta: number;
  /** The same, at the end of the soak. */
  readonly endLiveDelta: number;
}

/** Input of run `i`: a 1x3x48x192 image with values that change from run to run. */
function image(i: number): Tensor {
  const data = new Float32Array(3 * 48 * 192);
  for (let k = 0; k < data.length; k++) data[k] = Math.sin(k * 0.01 + i) * 0.5;
  return new Tensor('float32', data, [1, 3, 48, 192]);
}

/** Run the classifier `runs` times after `warmup` runs; sample memory every `sampleEvery` runs. */
export async function soakClassifier(runs: number, options: { warmup?: number; sampleEvery?: number; threads?: number; onSample?: (run: number, rssMiB: number, live: number) => void } = {}): Promise<SoakResult> {
  const warmup = options.warmup ?? 20;
  const sampleEvery = options.sampleEvery ?? Math.max(1, Math.floor(runs / 20));
  const session = await InferenceSession.create(REAL_MODEL_FILES['cls']!, { threads: options.threads ?? 1 });
  const once = async (i: number): Promise<void> => {
    const x = image(i);
    const out = await session.run({ x });
    for (const t of Object.values(out)) t.dispose();
    x.dispose();
  };
  for (let i = 0; i < warmup; i++) await once(i);
  forceGc();
  const liveBase = Tensor.liveCount;
  const rssStart = process.memoryUsage().rss / 2 ** 20;
  let rssMax = rssStart;
  let maxLiveDelta = 0;
  const start = performance.now();
  for (let i = 0; i < runs; i++) {
    await once(warmup + i);
    maxLiveDelta = Math.max(maxLiveDelta, Math.abs(Tensor.liveCount - liveBase));
    if ((i + 1) % sampleEvery === 0) {
      forceGc();
      const rss = process.memoryUsage().rss / 2 ** 20;
      rssMax = Math.max(rssMax, rss);
      options.onSample?.(i + 1, rss, Tensor.liveCount - liveBase);
    }
  }
  const msPerRun = (performance.now() - start) / runs;
  forceGc();
  const rssEnd = process.memoryUsage().rss / 2 ** 20;
  const endLiveDelta = Tensor.liveCount - liveBase;
  await session.release();
  return { runs, msPerRun, rssStartMiB: rssStart, rssMaxMiB: Math.max(rssMax, rssEnd), rssEndMiB: rssEnd, maxLiveDelta, endLiveDelta };
}
