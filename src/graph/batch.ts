/**
 * Batch inference: run a model over many items (each a set of feeds) and get the results back in input order.
 * Items run in one of three ways, reported as `BatchResult.mode` with the reason in `modeReason`:
 *
 * 'stacked'. When every input of the model declares a symbolic (or unknown) first dim and batchSize > 1,
 * consecutive items whose feeds agree on dtypes and on every dim but the first are concatenated along dim 0
 * into groups of at most `batchSize` items and run once per group; each output's dim 0 is then split back by
 * the items' own dim-0 sizes. If an output's dim 0 does not equal the group total (the model does not really
 * batch), the group is re-run item by item and the model is marked as non-stacking for the rest of the call
 * (mode 'sequential'). Stacking gives the kernels larger GEMMs (better packing reuse) at the cost of one copy
 * of the inputs and outputs.
 *
 * 'workers'. Otherwise (no batch dim to stack along, or batchSize 1), items are spread over Node worker
 * threads (./batch-worker.ts), each holding its own InferenceSession of the same model:
 *   - the runner supplies the model file's bytes and its session options (`BatchRunner.batchWorkerModel`);
 *     the bytes sit in one SharedArrayBuffer that every worker reads (the file is not copied per worker), but
 *     each worker decodes the weights for itself: memory is about (workers + 1) x the decoded weights, plus
 *     each worker's intermediates and a V8 isolate (some MB). That is why the worker count is bounded:
 *     `concurrency` (default: min(items of an array source, available cores), at most MAX_BATCH_WORKERS).
 *     The runner is asked for its model once per pool (a session re-reads its file then); the pool keeps the
 *     shared bytes while it lives, and its workers keep the model the session was created with;
 *   - worker sessions run with threads: 1 (a kernel pool inside each item-level worker would oversubscribe the
 *     cores) and otherwise the caller's options (graph optimization level, limits); backend is 'cpu'. Kernels
 *     give bitwise identical results for any thread count, so outputs equal a calling-thread run bit for bit;
 *   - workers start lazily, one per waiting item until `concurrency` are alive; each has up to
 *     ITEMS_PER_WORKER items in flight (one running, the next waiting in its port, so it does not idle while
 *     the calling thread gets round to answering). Items are read from the source only while fewer than
 *     ITEMS_PER_WORKER x `concurrency` are queued or in flight (plus `concurrency` requests ahead on an async
 *     source), so a large or endless source is never read far ahead;
 *   - each feed is copied once to the worker and each output once back (./batch-wire.ts; all dtypes, int64,
 *     float16 and string included), and rebuilt as Tensors in the caller's thread;
 *   - workers live in a pool (BatchWorkerPool). With `workers: 'keep'` (default, for a runner that has a
 *     BatchPoolHolder, as InferenceSession does) the pool belongs to the session: created by the first call
 *     that decides to use workers, reused by later calls, grown up to the largest `concurrency` asked for (at
 *     most MAX_BATCH_WORKERS), terminated by the session's release(). Between calls its workers are idle and
 *     unref'd (a script that ran a batch and ends exits at once, no release() needed) and each is terminated
 *     after `workerIdleSeconds` unused (DEFAULT_WORKER_IDLE_SECONDS). With `workers: 'per-call'` (and for a
 *     runner without a holder) the call has a pool of its own, terminated before it returns or throws;
 *   - a pooled worker serves one call at a time: a call takes idle workers and starts new ones while the pool
 *     has room, and gives them back (with no item in flight) when it ends. A call that finds every worker taken
 *     by another call and the pool full waits for one to be given back, its calling thread running items
 *     meanwhile (unless useCallingThread is false). Item indices in messages are the call's own, and a worker
 *     answers only the call that holds it, so concurrent calls never see each other's results. A worker
 *     still running an item when its call ends (the source threw) is terminated, not given back;
 *   - when to use workers. A fresh worker costs a startup (a thread, the module graph, decoding the model) and
 *     a cold JIT; a warm one (already started, idle in the pool) costs a copy of each item's feeds and outputs
 *     and a message round trip. So with `useCallingThread` (default) the calling thread runs items and:
 *       warm workers idle in the pool take the items once those left are estimated at
 *       `minSecondsForWarmWorkers` of work (DEFAULT_MIN_SECONDS_FOR_WARM_WORKERS, a few ms). The calling
 *       thread runs the first item of the call itself, and the pace is the median time of the calling
 *       thread's last 8 items over the session's calls (so it follows the machine's load and one slow item
 *       does not decide); a serving loop of small calls gets the pool at once. Unless the pool proved slower:
 *       a call whose items all went to workers records the pool's items/s (BatchPoolHolder.poolRate), and
 *       while that is below the calling thread's rate (1 / pace; a machine whose other load leaves the
 *       workers little CPU) warm workers are left idle, except on every WARM_PROBE_EVERY-th call, which
 *       measures them again;
 *       without warm workers, workers are started only once the items left (timed over the first 8) plus, in
 *       'keep' mode, the calling-thread work of the session's earlier calls, come to `minSecondsForWorkers`
 *       (DEFAULT_MIN_SECONDS_FOR_WORKERS): in 'keep' mode a startup is paid once per session, so the session's
 *       batch work as a whole is what has to pay for it. The calling thread keeps running items until the
 *       first worker is ready; workers still starting when the call ends stay in the pool ('keep') and are
 *       warm for the next call. BatchResult reports `workers`, `warmWorkers` (taken already started) and
 *       `workerThreadIds`.
 *     A short batch with no warm worker never starts one (mode 'sequential', with the estimate in modeReason).
 *     The session's release() during a call terminates its workers (its in-flight items fail with the reason).
 *
 * 'sequential'. Items run one at a time on the calling thread when workers cannot be used: concurrency 1, a
 * single item or core, no worker_threads (a browser), a runner that cannot be re-created in a worker (a GPU
 * session, a released one, a model file changed since the session was created, a runner without
 * batchWorkerModel), or workers that fail to start. `concurrency` then bounds how many items are pulled
 * ahead from an async source (default 1).
 *
 * Failures. A failing item is reported with its index. With `onError: 'collect'` every other item still runs and
 * the result holds `errors` next to the outputs (undefined at failed indices); with `onError: 'throw'` (default)
 * the call stops at the first failure and throws a BatchItemError whose `partial` result keeps everything
 * computed before it. A stacked group that fails is re-run item by item, so one bad item never costs the
 * results of its group mates. With workers, 'throw' stops sending items at the first failure, lets the items
 * already running finish (so `partial` may hold results after the failing index) and throws the lowest failing
 * index, which is the index a sequential run would have thrown. A worker that dies while running an item (a
 * crash, process.exit, out of memory) fails that item with a BatchWorkerError and is replaced (in 'keep' mode
 * always, so the pool keeps its size; per call only while items are left); a worker that cannot start is not
 * retried (its pool starts no more), and when no worker is left the remaining items run on the calling thread.
 * An item that was waiting behind the crashed one goes back to the queue. A failing item (an error thrown by
 * the run) leaves its worker usable for the next items and calls.
 * Limitation: an item that never finishes in a worker (an endless loop in a kernel) hangs the call, as it
 * would on the calling thread.
 *
 * Cost: the model's cost per item, plus for stacked groups one copy of every input and output, plus for
 * workers one copy of every input and output and a message round trip, and the startup above for each worker
 * a call has to start (once per session in 'keep' mode, unless idle workers were terminated).
 */
