/**
 * runBatch throughput on a model without a symbolic batch dim (Silero VAD 16k: its `sr` input is a scalar),
 * items one at a time on the calling thread (`concurrency: 1`) against items spread over worker threads
 * (`concurrency: --workers`). One item is a 512-sample chunk with its own state. Rounds are interleaved so
 * machine load hits all ways alike; prints each round (or size) and the medians. Two modes:
 *
 *   npx tsx bench/batch-workers.ts [--mode warm] [--sizes 4,16,64,200,2000] [--calls 3] [--rounds 3] [--workers 2] [--dist <folder>]
 *   npx tsx bench/batch-workers.ts --mode cold [--items 2000] [--rounds 3] [--workers 2] [--dist <folder>]
 *
 * warm (default): the session's worker pool is started once, then for each size, `--calls` consecutive calls
 * run on the calling thread, on the pool by the default rule, and on the pool only (useCallingThread false);
 * per way, the median items/s over its calls and how the calls ran (mode, workers, warm workers).
 *
 * cold: fresh workers for every call (`workers: 'per-call'`), columns as below.
 *
 * With --dist, the session comes from a build of src/ (`npx tsc -p tsconfig.build.json --outDir <folder>`, e.g.
 * dist), so the workers load plain JavaScript as in production; otherwise they load the TypeScript sources
 * through tsx, which makes their startup several times longer.
 *
 * Columns: items/s over the whole call (worker startup included: thread, module graph, model decode), items/s
 * over the second half of the items (steady state, from onProgress timestamps), for workers also items/s over
 * each quarter of the items (startup and cold JIT of the fresh worker isolates show in the first ones) and how
 * many items the calling thread ran while the workers started. Outputs are checked bitwise against the calling-thread run.
 */
import { availableParallelism, cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { InferenceSession as SessionClass } from '../src/graph/session.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { SILERO, bitwiseEqual } from '../test/modes/models.js';

const { values } = parseArgs({
  options: {
    mode: { type: 'string', default: 'warm' },
    items: { type: 'string', default: '2000' },
    sizes: { type: 'string', default: '4,16,64,200,2000' },
    calls: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '3' },
    workers: { type: 'string', default: '2' },
    dist: { type: 'string' },
  },
});
const sizes = values.sizes.split(',').map(Number);
const calls = Number(values.calls);
const n = values.mode === 'cold' ? Number(values.items) : Math.max(...values.sizes.split(',').map(Number), 600);
const rounds = Number(values.rounds);
const workers = Number(values.workers);

// the session and Tensor class from the sources or from a build (feeds must be the build's own Tensors)
const from = (p: string): string => (values.dist ? pathToFileURL(resolve(values.dist, `${p}.js`)).href : `../src/${p}.js`);
const { InferenceSession } = (await import(from('graph/session'))) as { InferenceSession: typeof SessionClass };
const { Tensor: TensorClass } = (await import(from('tensor/tensor'))) as { Tensor: typeof Tensor };

/** A float32 tensor of a deterministic pseudo-random signal (seeded LCG) times `scale`. */
function signal(dims: readonly number[], seed: number, scale: number): Tensor {
  const data = new Float32Array(dims.reduce((a, b) => a * b, 1));
  let s = seed >>> 0 || 1;
  for (let i = 0; i < data.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    data[i] = ((s / 2 ** 32) * 2 - 1) * scale;
  }
  return new TensorClass('float32', data, dims);
}

const session = InferenceSession.createSync(SILERO, { logSeverity: 3 });
const items = Array.from({ length: n }, (_, i) => ({
  input: signal([1, 512], 10 + i, 0.5),
  state: signal([2, 1, 128], 20_000 + i, 0.2),
  sr: new TensorClass('int64', BigInt64Array.of(16000n), []),
}));

interface Row {
  total: number;
  steady: number;
  first: number;
  /** items/s over each quarter of the items, in completion order */
  quarters: number[];
}

