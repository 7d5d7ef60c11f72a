/**
 * InferenceSession: load an ONNX model and run it, with the shape of onnxruntime-web's API
 * (`InferenceSession.create`, `inputNames`, `outputNames`, `inputMetadata`, `run(feeds, fetches?)`,
 * `release()`), so code can switch between the two by changing the import.
 *
 * Creation decodes the bytes, builds the IR, refuses what Tessera cannot run (UnsupportedModelError listing
 * every missing operator and unsupported type at once) and validates the graph structure by planning it and
 * every subgraph. `run` checks the feeds against the declared inputs (names, dtypes, ranks, static dims, and
 * that each symbolic dim takes one value across all inputs) before executing anything.
 */
import { readFileSync } from 'node:fs';
import '../kernels/cpu/index.js';
import '../ops/index.js';
import { dirname, resolve } from 'node:path';
import { hasKernel, type Backend } from '../kernels/registry.js';
import { findSchema } from '../ops/schema.js';
import { TesseraError } from '../tensor/errors.js';
import { fmtShape } from '../tensor/shape.js';
import { Tensor } from '../tensor/tensor.js';
import { bytesPerElement } from '../tensor/dtype.js';
import { InputValidationError, LimitExceededError, ModelFormatError, UnsupportedModelError } from './errors.js';
import { BufferArena, type ArenaStats } from './arena.js';
import { closeBatchPool, modelFingerprint, newBatchPoolHolder, runBatch, type BatchOptions, type BatchResult, type BatchWorkerModel, type Feeds, type Outputs } from './batch.js';
import { Executor, type RunStats } from './executor.js';
import { getGpuDevice, GpuResidency } from '../kernels/gpu/index.js';
import { streamSession, type StreamOptions } from './stream.js';
import { disposeValue, isOnnxValue, tensorsOf, valueBytes, type OnnxValue } from './values.js';
import { isSequenceOp } from './sequence.js';
import { GRADIENT_DOMAIN } from './gradient.js';
import { buildModel, describeValueType, type Dim, type Graph, type Model, type ValueInfo, type ValueType } from './ir.js';
import { decodeModel } from './onnx/decode.js';
import { planGraph, scopeNames } from './plan.js';
import { FUSED_DOMAIN, FUSED_OPSET, optimizeGraph, type OptimizeReport } from './passes/index.js';
import { graphTensors } from './passes/editor.js';
import { DEFAULT_SPECIALIZATION_CAPACITY, ShapeSpecializer } from './specialize.js';

/** Graph optimization levels, as onnxruntime names them. */
/**
 * Graph rewrite levels: 'none' (or onnxruntime's 'disabled') runs the graph as written; 'basic' applies rewrites
 * that keep results bit-identical (constant and shape folding, Constant/Identity/Dropout/dead-node removal);
 * 'all' (or 'extended') adds Conv+BatchNormalization folding, MatMul+Add to Gemm and activation fusion, which
 * may change results by rounding. The default is 'all'.
 */
export type GraphOptimizationLevel = 'none' | 'disabled' | 'basic' | 'extended' | 'all';

