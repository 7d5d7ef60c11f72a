/**
 * Streaming inference: run a model over a live sequence of chunks, carrying recurrent state from one call to
 * the next, and chain models over a stream with sliding windows.
 *
 * Everything here is a pull-based async generator: nothing is read from the source until the consumer asks
 * for the next result, so a slow consumer slows the producer (backpressure for free) and at most one chunk
 * per stage is in flight. Windowing keeps only the rows a future window still needs, so memory stays flat
 * however long the stream runs.
 *
 * - `streamSession(session, chunks, {state: {stateN: 'state'}})`: each chunk's feeds plus `constants` plus the
 *   current state go into one run; the outputs named in `state` become the next run's inputs (Silero VAD:
 *   `stateN` -> `state`) and are not yielded; the other outputs are. The initial state is `initialState`, or
 *   zeros of the state input's declared shape, with symbolic dims resolved from the first chunk's feeds. The
 *   generator's return value is the final state. A state tensor is recycled into the session's arena once
 *   the next run has consumed it.
 * - `slidingWindows(rows, {size, step, width, leadingZeros})`: regroups a stream of row blocks (each a
 *   Float32Array of whole rows of `width` values) into windows of `size` rows every `step` rows.
 * - `mapStream`, `pipeline` and `modelStage`: compose stages; `modelStage` runs a session per item.
 */
import { TesseraError } from '../tensor/errors.js';
import { fmtShape } from '../tensor/shape.js';
import { Tensor, zeros } from '../tensor/tensor.js';
import type { Feeds, Outputs } from './batch.js';
import type { ValueMetadata } from './session.js';

/** What streamSession needs from a session. */
export interface StreamRunner {
  readonly inputMetadata: readonly ValueMetadata[];
  readonly outputNames: readonly string[];
  runSync(feeds: Feeds, fetches?: readonly string[]): Outputs;
  /** Give buffers of tensors no longer needed back to the session's arena (optional). */
  recycle?(tensors: Iterable<Tensor>): void;
}

/** Options of streamSession. */
export interface StreamOptions {
  /** Outputs carried into the next call: output name -> the input it feeds (e.g. {stateN: 'state'}). */
  state?: Readonly<Record<string, string>>;
  /** Initial values of the state inputs (default zeros of their declared shapes). Not disposed. */
  initialState?: Feeds;
  /** Feeds added to every call (e.g. a sample-rate scalar). Not disposed. */
  constants?: Feeds;
}

type Source<T> = Iterable<T> | AsyncIterable<T>;

/** Run `session` once per chunk of `chunks`, carrying `options.state`; see the file comment. */
export async function* streamSession(session: StreamRunner, chunks: Source<Feeds>, options: StreamOptions = {}): AsyncGenerator<Outputs, Feeds, undefined> {
  const stateMap = options.state ?? {};
  const constants = options.constants ?? {};
  for (const [output, input] of Object.entries(stateMap)) {
    if (!session.outputNames.includes(output)) {
      throw new TesseraError(`stream: state output '${output}' is not an output of the model; outputs: ${session.outputNames.join(', ')}`);
    }
    if (!session.inputMetadata.some((m) => m.name === input)) {
      throw new TesseraError(`stream: state input '${input}' is not an input of the model; inputs: ${session.inputMetadata.map((m) => m.name).join(', ')}`);
    }
  }
  const stateInputs = new Set(Object.values(stateMap));
  const yielded = session.outputNames.filter((n) => !(n in stateMap));
  let state: Record<string, Tensor> = {};
  let ownState = false;
  let first = true;
  try {
    for await (const chunk of chunks) {
      if (first) {
        state = initialState(session, stateInputs, options.initialState, { ...constants, ...chunk });
        ownState = options.initialState === undefined;
        first = false;
      }
      const outputs = session.runSync({ ...constants, ...chunk, ...state });
      if (ownState) release(session, Object.values(state));
      const next: Record<string, Tensor> = {};
      for (const [output, input] of Object.entries(stateMap)) next[input] = outputs[output]!;
      state = next;
      ownState = true;
      const out: Outputs = {};
      for (const n of yielded) out[n] = outputs[n]!;
      yield out;
    }
    const final = state;
    ownState = false;
    return final;
  } finally {
    if (ownState) release(session, Object.values(state));
  }
}

function release(session: StreamRunner, tensors: Tensor[]): void {
  if (session.recycle) session.recycle(tensors);
  else for (const t of tensors) t.dispose();
}

/** The starting state: given, or zeros of the declared shapes with symbols resolved from `feeds`. */
function initialState(session: StreamRunner, names: ReadonlySet<string>, given: Feeds | undefined, feeds: Feeds): Record<string, Tensor> {
  if (given) {
    for (const n of names) if (!given[n]) throw new TesseraError(`stream: initialState has no value for state input '${n}'`);
    const copy: Record<string, Tensor> = {};
    for (const n of names) copy[n] = given[n]!;
    return copy;
  }
  const symbols = new Map<string, number>();
  for (const m of session.inputMetadata) {
    const t = feeds[m.name];
    if (!t || !m.shape || m.shape.length !== t.rank) continue;
    m.shape.forEach((d, i) => {
      if (typeof d === 'string') symbols.set(d, t.dims[i]!);
    });
  }
  const state: Record<string, Tensor> = {};
  for (const n of names) {
    const meta = session.inputMetadata.find((m) => m.name === n)!;
    if (!meta.type || !meta.shape) throw new TesseraError(`stream: state input '${n}' has no declared type and shape; pass initialState`);
    const dims = meta.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : typeof d === 'string' ? symbols.get(d) : undefined));
    if (dims.some((d) => d === undefined)) {
      throw new TesseraError(`stream: cannot size state input '${n}' [${meta.shape.map((d) => d ?? '?').join(', ')}] from the first chunk; pass initialState`);
    }
    state[n] = zeros(meta.type as Tensor['type'], dims as number[]);
  }
  return state;
}