import type { Worker as NodeWorker } from 'node:worker_threads';
import { builtin, workerEntry, type WorkerEntry } from '../kernels/cpu/worker-entry.js';
import { TesseraError } from '../tensor/errors.js';
import { allocate, type TypedArray } from '../tensor/dtype.js';
import { shapesEqual } from '../tensor/shape.js';
import { Tensor } from '../tensor/tensor.js';
import { InputValidationError } from './errors.js';
import { errorFromWire, fromWire, valueToWire, type BatchWorkerData, type FromBatchWorker, type RunItemMessage, type WireValue } from './batch-wire.js';
import type { SessionOptions, ValueMetadata } from './session.js';

/** Input feeds of one item: input name -> tensor. */
export type Feeds = Readonly<Record<string, Tensor>>;
/** Outputs of one item: output name -> tensor. */
export type Outputs = Record<string, Tensor>;

/** Most worker threads alive at once in one pool (one session's, or one 'per-call' call's). */
export const MAX_BATCH_WORKERS = 64;
/**
 * Items sent to one worker ahead of its answers: one running and one waiting in its port, so a worker never
 * idles while the calling thread (busy, or descheduled on a loaded machine) gets round to sending the next.
 */
export const ITEMS_PER_WORKER = 2;
/**
 * Default of BatchOptions.minSecondsForWorkers. Fresh workers cost a startup (0.3-0.8 s: thread, module graph,
 * model decode) and a cold JIT (their first few hundred items run at a third to a half of the warm speed), so on
 * the shared 2-core machine of docs/inference-modes.md two fresh workers did not beat the calling thread on
 * batches of up to several seconds of work (bench/batch-workers.ts --mode cold). Below this, items stay on the
 * calling thread. In 'keep' mode the calling-thread work of the session's earlier calls counts too (a pool
 * started once serves every later call); with warm workers, DEFAULT_MIN_SECONDS_FOR_WARM_WORKERS applies.
 */
export const DEFAULT_MIN_SECONDS_FOR_WORKERS = 8;
/**
 * Default of BatchOptions.minSecondsForWarmWorkers: with workers already started (idle in the session's pool),
 * items go to them once the items left are estimated at this much work on the calling thread. What a warm worker
 * adds per item is a copy of its feeds and outputs and a message round trip (tens of microseconds, see
 * bench/batch-workers.ts), so only a batch of a few milliseconds stays on the calling thread.
 */
export const DEFAULT_MIN_SECONDS_FOR_WARM_WORKERS = 0.02;
/** Default of BatchOptions.workerIdleSeconds: a pooled worker unused this long is terminated. */
export const DEFAULT_WORKER_IDLE_SECONDS = 30;
/**
 * With warm workers measured slower than the calling thread (a loaded machine: BatchPoolHolder.poolRate against
 * the calling thread's pace), every this many calls the warm rule tries the pool again, so a change of load is
 * noticed.
 */
export const WARM_PROBE_EVERY = 8;
/** Items of the calling thread whose median time paces the estimates of the start rules. */
const RECENT_ITEMS = 8;
/** A worker that has not reported ready (or failed) after this long counts as failed to start. */
export const BATCH_WORKER_START_TIMEOUT_MS = 120_000;

/** How runBatch re-creates a model in worker threads (see the file comment). */
export interface BatchWorkerModel {
  /** The model file's bytes; best in a SharedArrayBuffer (otherwise runBatch copies them into one). */
  readonly bytes: Uint8Array;
  /** Options of the workers' sessions (structured-cloneable); runBatch forces backend 'cpu' and threads 1. */
  readonly options: SessionOptions;
  /**
   * Called once per call with a function that ends the call's workers (its in-flight items fail with `reason`,
   * remaining items run on the calling thread); returns a function that unregisters it. The session's
   * release() uses this, so releasing a session during runBatch terminates its workers.
   */
  readonly register?: (stop: (reason: string) => Promise<void>) => () => void;
  /** Test hook: the worker given this item index exits (code 70) instead of running it. */
  readonly exitOnIndexForTest?: number;
}

/** What runBatch needs from a session. */
export interface BatchRunner {
  readonly inputMetadata: readonly ValueMetadata[];
  readonly outputNames: readonly string[];
  runSync(feeds: Feeds, fetches?: readonly string[]): Outputs;
  /**
   * How to re-create this model in worker threads, or a string saying why it cannot be (items then run on the
   * calling thread and the string is reported in `modeReason`). Without it items never go to workers. Not asked
   * while `batchPool` holds a pool (its workers already have the model).
   */
  batchWorkerModel?(): BatchWorkerModel | string;
  /**
   * Where the runner keeps a worker pool between calls (BatchOptions.workers 'keep'); the runner terminates it
   * with closeBatchPool when it is released. Without it every call has its own workers ('per-call').
   */
  readonly batchPool?: BatchPoolHolder;
}

/** Options of runBatch. */
export interface BatchOptions {
  /** Most items stacked into one run (default 8; 1 disables stacking). */
  batchSize?: number;
  /**
   * Worker mode: the most worker threads (default min(items of an array source, available cores), at most
   * MAX_BATCH_WORKERS), which also bounds the items read ahead; 1 keeps every item on the calling thread.
   * Stacked and sequential modes: items pulled ahead from an async source while one runs (default 1).
   */
  concurrency?: number;
  /** 'throw' (default): stop at the first failing item; 'collect': run all and report failures. */
  onError?: 'throw' | 'collect';
  /** Outputs to compute (default all). */
  fetches?: readonly string[];
  /** Called after each item completes (or fails), e.g. to drive a progress bar; with workers, in completion order. */
  onProgress?: (done: number) => void;
  /**
   * Worker mode: until the first worker is ready, the calling thread runs items itself (default true), so a
   * small batch finishes before any worker has started. false leaves every item to the workers and keeps the
   * calling thread's event loop free (runSync blocks it while an item runs).
   */
  useCallingThread?: boolean;
  /**
   * Worker mode with useCallingThread: the calling thread runs the first items, and workers are started only
   * once the items left are estimated at this many seconds of work on the calling thread (the median time of
   * its last 8 items times the items left; for a source of unknown length, the work done so far stands for
   * what is left). Default DEFAULT_MIN_SECONDS_FOR_WORKERS; 0 starts them at once.
   */
  minSecondsForWorkers?: number;
  /**
   * Worker mode with useCallingThread, when the session's pool has workers that are already started (idle, from
   * earlier calls): they take the items once the items left are estimated at this many seconds of work (the
   * session's last measured pace per item, then this call's). Default DEFAULT_MIN_SECONDS_FOR_WARM_WORKERS.
   */
  minSecondsForWarmWorkers?: number;
  /**
   * 'keep' (default, for a runner with a pool such as InferenceSession): workers stay in the session's pool
   * after the call, idle and unref'd, for later calls to reuse without a startup; release() terminates them.
   * 'per-call': the call starts its own workers and terminates them before it returns.
   */
  workers?: 'keep' | 'per-call';
  /**
   * 'keep' mode: a pooled worker left unused this many seconds is terminated (default
   * DEFAULT_WORKER_IDLE_SECONDS; Infinity keeps it until release()). Set by each call for the workers it gives back.
   */
  workerIdleSeconds?: number;
}

/** One failed item. */
export interface BatchItemFailure {
  readonly index: number;
  readonly error: Error;
}

/** How the items of a runBatch call were run (see the file comment). */
export type BatchMode = 'stacked' | 'workers' | 'sequential';

