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
 *     `concurrency` (default: min(items of an array source, available cores), at most MAX_BATCH_WORKERS);
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
 *   - startup (a thread, the module graph, decoding the model, a cold JIT) is paid once per call, so with
 *     `useCallingThread` (default) the calling thread runs the first items itself and starts workers only once
 *     the items left are estimated at `minSecondsForWorkers` of work (DEFAULT_MIN_SECONDS_FOR_WORKERS), then
 *     keeps running items until the first worker is ready: a short batch never starts a worker (mode
 *     'sequential', with the estimate in modeReason). Every worker is terminated before runBatch returns or
 *     throws, and by the session's release() during a call; workers are not kept between calls.
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
 * crash, process.exit, out of memory) fails that item with a BatchWorkerError and is replaced; a worker that
 * cannot start is not retried, and when no worker is left the remaining items run on the calling thread. An
 * item that was waiting behind the crashed one goes back to the queue.
 * Limitation: an item that never finishes in a worker (an endless loop in a kernel) hangs the call, as it
 * would on the calling thread.
 *
 * Cost: the model's cost per item, plus for stacked groups one copy of every input and output, plus for
 * workers the startup above and one copy of every input and output.
 */
import type { Worker as NodeWorker } from 'node:worker_threads';
import { builtin, workerEntry } from '../kernels/cpu/worker-entry.js';
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

/** Most worker threads one runBatch call starts at once. */
export const MAX_BATCH_WORKERS = 64;
/**
 * Items sent to one worker ahead of its answers: one running and one waiting in its port, so a worker never
 * idles while the calling thread (busy, or descheduled on a loaded machine) gets round to sending the next.
 */
export const ITEMS_PER_WORKER = 2;
/**
 * Default of BatchOptions.minSecondsForWorkers. Fresh workers cost a startup (0.3-0.8 s: thread, module graph,
 * model decode) and a cold JIT (their first few hundred items run at a third to a half of the warm speed), so on
 * the shared 2-core machine of docs/inference-modes.md two workers did not beat the calling thread on batches
 * of up to several seconds of work (bench/batch-workers.ts). Below this, items stay on the calling thread.
 */
export const DEFAULT_MIN_SECONDS_FOR_WORKERS = 8;
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
   * calling thread and the string is reported in `modeReason`). Without it items never go to workers.
   */
  batchWorkerModel?(): BatchWorkerModel | string;
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
   * Worker threads the call started (each loaded the model, or was loading it when the call ended), crash
   * replacements included and those that failed to start excluded; 0 unless mode is 'workers'.
   */
  readonly workers: number;
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
 * How many worker threads started by runBatch are still alive, across all calls. 0 whenever no call is
 * running: each call terminates its workers before it returns, and a session's release() terminates those of
 * its running calls. For tests and leak checks.
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
  modeReason: string;
  readonly start: number;
}

