/**
 * The benchmark result format (bench/results/<date>-<machine>.json) and the statistics over latency samples.
 *
 * One file holds the machine it ran on, the GPU renderer (or why there was none), and one entry per
 * (case, implementation): median, min, max and mean latency over all timed samples of the interleaved
 * rounds, the first-run time apart (GPU shader compile and weight upload, session warm-up), the rate
 * (GFLOP/s or GB/s) where the case declares its work, and the largest difference of its output to the
 * case's reference implementation (a sanity check that every contestant computed the same thing).
 * Entries are matched across files by `caseId` + `impl` (bench:compare).
 *
 * Browser-safe: no Node imports.
 */

/** Implementations measured. Tessera's own come first; peers after. */
export const IMPLEMENTATIONS = ['tessera-cpu-1t', 'tessera-cpu-all', 'tessera-gpu', 'ort-node', 'ort-web', 'tfjs-cpu', 'tfjs-wasm'] as const;
export type ImplName = (typeof IMPLEMENTATIONS)[number] | (string & {});

/** Peers (other runtimes), as opposed to Tessera's own backends. */
export function isPeer(impl: string): boolean {
  return !impl.startsWith('tessera-');
}

/** Latency statistics in milliseconds. */
export interface LatencyStats {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly mean: number;
  /** Timed samples behind the statistics. */
  readonly samples: number;
}

/** One measured (case, implementation) pair. */
export interface BenchEntry {
  readonly caseId: string;
  readonly impl: ImplName;
  readonly status: 'ok' | 'failed' | 'skipped';
  /** Why the entry failed or was skipped (not expressible in that runtime, no GPU, ...). */
  readonly note?: string;
  readonly ms?: LatencyStats;
  /** Time of the very first call (for the GPU: shader compile + weight upload), apart from steady state. */
  readonly firstRunMs?: number;
  /** Setup before the first call (session creation, input upload), ms. */
  readonly setupMs?: number;
  /** GFLOP/s or GB/s at the median (see the case's unit). */
  readonly rate?: number;
  /** Largest |output - reference output| over the first output, against the case's reference implementation. */
  readonly maxAbsDiff?: number;
}

/** One case (a kernel or a model at one batch size and variant). */
export interface BenchCase {
  readonly id: string;
  readonly group: 'kernel' | 'model';
  readonly name: string;
  /** matmul, conv, ... for kernels; the model's short name for models. */
  readonly family: string;
  /** float32, float16-weights, int8 (kernels); float32, float16 weights, dynamic int8 (models). */
  readonly dtype: string;
  readonly batch?: number;
  /** Square matmul side, for the per-size charts. */
  readonly size?: number;
  readonly work?: number;
  readonly unit?: 'GFLOP/s' | 'GB/s';
  /** Implementation whose output the others are compared with. */
  readonly reference?: ImplName;
  /** Input shapes, for the report. */
  readonly inputs?: string;
}

/** The machine a run happened on. */
export interface MachineInfo {
  readonly cpu: string;
  /** Logical cores (os.availableParallelism in Node, navigator.hardwareConcurrency in a page). */
  readonly cores: number;
  readonly node?: string;
  readonly platform: string;
  readonly memoryGiB?: number;
  /** Browser user agent when run in a page. */
  readonly userAgent?: string;
}

/** What the GPU backend ran on. */
export interface GpuLabel {
  readonly available: boolean;
  readonly mode?: string;
  readonly renderer?: string;
  readonly software?: boolean;
  /** Why there was no GPU context. */
  readonly reason?: string;
}

/** A whole result file. */
export interface BenchResults {
  readonly format: 'tessera-bench/1';
  readonly suite: 'node' | 'browser';
  /** ISO time the run started. */
  readonly date: string;
  readonly command: string;
  readonly quick: boolean;
  readonly machine: MachineInfo;
  readonly gpu: GpuLabel;
  /** Threads of the 'tessera-cpu-all' implementation. */
  readonly threads: number;
  /** Interleaved rounds per case and tinybench time per task and round. */
  readonly rounds: number;
  readonly timePerRoundMs: number;
  /** Wall time of the whole run, seconds. */
  readonly wallSeconds: number;
  readonly versions: Readonly<Record<string, string>>;
  readonly cases: readonly BenchCase[];
  readonly entries: readonly BenchEntry[];
  /** Notes about the run as a whole (quantized models unavailable, ...). */
  readonly notes: readonly string[];
}

/** Statistics of a non-empty sample list (ms). */
export function latencyStats(samples: readonly number[]): LatencyStats {
  if (samples.length === 0) throw new RangeError('latencyStats: no samples');
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  let sum = 0;
  for (const s of sorted) sum += s;
  return { median, min: sorted[0]!, max: sorted[sorted.length - 1]!, mean: sum / sorted.length, samples: sorted.length };
}

/** Work per second in units of 1e9 (GFLOP/s or GB/s) for `work` done in `ms`. */
export function ratePerSecond(work: number, ms: number): number {
  return work / (ms / 1000) / 1e9;
}

/** Key that identifies an entry across files. */
export function entryKey(e: Pick<BenchEntry, 'caseId' | 'impl'>): string {
  return `${e.caseId} | ${e.impl}`;
}

/**
 * How much faster `impl` is than `peer` on one case: peer median / impl median (above 1: impl is faster).
 * Undefined when either has no measurement.
 */
export function speedRatio(entries: readonly BenchEntry[], caseId: string, impl: string, peer: string): number | undefined {
  const a = entries.find((e) => e.caseId === caseId && e.impl === impl && e.status === 'ok')?.ms;
  const b = entries.find((e) => e.caseId === caseId && e.impl === peer && e.status === 'ok')?.ms;
  return a && b ? b.median / a.median : undefined;
}

/**
 * The CPU/GPU crossover: the smallest square matmul size at which `gpu` has a lower median than `cpu`,
 * given the per-size medians. Returns undefined when the GPU never wins in the measured range.
 */
export function crossoverSize(points: readonly { size: number; cpuMs: number; gpuMs: number }[]): number | undefined {
  const sorted = [...points].sort((a, b) => a.size - b.size);
  for (let i = 0; i < sorted.length; i++) {
    // the crossover is where the GPU wins from this size on, not a single noisy win
    if (sorted.slice(i).every((p) => p.gpuMs < p.cpuMs)) return sorted[i]!.size;
  }
  return undefined;
}