/** Options of InferenceSession.create. */
export interface SessionOptions {
  /** Compute backend (default 'cpu'). Nodes without a kernel there run on the CPU (see RunStats.cpuFallbacks). */
  backend?: Backend;
  /** onnxruntime-style alias of `backend`: the first of 'cpu' / 'gpu' (or 'webgl' = 'gpu') is used. */
  executionProviders?: readonly string[];
  /** Threads kernels may use (default: the global setting of setDefaultThreads). */
  threads?: number;
  /** onnxruntime-style alias of `threads`. */
  intraOpNumThreads?: number;
  /**
   * Which graph rewrites may run before execution. Tessera's executor runs the graph as written; rewrite
   * passes register under these levels, and 'disabled' guarantees none runs (bit-exact debugging).
   */
  graphOptimizationLevel?: GraphOptimizationLevel;
  /** 0 verbose, 1 info, 2 warning (default), 3 error, 4 fatal: load notes are printed at 'warning' and below. */
  logSeverity?: 0 | 1 | 2 | 3 | 4;
  /** onnxruntime-style alias of `logSeverity`. */
  logSeverityLevel?: 0 | 1 | 2 | 3 | 4;
  /** Record per-node timings on every run (see `lastRunStats`). */
  enableProfiling?: boolean;
  /** Folder for external tensor data when the model is given as bytes (a path sets it to the model's folder). */
  externalDataFolder?: string;
  /**
   * Largest tensor, in bytes, the session creates or accepts (default DEFAULT_MAX_TENSOR_BYTES = 2 GiB).
   * Checked before allocating: every initializer and tensor attribute at load (from its declared dims), every
   * statically shaped graph input at load, every feed at `run`, and every node output from its inferred shape
   * before the kernel runs. A refusal is a LimitExceededError naming the tensor, the bytes it needed and this limit.
   */
  maxTensorBytes?: number;
  /**
   * Largest number of bytes the session may hold at once (default DEFAULT_MAX_PLAN_BYTES = 8 GiB): the
   * initializers (checked at load, before each is allocated), plus the feeds (checked when `run` starts), plus
   * the live intermediates of a run (checked before each node's kernel allocates its outputs). A refusal is a
   * LimitExceededError with the total it needed.
   */
  maxPlanBytes?: number;
  /**
   * Most iterations one Loop node may run in one activation (default DEFAULT_MAX_LOOP_ITERATIONS = 10,000,000).
   * A Loop whose trip count and condition would go further (a hostile or broken model looping "forever") stops
   * with a LimitExceededError instead of hanging the caller.
   */
  maxLoopIterations?: number;
  /**
   * Re-run the graph passes for the concrete dims of each new feed shape, so shape arithmetic on symbolic
   * dims (Shape -> Gather -> Concat -> Reshape) folds away before execution (./specialize.ts). `true` keeps
   * DEFAULT_SPECIALIZATION_CAPACITY specialized graphs (LRU), a number that many, `false` none. Default: on for
   * backend 'gpu' (those nodes would otherwise run on the host between shaders), off for 'cpu' (they cost
   * microseconds there, and a plan per input shape would only add memory).
   */
  specializeShapes?: boolean | number;
}

/** Default of SessionOptions.maxTensorBytes: 2 GiB. */
export const DEFAULT_MAX_TENSOR_BYTES = 2 * 1024 ** 3;
/** Default of SessionOptions.maxPlanBytes: 8 GiB. */
export const DEFAULT_MAX_PLAN_BYTES = 8 * 1024 ** 3;
/** Default of SessionOptions.maxLoopIterations. */
export const DEFAULT_MAX_LOOP_ITERATIONS = 10_000_000;

/** Options of one run. */
export interface RunOptions {
  /** Record per-node timings for this run. */
  profile?: boolean;
}

/** Metadata of a model input or output. */
export interface ValueMetadata {
  readonly name: string;
  readonly isTensor: boolean;
  /** For non-tensor values: 'sequence' (feed and fetch a Tensor[]) or 'optional' (its element, or null for none). */
  readonly kind?: 'sequence' | 'optional';
  /** Element type ('float32', ...); undefined when the model does not declare it. */
  readonly type?: string;
  /** Declared dims: numbers, symbolic names, or null for unknown. Undefined when the rank is not declared. */
  readonly shape?: readonly Dim[];
}

/** Keys of RunOptions (and of onnxruntime's RunOptions, accepted and ignored), to tell options from fetches. */
const RUN_OPTION_KEYS = new Set(['profile', 'logSeverityLevel', 'logVerbosityLevel', 'tag', 'terminate', 'extra']);

/** Operators the executor runs itself (they execute subgraphs). */
const CONTROL_FLOW = new Set(['If', 'Loop', 'Scan']);

function fmtDims(shape: readonly Dim[] | undefined): string {
  if (!shape) return 'any shape';
  return `[${shape.map((d) => (d === null ? '?' : String(d))).join(', ')}]`;
}

function fmtType(t: ValueType | undefined): string {
  if (!t) return 'a tensor of any type';
  if (t.kind !== 'tensor') return describeValueType(t);
  return `${t.dtype} ${fmtDims(t.shape)}`;
}

/** A loaded model ready to run. */
export class InferenceSession {
  /** Names of the inputs a caller must feed (initializer-backed inputs are optional and not listed). */
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly inputMetadata: readonly ValueMetadata[];
  readonly outputMetadata: readonly ValueMetadata[];
  /** What the graph passes rewrote when the session was created (per rule counts, nodes before and after). */
  optimizationReport: OptimizeReport | undefined;
  /** Notes from loading (e.g. bfloat16 initializers widened to float32). */
  readonly notes: readonly string[];
  /** Statistics of the last completed run. */
  lastRunStats?: RunStats;