/** Result of runBatch. */
export interface BatchResult {
  /** Outputs per item, in input order; undefined for failed items. */
  readonly outputs: (Outputs | undefined)[];
  /** Failures, in index order (empty when every item succeeded). */
  readonly errors: BatchItemFailure[];
  /** Items read from the source. */
  readonly items: number;
  /** Runs of the model (fewer than items when stacking). */
  readonly runs: number;
  /** True when at least one group was stacked. */
  readonly stacked: boolean;
  /** How the items ran: stacked along the batch dim, spread over worker threads, or one by one on the calling thread. */
  readonly mode: BatchMode;
  /**
   * Worker threads the call used: taken from the session's pool or started by the call (each loaded the model,
   * or was loading it when the call ended), crash replacements included and those that failed to start
   * excluded; 0 unless mode is 'workers'.
   */
  readonly workers: number;
  /** Of `workers`, those taken already started from the session's pool (no startup paid by this call). */
  readonly warmWorkers: number;
  /** The threadIds of `workers` (node:worker_threads), in the order the call took them. */
  readonly workerThreadIds: readonly number[];
  /** Why this mode (and, for 'sequential', why not workers or stacking), e.g. "concurrency 1". */
  readonly modeReason: string;
  /** Wall time in seconds (worker startup included) and the throughput it gives. */
  readonly seconds: number;
  readonly itemsPerSecond: number;
}

/** A failing item under onError 'throw'. `partial` holds the results computed before it. */
export class BatchItemError extends TesseraError {
  constructor(
    readonly index: number,
    override readonly cause: Error,
    readonly partial: BatchResult,
  ) {
    super(`batch item ${index} failed: ${cause.message}`);
    this.name = 'BatchItemError';
  }
}

/** A batch worker thread died (crashed, exited, was terminated) while it ran an item. */
export class BatchWorkerError extends TesseraError {}

/** True when every input declares a dim 0 that is symbolic or unknown (so items can be stacked along it). */
export function hasBatchDim(inputs: readonly ValueMetadata[]): boolean {
  return inputs.length > 0 && inputs.every((m) => m.shape !== undefined && m.shape.length > 0 && typeof m.shape[0] !== 'number');
}

/**
 * A cheap fingerprint of model bytes: their length and an FNV-1a hash of the first and last 256 bytes and 4096
 * bytes sampled evenly between. A session keeps it to notice that the file (or buffer) it was created from now
 * holds other bytes before handing them to workers; it does not catch every small edit.
 */
export function modelFingerprint(bytes: Uint8Array): string {
  const n = bytes.length;
  let h = 0x811c9dc5;
  const mix = (i: number): void => {
    h = Math.imul(h ^ bytes[i]!, 0x01000193);
  };
  for (let i = 0; i < Math.min(n, 256); i++) mix(i);
  for (let i = Math.max(0, n - 256); i < n; i++) mix(i);
  if (n > 0) for (let k = 0; k < 4096; k++) mix(Math.floor((k * n) / 4096));
  return `${n}:${(h >>> 0).toString(16)}`;
}

type WorkerThreadsModule = typeof import('node:worker_threads');
type NodeOsModule = typeof import('node:os');

/** Worker threads started by runBatch that have not exited yet (all calls of the process). */
let liveWorkerThreads = 0;

/**
 * How many worker threads started by runBatch are still alive, across all calls and sessions: those of running
 * calls plus those idle in sessions' pools ('keep' mode). 0 when no call is running and every session that
 * kept workers was released (or its workers outlived workerIdleSeconds). For tests and leak checks.
 */
export function batchWorkerThreads(): number {
  return liveWorkerThreads;
}

/** What the call's bookkeeping needs, shared by the calling-thread and worker paths. */
interface CallState {
  readonly outputs: (Outputs | undefined)[];
  readonly errors: BatchItemFailure[];
  runs: number;
  done: number;
  stacked: boolean;
  mode: BatchMode;
  workers: number;
  warmWorkers: number;
  workerThreadIds: readonly number[];
  modeReason: string;
  readonly start: number;
}

function resultOf(st: CallState): BatchResult {
  const seconds = (performance.now() - st.start) / 1000;
  const items = st.outputs.length;
  return { outputs: st.outputs, errors: st.errors, items, runs: st.runs, stacked: st.stacked, mode: st.mode, workers: st.workers, warmWorkers: st.warmWorkers, workerThreadIds: st.workerThreadIds, modeReason: st.modeReason, seconds, itemsPerSecond: seconds > 0 ? items / seconds : 0 };
}

/** Run `session` over `inputs`; see the file comment. */
export async function runBatch(session: BatchRunner, inputs: Iterable<Feeds> | AsyncIterable<Feeds>, options: BatchOptions = {}): Promise<BatchResult> {
  const batchSize = options.batchSize ?? 8;
  const concurrency = options.concurrency;
  const onError = options.onError ?? 'throw';
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new TesseraError(`runBatch: batchSize must be a positive integer, got ${batchSize}`);
  if (concurrency !== undefined && (!Number.isInteger(concurrency) || concurrency < 1)) throw new TesseraError(`runBatch: concurrency must be a positive integer, got ${concurrency}`);
  if (onError !== 'throw' && onError !== 'collect') throw new TesseraError(`runBatch: onError must be 'throw' or 'collect', got '${String(onError)}'`);
  const minSeconds = options.minSecondsForWorkers;
  if (minSeconds !== undefined && !(typeof minSeconds === 'number' && minSeconds >= 0 && Number.isFinite(minSeconds))) {
    throw new TesseraError(`runBatch: minSecondsForWorkers must be a non-negative finite number, got ${String(minSeconds)}`);
  }
  const warmSeconds = options.minSecondsForWarmWorkers;
  if (warmSeconds !== undefined && !(typeof warmSeconds === 'number' && warmSeconds >= 0 && Number.isFinite(warmSeconds))) {
    throw new TesseraError(`runBatch: minSecondsForWarmWorkers must be a non-negative finite number, got ${String(warmSeconds)}`);
  }
  if (options.workers !== undefined && options.workers !== 'keep' && options.workers !== 'per-call') {
    throw new TesseraError(`runBatch: workers must be 'keep' or 'per-call', got '${String(options.workers)}'`);
  }
  const idle = options.workerIdleSeconds;
  if (idle !== undefined && !(typeof idle === 'number' && idle >= 0)) throw new TesseraError(`runBatch: workerIdleSeconds must be a non-negative number (Infinity: never), got ${String(idle)}`);
  if (inputs === null || typeof inputs !== 'object' || !(Symbol.iterator in inputs || Symbol.asyncIterator in inputs)) {
    throw new TesseraError('runBatch: inputs must be an array or an (async) iterable of feeds');
  }
  const fetches = options.fetches ?? session.outputNames;
  const st: CallState = { outputs: [], errors: [], runs: 0, done: 0, stacked: false, mode: 'sequential', workers: 0, warmWorkers: 0, workerThreadIds: [], modeReason: '', start: performance.now() };
  const canStack = batchSize > 1 && hasBatchDim(session.inputMetadata);
  if (!canStack) {
    const plan = planWorkers(session, inputs, batchSize, concurrency, options.workers !== 'per-call');
    if (typeof plan !== 'string') {
      await runOnWorkers(session, inputs, { ...options, onError }, fetches, plan, st);
      return resultOf(st);
    }
    st.modeReason = plan;
  }
  await runOnCallingThread(session, inputs, { ...options, onError }, fetches, canStack, batchSize, concurrency ?? 1, st);
  return resultOf(st);
}

/**
 * Whether items go to workers: how many at most and the model to load, or why not (a reason for modeReason).
 * Asks the runner for its model last (a session reads its file then).
 */