/** Options of slidingWindows. */
export interface WindowOptions {
  /** Rows per window. */
  size: number;
  /** Rows between the starts of consecutive windows. */
  step: number;
  /** Values per row (default 1: a stream of samples). */
  width?: number;
  /** Zero rows before the first input row (default 0). */
  leadingZeros?: number;
}

/**
 * Windows of `size` rows every `step` rows over a stream of row blocks (each block a whole number of rows of
 * `width` values). Each window is a fresh Float32Array of size * width values. Memory: the rows still needed,
 * at most size + one block (the buffer is compacted as windows are emitted).
 */
export async function* slidingWindows(blocks: Source<ArrayLike<number>>, options: WindowOptions): AsyncGenerator<Float32Array> {
  const { size, step } = options;
  const width = options.width ?? 1;
  const lead = options.leadingZeros ?? 0;
  for (const [k, v] of [['size', size], ['step', step], ['width', width]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new TesseraError(`slidingWindows: ${k} must be a positive integer, got ${v}`);
  }
  if (!Number.isInteger(lead) || lead < 0) throw new TesseraError(`slidingWindows: leadingZeros must be a non-negative integer, got ${lead}`);
  let buffer = new Float32Array(Math.max(size, lead + 1) * width * 2);
  let rows = lead; // rows held, starting at buffer[0]
  let skipRows = 0; // rows still to drop before the next window starts (when step > size)
  for await (const whole of blocks) {
    if (whole.length % width !== 0) throw new TesseraError(`slidingWindows: a block of ${whole.length} values is not a whole number of rows of ${width}`);
    const dropped = Math.min(skipRows, whole.length / width);
    skipRows -= dropped;
    const block = dropped > 0 ? Array.prototype.slice.call(whole, dropped * width) as ArrayLike<number> : whole;
    const need = rows * width + block.length;
    if (need > buffer.length) {
      const grown = new Float32Array(Math.max(need, buffer.length * 2));
      grown.set(buffer.subarray(0, rows * width));
      buffer = grown;
    }
    buffer.set(block, rows * width);
    rows += block.length / width;
    let start = 0;
    while (rows - start >= size) {
      yield buffer.slice(start * width, (start + size) * width);
      start += step;
    }
    if (start >= rows) {
      skipRows += start - rows;
      rows = 0;
    } else if (start > 0) {
      buffer.copyWithin(0, start * width, rows * width);
      rows -= start;
    }
  }
}

/** Apply `fn` to each item of `source`, lazily (one item in flight). */
export async function* mapStream<A, B>(source: Source<A>, fn: (item: A, index: number) => B | Promise<B>): AsyncGenerator<B> {
  let i = 0;
  for await (const item of source) yield await fn(item, i++);
}

/** A stream stage: turns one async stream into another. */
export type Stage<A, B> = (source: AsyncIterable<A>) => AsyncIterable<B>;

/** Chain stages: pipeline(source, s1, s2, ...) = s2(s1(source)), all pull-based. */
export function pipeline<A, B>(source: Source<A>, s1: Stage<A, B>): AsyncIterable<B>;
export function pipeline<A, B, C>(source: Source<A>, s1: Stage<A, B>, s2: Stage<B, C>): AsyncIterable<C>;
export function pipeline<A, B, C, D>(source: Source<A>, s1: Stage<A, B>, s2: Stage<B, C>, s3: Stage<C, D>): AsyncIterable<D>;
export function pipeline<A, B, C, D, E>(source: Source<A>, s1: Stage<A, B>, s2: Stage<B, C>, s3: Stage<C, D>, s4: Stage<D, E>): AsyncIterable<E>;
export function pipeline(source: Source<unknown>, ...stages: Stage<unknown, unknown>[]): AsyncIterable<unknown> {
  let stream: AsyncIterable<unknown> = toAsync(source);
  for (const stage of stages) stream = stage(stream);
  return stream;
}

/** A stage regrouping row blocks into sliding windows. */
export function windowStage(options: WindowOptions): Stage<ArrayLike<number>, Float32Array> {
  return (source) => slidingWindows(source, options);
}

/**
 * A stage running `session` on each item: `toFeeds` builds the feeds, `fromOutputs` turns the outputs into
 * the next stage's item (the outputs are recycled into the session's arena afterwards, so copy what you keep).
 */
export function modelStage<A, B>(
  session: StreamRunner,
  toFeeds: (item: A) => Feeds,
  fromOutputs: (outputs: Outputs, item: A) => B,
): Stage<A, B> {
  return (source) =>
    mapStream(source, (item) => {
      const feeds = toFeeds(item);
      const outputs = session.runSync(feeds);
      try {
        return fromOutputs(outputs, item);
      } finally {
        release(session, Object.values(outputs));
      }
    });
}

/** A tensor over a window (no copy), checking the element count. */
export function windowTensor(values: Float32Array, dims: readonly number[]): Tensor<'float32'> {
  const n = dims.reduce((a, b) => a * b, 1);
  if (n !== values.length) throw new TesseraError(`windowTensor: ${values.length} values cannot fill ${fmtShape(dims)}`);
  return new Tensor('float32', values, dims);
}

async function* toAsync<T>(source: Source<T>): AsyncGenerator<T> {
  yield* source as AsyncIterable<T>;
}
