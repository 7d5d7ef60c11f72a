/**
 * Calibration for static quantization: run the float model on representative inputs, observe the values of
 * the activations that will be quantized, and turn each observation into a range [lo, hi] that
 * chooseQuantParams makes a scale and zero point of.
 *
 * Methods:
 * - 'minmax': the smallest and largest value seen over all calibration inputs. Never clips, but one outlier
 *   stretches the step for every other value.
 * - 'percentile': a 2048-bin histogram over the min-max range (second pass); lo and hi are the values below
 *   which (100 - p) / 2 percent and p + (100 - p) / 2 percent of the observations fall (default p = 99.99),
 *   so the rarest tails are clipped.
 * - 'entropy': the histogram of |x| (2048 bins over [0, max|x|]); for each candidate threshold T (bin edges
 *   from 128 bins up) the distribution P clipped at T (tail mass folded into the last bin) is compared with its
 *   128-level quantized version Q, and the T with the smallest KL(P || Q) wins (the TensorRT method); the
 *   range is then [max(min, -T), min(max, T)].
 *
 * Cost: one float run per calibration input for 'minmax' and two for the histogram methods, plus one pass over
 * each observed tensor per run.
 */
import { Executor } from '../graph/executor.js';
import type { Graph } from '../graph/ir.js';
import { TesseraError } from '../tensor/errors.js';
import type { Tensor } from '../tensor/tensor.js';

/** Calibration method. */
export type CalibrationMethod = 'minmax' | 'percentile' | 'entropy';

/** Options of calibrate. */
export interface CalibrationOptions {
  readonly method: CalibrationMethod;
  /** Percentile kept by 'percentile' (default 99.99). */
  readonly percentile?: number;
  /** Called after each calibration run (for a progress bar): runs done, runs in total. */
  readonly onProgress?: (done: number, total: number) => void;
}

/** Range chosen per tensor name. */
export type CalibrationRanges = Map<string, { lo: number; hi: number }>;

const BINS = 2048;
const LEVELS = 128;

/** Run `graph` on each feed set and hand every requested tensor to `observe`. */
function observeRuns(graph: Graph, opsets: ReadonlyMap<string, number>, feeds: readonly ReadonlyMap<string, Tensor>[], names: readonly string[], observe: (name: string, values: ArrayLike<number>) => void, progress: () => void): void {
  const executor = new Executor(opsets, { backend: 'cpu' });
  for (const feed of feeds) {
    const { outputs } = executor.run(graph, feed, names);
    outputs.forEach((t, i) => {
      observe(names[i]!, t.numbers());
      t.dispose();
    });
    progress();
  }
}

/** Calibrate the float tensors `names` of `graph` on `feeds` (see the file comment). */
export function calibrate(graph: Graph, opsets: ReadonlyMap<string, number>, feeds: readonly ReadonlyMap<string, Tensor>[], names: readonly string[], options: CalibrationOptions): CalibrationRanges {
  if (feeds.length === 0) throw new TesseraError('calibrate: no calibration inputs were given');
  const passes = options.method === 'minmax' ? 1 : 2;
  let done = 0;
  const progress = (): void => options.onProgress?.(++done, feeds.length * passes);
  const min = new Map<string, number>(names.map((n) => [n, Infinity]));
  const max = new Map<string, number>(names.map((n) => [n, -Infinity]));
  observeRuns(graph, opsets, feeds, names, (name, v) => {
    let lo = min.get(name)!;
    let hi = max.get(name)!;
    for (let i = 0; i < v.length; i++) {
      const x = v[i]!;
      if (x < lo) lo = x;
      if (x > hi) hi = x;
    }
    min.set(name, lo);
    max.set(name, hi);
  }, progress);
  const ranges: CalibrationRanges = new Map();
  for (const n of names) {
    const lo = min.get(n)!;
    const hi = max.get(n)!;
    if (!Number.isFinite(lo) || !Number.isFinite(hi)) throw new TesseraError(`calibrate: tensor '${n}' held non-finite values or no values`);
    ranges.set(n, { lo, hi });
  }
  if (options.method === 'minmax') return ranges;
  const symmetric = options.method === 'entropy';
  const hist = new Map<string, Float64Array>(names.map((n) => [n, new Float64Array(BINS)]));
  observeRuns(graph, opsets, feeds, names, (name, v) => {
    const r = ranges.get(name)!;
    const h = hist.get(name)!;
    if (symmetric) addAbsHistogram(h, v, Math.max(-r.lo, r.hi));
    else addHistogram(h, v, r.lo, r.hi);
  }, progress);
  for (const n of names) {
    const r = ranges.get(n)!;
    const h = hist.get(n)!;
    if (options.method === 'percentile') ranges.set(n, percentileRange(h, r.lo, r.hi, options.percentile ?? 99.99));
    else {
      const t = entropyThreshold(h, Math.max(-r.lo, r.hi));
      ranges.set(n, { lo: Math.max(r.lo, -t), hi: Math.min(r.hi, t) });
    }
  }
  return ranges;
}

