/**
 * The benchmark suite: kernels and real models on Tessera cpu (1 thread, all threads) and gpu, beside
 * onnxruntime-node, onnxruntime-web (wasm) and tfjs (cpu, wasm) in the same run, interleaved.
 *
 *   npm run bench                       (tsx bench/run.ts)
 *   npm run bench -- --quick            a subset in under 3 minutes
 *   npm run bench -- --only kernels     or --only models; --filter TEXT keeps cases whose id contains TEXT
 *   npm run bench -- --no-gpu           skip the GPU backend (same as --backend cpu)
 *   npm run bench:models -- --backend gpu   the GPU for every case (also in --quick) beside Tessera cpu and
 *                                       the peers; fails with the reason when no GPU context can be made
 *   options: --rounds N, --time MS (per implementation per round), --machine NAME, --out DIR
 *
 * Writes bench/results/<date>-<machine>[-quick][-partial].json (-partial: --only or --filter was given), the
 * Markdown report beside it, SVG charts in the folder of the same name, and bench/results/latest-node.md;
 * prints the headline table.
 *
 * The GPU backend needs an X display for headless-gl: without DISPLAY the script re-runs itself under
 * `xvfb-run -a` when that exists (set TESSERA_BENCH_NO_XVFB=1 to prevent it). On machines without a GPU the
 * renderer is Mesa llvmpipe, a software rasterizer: those numbers are labelled as software rendering,
 * not GPU speed, everywhere they appear.
 */
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import { gpuInfo } from '../src/kernels/gpu/index.js';
import { shutdownPool, startPool } from '../src/kernels/cpu/pool.js';
import { prepareKernelCase } from './lib/kernel-cases.js';
import { KERNEL_SPECS } from './lib/kernel-specs.js';
import { machineInfo, machineSlug } from './lib/machine.js';
import { MODEL_SPECS, modelBatchNotes, prepareModelCase, ROOT } from './lib/model-cases.js';
import { peerVersions } from './lib/peers.js';
import { headlineTable } from './lib/report.js';
import type { BenchCase, BenchEntry, BenchResults, GpuLabel } from './lib/results.js';
import { measureCase, type PreparedCase, type RunnerOptions } from './lib/runner.js';
import { packageVersion, writeReport } from './lib/write.js';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    filter: { type: 'string', multiple: true },
    'no-gpu': { type: 'boolean', default: false },
    backend: { type: 'string' },
    rounds: { type: 'string' },
    time: { type: 'string' },
    machine: { type: 'string' },
    out: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
  allowPositionals: false,
});

if (args.help) {
  console.log((await import('node:fs')).readFileSync(new URL(import.meta.url), 'utf8').split('*/')[0]!.replace(/^\/\*\*\n/, '').replace(/^ \* ?/gm, ''));
  process.exit(0);
}

/** Re-run under xvfb-run when the GPU is wanted and there is no display. Returns the child's exit code, or undefined. */
const backendArg = args.backend;
if (backendArg !== undefined && !['cpu', 'gpu', 'all'].includes(backendArg)) {
  console.error(`--backend must be 'cpu', 'gpu' or 'all', got '${backendArg}'`);
  process.exit(2);
}
if (backendArg === 'gpu' && args['no-gpu']) {
  console.error('--backend gpu and --no-gpu contradict each other: pass one of them');
  process.exit(2);
}
const noGpu = args['no-gpu'] || backendArg === 'cpu';
/** --backend gpu: every case runs on the GPU too, and a missing GPU is an error rather than a note. */
const forceGpu = backendArg === 'gpu';

function reexecUnderXvfb(): number | undefined {
  if (noGpu || process.env['DISPLAY'] || process.env['TESSERA_BENCH_NO_XVFB'] === '1') return undefined;
  if (spawnSync('sh', ['-c', 'command -v xvfb-run'], { stdio: 'ignore' }).status !== 0) return undefined;
  const child = spawnSync('xvfb-run', ['-a', process.execPath, ...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, TESSERA_BENCH_NO_XVFB: '1' },
  });
  return child.status ?? 1;
}

const code = reexecUnderXvfb();
if (code !== undefined) process.exit(code);

const quick = args.quick;
const only = args.only;
if (only !== undefined && only !== 'kernels' && only !== 'models') throw new Error(`--only must be 'kernels' or 'models', got '${only}'`);
const rounds = args.rounds ? Number(args.rounds) : quick ? 2 : 3;
const timePerRoundMs = args.time ? Number(args.time) : quick ? 100 : 300;
const runner: Omit<RunnerOptions, 'onTick' | 'log'> = { rounds, timePerRoundMs, minIterations: quick ? 1 : 3, warmupIterations: quick ? 1 : 2, warmupEveryRound: !quick };
const threads = availableParallelism();
const started = performance.now();
const startedAt = new Date();

function gpuLabel(): GpuLabel {
  if (noGpu) return { available: false, reason: args['no-gpu'] ? '--no-gpu' : '--backend cpu' };
  const info = gpuInfo();
  return info.available ? { available: true, mode: info.mode, renderer: info.renderer, software: info.software } : { available: false, reason: info.reason };
}
const gpu = gpuLabel();
if (forceGpu && !gpu.available) {
  console.error(`--backend gpu: no GPU context could be made: ${gpu.reason}`);
  process.exit(1);
}