  private readonly executor: Executor;
  /** Buffers reused from run to run for intermediates (see ./arena.ts). */
  private readonly arena = new BufferArena();
  /** On backend 'gpu': the uploaded weights, kept until release(). */
  private readonly gpuResidency: GpuResidency | undefined;
  private readonly inputsByName: ReadonlyMap<string, ValueInfo>;
  private readonly outputsByName: ReadonlyMap<string, ValueInfo>;
  private released = false;
  private readonly profile: boolean;
  private readonly limits: SessionLimits;
  /** What the session was created from, so runBatch can re-create it in worker threads (see batchWorkerModel). */
  private modelSource: ModelSource | undefined;
  /** Stops of the runBatch calls whose workers are running (release() ends them). */
  private readonly batchWorkerStops = new Set<(reason: string) => Promise<void>>();
  /** runBatch's worker pool, kept between calls (BatchOptions.workers 'keep'); release() terminates it. */
  private readonly batchPool = newBatchPoolHolder();
  /** Graphs specialized for concrete feed dims (SessionOptions.specializeShapes); undefined when off. */
  private specializer: ShapeSpecializer | undefined;

  private constructor(
    /** The decoded model. */
    readonly model: Model,
    readonly options: Readonly<SessionOptions>,
  ) {
    const g = model.graph;
    this.inputsByName = new Map(g.inputs.map((i) => [i.name, i]));
    this.outputsByName = new Map(g.outputs.map((o) => [o.name, o]));
    this.inputNames = Object.freeze(g.inputs.filter((i) => !g.initializers.has(i.name)).map((i) => i.name));
    this.outputNames = Object.freeze(g.outputs.map((o) => o.name));
    const meta = (v: ValueInfo): ValueMetadata => ({
      name: v.name,
      isTensor: v.type === undefined || v.type.kind === 'tensor',
      kind: v.type?.kind === 'sequence' || v.type?.kind === 'optional' ? v.type.kind : undefined,
      type: v.type?.kind === 'tensor' ? v.type.dtype : undefined,
      shape: v.type?.kind === 'tensor' ? v.type.shape : undefined,
    });
    this.inputMetadata = Object.freeze(g.inputs.filter((i) => !g.initializers.has(i.name)).map(meta));
    this.outputMetadata = Object.freeze(g.outputs.map(meta));
    this.notes = model.notes;
    const backend = resolveBackend(options);
    this.profile = options.enableProfiling ?? false;
    this.limits = sessionLimits(options);
    // backend 'gpu' needs a real GPU context now: GpuUnavailableError says why there is none
    this.gpuResidency = backend === 'gpu' ? new GpuResidency(getGpuDevice()) : undefined;
    this.executor = new Executor(model.opsets, { backend, threads: options.threads ?? options.intraOpNumThreads, profile: this.profile, ...this.limits, arena: this.arena, gpuResidency: this.gpuResidency });
  }

  /** Load a model from a file path or its bytes. */
  static async create(model: string | Uint8Array | ArrayBuffer, options: SessionOptions = {}): Promise<InferenceSession> {
    return InferenceSession.createSync(model, options);
  }

  /** Synchronous `create` (used by tests and tools that run many small models). */
  static createSync(model: string | Uint8Array | ArrayBuffer, options: SessionOptions = {}): InferenceSession {
    checkOptions(options);
    let bytes: Uint8Array;
    let folder = options.externalDataFolder;
    if (typeof model === 'string') {
      try {
        bytes = readFileSync(model);
      } catch (e) {
        throw new ModelFormatError(`cannot read model file '${model}': ${(e as Error).message}`);
      }
      folder = dirname(resolve(model));
    } else if (model instanceof Uint8Array) bytes = model;
    else if (model instanceof ArrayBuffer) bytes = new Uint8Array(model);
    else throw new ModelFormatError('InferenceSession.create: expected a path, a Uint8Array or an ArrayBuffer');
    const proto = decodeModel(bytes);
    const limits = sessionLimits(options);
    const built = buildModel(proto, { externalDataFolder: folder, maxTensorBytes: limits.maxTensorBytes, maxTotalBytes: limits.maxPlanBytes });
    checkSupported(built, resolveBackend(options));
    checkDeclaredInputs(built.graph, limits.maxTensorBytes);
    validateStructure(built.graph, new Set());
    const severity = options.logSeverity ?? options.logSeverityLevel ?? 2;
    if (severity <= 2) for (const note of built.notes) console.warn(`tessera: ${note}`);
    const level = options.graphOptimizationLevel ?? 'all';
    // a Gradient node differentiates the graph as written (it names values by attribute, which rewrites do not
    // see as uses, and fused operators have no derivative rule): such models run unrewritten
    const passLevel = level === 'none' || level === 'disabled' || hasGradientNode(built.graph) ? 'none' : level === 'basic' ? 'basic' : 'all';
    // rules that emit backend-specific operators run for their backend only (see RewriteRule.targets)
    const target = resolveBackend(options);
    const optimized = optimizeGraph(built.graph, built.opsets, passLevel, { target });
    // tensors the rewrites dropped (folded constants, replaced weights) are not reachable from the session any more
    if (optimized.graph !== built.graph) {
      const kept = new Set(graphTensors(optimized.graph));
      for (const t of graphTensors(built.graph)) if (!kept.has(t)) t.dispose();
    }
    const specialize = options.specializeShapes ?? resolveBackend(options) === 'gpu';
    let specializer: ShapeSpecializer | undefined;
    let opsets = optimized.opsets;
    if (specialize !== false && specialize !== 0) {
      const capacity = specialize === true ? DEFAULT_SPECIALIZATION_CAPACITY : specialize;
      // rewrites that need known shapes may first fire in a specialized graph and emit fused operators:
      // the executor (made once per session) must know their domain
      if (!opsets.has(FUSED_DOMAIN)) opsets = new Map([...opsets, [FUSED_DOMAIN, FUSED_OPSET]]);
      const spec = new ShapeSpecializer(optimized.graph, opsets, passLevel, target, capacity);
      if (spec.applies) specializer = spec;
      else opsets = optimized.opsets;
    }
    const session = new InferenceSession({ ...built, graph: optimized.graph, opsets }, options);
    session.optimizationReport = optimized.report;
    session.specializer = specializer;
    // a path is re-read when runBatch starts workers; the caller's bytes are referenced, not copied (ModelSource)
    session.modelSource = { path: typeof model === 'string' ? resolve(model) : undefined, bytes: typeof model === 'string' ? undefined : bytes, fingerprint: modelFingerprint(bytes), folder };
    return session;
  }

