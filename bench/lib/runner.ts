/**
 * The measurement loop: every implementation of a case is measured in interleaved rounds with tinybench, so
 * machine noise (other processes, thermal state) hits all of them alike.
 *
 * For each case:
 *  1. each implementation is set up (sessions created, inputs uploaded; timed as `setupMs`), then called
 *     once and timed alone (`firstRunMs`: for the GPU that is shader compilation and weight upload, kept
 *     apart from the steady state); a failure here marks the entry 'failed' with the message;
 *  2. its output is read once (untimed) and compared with the case's reference implementation;
 *  3. `rounds` rounds follow; each is one tinybench Bench holding every implementation as a task, in an
 *     order rotated by one per round; each task runs for `timePerRoundMs` and at least `minIterations`
 *     times after `warmupIterations` untimed calls in the first round and one in later rounds (none in
 *     later rounds with `warmupEveryRound: false`);
 *  4. median, min, max and mean over all timed samples of all rounds make the entry.
 *
 * Browser-safe: tinybench and this file run in the benchmark page too.
 */
import { Bench } from 'tinybench';
import { latencyStats, ratePerSecond, type BenchCase, type BenchEntry, type ImplName } from './results.js';

/** One implementation of a case. */
export interface Impl {
  readonly name: ImplName;
  /** Prepare (create a session, upload inputs). Timed as setupMs. */
  setup?(): Promise<void> | void;
  /** Called before each implementation's tinybench phase (e.g. select the tfjs backend). */
  activate?(): Promise<void> | void;
  /** One timed call. Must finish the work (download GPU results, await async runtimes). */
  run(): unknown;
  /** The first output's values, read once after the first run (untimed). */
  output?(): Promise<ArrayLike<number>> | ArrayLike<number>;
  /** Free what setup made. */
  dispose?(): Promise<void> | void;
}

/** A case with its implementations and the implementations that cannot run it (with the reason). */
export interface PreparedCase {
  readonly info: BenchCase;
  readonly impls: readonly Impl[];
  readonly unavailable: readonly { impl: ImplName; reason: string }[];
  /** Free shared inputs. */
  dispose?(): Promise<void> | void;
}

/** Timing settings. */
export interface RunnerOptions {
  readonly rounds: number;
  readonly timePerRoundMs: number;
  readonly minIterations: number;
  readonly warmupIterations: number;
  /** Warm up in every round (default), or only in the first (the first-run call has warmed up already). */
  readonly warmupEveryRound?: boolean;
  /** Called after every finished task phase (for the progress bar); `label` names the case and impl. */
  readonly onTick?: (label: string) => void;
  /** Called with a line of log output (failures, skipped implementations). */
  readonly log?: (line: string) => void;
}

/** Number of progress ticks measuring `c` will produce (one per impl for the first run, one per impl per round). */
export function ticksFor(c: Pick<PreparedCase, 'impls'>, rounds: number): number {
  return c.impls.length * (rounds + 1);
}

function message(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  return text.split('\n')[0]!.slice(0, 300);
}

/** Largest |a - b| over the common length (Infinity when the lengths differ, NaN-safe). */
export function maxAbsDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(Number(a[i]) - Number(b[i]));
    if (Number.isNaN(d)) return Infinity;
    if (d > worst) worst = d;
  }
  return worst;
}

/** Measure one case; returns one entry per implementation (measured, failed or unavailable). */
export async function measureCase(c: PreparedCase, o: RunnerOptions): Promise<BenchEntry[]> {
  const now = (): number => performance.now();
  const failed = new Map<ImplName, string>();
  const setupMs = new Map<ImplName, number>();
  const firstRunMs = new Map<ImplName, number>();
  const outputs = new Map<ImplName, ArrayLike<number>>();
  for (const impl of c.impls) {
    try {
      let t0 = now();
      await impl.setup?.();
      setupMs.set(impl.name, now() - t0);
      await impl.activate?.();
      t0 = now();
      await impl.run();
      firstRunMs.set(impl.name, now() - t0);
      if (impl.output) outputs.set(impl.name, await impl.output());
    } catch (e) {
      failed.set(impl.name, `failed: ${message(e)}`);
      o.log?.(`${c.info.name} / ${impl.name}: ${message(e)}`);
    }
    o.onTick?.(`${c.info.name} / ${impl.name} (first run)`);
  }
  const live = c.impls.filter((i) => !failed.has(i.name));
  const samples = new Map<ImplName, number[]>(live.map((i) => [i.name, []]));
  for (let round = 0; round < o.rounds; round++) {
    const bench = new Bench({
      time: o.timePerRoundMs,
      iterations: o.minIterations,
      warmup: round === 0 || o.warmupEveryRound !== false,
      warmupIterations: round === 0 ? o.warmupIterations : 1,
      warmupTime: 0,
      retainSamples: true,
      throws: false,
    });
    const order = live.map((_, i) => live[(i + round) % live.length]!);
    for (const impl of order) {
      bench.add(impl.name, () => impl.run(), { beforeAll: impl.activate ? async () => void (await impl.activate!()) : undefined });
    }
    bench.addEventListener('cycle', (ev) => o.onTick?.(`${c.info.name} / ${ev.task?.name ?? '?'}`));
    await bench.run();
    for (const task of bench.tasks) {
      const res = task.result as { state: string; latency?: { samples?: readonly number[] }; error?: unknown };
      if (res.state !== 'completed' || !res.latency?.samples) {
        if (!failed.has(task.name)) {
          failed.set(task.name, `failed: ${message(res.error ?? res.state)}`);
          o.log?.(`${c.info.name} / ${task.name}: ${message(res.error ?? res.state)}`);
        }
        continue;
      }
      const into = samples.get(task.name)!;
      for (const sample of res.latency.samples) into.push(sample); // no spread: fast tasks give 100k+ samples
    }
    // impls that failed produce no cycle event in later rounds: keep the tick count stable
    for (let k = bench.tasks.length; k < c.impls.length; k++) o.onTick?.(`${c.info.name} (failed earlier)`);
  }

  const reference = c.info.reference && outputs.get(c.info.reference) ? outputs.get(c.info.reference) : undefined;
  const entries: BenchEntry[] = [];
  for (const impl of c.impls) {
    const fail = failed.get(impl.name);
    const s = samples.get(impl.name);
    if (fail || !s || s.length === 0) {
      entries.push({ caseId: c.info.id, impl: impl.name, status: 'failed', note: fail ?? 'failed: no samples', setupMs: setupMs.get(impl.name), firstRunMs: firstRunMs.get(impl.name) });
      continue;
    }
    const ms = latencyStats(s);
    const out = outputs.get(impl.name);
    entries.push({
      caseId: c.info.id,
      impl: impl.name,
      status: 'ok',
      ms,
      setupMs: setupMs.get(impl.name),
      firstRunMs: firstRunMs.get(impl.name),
      rate: c.info.work ? ratePerSecond(c.info.work, ms.median) : undefined,
      maxAbsDiff: reference && out && impl.name !== c.info.reference ? maxAbsDifference(out, reference) : undefined,
    });
  }
  for (const u of c.unavailable) entries.push({ caseId: c.info.id, impl: u.impl, status: 'skipped', note: u.reason });
  for (const impl of c.impls) {
    try {
      await impl.dispose?.();
    } catch (e) {
      o.log?.(`${c.info.name} / ${impl.name}: dispose failed: ${message(e)}`);
    }
  }
  await c.dispose?.();
  return entries;
}