const filters = args.filter ?? [];
const keep = (id: string): boolean => filters.length === 0 || filters.some((f) => id.includes(f));
const kernelSpecs = only === 'models' ? [] : KERNEL_SPECS.filter((s) => (!quick || s.quick) && keep(s.id));
const modelSpecs = only === 'kernels' ? [] : MODEL_SPECS.filter((s) => (!quick || s.quick) && keep(s.id));
/** In --quick, the GPU runs only the matmuls of the crossover chart and the models marked for it (shader compiles are slow on software GL). */
const gpuForKernel = (id: string, family: string): boolean => gpu.available && (!quick || forceGpu || family === 'matmul');
type Job = { id: string; prepare: () => PreparedCase };
const jobs: Job[] = [
  ...kernelSpecs.map((s) => ({
    id: s.id,
    prepare: () => prepareKernelCase(s, { gpu: gpuForKernel(s.id, s.family), gpuReason: gpu.available ? 'GPU skipped in --quick' : gpu.reason, threads }),
  })),
  ...modelSpecs.map((s) => ({
    id: s.id,
    prepare: () => prepareModelCase(s, { gpu: gpu.available && (!quick || forceGpu || !!s.quickGpu), gpuReason: gpu.available ? 'GPU skipped in --quick' : gpu.reason, threads }),
  })),
];

const interactive = process.stderr.isTTY === true;
const bar = new cliProgress.SingleBar(
  { format: 'bench [{bar}] {percentage}% | case {done}/{cases} | ETA {eta_formatted} | {label}', stream: process.stderr, hideCursor: true, clearOnComplete: true, etaBuffer: 20, noTTYOutput: false },
  cliProgress.Presets.shades_classic,
);
const logLines: string[] = [];
const log = (line: string): void => {
  if (interactive) logLines.push(line);
  else console.error(line);
};

await startPool(threads);
const cases: BenchCase[] = [];
const entries: BenchEntry[] = [];
const notes: string[] = [...(modelSpecs.length ? modelBatchNotes() : [])];
if (quick) notes.push('--quick: a subset of cases; GPU only for the square matmuls and ppocr-cls b1; quantized variants only for ppocr-cls; no ppocr-rec, ppocr-det or larger batches except ppocr-cls b8; at least 1 timed call per implementation per round.');
bar.start(jobs.length * 100, 0, { done: 0, cases: jobs.length, label: 'starting' });
for (let j = 0; j < jobs.length; j++) {
  const job = jobs[j]!;
  let prepared: PreparedCase;
  try {
    prepared = job.prepare();
  } catch (e) {
    const msg = (e as Error).message.split('\n')[0]!;
    log(`${job.id}: could not be set up: ${msg}`);
    notes.push(`${job.id}: could not be set up (${msg})`);
    bar.update((j + 1) * 100, { done: j + 1, label: job.id });
    continue;
  }
  const perTick = 100 / Math.max(1, prepared.impls.length * (rounds + 1));
  let ticks = 0;
  const result = await measureCase(prepared, {
    ...runner,
    log,
    onTick: (label) => {
      ticks++;
      bar.update(j * 100 + Math.min(99, ticks * perTick), { done: j, label });
    },
  });
  cases.push(prepared.info);
  entries.push(...result);
  bar.update((j + 1) * 100, { done: j + 1, label: prepared.info.name });
  if (!interactive) {
    const summary = result.map((e) => `${e.impl} ${e.status === 'ok' ? `${e.ms!.median.toFixed(2)} ms` : e.status}`).join(', ');
    console.error(`[${j + 1}/${jobs.length}] ${prepared.info.name}: ${summary}`);
  }
}
bar.stop();
for (const line of logLines) console.error(line);
await shutdownPool();

const machine = machineInfo();
const results: BenchResults = {
  format: 'tessera-bench/1',
  suite: 'node',
  date: startedAt.toISOString(),
  command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
  quick,
  machine,
  gpu,
  threads,
  rounds,
  timePerRoundMs,
  wallSeconds: (performance.now() - started) / 1000,
  versions: {
    node: process.version,
    ...peerVersions(),
    '@tensorflow/tfjs-backend-wasm': packageVersion(ROOT, '@tensorflow/tfjs-backend-wasm'),
    'gpu.js': packageVersion(ROOT, 'gpu.js'),
    tinybench: packageVersion(ROOT, 'tinybench'),
  },
  cases,
  entries,
  notes,
};
const partial = only !== undefined || filters.length > 0;
const base = `${startedAt.toISOString().slice(0, 10)}-${args.machine ?? machineSlug(machine)}${quick ? '-quick' : ''}${partial ? '-partial' : ''}`;
const written = await writeReport(results, args.out ?? join(ROOT, 'bench', 'results'), base);
console.log(headlineTable(results).join('\n'));
console.log(`\nwall time ${results.wallSeconds.toFixed(0)} s; wrote ${written.json}, ${written.markdown}, ${written.charts.length} charts in ${join(written.json, '..', base)}`);