  /**
   * Run the model. `fetches` picks outputs (names, or an object whose keys are names, as onnxruntime-web
   * accepts); by default all outputs are returned. Returned tensors belong to the caller.
   */
  async run(feeds: Readonly<Record<string, OnnxValue>>, fetches?: readonly string[] | Readonly<Record<string, unknown>> | RunOptions, options?: RunOptions): Promise<Record<string, Tensor>> {
    return this.runSync(feeds, fetches, options);
  }

  /** Synchronous `run`. Every fetched output must be a tensor (`runValuesSync` returns sequences and optionals). */
  runSync(feeds: Readonly<Record<string, OnnxValue>>, fetches?: readonly string[] | Readonly<Record<string, unknown>> | RunOptions, options?: RunOptions): Record<string, Tensor> {
    const values = this.runValuesSync(feeds, fetches, options);
    const bad = Object.keys(values).find((k) => !(values[k] instanceof Tensor));
    if (bad !== undefined) {
      for (const v of Object.values(values)) disposeValue(v);
      throw new InputValidationError(`output '${bad}' is not a tensor (${fmtType(this.outputsByName.get(bad)?.type)}); fetch it with runValues`);
    }
    return values as Record<string, Tensor>;
  }

  /**
   * `run` for models with sequence or optional inputs and outputs: feeds and results are OnnxValues
   * (./values.ts): a Tensor, a Tensor[] for a sequence, null for an empty optional. Results belong to the caller.
   */
  async runValues(feeds: Readonly<Record<string, OnnxValue>>, fetches?: readonly string[] | Readonly<Record<string, unknown>> | RunOptions, options?: RunOptions): Promise<Record<string, OnnxValue>> {
    return this.runValuesSync(feeds, fetches, options);
  }

  /** Synchronous `runValues`. */
  runValuesSync(feeds: Readonly<Record<string, OnnxValue>>, fetches?: readonly string[] | Readonly<Record<string, unknown>> | RunOptions, options?: RunOptions): Record<string, OnnxValue> {
    if (this.released) throw new TesseraError('InferenceSession.run: the session was released');
    let names: readonly string[] = this.outputNames;
    let opts = options;
    if (Array.isArray(fetches)) names = fetches as readonly string[];
    else if (fetches && typeof fetches === 'object') {
      // run(feeds, options) vs run(feeds, fetchesObject): options have only RunOptions keys, none an output name
      const keys = Object.keys(fetches);
      const isOptions = keys.every((k) => RUN_OPTION_KEYS.has(k) && !this.outputNames.includes(k));
      if (isOptions) opts = fetches as RunOptions;
      else if (keys.length > 0) names = keys;
    }
    for (const n of names) {
      if (!this.outputNames.includes(n)) {
        throw new InputValidationError(`unknown output '${n}' requested; the model's outputs are: ${this.outputNames.join(', ')}`);
      }
    }
    const feedMap = this.validateFeeds(feeds);
    const executor = opts?.profile && !this.profile ? new Executor(this.model.opsets, { ...executorOptions(this.options), ...this.limits, profile: true, gpuResidency: this.gpuResidency }) : this.executor;
    let fedBytes = 0;
    for (const v of feedMap.values()) fedBytes += valueBytes(v);
    const baseBytes = this.initializerBytes() + fedBytes;
    const graph = this.specializer ? this.specializer.graphFor(feedMap) : this.model.graph;
    const { outputs, stats } = this.arena.use(() => executor.runValues(graph, feedMap, names, baseBytes));
    this.arena.disown(outputs.flatMap(tensorsOf));
    this.lastRunStats = stats;
    const result: Record<string, OnnxValue> = {};
    // defineProperty, not assignment: an output named '__proto__' must stay a plain key
    names.forEach((n, i) => Object.defineProperty(result, n, { value: outputs[i]!, enumerable: true, writable: true, configurable: true }));
    return result;
  }