function planWorkers(session: BatchRunner, inputs: Iterable<Feeds> | AsyncIterable<Feeds>, batchSize: number, concurrency: number | undefined, keep: boolean): WorkerPlan | string {
  const why = batchSize > 1 ? 'the model has no symbolic batch dim' : 'batchSize 1';
  const onCaller = 'items ran one at a time on the calling thread';
  const wt = builtin<WorkerThreadsModule>('node:worker_threads');
  if (!wt || typeof SharedArrayBuffer !== 'function') return `${why}; worker threads are not available here, so ${onCaller}`;
  const cores = builtin<NodeOsModule>('node:os')?.availableParallelism?.() ?? 1;
  const known = Array.isArray(inputs) ? inputs.length : undefined;
  const workers = Math.min(concurrency ?? cores, known ?? Infinity, MAX_BATCH_WORKERS);
  if (workers < 2) {
    const limit = concurrency === 1 ? 'concurrency 1' : known !== undefined && known < 2 ? `${known} item${known === 1 ? '' : 's'}` : `${cores} core available`;
    return `${why}; ${limit}, so ${onCaller}`;
  }
  const holder = keep ? session.batchPool : undefined;
  if (holder?.pool && holder.pool.closed === undefined) return { workers, model: undefined, why, known, holder };
  const model = session.batchWorkerModel?.();
  if (model === undefined) return `${why}; the runner cannot be re-created in a worker thread (no batchWorkerModel), so ${onCaller}`;
  if (typeof model === 'string') return `${why}; workers cannot load this model: ${model}; so ${onCaller}`;
  return { workers, model, why, known, holder };
}

/** What planWorkers decided for the worker path. */
interface WorkerPlan {
  /** Most workers alive at once. */
  readonly workers: number;
  /** The model to start a pool with; undefined when the runner's pool (`holder`) already has one. */
  readonly model: BatchWorkerModel | undefined;
  /** The runner's pool holder in 'keep' mode; undefined in 'per-call' mode. */
  readonly holder: BatchPoolHolder | undefined;
  /** Why not stacking ('the model has no symbolic batch dim' or 'batchSize 1'). */
  readonly why: string;
  /** Number of items when the source is an array. */
  readonly known: number | undefined;
}

type ResolvedOptions = BatchOptions & { onError: 'throw' | 'collect' };

/** The stacked and one-by-one paths (see the file comment). Throws BatchItemError under onError 'throw'. */
async function runOnCallingThread(
  session: BatchRunner,
  inputs: Iterable<Feeds> | AsyncIterable<Feeds>,
  options: ResolvedOptions,
  fetches: readonly string[],
  stackingWanted: boolean,
  batchSize: number,
  readAheadCount: number,
  st: CallState,
): Promise<void> {
  let canStack = stackingWanted;
  const outputs = st.outputs;
  const fail = (index: number, e: unknown): void => {
    const error = e instanceof Error ? e : new Error(String(e));
    outputs[index] = undefined;
    st.errors.push({ index, error });
    if (options.onError === 'throw') {
      st.errors.sort((a, b) => a.index - b.index);
      throw new BatchItemError(index, error, resultOf(st));
    }
  };
  const runOne = (index: number, feeds: Feeds): void => {
    st.runs++;
    try {
      outputs[index] = session.runSync(feeds, fetches);
    } catch (e) {
      fail(index, e);
    }
    options.onProgress?.(++st.done);
  };
  const runGroup = (first: number, group: Feeds[]): void => {
    if (group.length === 1 || !canStack) {
      group.forEach((feeds, i) => runOne(first + i, feeds));
      return;
    }
    const counts = group.map((feeds) => firstDim(feeds));
    const total = counts.reduce((a, b) => a + b, 0);
    const joined = concatFeeds(group);
    let out: Outputs;
    try {
      st.runs++;
      out = session.runSync(joined, fetches);
    } catch {
      // find the failing item(s) and keep the others' results
      group.forEach((feeds, i) => runOne(first + i, feeds));
      return;
    } finally {
      for (const t of Object.values(joined)) t.dispose();
    }
    if (!Object.values(out).every((t) => t.rank > 0 && t.dims[0] === total)) {
      for (const t of Object.values(out)) t.dispose();
      canStack = false;
      group.forEach((feeds, i) => runOne(first + i, feeds));
      return;
    }
    st.stacked = true;
    const parts = group.map((): Outputs => ({}));
    for (const [name, t] of Object.entries(out)) {
      splitAlongFirst(t, counts).forEach((piece, i) => (parts[i]![name] = piece));
      t.dispose();
    }
    parts.forEach((p, i) => {
      outputs[first + i] = p;
      options.onProgress?.(++st.done);
    });
  };
  const describe = (): void => {
    if (!stackingWanted) return;
    st.mode = st.stacked ? 'stacked' : 'sequential';
    if (st.stacked) st.modeReason = `stacked along the symbolic batch dim in groups of up to ${batchSize} items${canStack ? '' : ', until an output did not keep the batch dim (then one at a time on the calling thread)'}`;
    else if (!canStack) st.modeReason = "the model's outputs do not keep the batch dim, so items ran one at a time on the calling thread";
    else st.modeReason = 'no two consecutive items could be stacked (different trailing dims or dtypes), so items ran one at a time on the calling thread';
  };

  let pending: Feeds[] = [];
  let pendingStart = 0;
  let index = 0;
  const flush = (): void => {
    if (pending.length) runGroup(pendingStart, pending);
    pending = [];
  };
  try {
    for await (const feeds of readAhead(inputs, readAheadCount)) {
      const i = index++;
      outputs.length = index;
      if (canStack && pending.length > 0 && (pending.length >= batchSize || !stackable(pending[0]!, feeds))) flush();
      if (pending.length === 0) pendingStart = i;
      if (canStack && validFeeds(feeds)) pending.push(feeds);
      else {
        flush();
        runOne(i, feeds);
      }
    }
    flush();
  } finally {
    describe();
  }
  st.errors.sort((a, b) => a.index - b.index);
}

/** One thread of a worker pool (see BatchWorkerPool). */
interface PoolWorker {
  /** Number within its pool, from 1 (in messages: "batch worker 3 exited ..."). */
  readonly id: number;
  readonly worker: NodeWorker;
  /** The thread's worker_threads threadId (BatchResult.workerThreadIds). */
  readonly threadId: number;
  /** The pool's view: starting (loading the model), ready (taking items), gone (exited, crashed, terminated). */
  state: 'starting' | 'ready' | 'gone';
  /** The call that holds the worker; undefined while it is idle in the pool. */
  owner: PoolClient | undefined;
  /** Resolves when the thread has exited. */
  readonly exited: Promise<void>;
  startTimer: ReturnType<typeof setTimeout> | undefined;
  idleTimer: ReturnType<typeof setTimeout> | undefined;
}

/** A runBatch call holding workers of a pool: the pool forwards their events to it. */
interface PoolClient {
  message(w: PoolWorker, m: FromBatchWorker): void;
  /** `w` is gone (exit, error, start timeout); `was` is its state before. */
  gone(w: PoolWorker, why: string, was: PoolWorker['state']): void;
  messageError(w: PoolWorker, e: Error): void;
}

/**
 * Worker threads that load one model and serve runBatch calls, one call per worker at a time (a call takes
 * idle workers, and starts new ones while the pool has fewer than `cap`; it gives them back when it ends).
 * Owned by one session (BatchPoolHolder) and kept between calls, or created for a single call ('per-call').
 *
 * Idle workers are unref'd (they never keep the process alive) and terminated after `idleMs` unused; a worker
 * taken by a call is ref'd again, so the process stays up while a call waits for its answers. A worker that
 * fails to start marks the pool (`startFailure`): no more are started from it, since the next one would fail
 * the same way. Events of an idle worker are handled here; those of a held worker go to its call.
 */