/** Count values into BINS equal bins over [lo, hi]. */
export function addHistogram(h: Float64Array, v: ArrayLike<number>, lo: number, hi: number): void {
  const width = (hi - lo) / h.length || 1;
  const last = h.length - 1;
  for (let i = 0; i < v.length; i++) {
    const b = Math.floor((v[i]! - lo) / width);
    h[b < 0 ? 0 : b > last ? last : b]!++;
  }
}

/** Count |values| into bins over [0, amax]. */
export function addAbsHistogram(h: Float64Array, v: ArrayLike<number>, amax: number): void {
  const width = amax / h.length || 1;
  const last = h.length - 1;
  for (let i = 0; i < v.length; i++) {
    const b = Math.floor(Math.abs(v[i]!) / width);
    h[b > last ? last : b]!++;
  }
}

/** [lo, hi] keeping the central `p` percent of a histogram over [min, max]. */
export function percentileRange(h: Float64Array, min: number, max: number, p: number): { lo: number; hi: number } {
  if (!(p > 0 && p <= 100)) throw new TesseraError(`calibrate: percentile must be in (0, 100], got ${p}`);
  const total = h.reduce((s, c) => s + c, 0);
  const tail = (total * (100 - p)) / 200;
  const width = (max - min) / h.length;
  let acc = 0;
  let loBin = 0;
  while (loBin < h.length - 1 && acc + h[loBin]! <= tail) acc += h[loBin++]!;
  acc = 0;
  let hiBin = h.length - 1;
  while (hiBin > 0 && acc + h[hiBin]! <= tail) acc += h[hiBin--]!;
  if (hiBin < loBin) return { lo: min, hi: max };
  return { lo: min + loBin * width, hi: min + (hiBin + 1) * width };
}

/**
 * Threshold on |x| minimizing KL(P || Q) between the clipped distribution and its LEVELS-level quantization,
 * over a histogram of |x| with bins over [0, amax].
 */
export function entropyThreshold(h: Float64Array, amax: number): number {
  const n = h.length;
  const width = amax / n;
  let best = n;
  let bestKl = Infinity;
  for (let t = LEVELS; t <= n; t += 16) {
    // P: the first t bins, the tail folded into the last one
    const p = Array.from(h.subarray(0, t));
    let tailMass = 0;
    for (let i = t; i < n; i++) tailMass += h[i]!;
    p[t - 1]! += tailMass;
    // Q: t bins merged into LEVELS levels, each level's mass spread evenly over its non-empty bins
    const q = new Float64Array(t);
    const per = t / LEVELS;
    for (let l = 0; l < LEVELS; l++) {
      const start = Math.floor(l * per);
      const end = l === LEVELS - 1 ? t : Math.floor((l + 1) * per);
      let mass = 0;
      let nonEmpty = 0;
      for (let i = start; i < end; i++) {
        mass += p[i]!;
        if (p[i]! > 0) nonEmpty++;
      }
      for (let i = start; i < end; i++) if (p[i]! > 0) q[i] = mass / nonEmpty;
    }
    const pSum = p.reduce((s, x) => s + x, 0);
    const qSum = q.reduce((s, x) => s + x, 0);
    if (pSum === 0 || qSum === 0) continue;
    let kl = 0;
    for (let i = 0; i < t; i++) {
      const pi = p[i]! / pSum;
      if (pi === 0) continue;
      kl += pi * Math.log(pi / (q[i]! / qSum)); // q[i] > 0 wherever p[i] > 0 by construction
    }
    if (kl < bestKl) {
      bestKl = kl;
      best = t;
    }
  }
  return best * width;
}