  private validateFeeds(feeds: Readonly<Record<string, OnnxValue>>): Map<string, OnnxValue> {
    if (feeds === null || typeof feeds !== 'object') throw new InputValidationError('feeds must be an object mapping input names to Tensors');
    const g = this.model.graph;
    const out = new Map<string, OnnxValue>();
    const symbols = new Map<string, { value: number; input: string }>();
    let feedBytes = 0;
    for (const [name, value] of Object.entries(feeds)) {
      const info = this.inputsByName.get(name);
      if (!info) {
        throw new InputValidationError(`unknown input '${name}'; the model's inputs are: ${this.inputNames.map((n) => `'${n}'`).join(', ') || 'none'}`);
      }
      const expected = `expected ${fmtType(info.type)}`;
      if (!(value instanceof Tensor) || (info.type && info.type.kind !== 'tensor')) {
        feedBytes += this.checkValueFeed(name, value, info.type);
        out.set(name, value);
        continue;
      }
      const t = value;
      if (t.disposed) throw new InputValidationError(`input '${name}' was disposed; ${expected}`);
      if (!hasBackingData(t)) {
        throw new InputValidationError(`input '${name}' (${t.type} ${fmtShape(t.dims)}) has lost its data: its ArrayBuffer was detached (transferred) or shrunk after the Tensor was made`);
      }
      const bytes = t.size * bytesPerElement(t.type);
      if (bytes > this.limits.maxTensorBytes) {
        throw new LimitExceededError(`input '${name}' (${t.type} ${fmtShape(t.dims)}) needs ${bytes} bytes; maxTensorBytes is ${this.limits.maxTensorBytes}`, bytes, this.limits.maxTensorBytes);
      }
      feedBytes += bytes;
      const type = info.type;
      if (type?.kind === 'tensor') {
        if (t.type !== type.dtype) throw new InputValidationError(`input '${name}' has type ${t.type}; ${expected}`);
        const shape = type.shape;
        if (shape) {
          if (t.rank !== shape.length) {
            throw new InputValidationError(`input '${name}' has shape ${fmtShape(t.dims)} (rank ${t.rank}); ${expected} (rank ${shape.length})`);
          }
          shape.forEach((d, i) => {
            const got = t.dims[i]!;
            if (typeof d === 'number' && d >= 0 && got !== d) {
              throw new InputValidationError(`input '${name}' has shape ${fmtShape(t.dims)}; ${expected} (dim ${i} must be ${d})`);
            }
            if (typeof d === 'string') {
              const prev = symbols.get(d);
              if (prev && prev.value !== got) {
                throw new InputValidationError(
                  `input '${name}' has shape ${fmtShape(t.dims)}; ${expected}, but dim ${i} '${d}' is ${got} here and ${prev.value} in input '${prev.input}'`,
                );
              }
              if (!prev) symbols.set(d, { value: got, input: name });
            }
          });
        }
      }
      out.set(name, t);
    }
    const total = this.initializerBytes() + feedBytes;
    if (total > this.limits.maxPlanBytes) {
      throw new LimitExceededError(`the feeds (${feedBytes} bytes) and initializers need ${total} bytes; maxPlanBytes is ${this.limits.maxPlanBytes}`, total, this.limits.maxPlanBytes);
    }
    const missing = g.inputs.filter((i) => !out.has(i.name) && !g.initializers.has(i.name));
    if (missing.length) {
      throw new InputValidationError(`missing input${missing.length > 1 ? 's' : ''}: ${missing.map((i) => `'${i.name}' (${fmtType(i.type)})`).join(', ')}`);
    }
    return out;
  }