export class BatchWorkerPool {
  /** Live workers (starting or ready), idle or held. */
  private readonly list: PoolWorker[] = [];
  private nextId = 1;
  /** Why no worker of this pool can start (the first start failure), or undefined. */
  startFailure: string | undefined;
  /** Set by close(): the pool takes no new calls. */
  closed: string | undefined;
  /** Calls waiting for a worker to become idle or ready. */
  private readonly watchers = new Set<() => void>();
  private readonly entry: WorkerEntry;

  constructor(
    private readonly wt: WorkerThreadsModule,
    private readonly data: BatchWorkerData,
    /** Most live workers (grows to the largest `concurrency` asked for, at most MAX_BATCH_WORKERS). */
    public cap: number,
    /** The session's stop registration (release() ends the calls' workers), from its BatchWorkerModel. */
    readonly register: BatchWorkerModel['register'],
    /** Idle workers are terminated after this long unused (Infinity: never). */
    public idleMs: number,
  ) {
    this.entry = workerEntry(import.meta.url, 'batch-worker');
  }

  /** Live workers. */
  get size(): number {
    return this.list.length;
  }

  /** Idle workers (not held by a call), ready ones first. */
  idle(): PoolWorker[] {
    const free = this.list.filter((w) => w.owner === undefined && w.state !== 'gone');
    return [...free.filter((w) => w.state === 'ready'), ...free.filter((w) => w.state === 'starting')];
  }

  /** Hand idle worker `w` to `client`: it is ref'd and its idle timer stopped. */
  take(w: PoolWorker, client: PoolClient): void {
    clearTimeout(w.idleTimer);
    w.idleTimer = undefined;
    w.owner = client;
    w.worker.ref();
  }

  /** Start a worker held by `client`, or say why not (pool full, closed, a start failure). */
  spawn(client: PoolClient): PoolWorker | string {
    if (this.closed !== undefined) return `the worker pool was closed (${this.closed})`;
    if (this.startFailure !== undefined) return this.startFailure;
    if (this.list.length >= this.cap) return 'the worker pool is full';
    const id = this.nextId++;
    let worker: NodeWorker;
    try {
      worker = new this.wt.Worker(this.entry.source, { eval: this.entry.evalCode, workerData: this.data });
    } catch (e) {
      this.startFailure = `batch worker ${id} could not be created: ${(e as Error).message}`;
      return this.startFailure;
    }
    liveWorkerThreads++;
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    const w: PoolWorker = { id, worker, threadId: worker.threadId, state: 'starting', owner: client, exited, startTimer: undefined, idleTimer: undefined };
    this.list.push(w);
    w.startTimer = setTimeout(() => {
      if (w.state !== 'starting') return;
      this.lose(w, `batch worker ${id} did not start within ${BATCH_WORKER_START_TIMEOUT_MS / 1000} s`, true);
      void worker.terminate();
    }, BATCH_WORKER_START_TIMEOUT_MS);
    w.startTimer.unref?.();
    worker.on('message', (m: FromBatchWorker) => {
      if (w.state === 'gone') return;
      if (m.type === 'ready') {
        clearTimeout(w.startTimer);
        w.state = 'ready';
        if (!w.owner) this.notify();
      } else if (m.type === 'start-failed') {
        const why = `batch worker ${id} failed to start: ${errorFromWire(m.error).message}`;
        this.startFailure ??= why;
        this.lose(w, why, false);
        void worker.terminate();
        return;
      }
      w.owner?.message(w, m);
    });
    worker.on('error', (e: Error) => this.lose(w, `batch worker ${id} failed (${e.name}: ${e.message})`, false));
    worker.on('messageerror', (e: Error) => w.owner?.messageError(w, e));
    worker.on('exit', (code: number) => {
      liveWorkerThreads--;
      this.lose(w, `batch worker ${id} exited with code ${code}`, false);
    });
    return w;
  }

  /** `w` is gone: out of the pool, its holder told; `startFailed` marks the pool (a start timeout). */
  private lose(w: PoolWorker, why: string, startFailed: boolean): void {
    if (w.state === 'gone') return;
    const was = w.state;
    w.state = 'gone';
    clearTimeout(w.startTimer);
    clearTimeout(w.idleTimer);
    if (startFailed) this.startFailure ??= why;
    const at = this.list.indexOf(w);
    if (at >= 0) this.list.splice(at, 1);
    if (w.owner) w.owner.gone(w, why, was);
    else this.notify();
  }

  /** `w`, held and with no item in flight, goes back to the pool: unref'd, terminated after idleMs unused. */
  giveBack(w: PoolWorker): void {
    if (w.state === 'gone') return;
    w.owner = undefined;
    w.worker.unref();
    // setTimeout cannot wait longer than 2^31 - 1 ms (it would fire at once): longer counts as never
    if (this.idleMs <= 0x7fffffff) {
      w.idleTimer = setTimeout(() => {
        if (w.owner === undefined) this.terminate(w);
      }, this.idleMs);
      w.idleTimer.unref?.();
    }
    this.notify();
  }

  /** Terminate `w` (its exit removes it from the pool). */
  terminate(w: PoolWorker): void {
    clearTimeout(w.startTimer);
    clearTimeout(w.idleTimer);
    void w.worker.terminate();
  }

  /** Call `fn` (in a microtask) whenever a worker becomes idle or ready or leaves; returns the unsubscribe. */
  watch(fn: () => void): () => void {
    this.watchers.add(fn);
    return () => this.watchers.delete(fn);
  }

  private notify(): void {
    if (this.watchers.size === 0) return;
    queueMicrotask(() => {
      for (const fn of [...this.watchers]) fn();
    });
  }

  /** Terminate every worker (held ones too: their calls see them exit) and wait until the threads have exited. */
  async close(reason: string): Promise<void> {
    this.closed ??= reason;
    const all = [...this.list];
    for (const w of all) this.terminate(w);
    await Promise.all(all.map((w) => w.exited));
  }

  /** Thread ids of the live workers (for tests and diagnostics). */
  threadIds(): number[] {
    return this.list.map((w) => w.threadId);
  }
}

/**
 * Where a session keeps its runBatch worker pool between calls (BatchRunner.batchPool), and what it learned
 * about its items on the calling thread (the start rules of BatchOptions.minSecondsForWorkers and
 * minSecondsForWarmWorkers use it).
 */
export interface BatchPoolHolder {
  pool: BatchWorkerPool | undefined;
  /** Seconds the calling thread spent on items in this session's calls that could have used workers. */
  callerSeconds: number;
  /**
   * Seconds of the calling thread's last RECENT_ITEMS items over the session's calls (their median is the pace
   * of the start rules, so one slow item does not decide).
   */
  recent: number[];
  /** Items/s of the pool in the last call whose items all ran on workers (enough of them to time). */
  poolRate: number | undefined;
  /** Calls that planned workers in 'keep' mode (every WARM_PROBE_EVERY-th one tries the pool whatever was measured). */
  calls: number;
}

/** An empty holder (no pool yet). */
export function newBatchPoolHolder(): BatchPoolHolder {
  return { pool: undefined, callerSeconds: 0, recent: [], poolRate: undefined, calls: 0 };
}

/** Terminate the holder's pool (if any) and wait for its threads to exit; the next call starts a new one. */
export async function closeBatchPool(holder: BatchPoolHolder, reason: string): Promise<void> {
  const pool = holder.pool;
  holder.pool = undefined;
  await pool?.close(reason);
}

