/**
 * Batch inference: run a model over many items (each a set of feeds) and get the results back in input order.
 *
 * Stacking. When every input of the model declares a symbolic (or unknown) first dim, consecutive items whose
 * feeds agree on dtypes and on every dim but the first are concatenated along dim 0 into groups of at most
 * `batchSize` items and run once per group; each output's dim 0 is then split back by the items' own dim-0
 * sizes. If an output's dim 0 does not equal the group total (the model does not really batch), the group is
 * re-run item by item and the model is marked as non-stacking for the rest of the call. Stacking gives the
 * kernels larger GEMMs (better packing reuse) at the cost of one copy of the inputs and outputs.
 *
 * Item by item. Otherwise items run one at a time on the calling thread. Items are not spread over worker
 * threads: a session's kernels already split each operation over the kernel worker pool (session option
 * `threads`), so item-level workers would compete for the same cores while each holding its own copy of the
 * model's weights. `concurrency` instead bounds how many items are pulled ahead from an async source (reading
 * or decoding the next items overlaps the current run).
 *
 * Failures. A failing item is reported with its index. With `onError: 'collect'` every other item still runs and
 * the result holds `errors` next to the outputs (undefined at failed indices); with `onError: 'throw'` (default)
 * the call stops at the first failure and throws a BatchItemError whose `partial` result keeps everything
 * computed before it. A stacked group that fails is re-run item by item, so one bad item never costs the
 * results of its group mates.
 *
 * Cost: the model's cost per item, plus for stacked groups one copy of every input and output.
 */
import { TesseraError } from '../tensor/errors.js';
import { allocate, type TypedArray } from '../tensor/dtype.js';
import { shapesEqual } from '../tensor/shape.js';
import { Tensor } from '../tensor/tensor.js';
import type { ValueMetadata } from './session.js';

/** Input feeds of one item: input name -> tensor. */
export type Feeds = Readonly<Record<string, Tensor>>;
/** Outputs of one item: output name -> tensor. */
export type Outputs = Record<string, Tensor>;

/** What runBatch needs from a session. */
export interface BatchRunner {
  readonly inputMetadata: readonly ValueMetadata[];
  readonly outputNames: readonly string[];
  runSync(feeds: Feeds, fetches?: readonly string[]): Outputs;
}

/** Options of runBatch. */
export interface BatchOptions {
  /** Most items stacked into one run (default 8; 1 disables stacking). */
  batchSize?: number;
  /** Items pulled ahead from the source while one runs (default 1; at least 1). */
  concurrency?: number;
  /** 'throw' (default): stop at the first failing item; 'collect': run all and report failures. */
  onError?: 'throw' | 'collect';
  /** Outputs to compute (default all). */
  fetches?: readonly string[];
  /** Called after each item completes (or fails), e.g. to drive a progress bar. */
  onProgress?: (done: number) => void;
}

/** One failed item. */
export interface BatchItemFailure {
  readonly index: number;
  readonly error: Error;
}

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
  /** Wall time in seconds and the throughput it gives. */
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

/** True when every input declares a dim 0 that is symbolic or unknown (so items can be stacked along it). */
export function hasBatchDim(inputs: readonly ValueMetadata[]): boolean {
  return inputs.length > 0 && inputs.every((m) => m.shape !== undefined && m.shape.length > 0 && typeof m.shape[0] !== 'number');
}

/** Run `session` over `inputs`; see the file comment. */
export async function runBatch(session: BatchRunner, inputs: Iterable<Feeds> | AsyncIterable<Feeds>, options: BatchOptions = {}): Promise<BatchResult> {
  const batchSize = options.batchSize ?? 8;
  const concurrency = options.concurrency ?? 1;
  const onError = options.onError ?? 'throw';
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new TesseraError(`runBatch: batchSize must be a positive integer, got ${batchSize}`);
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new TesseraError(`runBatch: concurrency must be a positive integer, got ${concurrency}`);
  if (onError !== 'throw' && onError !== 'collect') throw new TesseraError(`runBatch: onError must be 'throw' or 'collect', got '${String(onError)}'`);
  const fetches = options.fetches ?? session.outputNames;
  let canStack = batchSize > 1 && hasBatchDim(session.inputMetadata);

  const outputs: (Outputs | undefined)[] = [];
  const errors: BatchItemFailure[] = [];
  let runs = 0;
  let stacked = false;
  let done = 0;
  const start = performance.now();
  const result = (): BatchResult => {
    const seconds = (performance.now() - start) / 1000;
    return { outputs, errors, items: outputs.length, runs, stacked, seconds, itemsPerSecond: seconds > 0 ? outputs.length / seconds : 0 };
  };
  const fail = (index: number, e: unknown): void => {
    const error = e instanceof Error ? e : new Error(String(e));
    outputs[index] = undefined;
    errors.push({ index, error });
    if (onError === 'throw') throw new BatchItemError(index, error, result());
  };
  const runOne = (index: number, feeds: Feeds): void => {
    runs++;
    try {
      outputs[index] = session.runSync(feeds, fetches);
    } catch (e) {
      fail(index, e);
    }
    options.onProgress?.(++done);
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
      runs++;
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
    stacked = true;
    const parts = group.map((): Outputs => ({}));
    for (const [name, t] of Object.entries(out)) {
      splitAlongFirst(t, counts).forEach((piece, i) => (parts[i]![name] = piece));
      t.dispose();
    }
    parts.forEach((p, i) => {
      outputs[first + i] = p;
      options.onProgress?.(++done);
    });
  };

  let pending: Feeds[] = [];
  let pendingStart = 0;
  let index = 0;
  const flush = (): void => {
    if (pending.length) runGroup(pendingStart, pending);
    pending = [];
  };
  for await (const feeds of readAhead(inputs, concurrency)) {
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
  errors.sort((a, b) => a.index - b.index);
  return result();
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
      while (queue.length < ahead) queue.push(it.next());
      const next = await queue.shift()!;
      if (next.done) return;
      yield next.value;
    }
  } finally {
    await it.return?.();
  }
}