  /**
   * Check a feed for a sequence or optional input (or a non-tensor given for a tensor input) against the
   * declared type: a sequence is a Tensor[] of the element dtype (and rank, when declared), an optional its
   * element or null. Returns the bytes it holds.
   */
  private checkValueFeed(name: string, value: unknown, type: ValueType | undefined): number {
    const expected = `expected ${fmtType(type)}`;
    if (!isOnnxValue(value)) throw new InputValidationError(`input '${name}' is not a Tensor, an array of Tensors (a sequence) or null (an empty optional); ${expected}`);
    let want = type;
    if (want?.kind === 'optional') {
      if (value === null) return 0;
      want = want.elem;
    }
    if (value === null) throw new InputValidationError(`input '${name}' is null (an empty optional); ${expected}`);
    const isSeq = Array.isArray(value);
    if (want?.kind === 'tensor' && isSeq) throw new InputValidationError(`input '${name}' is a sequence (an array); ${expected}`);
    if (want?.kind === 'sequence' && !isSeq) throw new InputValidationError(`input '${name}' is a Tensor; ${expected} (an array of Tensors)`);
    const elem = want?.kind === 'sequence' ? want.elem : want?.kind === 'tensor' ? want : undefined;
    let bytes = 0;
    tensorsOf(value).forEach((t, i) => {
      const label = isSeq ? `input '${name}' element ${i}` : `input '${name}'`;
      if (t.disposed) throw new InputValidationError(`${label} was disposed; ${expected}`);
      if (!hasBackingData(t)) throw new InputValidationError(`${label} (${t.type} ${fmtShape(t.dims)}) has lost its data: its ArrayBuffer was detached or shrunk`);
      if (elem && t.type !== elem.dtype) throw new InputValidationError(`${label} has type ${t.type}; ${expected}`);
      if (elem?.shape && t.rank !== elem.shape.length) throw new InputValidationError(`${label} has shape ${fmtShape(t.dims)} (rank ${t.rank}); ${expected}`);
      const b = t.size * bytesPerElement(t.type);
      if (b > this.limits.maxTensorBytes) throw new LimitExceededError(`${label} (${t.type} ${fmtShape(t.dims)}) needs ${b} bytes; maxTensorBytes is ${this.limits.maxTensorBytes}`, b, this.limits.maxTensorBytes);
      bytes += b;
    });
    return bytes;
  }

  /** Bytes held by the initializers (what a run starts with before its feeds). */
  private initializerBytes(): number {
    let n = 0;
    for (const t of this.model.graph.initializers.values()) n += t.size * bytesPerElement(t.type);
    return n;
  }

  /**
   * Hand outputs of earlier runs back when done with them: their buffers go to the session's arena for the
   * next runs (a steady-state loop of run + recycle allocates no new buffers) and the tensors are disposed.
   */
  recycle(tensors: Iterable<Tensor> | Readonly<Record<string, Tensor>>): void {
    this.arena.recycle(Symbol.iterator in tensors ? (tensors as Iterable<Tensor>) : Object.values(tensors));
  }

  /** Counters of the buffer arena (requests, reused, fresh buffers and bytes, recycled). */
  get arenaStats(): Readonly<ArenaStats> {
    return this.arena.stats;
  }

  /**
   * Run many items; results in input order, stacked along a symbolic batch dim when possible, otherwise spread
   * over worker threads that each load this model (./batch.ts; BatchResult.mode says which, and why).
   */
  runBatch(inputs: Iterable<Feeds> | AsyncIterable<Feeds>, options?: BatchOptions): Promise<BatchResult> {
    const runner = {
      inputMetadata: this.inputMetadata,
      outputNames: this.outputNames,
      runSync: (feeds: Feeds, fetches?: readonly string[]) => this.runSync(feeds, fetches),
      batchWorkerModel: () => this.batchWorkerModel(),
      batchPool: this.batchPool,
    };
    return runBatch(runner, inputs, options);
  }

  /**
   * How runBatch's workers re-create this session: the model bytes in a SharedArrayBuffer (a path is re-read;
   * bytes given to create() are copied once), this session's options and a hook so release() ends them. A
   * string says why they cannot: a released session, backend 'gpu' (a GPU context is not shared with worker
   * threads), a file that cannot be read or now holds other bytes, bytes given to create() that were modified.
   */
  private batchWorkerModel(): BatchWorkerModel | string {
    const src = this.modelSource;
    if (this.released || !src) return 'the session was released';
    if (resolveBackend(this.options) === 'gpu') return "backend 'gpu': worker threads cannot share the GPU context";
    let shared: Uint8Array;
    if (src.path !== undefined) {
      let file: Uint8Array;
      try {
        file = readFileSync(src.path);
      } catch (e) {
        return `cannot re-read the model file '${src.path}': ${(e as Error).message}`;
      }
      if (modelFingerprint(file) !== src.fingerprint) return `the model file '${src.path}' holds other bytes than when the session was created`;
      shared = new Uint8Array(new SharedArrayBuffer(file.byteLength));
      shared.set(file);
    } else {
      const bytes = src.bytes!;
      if (modelFingerprint(bytes) !== src.fingerprint) return 'the model bytes given to create() were modified or detached after the session was created';
      shared = bytes.buffer instanceof SharedArrayBuffer ? bytes : new Uint8Array(new SharedArrayBuffer(bytes.byteLength));
      if (shared !== bytes) shared.set(bytes);
    }
    return {
      bytes: shared,
      options: { ...this.options, externalDataFolder: src.folder },
      register: (stop) => {
        this.batchWorkerStops.add(stop);
        return () => this.batchWorkerStops.delete(stop);
      },
    };
  }