/** One worker as seen by the call that holds it. */
interface CallSlot {
  readonly w: PoolWorker;
  /** The call's view: starting, ready, or gone (lost to the call: exited, crashed, stopped). */
  state: 'starting' | 'ready' | 'gone';
  /** Indices sent and not answered yet, in order: the first is running, the others wait in its port. */
  readonly items: number[];
  /** Items sent to this worker. */
  took: number;
  /** The worker failed to start (counted in startFailures, not in BatchResult.workers). */
  failedToStart: boolean;
  /** Taken from the pool already started (by an earlier call), not started by this call. */
  readonly warm: boolean;
}

/**
 * The worker path (see the file comment). Fills `st`; throws BatchItemError under onError 'throw' once the
 * items in flight have finished. Before it returns or throws, every worker it held is given back to the
 * session's pool (idle, with no item in flight) or terminated (per-call mode, a stop, items still in flight).
 */
async function runOnWorkers(
  session: BatchRunner,
  inputs: Iterable<Feeds> | AsyncIterable<Feeds>,
  options: ResolvedOptions,
  fetches: readonly string[],
  plan: WorkerPlan,
  st: CallState,
): Promise<void> {
  const { workers: maxWorkers, holder } = plan;
  const keep = holder !== undefined;
  const idleMs = (options.workerIdleSeconds ?? DEFAULT_WORKER_IDLE_SECONDS) * 1000;
  let pool: BatchWorkerPool;
  if (holder?.pool) {
    pool = holder.pool;
    pool.cap = Math.max(pool.cap, maxWorkers);
    pool.idleMs = idleMs;
  } else {
    const model = plan.model!;
    let bytes = model.bytes;
    if (!(bytes.buffer instanceof SharedArrayBuffer)) {
      const shared = new Uint8Array(new SharedArrayBuffer(bytes.byteLength));
      shared.set(bytes);
      bytes = shared;
    }
    const data: BatchWorkerData = {
      model: bytes,
      // load notes were printed when the caller's session was created: not again per worker
      options: { ...model.options, backend: 'cpu', executionProviders: undefined, threads: 1, intraOpNumThreads: undefined, logSeverity: 3, logSeverityLevel: undefined },
      exitOnIndexForTest: model.exitOnIndexForTest,
    };
    pool = new BatchWorkerPool(builtin<WorkerThreadsModule>('node:worker_threads')!, data, maxWorkers, model.register, idleMs);
    if (holder) holder.pool = pool;
  }
  const slots: CallSlot[] = [];
  const slotOf = new Map<PoolWorker, CallSlot>();
  const queue: { index: number; feeds: Feeds }[] = [];
  const startFailures: string[] = [];
  let inFlight = 0;
  /** Feeds of the items sent to workers and not answered yet. */
  const sentFeeds = new Map<number, Feeds>();
  /** Set by the first failure under onError 'throw': send no more items, read no more. */
  let halted = false;
  /** No new workers (one failed to start, or the session was released). */
  let noSpawn = pool.startFailure !== undefined;
  if (noSpawn) startFailures.push(pool.startFailure!);
  let stopReason: string | undefined;
  /** Set while the call gives back or tears down its workers (their exits are expected). */
  let ending = false;
  let onCaller = 0;
  /** Seconds the calling thread spent on items, in all and for each of the last 8. */
  let callerSeconds = 0;
  /** In 'keep' mode the session's window, so the pace carries over from call to call. */
  const recent: number[] = holder ? holder.recent : [];
  const coldMin = options.minSecondsForWorkers ?? DEFAULT_MIN_SECONDS_FOR_WORKERS;
  const warmMin = options.minSecondsForWarmWorkers ?? DEFAULT_MIN_SECONDS_FOR_WARM_WORKERS;
  /** Seconds of items the session's earlier calls ran on the calling thread (the cold rule counts them in keep mode). */
  const before = holder?.callerSeconds ?? 0;
  const callNo = holder ? ++holder.calls : 0;
  /** Set when the warm rule kept items off warm workers measured slower than the calling thread: [pool, caller] items/s. */
  let slowerPool: [number, number] | undefined;
  /** Answers received from workers, and when the first item was sent and the last answer came (the pool's rate). */
  let answers = 0;
  let firstSend = 0;
  let lastAnswer = 0;
  /** The rule that let workers start: 'warm' or 'cold' (see decide), or 'asked' (useCallingThread false, a 0 threshold). */
  let escalatedBy: 'asked' | 'warm' | 'cold' | undefined = options.useCallingThread === false || coldMin === 0 ? 'asked' : undefined;
  let wake: () => void = () => {};
  const changed = (): void => {
    const w = wake;
    wake = () => {};
    w();
  };
  const nextChange = (): Promise<void> => new Promise<void>((resolve) => (wake = resolve));
  const live = (): CallSlot[] => slots.filter((s) => s.state !== 'gone');
  /** No worker is held and none can be had: from the pool's idle ones, or started. */
  const noWorkersLeft = (): boolean => live().length === 0 && noSpawn;

  const fail = (index: number, e: unknown): void => {
    const error = e instanceof Error ? e : new Error(String(e));
    st.outputs[index] = undefined;
    st.errors.push({ index, error });
    if (options.onError === 'throw') halted = true;
    options.onProgress?.(++st.done);
  };
  /** The worker answered its first item (answers come in the order items were sent). */
  const finishItem = (slot: CallSlot): number => {
    inFlight--;
    return slot.items.shift()!;
  };

  /**
   * `slot` is gone (exited, crashed, failed to start, stopped); `why` says how and `was` is its state before.
   * Its running item fails with `why`; the items waiting behind it go back to the front of the queue, unless
   * `failAll` (a stop).
   */
  const gone = (slot: CallSlot, why: string, was: CallSlot['state'], failAll = false): void => {
    if (slot.state === 'gone') return;
    slot.state = 'gone';
    if (ending) return;
    if (was === 'starting') {
      slot.failedToStart = true;
      startFailures.push(why);
      noSpawn = true; // do not retry: a worker that cannot start here will not start next time either
      return;
    }
    const sent = slot.items.splice(0);
    inFlight -= sent.length;
    if (sent.length === 0) return;
    fail(sent[0]!, new BatchWorkerError(`${why} while running item ${sent[0]}`));
    const waiting = sent.slice(1);
    if (failAll) for (const index of waiting) fail(index, new BatchWorkerError(`${why} before item ${index} ran`));
    else queue.unshift(...waiting.map((index) => ({ index, feeds: sentFeeds.get(index)! })));
    for (const index of sent) sentFeeds.delete(index);
  };

  const client: PoolClient = {
    message(w, m) {
      const slot = slotOf.get(w);
      if (!slot || slot.state === 'gone') return;
      if ((m.type === 'done' || m.type === 'failed') && slot.items[0] === m.index) {
        answers++;
        lastAnswer = performance.now();
      }
      if (m.type === 'ready') slot.state = 'ready';
      else if (m.type === 'done' && slot.items[0] === m.index) {
        const index = finishItem(slot);
        sentFeeds.delete(index);
        try {
          const out: Outputs = {};
          // defineProperty: an output named '__proto__' must stay a plain key
          m.names.forEach((n, i) => Object.defineProperty(out, n, { value: fromWire(m.values[i]!), enumerable: true, writable: true, configurable: true }));
          st.outputs[index] = out;
          options.onProgress?.(++st.done);
        } catch (e) {
          fail(index, e);
        }
      } else if (m.type === 'failed' && slot.items[0] === m.index) {
        const index = finishItem(slot);
        sentFeeds.delete(index);
        fail(index, errorFromWire(m.error));
      }
      pump();
      changed();
    },
    gone(w, why) {
      const slot = slotOf.get(w);
      if (!slot) return;
      const was = slot.state;
      gone(slot, why, was);
      // keep mode: a worker that died after starting (a crash) is replaced in the pool even when this call has
      // no item left for it, so the pool keeps its size for the calls to come
      if (keep && was === 'ready' && !ending && stopReason === undefined && !noSpawn) {
        const replacement = pool.spawn(client);
        if (typeof replacement !== 'string') hold(replacement, false);
      }
      pump();
      changed();
    },
    messageError(w, e) {
      const slot = slotOf.get(w);
      if (slot && slot.state !== 'gone' && slot.items.length > 0) {
        const index = finishItem(slot);
        sentFeeds.delete(index);
        fail(index, new BatchWorkerError(`batch worker ${w.id}: its answer for item ${index} could not be received (${e.message})`));
      }
      pump();
      changed();
    },
  };

  const hold = (w: PoolWorker, warm: boolean): void => {
    const slot: CallSlot = { w, state: w.state, items: [], took: 0, failedToStart: false, warm };
    slots.push(slot);
    slotOf.set(w, slot);
  };

  /**
   * Take idle workers of the pool, then send queued items to ready workers, the least loaded first, up to
   * ITEMS_PER_WORKER each; start workers for the items that no ready or starting worker will take.
   */
  const pump = (): void => {
    if (halted || ending || stopReason !== undefined) return;
    if (escalatedBy !== undefined && queue.length > 0) {
      for (const w of pool.idle()) {
        if (live().length >= maxWorkers) break;
        pool.take(w, client);
        hold(w, true);
      }
    }
    while (queue.length > 0) {
      let slot: CallSlot | undefined;
      for (const s of slots) if (s.state === 'ready' && s.items.length < ITEMS_PER_WORKER && (!slot || s.items.length < slot.items.length)) slot = s;
      if (!slot) break;
      const { index, feeds } = queue.shift()!;
      st.runs++;
      try {
        if (feeds === null || typeof feeds !== 'object') throw new InputValidationError('feeds must be an object mapping input names to Tensors');
        const transfer = new Set<ArrayBuffer>();
        const names = Object.keys(feeds);
        const values: WireValue[] = names.map((n) => valueToWire(n, feeds[n], transfer));
        slot.w.worker.postMessage({ type: 'run', index, fetches, names, values } satisfies RunItemMessage, [...transfer]);
      } catch (e) {
        fail(index, e);
        if (halted) return;
        continue;
      }
      if (firstSend === 0) firstSend = performance.now();
      slot.items.push(index);
      // kept until answered: a crash sends the items waiting behind the running one back to the queue
      sentFeeds.set(index, feeds);
      slot.took++;
      inFlight++;
    }
    if (noSpawn || escalatedBy === undefined) return;
    let starting = slots.filter((s) => s.state === 'starting').length;
    while (queue.length > starting && live().length < maxWorkers && !noSpawn) {
      const w = pool.spawn(client);
      if (typeof w === 'string') {
        // a full pool (other calls hold its workers) is waited for; anything else ends starting
        if (w !== 'the worker pool is full') {
          startFailures.push(w);
          noSpawn = true;
        }
        break;
      }
      hold(w, false);
      starting++;
    }
  };

  /**
   * Whether workers may start now. With workers to be had without a startup (idle in the pool, or already held),
   * after the calling thread has run one item, once the items left are estimated at minSecondsForWarmWorkers
   * of work (and the pool was not measured slower than the calling thread); otherwise (a cold start) once they
   * are estimated at minSecondsForWorkers, counting in keep mode the calling-thread work of the session's
   * earlier calls (a pool started now serves the calls to come). The estimate: the median time of the calling
   * thread's last RECENT_ITEMS items (in 'keep' mode over the session's calls) times the items left; for
   * a source of unknown length, the work done so far stands for what is left.
   */
  const decide = (): void => {
    if (escalatedBy !== undefined) return;
    const warm = pool.idle().length > 0 || live().length > 0;
    // warm: the calling thread runs one item of every call first, so the pace (and the comparison with the
    // pool's rate) follows the machine's load; cold: it times RECENT_ITEMS items first
    if (onCaller < (warm ? 1 : RECENT_ITEMS)) return;
    const pace = recent.length > 0 ? [...recent].sort((a, b) => a - b)[recent.length >> 1]! : undefined;
    let left: number;
    if (plan.known === undefined) left = callerSeconds;
    else if (pace === undefined) return;
    else left = pace * (plan.known - st.done);
    if (!(warm ? left >= warmMin : left + (keep ? before : 0) >= coldMin)) return;
    // warm workers that ran slower than this thread in the session's last measured call (other load on the
    // machine) are not used, except on every WARM_PROBE_EVERY-th call, which measures them again
    const poolRate = holder?.poolRate;
    if (warm && poolRate !== undefined && pace !== undefined && poolRate * pace < 1 && callNo % WARM_PROBE_EVERY !== 0) {
      slowerPool = [poolRate, 1 / pace];
      return;
    }
    slowerPool = undefined;
    escalatedBy = warm ? 'warm' : 'cold';
  };

  /** Run the first queued item on the calling thread. */
  const runOnCaller = (): void => {
    const { index, feeds } = queue.shift()!;
    st.runs++;
    onCaller++;
    const t0 = performance.now();
    try {
      st.outputs[index] = session.runSync(feeds, fetches);
      options.onProgress?.(++st.done);
    } catch (e) {
      fail(index, e);
    }
    const seconds = (performance.now() - t0) / 1000;
    callerSeconds += seconds;
    recent.push(seconds);
    if (recent.length > RECENT_ITEMS) recent.shift();
    decide();
  };
  /** Run the queued items on the calling thread (no worker is left). */
  const drainOnCaller = (): void => {
    while (queue.length > 0 && !halted) runOnCaller();
  };
  /** While no held worker is ready yet, the calling thread takes items itself (unless told not to). */
  const callerHelps = (): boolean => options.useCallingThread !== false && queue.length > 0 && !halted && (escalatedBy === undefined || !slots.some((s) => s.state === 'ready' || s.took > 0));
  /** Wait for a worker event, or run one item on the calling thread while the workers start. */
  const progress = async (): Promise<void> => {
    if (!callerHelps()) return nextChange();
    runOnCaller();
    // let the workers' messages ('ready', answers) in before the next item; with no worker held or starting,
    // only the microtasks (the pool's notices) need a turn, and a macrotask hop would cost each item some
    // 0.1-0.3 ms
    if (live().length > 0 || pool.idle().some((w) => w.state === 'starting')) await new Promise<void>((resolve) => setImmediate(resolve));
    else await Promise.resolve();
    pump();
  };

  const unregister = pool.register?.(async (reason: string) => {
    stopReason = reason;
    noSpawn = true;
    for (const slot of slots) {
      if (slot.state === 'gone') continue;
      gone(slot, `batch worker ${slot.w.id} was stopped (${reason})`, slot.state, true);
      pool.terminate(slot.w);
    }
    changed();
    await Promise.all(slots.map((slot) => slot.w.exited));
  });
  const unwatch = pool.watch(() => {
    // a worker of the pool became idle or ready (another call ended, a background start finished)
    decide();
    pump();
    changed();
  });

  let index = 0;
  decide();
  try {
    for await (const feeds of readAhead(inputs, maxWorkers)) {
      const i = index++;
      st.outputs.length = index;
      queue.push({ index: i, feeds });
      pump();
      while (!halted && !noWorkersLeft() && queue.length + inFlight >= maxWorkers * ITEMS_PER_WORKER) await progress();
      if (halted) break;
      if (noWorkersLeft()) drainOnCaller();
      if (halted) break;
    }
    while (inFlight > 0 || (queue.length > 0 && !halted && !noWorkersLeft())) await progress();
    if (noWorkersLeft()) drainOnCaller();
  } finally {
    ending = true;
    unregister?.();
    unwatch();
    const exits: Promise<void>[] = [];
    for (const slot of slots) {
      if (slot.w.state === 'gone') {
        exits.push(slot.w.exited);
        continue;
      }
      // a worker still running an item of this call (the source threw) is not given back: its answer would
      // reach the next call that takes it
      if (keep && stopReason === undefined && slot.items.length === 0 && pool.closed === undefined) pool.giveBack(slot.w);
      else {
        pool.terminate(slot.w);
        exits.push(slot.w.exited);
      }
      slot.state = 'gone';
    }
    if (!keep) exits.push(pool.close('the call ended'));
    // no thread of this call outlives it, except those given back to the session's pool
    await Promise.all(exits);
    if (holder) {
      holder.callerSeconds += callerSeconds;
      // the pool's rate: the workers' answers per second from the first item sent to the last answer, in calls
      // whose workers were all warm (a fresh worker's cold JIT is not what later calls get), at least 4 items
      // per worker (so that a call's first and last round trips do not dominate)
      const held = slots.filter((s) => s.took > 0);
      if (stopReason === undefined && held.length > 0 && held.every((s) => s.warm) && answers >= 4 * held.length && lastAnswer > firstSend) {
        holder.poolRate = answers / ((lastAnswer - firstSend) / 1000);
      }
    }
    const counted = slots.filter((s) => !s.failedToStart);
    const used = slots.some((s) => s.took > 0);
    const warmCount = counted.filter((s) => s.warm).length;
    st.mode = used ? 'workers' : 'sequential';
    st.workers = used ? counted.length : 0;
    st.warmWorkers = used ? warmCount : 0;
    st.workerThreadIds = used ? counted.map((s) => s.w.threadId) : [];
    const plural = (k: number, what: string): string => `${k} ${what}${k === 1 ? '' : 's'}`;
    const notes: string[] = [];
    if (startFailures.length) notes.push(`${plural(startFailures.length, 'worker')} could not start (${startFailures[0]})`);
    if (stopReason !== undefined) notes.push(`workers were stopped: ${stopReason}`);
    if (onCaller > 0 && escalatedBy !== undefined) notes.push(`${plural(onCaller, 'item')} ran on the calling thread`);
    const kept = keep ? ' (kept by the session for later calls)' : '';
    let why: string;
    if (used) {
      const warmNote = warmCount === counted.length ? ', all warm from earlier calls' : warmCount > 0 ? `, ${warmCount} warm from earlier calls` : ', all started by this call';
      why = `${plan.why}, so items were spread over ${plural(counted.length, 'worker thread')}${warmNote}${kept}`;
    } else if (counted.length === 0 && startFailures.length > 0) why = `${plan.why}; no batch worker could start, so items ran one at a time on the calling thread`;
    else if (escalatedBy === undefined && stopReason === undefined && !halted) {
      const warm = pool.idle().length > 0;
      why = slowerPool
        ? `${plan.why}; warm workers ran ${slowerPool[0].toFixed(0)} items/s in this session's last call that measured them, slower than the calling thread's ${slowerPool[1].toFixed(0)} items/s (other load on the machine), so items ran one at a time on the calling thread (the pool is tried again every ${WARM_PROBE_EVERY}th call)`
        : warm
        ? `${plan.why}; the items came to about ${callerSeconds.toFixed(3)} s of work, under the ${warmMin} s for which warm workers pay off (minSecondsForWarmWorkers), so they ran one at a time on the calling thread`
        : `${plan.why}; the items came to about ${callerSeconds.toFixed(2)} s of work${keep && before > 0 ? ` (${(before + callerSeconds).toFixed(2)} s in this session's calls)` : ''}, under the ${coldMin} s that starting workers needs to pay off (minSecondsForWorkers), so they ran one at a time on the calling thread`;
    } else if (stopReason === undefined && !halted && onCaller > 0) why = `${plan.why}; every item finished on the calling thread before a worker was ready${slots.length > 0 && keep ? ' (the workers started stay in the session\'s pool for later calls)' : ''}`;
    else why = `${plan.why}; no item reached a worker`;
    st.modeReason = [why, ...notes].join('; ');
    st.errors.sort((a, b) => a.index - b.index);
  }
  if (options.onError === 'throw' && st.errors.length > 0) {
    const first = st.errors[0]!;
    throw new BatchItemError(first.index, first.error, resultOf(st));
  }
}

function validFeeds(feeds: Feeds): boolean {
  if (feeds === null || typeof feeds !== 'object') return false;
  const list = Object.values(feeds);
  return list.length > 0 && list.every((t) => t instanceof Tensor && !t.disposed && t.rank > 0) && new Set(list.map((t) => t.dims[0])).size === 1;
}

/** Items can share a stacked run when they feed the same names with the same dtypes and trailing dims. */
function stackable(a: Feeds, b: Feeds): boolean {
  const names = Object.keys(a);
  if (!validFeeds(b) || Object.keys(b).length !== names.length) return false;
  return names.every((n) => {
    const x = a[n]!;
    const y = b[n];
    return y !== undefined && x.type === y.type && shapesEqual(x.dims.slice(1), y.dims.slice(1));
  });
}

function firstDim(feeds: Feeds): number {
  return Object.values(feeds)[0]!.dims[0]!;
}

/** Concatenate each input of the items along dim 0. */
function concatFeeds(items: readonly Feeds[]): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const name of Object.keys(items[0]!)) {
    const parts = items.map((f) => f[name]!);
    const first = parts[0]!;
    const total = parts.reduce((n, t) => n + t.size, 0);
    const data = allocate(first.type, total) as TypedArray;
    let at = 0;
    for (const t of parts) {
      (data as unknown as { set(a: ArrayLike<unknown>, o: number): void }).set(t.data, at);
      at += t.size;
    }
    out[name] = new Tensor(first.type, data, [parts.reduce((n, t) => n + t.dims[0]!, 0), ...first.dims.slice(1)]);
  }
  return out;
}

