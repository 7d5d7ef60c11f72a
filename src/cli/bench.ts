/**
 * `tessera bench`: latency of repeated runs of one model (p50/p90/p99, mean, min, max), throughput, and the
 * buffer arena's behaviour in steady state (fresh buffers per run after warm-up). Inputs come from files or are
 * synthesized from the declared shapes (--shape for symbolic dims). Outputs are recycled after each run, the
 * real-time loop the arena is built for (src/graph/arena.ts).
 */
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, fmtBytes, intOption, loadSession, MODEL_OPTIONS, MODEL_OPTIONS_HELP, parseCommandArgs, parseShapes, ProgressBar, requireModelPath, sessionOptions, table, type CliIO, type Command } from './common.js';
import { loadFeeds, syntheticFeeds } from './inputs.js';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HELP = `Usage: tessera bench <model.onnx> [options]
       tessera bench --suite [suite options]

With --suite: the whole benchmark suite (kernels and real models on Tessera cpu/gpu beside onnxruntime and
tfjs; bench/run.ts, the same as \`npm run bench\`); all further options go to it (e.g. --quick). The suite
lives in the source checkout (bench/ and its peer devDependencies are not part of the published package).

Time repeated runs of a model and report latency percentiles (nearest rank), throughput and the buffer
arena's fresh allocations per steady-state run.

  --runs N                timed runs (default 50)
  --warmup N              untimed runs first (default 5)
  --input NAME=FILE       feed input NAME from a file (.npy, .json, .png); repeatable; others are synthesized
  --shape NAME=D0,D1,...  dims for a synthesized input with symbolic dims; repeatable
${MODEL_OPTIONS_HELP}

Exit codes: 0 success, 1 the model failed to load or run, 2 bad command line.
Example: tessera bench det.onnx --shape x=1,3,640,640 --runs 20 --threads 2`;

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export const benchCommand: Command = {
  name: 'bench',
  summary: 'latency percentiles (p50/p90/p99) and throughput of repeated runs',
  help: HELP,
  async run(argv: readonly string[], io: CliIO): Promise<number> {
    if (argv[0] === '--suite') return runSuite(argv.slice(1), io);
    const { values, positionals } = parseCommandArgs('bench', argv, {
      ...MODEL_OPTIONS,
      runs: { type: 'string' },
      warmup: { type: 'string' },
      input: { type: 'string', multiple: true },
      shape: { type: 'string', multiple: true },
    });
    if (values.help) {
      io.stdout(HELP + '\n');
      return EXIT_OK;
    }
    const path = requireModelPath('bench', positionals[0]);
    const runs = intOption('runs', values.runs, 50);
    const warmup = intOption('warmup', values.warmup, 5, 0);
    const session = loadSession(path, sessionOptions(values));
    const given = await loadFeeds(values.input ?? [], session.inputMetadata);
    const feeds = syntheticFeeds(session.inputMetadata, parseShapes(values.shape), given);
    const bar = new ProgressBar(io, 'bench', warmup + runs, io.interactive && !values.json);
    for (let i = 0; i < warmup; i++) {
      session.recycle(session.runSync(feeds));
      bar.tick();
    }
    const arenaBefore = { ...session.arenaStats };
    const times: number[] = [];
    let peak = 0;
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      const out = session.runSync(feeds);
      times.push(performance.now() - t0);
      peak = Math.max(peak, session.lastRunStats?.peakLiveBytes ?? 0);
      session.recycle(out);
      bar.tick();
    }
    bar.finish();
    const sorted = [...times].sort((a, b) => a - b);
    const mean = times.reduce((a, b) => a + b, 0) / times.length;
    const arena = session.arenaStats;
    const result = {
      model: path,
      backend: session.options.backend ?? 'cpu',
      threads: session.options.threads ?? null,
      inputs: Object.fromEntries(Object.entries(feeds).map(([n, t]) => [n, { type: t.type, dims: [...t.dims] }])),
      warmup,
      runs,
      ms: { p50: percentile(sorted, 50), p90: percentile(sorted, 90), p99: percentile(sorted, 99), mean, min: sorted[0]!, max: sorted[sorted.length - 1]! },
      runsPerSecond: 1000 / mean,
      peakLiveBytes: peak,
      arena: { requestsPerRun: (arena.requests - arenaBefore.requests) / runs, freshPerRun: (arena.fresh - arenaBefore.fresh) / runs },
    };
    if (values.json) {
      io.stdout(JSON.stringify(result) + '\n');
      return EXIT_OK;
    }
    const f = (v: number): string => `${v.toFixed(2)} ms`;
    io.stdout(`${path} on ${result.backend}, ${runs} runs after ${warmup} warm-up\n`);
    io.stdout(`  inputs: ${Object.entries(result.inputs).map(([n, t]) => `${n} ${t.type} [${t.dims.join(', ')}]`).join('; ')}\n`);
    io.stdout(table([
      ['  p50', 'p90', 'p99', 'mean', 'min', 'max'],
      ['  ' + f(result.ms.p50), f(result.ms.p90), f(result.ms.p99), f(result.ms.mean), f(result.ms.min), f(result.ms.max)],
    ]));
    io.stdout(`  ${result.runsPerSecond.toFixed(1)} runs/s, peak live intermediates ${fmtBytes(peak)}, arena: ${result.arena.freshPerRun} fresh of ${result.arena.requestsPerRun} buffers per run\n`);
    return EXIT_OK;
  },
};

/** The repository root above this file (src/cli or dist/cli), when it holds the benchmark suite. */
function suiteRoot(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    if (existsSync(join(dir, 'bench', 'run.ts')) && existsSync(join(dir, 'package.json'))) return dir;
    dir = dirname(dir);
  }
  return undefined;
}

/** `tessera bench --suite ...`: run bench/run.ts with tsx in the source checkout, passing the options on. */
function runSuite(args: readonly string[], io: CliIO): number {
  const root = suiteRoot();
  if (!root) {
    io.stderr('tessera bench --suite: the benchmark suite (bench/run.ts) is only in a source checkout of Tessera; clone the repository, run `npm ci`, then `npm run bench`\n');
    return EXIT_USAGE;
  }
  const r = spawnSync('npx', ['tsx', join(root, 'bench', 'run.ts'), ...args], { cwd: root, stdio: 'inherit' });
  return r.status ?? EXIT_FAILURE;
}