  /** Run once per chunk, carrying state outputs into the next call's inputs (./stream.ts). */
  stream(chunks: Iterable<Feeds> | AsyncIterable<Feeds>, options?: StreamOptions): AsyncGenerator<Outputs, Feeds, undefined> {
    return streamSession(this, chunks, options);
  }

  /** Free the model's tensors. The session cannot run afterwards. */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    // runBatch workers of this session: their items fail, the threads are terminated (awaited last, so the
    // tensors below are freed synchronously as before)
    const stops = [...this.batchWorkerStops].map((stop) => stop('the session was released'));
    this.batchWorkerStops.clear();
    stops.push(closeBatchPool(this.batchPool, 'the session was released'));
    this.modelSource = undefined;
    this.arena.clear();
    this.specializer?.release();
    this.gpuResidency?.release();
    disposeGraph(this.model.graph);
    await Promise.all(stops);
  }
}

function checkOptions(o: SessionOptions): void {
  const level = o.graphOptimizationLevel;
  if (level !== undefined && !['none', 'disabled', 'basic', 'extended', 'all'].includes(level)) {
    throw new TesseraError(`graphOptimizationLevel must be 'none', 'basic' or 'all' (onnxruntime's 'disabled' and 'extended' are accepted), got '${String(level)}'`);
  }
  for (const key of ['maxTensorBytes', 'maxPlanBytes', 'maxLoopIterations'] as const) {
    const v = o[key];
    if (v !== undefined && (typeof v !== 'number' || !(v >= 0) || !Number.isFinite(v))) throw new TesseraError(`${key} must be a non-negative finite number, got ${String(v)}`);
  }
  const threads = o.threads ?? o.intraOpNumThreads;
  if (threads !== undefined && (!Number.isInteger(threads) || threads < 1)) throw new TesseraError(`threads must be a positive integer, got ${threads}`);
  const spec = o.specializeShapes;
  if (spec !== undefined && typeof spec !== 'boolean' && !(Number.isInteger(spec) && spec >= 0)) {
    throw new TesseraError(`specializeShapes must be true, false or a non-negative integer (graphs to keep), got ${String(spec)}`);
  }
  resolveBackend(o);
}

/**
 * What a session was created from, for runBatch's workers: a resolved path (re-read when workers start) or the
 * caller's bytes (referenced, not copied: the session keeps them reachable until release(), and they must not
 * change; a fingerprint taken at creation refuses bytes that did), and the folder of external tensor data.
 */
interface ModelSource {
  readonly path: string | undefined;
  readonly bytes: Uint8Array | undefined;
  readonly fingerprint: string;
  readonly folder: string | undefined;
}

/** The byte limits of a session (options or defaults). */
interface SessionLimits {
  readonly maxTensorBytes: number;
  readonly maxPlanBytes: number;
  readonly maxLoopIterations: number;
}

function sessionLimits(o: SessionOptions): SessionLimits {
  return {
    maxTensorBytes: o.maxTensorBytes ?? DEFAULT_MAX_TENSOR_BYTES,
    maxPlanBytes: o.maxPlanBytes ?? DEFAULT_MAX_PLAN_BYTES,
    maxLoopIterations: o.maxLoopIterations ?? DEFAULT_MAX_LOOP_ITERATIONS,
  };
}

/** Refuse a model whose statically shaped inputs could never be fed within maxTensorBytes. */
function checkDeclaredInputs(g: Graph, maxTensorBytes: number): void {
  for (const v of g.inputs) {
    const type = v.type;
    if (type?.kind !== 'tensor' || !type.shape || g.initializers.has(v.name)) continue;
    if (!type.shape.every((d): d is number => typeof d === 'number' && d >= 0)) continue;
    const bytes = type.shape.reduce((a, d) => a * d, bytesPerElement(type.dtype));
    if (bytes > maxTensorBytes) {
      throw new LimitExceededError(`graph input '${v.name}' is declared as ${type.dtype} ${fmtDims(type.shape)}, which needs ${bytes} bytes; maxTensorBytes is ${maxTensorBytes}`, bytes, maxTensorBytes);
    }
  }
}