function resultOf(st: CallState): BatchResult {
  const seconds = (performance.now() - st.start) / 1000;
  const items = st.outputs.length;
  return { outputs: st.outputs, errors: st.errors, items, runs: st.runs, stacked: st.stacked, mode: st.mode, workers: st.workers, modeReason: st.modeReason, seconds, itemsPerSecond: seconds > 0 ? items / seconds : 0 };
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
  if (inputs === null || typeof inputs !== 'object' || !(Symbol.iterator in inputs || Symbol.asyncIterator in inputs)) {
    throw new TesseraError('runBatch: inputs must be an array or an (async) iterable of feeds');
  }
  const fetches = options.fetches ?? session.outputNames;
  const st: CallState = { outputs: [], errors: [], runs: 0, done: 0, stacked: false, mode: 'sequential', workers: 0, modeReason: '', start: performance.now() };
  const canStack = batchSize > 1 && hasBatchDim(session.inputMetadata);
  if (!canStack) {
    const plan = planWorkers(session, inputs, batchSize, concurrency);
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
function planWorkers(session: BatchRunner, inputs: Iterable<Feeds> | AsyncIterable<Feeds>, batchSize: number, concurrency: number | undefined): WorkerPlan | string {
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
  const model = session.batchWorkerModel?.();
  if (model === undefined) return `${why}; the runner cannot be re-created in a worker thread (no batchWorkerModel), so ${onCaller}`;
  if (typeof model === 'string') return `${why}; workers cannot load this model: ${model}; so ${onCaller}`;
  return { workers, model, why, known };
}

/** What planWorkers decided for the worker path. */
interface WorkerPlan {
  /** Most workers alive at once. */
  readonly workers: number;
  readonly model: BatchWorkerModel;
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

/** One worker thread of a call. */
interface WorkerSlot {
  readonly id: number;
  readonly worker: NodeWorker;
  /** starting: loading the model; ready: taking items; gone: exited, crashed or terminated. */
  state: 'starting' | 'ready' | 'gone';
  /** Indices sent and not answered yet, in order: the first is running, the others wait in its port. */
  readonly items: number[];
  /** Items sent to this worker. */
  took: number;
  /** The worker failed to start (counted in startFailures, not in BatchResult.workers). */
  failedToStart: boolean;
  /** Resolves when the thread has exited. */
  readonly exited: Promise<void>;
  startTimer: ReturnType<typeof setTimeout> | undefined;
}

/**
 * The worker path (see the file comment). Fills `st`; throws BatchItemError under onError 'throw' once the
 * items in flight have finished. Every worker is terminated before it returns or throws.
 */
async function runOnWorkers(
  session: BatchRunner,
  inputs: Iterable<Feeds> | AsyncIterable<Feeds>,
  options: ResolvedOptions,
  fetches: readonly string[],
  plan: WorkerPlan,
  st: CallState,
): Promise<void> {
  const { model, workers: maxWorkers } = plan;
  const wt = builtin<WorkerThreadsModule>('node:worker_threads')!;
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
    fetches: [...fetches],
    exitOnIndexForTest: model.exitOnIndexForTest,
  };
  const entry = workerEntry(import.meta.url, 'batch-worker');
  const slots: WorkerSlot[] = [];
  const queue: { index: number; feeds: Feeds }[] = [];
  const startFailures: string[] = [];
  let inFlight = 0;
  /** Feeds of the items sent to workers and not answered yet. */
  const sentFeeds = new Map<number, Feeds>();
  /** Set by the first failure under onError 'throw': send no more items, read no more. */
  let halted = false;
  /** No new workers (one failed to start, or the session was released). */
  let noSpawn = false;
  let stopReason: string | undefined;
  /** Set while the call tears its workers down (their exits are expected). */
  let ending = false;
  let onCaller = 0;
  /** Seconds the calling thread spent on items, in all and for each of the last 8. */
  let callerSeconds = 0;
  const recent = new Array<number>(8).fill(0);
  const minSeconds = options.minSecondsForWorkers ?? DEFAULT_MIN_SECONDS_FOR_WORKERS;
  /** Workers may be started (at once without the calling thread's help, else once the batch looks long enough). */
  let escalated = options.useCallingThread === false || minSeconds === 0;
  let wake: () => void = () => {};
  const changed = (): void => {
    const w = wake;
    wake = () => {};
    w();
  };
  const nextChange = (): Promise<void> => new Promise<void>((resolve) => (wake = resolve));
  const live = (): WorkerSlot[] => slots.filter((s) => s.state !== 'gone');
  const noWorkersLeft = (): boolean => noSpawn && live().length === 0;

  const fail = (index: number, e: unknown): void => {
    const error = e instanceof Error ? e : new Error(String(e));
    st.outputs[index] = undefined;
    st.errors.push({ index, error });
    if (options.onError === 'throw') halted = true;
    options.onProgress?.(++st.done);
  };
  /** The worker answered its first item (answers come in the order items were sent). */
  const finishItem = (slot: WorkerSlot): number => {
    inFlight--;
    return slot.items.shift()!;
  };

  const onMessage = (slot: WorkerSlot, m: FromBatchWorker): void => {
    if (slot.state === 'gone') return;
    if (m.type === 'ready') {
      clearTimeout(slot.startTimer);
      slot.state = 'ready';
    } else if (m.type === 'start-failed') {
      gone(slot, `batch worker ${slot.id} failed to start: ${errorFromWire(m.error).message}`);
      void slot.worker.terminate();
    } else if (m.type === 'done' && slot.items[0] === m.index) {
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
  };

  /**
   * `slot` is gone (exited, crashed, failed to start, stopped); `why` says how. Its running item fails with
   * `why`; the items waiting behind it go back to the front of the queue, unless `failAll` (a stop).
   */
  const gone = (slot: WorkerSlot, why: string, failAll = false): void => {
    if (slot.state === 'gone') return;
    clearTimeout(slot.startTimer);
    const was = slot.state;
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

  const spawn = (): void => {
    const id = slots.length + 1;
    let worker: NodeWorker;
    try {
      worker = new wt.Worker(entry.source, { eval: entry.evalCode, workerData: data });
    } catch (e) {
      startFailures.push(`batch worker ${id} could not be created: ${(e as Error).message}`);
      noSpawn = true;
      return;
    }
    liveWorkerThreads++;
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    const slot: WorkerSlot = { id, worker, state: 'starting', items: [], took: 0, failedToStart: false, exited, startTimer: undefined };
    slots.push(slot);
    slot.startTimer = setTimeout(() => {
      if (slot.state !== 'starting') return;
      gone(slot, `batch worker ${id} did not start within ${BATCH_WORKER_START_TIMEOUT_MS / 1000} s`);
      void worker.terminate();
      pump();
      changed();
    }, BATCH_WORKER_START_TIMEOUT_MS);
    slot.startTimer.unref?.();
    worker.on('message', (m: FromBatchWorker) => onMessage(slot, m));
    worker.on('error', (e: Error) => {
      gone(slot, `batch worker ${id} failed (${e.name}: ${e.message})`);
      pump();
      changed();
    });
    worker.on('messageerror', (e: Error) => {
      if (slot.items.length > 0) {
        const index = finishItem(slot);
        sentFeeds.delete(index);
        fail(index, new BatchWorkerError(`batch worker ${id}: its answer for item ${index} could not be received (${e.message})`));
      }
      pump();
      changed();
    });
    worker.on('exit', (code: number) => {
      liveWorkerThreads--;
      gone(slot, `batch worker ${id} exited with code ${code}`);
      pump();
      changed();
    });
  };

  /**
   * Send queued items to ready workers, the least loaded first, up to ITEMS_PER_WORKER each; start workers for
   * the items that no ready or starting worker will take.
   */
  const pump = (): void => {
    if (halted || ending) return;
    while (queue.length > 0) {
      let slot: WorkerSlot | undefined;
      for (const s of slots) if (s.state === 'ready' && s.items.length < ITEMS_PER_WORKER && (!slot || s.items.length < slot.items.length)) slot = s;
      if (!slot) break;
      const { index, feeds } = queue.shift()!;
      st.runs++;
      try {
        if (feeds === null || typeof feeds !== 'object') throw new InputValidationError('feeds must be an object mapping input names to Tensors');
        const transfer = new Set<ArrayBuffer>();
        const names = Object.keys(feeds);
        const values: WireValue[] = names.map((n) => valueToWire(n, feeds[n], transfer));
        slot.worker.postMessage({ type: 'run', index, names, values } satisfies RunItemMessage, [...transfer]);
      } catch (e) {
        fail(index, e);
        if (halted) return;
        continue;
      }
      slot.items.push(index);
      // kept until answered: a crash sends the items waiting behind the running one back to the queue
      sentFeeds.set(index, feeds);
      slot.took++;
      inFlight++;
    }
    if (noSpawn || !escalated) return;
    let starting = slots.filter((s) => s.state === 'starting').length;
    let alive = live().length;
    while (queue.length > starting && alive < maxWorkers && !noSpawn) {
      spawn();
      starting++;
      alive++;
    }
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
    recent[onCaller % recent.length] = seconds;
    if (!escalated && onCaller >= recent.length) {
      // what is left at the pace of the recent items (their median: the first items of a cold process are
      // slow); for a source of unknown length the work done so far stands for what is left
      const pace = [...recent].sort((a, b) => a - b)[recent.length >> 1]!;
      const left = plan.known !== undefined ? pace * (plan.known - st.done) : callerSeconds;
      if (left >= minSeconds) escalated = true;
    }
  };
  /** Run the queued items on the calling thread (no worker is left). */
  const drainOnCaller = (): void => {
    while (queue.length > 0 && !halted) runOnCaller();
  };
  /** While no worker has become ready yet, the calling thread takes items itself (unless told not to). */
  const callerHelps = (): boolean => options.useCallingThread !== false && queue.length > 0 && !halted && (!escalated || !slots.some((s) => s.state === 'ready' || s.took > 0));
  /** Wait for a worker event, or run one item on the calling thread while the workers start. */
  const progress = async (): Promise<void> => {
    if (!callerHelps()) return nextChange();
    runOnCaller();
    // let the workers' messages ('ready', answers) in before the next item
    await new Promise<void>((resolve) => setImmediate(resolve));
    pump();
  };

  const unregister = model.register?.(async (reason: string) => {
    stopReason = reason;
    noSpawn = true;
    for (const slot of slots) {
      if (slot.state === 'gone') continue;
      gone(slot, `batch worker ${slot.id} was stopped (${reason})`, true);
      void slot.worker.terminate();
    }
    changed();
    await Promise.all(slots.map((slot) => slot.exited));
  });

  let index = 0;
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
    for (const slot of slots) {
      clearTimeout(slot.startTimer);
      if (slot.state !== 'gone') {
        slot.state = 'gone';
        void slot.worker.terminate();
      }
    }
    // no thread outlives the call (also those that exited on their own or were terminated earlier)
    await Promise.all(slots.map((slot) => slot.exited));
    const started = slots.filter((s) => !s.failedToStart).length;
    const used = slots.some((s) => s.took > 0);
    st.mode = used ? 'workers' : 'sequential';
    st.workers = used ? started : 0;
    const plural = (k: number, what: string): string => `${k} ${what}${k === 1 ? '' : 's'}`;
    const notes: string[] = [];
    if (startFailures.length) notes.push(`${plural(startFailures.length, 'worker')} could not start (${startFailures[0]})`);
    if (stopReason !== undefined) notes.push(`workers were stopped: ${stopReason}`);
    if (onCaller > 0 && escalated) notes.push(`${plural(onCaller, 'item')} ran on the calling thread`);
    let why: string;
    if (used) why = `${plan.why}, so items were spread over ${plural(started, 'worker thread')}`;
    else if (started === 0 && startFailures.length > 0) why = `${plan.why}; no batch worker could start, so items ran one at a time on the calling thread`;
    else if (!escalated && stopReason === undefined && !halted) why = `${plan.why}; the items came to about ${callerSeconds.toFixed(2)} s of work, under the ${minSeconds} s that starting workers needs to pay off (minSecondsForWorkers), so they ran one at a time on the calling thread`;
    else if (stopReason === undefined && !halted && onCaller > 0) why = `${plan.why}; every item finished on the calling thread before a worker was ready`;
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