/** Split `t` along dim 0 into pieces of `counts` rows (copies, so each item owns its outputs). */
function splitAlongFirst(t: Tensor, counts: readonly number[]): Tensor[] {
  const rowSize = t.dims[0]! > 0 ? t.size / t.dims[0]! : 0;
  const data = t.data as unknown as { slice(a: number, b: number): TypedArray };
  let row = 0;
  return counts.map((n) => {
    const piece = new Tensor(t.type, data.slice(row * rowSize, (row + n) * rowSize), [n, ...t.dims.slice(1)]);
    row += n;
    return piece;
  });
}

/** Iterate `source`, keeping up to `ahead` items requested ahead of the consumer (for async sources). */
async function* readAhead<T>(source: Iterable<T> | AsyncIterable<T>, ahead: number): AsyncGenerator<T> {
  if (Symbol.iterator in source) {
    yield* source as Iterable<T>;
    return;
  }
  if (!(Symbol.asyncIterator in source)) throw new TesseraError('runBatch: inputs must be an array or an (async) iterable of feeds');
  const it = (source as AsyncIterable<T>)[Symbol.asyncIterator]();
  const queue: Promise<IteratorResult<T>>[] = [];
  try {
    for (;;) {
      while (queue.length < ahead) {
        const request = it.next();
        // a request that fails while an earlier one is still being consumed is awaited (and thrown) in its
        // turn; until then this handler keeps Node from reporting it as an unhandled rejection
        request.catch(() => {});
        queue.push(request);
      }
      const next = await queue.shift()!;
      if (next.done) return;
      yield next.value;
    }
  } finally {
    await it.return?.();
  }
}