/** False when a tensor's storage no longer covers its elements (the ArrayBuffer was detached or shrunk). */
function hasBackingData(t: Tensor): boolean {
  if (t.size === 0) return true;
  const raw = t.raw();
  if (Array.isArray(raw)) return true; // a string tensor's string[] cannot be detached
  let last = t.offset;
  for (let i = 0; i < t.rank; i++) last += (t.dims[i]! - 1) * Math.max(0, t.strides[i]!);
  return raw.buffer.byteLength > 0 && last < raw.length;
}

function resolveBackend(o: SessionOptions): Backend {
  if (o.backend) {
    if (o.backend !== 'cpu' && o.backend !== 'gpu') throw new TesseraError(`backend must be 'cpu' or 'gpu', got '${String(o.backend)}'`);
    return o.backend;
  }
  for (const ep of o.executionProviders ?? []) {
    const name = String(typeof ep === 'object' && ep !== null ? (ep as { name?: unknown }).name : ep).toLowerCase();
    if (name === 'cpu' || name === 'wasm') return 'cpu';
    if (name === 'gpu' || name === 'webgl' || name === 'webgpu') return 'gpu';
  }
  return 'cpu';
}

function executorOptions(o: SessionOptions): { backend: Backend; threads?: number } {
  return { backend: resolveBackend(o), threads: o.threads ?? o.intraOpNumThreads };
}


function disposeGraph(g: Graph): void {
  for (const t of g.initializers.values()) t.dispose();
  for (const n of g.nodes) {
    for (const v of Object.values(n.attrs)) {
      if (v instanceof Tensor) v.dispose();
      else if (Array.isArray(v)) for (const x of v) if (x instanceof Tensor) x.dispose();
    }
    for (const sub of n.subgraphs()) disposeGraph(sub);
    if (n.functionBody) disposeGraph(n.functionBody.graph);
  }
}

/**
 * Refuse a model Tessera cannot run, listing every reason: operators with no schema or no kernel (on the
 * backend or the CPU), and values of types Tessera has no tensor for.
 */
export function checkSupported(model: Model, backend: Backend): void {
  const problems = new Set<string>();
  const visit = (g: Graph, opsets: ReadonlyMap<string, number>): void => {
    const typed = [...g.inputs, ...g.outputs, ...g.valueInfo.values()];
    for (const v of typed) if (v.type?.kind === 'unsupported') problems.add(`value '${v.name}' has type ${v.type.description}`);
    for (const n of g.nodes) {
      const op = `${n.domain ? `${n.domain}.` : ''}${n.opType}`;
      if (n.functionBody) visit(n.functionBody.graph, n.functionBody.opsets);
      else if ((n.domain === '' && (CONTROL_FLOW.has(n.opType) || isSequenceOp(n.opType))) || (n.domain === GRADIENT_DOMAIN && n.opType === 'Gradient')) {
        /* run by the executor */
      } else if (!findSchema(n.opType, n.domain)) problems.add(`operator ${op} has no schema`);
      else if (!hasKernel(n.opType, backend, n.domain) && !hasKernel(n.opType, 'cpu', n.domain)) problems.add(`operator ${op} has no kernel`);
      else if (!opsets.has(n.domain)) throw new ModelFormatError(`node ${n.label}: domain '${n.domain}' is not in the model's opset_import`);
      for (const sub of n.subgraphs()) visit(sub, opsets);
    }
  };
  visit(model.graph, model.opsets);
  if (problems.size) throw new UnsupportedModelError(`model not supported: ${[...problems].join('; ')}`);
}

/** True when `g` or one of its subgraphs holds an ai.onnx.preview.training.Gradient node. */
function hasGradientNode(g: Graph): boolean {
  return g.nodes.some((n) => (n.domain === GRADIENT_DOMAIN && n.opType === 'Gradient') || n.subgraphs().some(hasGradientNode) || (n.functionBody !== undefined && hasGradientNode(n.functionBody.graph)));
}

/** Plan the graph and every subgraph once, so structural errors surface at load time. */
function validateStructure(g: Graph, outer: ReadonlySet<string>): void {
  planGraph(g, outer);
  const visible = scopeNames(g, outer);
  for (const n of g.nodes) {
    for (const sub of n.subgraphs()) validateStructure(sub, visible);
    if (n.functionBody) validateStructure(n.functionBody.graph, new Set());
  }
}