async function measure(concurrency: number, extra: Record<string, unknown> = {}): Promise<{ row: Row; outputs: (Record<string, Tensor> | undefined)[]; mode: string; used: number; onCaller: number }> {
  const stamps: number[] = [];
  const start = performance.now();
  // minSecondsForWorkers 0: workers start at once (the calling thread runs items until one is ready), so the
  // worker path is measured whatever the batch's length; by default runBatch keeps batches under
  // DEFAULT_MIN_SECONDS_FOR_WORKERS of work on the calling thread
  const r = await session.runBatch(items, { ...extra, concurrency, minSecondsForWorkers: 0, onProgress: () => stamps.push(performance.now()) });
  const half = Math.floor(n / 2);
  const steady = (n - half) / ((stamps[n - 1]! - stamps[half - 1]!) / 1000);
  const cut = [0, 1, 2, 3, 4].map((q) => Math.floor((q * n) / 4));
  const at = (k: number): number => (k === 0 ? start : stamps[k - 1]!);
  const quarters = cut.slice(1).map((e, q) => (e - cut[q]!) / ((at(e) - at(cut[q]!)) / 1000));
  // in worker mode, the items the calling thread ran while the workers started (see BatchResult.modeReason)
  const onCaller = r.mode === 'workers' ? Number(/(\d+) items? ran on the calling thread/.exec(r.modeReason)?.[1] ?? 0) : n;
  return { row: { total: r.itemsPerSecond, steady, first: stamps[0]! - start, quarters }, outputs: r.outputs, mode: r.mode, used: r.workers, onCaller };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(`Silero VAD 16k, workers from ${values.dist ? `the build in ${values.dist}` : 'the TypeScript sources (tsx)'}, ${cpus()[0]?.model ?? '?'} x${availableParallelism()}, Node ${process.version}, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
// warm the calling thread's JIT first (a long-lived process has)
await session.runBatch(items.slice(0, Math.min(n, 300)), { concurrency: 1 });

if (values.mode === 'cold') {
  // fresh workers on every call ('per-call'): their startup and cold JIT are part of what is measured
  console.log(`${n} items per call, fresh workers per call`);
  const seq: Row[] = [];
  const par: Row[] = [];
  for (let round = 0; round < rounds; round++) {
    const a = await measure(1);
    const b = await measure(workers, { workers: 'per-call' });
    const same = a.outputs.every((o, i) => Object.keys(o!).every((k) => bitwiseEqual(o![k]!, b.outputs[i]![k]!)));
    if (!same) throw new Error('worker outputs differ from calling-thread outputs');
    seq.push(a.row);
    par.push(b.row);
    console.log(
      `round ${round + 1}: ${a.mode} ${a.row.total.toFixed(0)} items/s (steady ${a.row.steady.toFixed(0)}) | ` +
        `${b.mode} x${b.used} ${b.row.total.toFixed(0)} items/s (steady ${b.row.steady.toFixed(0)}; by quarter ${b.row.quarters.map((x) => x.toFixed(0)).join(' ')}; ${b.onCaller} items on the calling thread while workers started) | bitwise equal`,
    );
  }
  const m = (rows: Row[], k: 'total' | 'steady' | 'first'): number => median(rows.map((r) => r[k]));
  console.log(`median: sequential ${m(seq, 'total').toFixed(0)} items/s (steady ${m(seq, 'steady').toFixed(0)}); workers x${workers} ${m(par, 'total').toFixed(0)} items/s (steady ${m(par, 'steady').toFixed(0)})`);
} else {
  // the session's pool kept between calls: one call starts (and JIT-warms) it, then consecutive calls of each
  // size run three ways, interleaved per round: on the calling thread, on the pool by the default rule
  // (minSecondsForWarmWorkers), and all on the pool (useCallingThread false)
  const warmup = await session.runBatch(items.slice(0, Math.min(n, 600)), { concurrency: workers, useCallingThread: false });
  console.log(`pool started: ${warmup.workers} workers; ${calls} consecutive calls per size and way, ${rounds} rounds`);
  const variants: { name: string; options: Record<string, unknown> }[] = [
    { name: 'calling thread', options: { concurrency: 1 } },
    { name: 'pool, default rule', options: { concurrency: workers } },
    { name: 'pool, all items', options: { concurrency: workers, useCallingThread: false } },
  ];
  for (const size of sizes) {
    const batch = items.slice(0, size);
    const rates = variants.map(() => [] as number[]);
    const modes = variants.map(() => new Map<string, number>());
    let reference: (Record<string, Tensor> | undefined)[] | undefined;
    for (let round = 0; round < rounds; round++) {
      for (const [v, variant] of variants.entries()) {
        for (let c = 0; c < calls; c++) {
          const r = await session.runBatch(batch, variant.options);
          rates[v]!.push(r.itemsPerSecond);
          const key = r.mode === 'workers' ? `workers x${r.workers} (${r.warmWorkers} warm)` : r.mode;
          modes[v]!.set(key, (modes[v]!.get(key) ?? 0) + 1);
          if (!reference) reference = r.outputs;
          else if (!r.outputs.every((o, i) => Object.keys(o!).every((k) => bitwiseEqual(o![k]!, reference![i]![k]!)))) throw new Error(`${variant.name}: outputs differ`);
        }
      }
    }
    const cols = variants.map((v, k) => `${v.name} ${median(rates[k]!).toFixed(0)} items/s [${[...modes[k]!].map(([m, c]) => `${m}: ${c}`).join(', ')}]`);
    console.log(`${size} items per call, median of ${rounds * calls} calls: ${cols.join(' | ')} | bitwise equal`);
  }
}
console.log(`load average after: ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
await session.release();
