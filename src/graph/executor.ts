/**
 * The executor: runs a planned graph node by node.
 *
 * Values live in scopes (one per graph activation; a subgraph's scope falls back to its parent's, which is
 * how If/Loop/Scan bodies see outer values). Each ordinary node goes through `runOp` with its domain's
 * opset; If, Loop and Scan are run here because they execute subgraphs, and calls to model-local functions
 * run the instantiated body in a fresh, closed scope. After each step the plan's released intermediates are
 * disposed, and live intermediate bytes are tracked to report the peak. Graph outputs that the graph did not
 * produce itself (an input or initializer passed straight through) are returned as views, so the caller
 * always owns what it gets.
 *
 * Values are `OnnxValue`s (./values.ts): tensors, sequences of tensors, or null (an empty optional). The
 * sequence and optional operators (SequenceConstruct, SequenceAt, SplitToSequence, SequenceMap, Optional, ...)
 * and ai.onnx.preview.training's Gradient are run here too (./sequence.ts, ./gradient.ts): they take or make
 * non-tensor values, or read the graph itself, which runOp's tensor-in, tensor-out contract cannot express.
 * Every other operator gets tensors only; a sequence or none reaching one is a GraphError naming the input.
 */
import { hasKernel, type AttrValue, type Backend } from '../kernels/registry.js';
import { runOp } from '../ops/dispatch.js';
import { allocate, bytesPerElement, type DataType, type TypedArray } from '../tensor/dtype.js';
import { KernelError, TesseraError } from '../tensor/errors.js';
import { fmtShape, shapesEqual } from '../tensor/shape.js';
import { Tensor } from '../tensor/tensor.js';
import type { OutputSpec } from '../kernels/registry.js';
import { GraphError, LimitExceededError } from './errors.js';
import { Graph, type Node } from './ir.js';
import type { BufferArena } from './arena.js';
import { planGraph, type ExecutionPlan } from './plan.js';
import { getGpuDevice, GpuResidency, GpuTensor, setActiveResidency } from '../kernels/gpu/index.js';
import { aliasValue, describeValue, disposeValue, isTensor, mapValue, tensorsOf, valueBytes, type OnnxValue } from './values.js';
import { isSequenceOp, runSequenceOp } from './sequence.js';
import { GRADIENT_DOMAIN, runGradient } from './gradient.js';

/** Timing of one executed node. */
export interface NodeTiming {
  /** Node name; nodes inside subgraphs are prefixed with their parent's name (`loop/body_add`). */
  readonly node: string;
  readonly opType: string;
  readonly ms: number;
}

/** What one run measured. */
export interface RunStats {
  /** Largest number of bytes held at once by intermediate values (inputs, initializers and outputs excluded). */
  readonly peakLiveBytes: number;
  /** Wall time of the run in milliseconds. */
  readonly totalMs: number;
  /** Per-node timings, when profiling was requested. */
  readonly nodes?: readonly NodeTiming[];
  /** Nodes that ran on the CPU because the requested backend has no kernel for them. */
  readonly cpuFallbacks: readonly string[];
  /** On backend 'gpu': transfers and dispatches of the run, and the renderer that ran it. */
  readonly gpu?: GpuRunStats;
}

/** What a run on backend 'gpu' moved and dispatched. */
export interface GpuRunStats {
  /** gpu.js mode and renderer (e.g. Mesa llvmpipe: software rendering, not GPU speed). */
  readonly mode: string;
  readonly renderer: string;
  readonly software: boolean;
  /** Host -> texture copies (graph inputs, host values, first use of weights) and their bytes. */
  readonly uploads: number;
  readonly uploadBytes: number;
  /** Texture -> host copies (graph outputs, CPU-fallback inputs) and their bytes. */
  readonly downloads: number;
  readonly downloadBytes: number;
  /** Shaders dispatched and kernels compiled (first use of a shape signature). */
  readonly dispatches: number;
  readonly compiles: number;
  /** Nodes whose GPU kernel computed on the host: shape arithmetic on host-resident integer values. */
  readonly hostOps: readonly string[];
  /** Textures held by live GPU tensors after the run (the session's uploaded weights). */
  readonly liveTextures: number;
}

/** Options of an executor. */
export interface ExecutorOptions {
  readonly backend: Backend;
  readonly threads?: number;
  readonly profile?: boolean;
  /** Largest tensor a node may produce, in bytes, checked from its inferred shape before the kernel runs. */
  readonly maxTensorBytes?: number;
  /** Largest total of base bytes (initializers + feeds, given to `run`) plus live intermediates, checked likewise. */
  readonly maxPlanBytes?: number;
  /** Most iterations one Loop activation may run (default: unlimited). */
  readonly maxLoopIterations?: number;
  /** Buffer arena that released intermediates return their storage to (see ./arena.ts). */
  readonly arena?: BufferArena;
  /** Uploads kept across runs on backend 'gpu' (the session's; made here when not given). */
  readonly gpuResidency?: GpuResidency;
}

/** A value scope: names bound in this graph activation, falling back to the enclosing one. */
class Scope {
  readonly values = new Map<string, OnnxValue>();
  constructor(
    readonly graph: Graph,
    readonly parent: Scope | undefined,
  ) {}

  /** The value bound to `name` here or in an enclosing scope (null = an empty optional), else undefined. */
  lookup(name: string): OnnxValue | undefined {
    for (let s: Scope | undefined = this; s; s = s.parent) {
      const v = s.values.get(name);
      if (v !== undefined) return v;
      const init = s.graph.initializers.get(name);
      if (init) return init;
    }
    return undefined;
  }
}

interface RunState {
  /** Bytes held outside the intermediates (initializers and feeds), for the maxPlanBytes check. */
  base: number;
  live: number;
  peak: number;
  timings?: NodeTiming[];
  fallbacks: Set<string>;
}

/**
 * Which of a node's inputs are the graph's initializers themselves (not overridden by a feed): kernels may
 * cache work derived from them (ctx.constantInputs). Undefined when there are none.
 */
function initializerInputs(node: Node, tensors: readonly (Tensor | undefined)[], scope: Scope): boolean[] | undefined {
  let flags: boolean[] | undefined;
  for (let i = 0; i < tensors.length; i++) {
    const t = tensors[i];
    const name = node.inputs[i];
    if (!t || !name) continue;
    for (let s: Scope | undefined = scope; s; s = s.parent) {
      if (s.values.has(name)) break;
      if (s.graph.initializers.get(name) === t) {
        flags ??= new Array<boolean>(tensors.length).fill(false);
        flags[i] = true;
        break;
      }
    }
  }
  return flags;
}

function bytesOf(t: Tensor): number {
  return t.size * bytesPerElement(t.type);
}

/** Runs graphs of one model with fixed options. Plans are cached per graph and output set. */
export class Executor {
  private readonly plans = new WeakMap<Graph, Map<string, ExecutionPlan>>();
  private state: RunState = { base: 0, live: 0, peak: 0, fallbacks: new Set() };
  /** On backend 'gpu': where uploads live (GpuUnavailableError at construction when there is no GPU). */
  private readonly residency: GpuResidency | undefined;
  private readonly persistentMarked = new WeakSet<Graph>();

  constructor(
    /** Opset per domain of the model. */
    private readonly opsets: ReadonlyMap<string, number>,
    private readonly options: ExecutorOptions,
  ) {
    this.residency = options.backend === 'gpu' ? (options.gpuResidency ?? new GpuResidency(getGpuDevice())) : undefined;
  }

  private plan(g: Graph, outputs?: readonly string[]): ExecutionPlan {
    let byOutputs = this.plans.get(g);
    if (!byOutputs) {
      byOutputs = new Map();
      this.plans.set(g, byOutputs);
    }
    const key = outputs ? outputs.join('\u0000') : '\u0001all';
    let p = byOutputs.get(key);
    if (!p) {
      // subgraph names were validated when the session was created; here any outer name is acceptable
      p = planGraph(g, new AnyName(), outputs);
      byOutputs.set(key, p);
    }
    return p;
  }

  /**
   * Run the main graph with `feeds` (name -> tensor; also overrides initializers of the same name) and
   * return the requested outputs. Feeds are not disposed; returned tensors belong to the caller.
   */
  run(graph: Graph, feeds: ReadonlyMap<string, OnnxValue>, outputs: readonly string[], baseBytes = 0): { outputs: Tensor[]; stats: RunStats } {
    const result = this.runValues(graph, feeds, outputs, baseBytes);
    const bad = result.outputs.findIndex((v) => !isTensor(v));
    if (bad >= 0) {
      const what = describeValue(result.outputs[bad]);
      for (const v of result.outputs) disposeValue(v);
      throw new GraphError(`output '${outputs[bad]}' is ${what}, not a tensor; use runValues for sequence and optional outputs`);
    }
    return { outputs: result.outputs as Tensor[], stats: result.stats };
  }

  /** `run` for graphs whose inputs or outputs may be sequences or optionals (see ./values.ts). */
  runValues(graph: Graph, feeds: ReadonlyMap<string, OnnxValue>, outputs: readonly string[], baseBytes = 0): { outputs: OnnxValue[]; stats: RunStats } {
    this.state = { base: baseBytes, live: 0, peak: 0, timings: this.options.profile ? [] : undefined, fallbacks: new Set() };
    const start = performance.now();
    if (this.residency) return this.runOnGpu(this.residency, graph, feeds, outputs, start);
    const result = this.runGraph(graph, feeds, undefined, this.opsets, outputs, '');
    const stats: RunStats = {
      peakLiveBytes: this.state.peak,
      totalMs: performance.now() - start,
      nodes: this.state.timings,
      cpuFallbacks: [...this.state.fallbacks],
    };
    return { outputs: result, stats };
  }

  /**
   * A run on backend 'gpu': weights (initializers, Constant values) are marked persistent so their uploads
   * stay for the session, values stay in textures between GPU kernels, outputs are downloaded at the end,
   * and the device's counters give the run's transfers.
   */
  private runOnGpu(residency: GpuResidency, graph: Graph, feeds: ReadonlyMap<string, OnnxValue>, outputs: readonly string[], start: number): { outputs: OnnxValue[]; stats: RunStats } {
    if (!this.persistentMarked.has(graph)) {
      markWeights(graph, residency);
      this.persistentMarked.add(graph);
    }
    const device = residency.device;
    const before = { ...device.counters };
    const hostOpsBefore = device.hostOps.length;
    const previous = setActiveResidency(residency);
    let result: OnnxValue[];
    try {
      result = this.runGraph(graph, feeds, undefined, this.opsets, outputs, '');
    } finally {
      residency.endRun();
      setActiveResidency(previous);
    }
    // outputs leave the run as host tensors
    result = result.map((v) =>
      mapValue(v, (t) => {
        if (!(t instanceof GpuTensor)) return t;
        const host = t.toCpu();
        t.dispose();
        return host;
      }),
    );
    const c = device.counters;
    const gpu: GpuRunStats = {
      mode: device.mode,
      renderer: device.renderer,
      software: device.software,
      uploads: c.uploads - before.uploads,
      uploadBytes: c.uploadBytes - before.uploadBytes,
      downloads: c.downloads - before.downloads,
      downloadBytes: c.downloadBytes - before.downloadBytes,
      dispatches: c.dispatches - before.dispatches,
      compiles: c.compiles - before.compiles,
      hostOps: device.hostOps.splice(hostOpsBefore),
      liveTextures: c.liveTextures,
    };
    const stats: RunStats = {
      peakLiveBytes: this.state.peak,
      totalMs: performance.now() - start,
      nodes: this.state.timings,
      cpuFallbacks: [...this.state.fallbacks],
      gpu,
    };
    return { outputs: result, stats };
  }

  /** Free the uploads this executor's GPU residency holds (the session's weights). */
  releaseGpu(): void {
    this.residency?.release();
  }

  private runGraph(
    g: Graph,
    bindings: ReadonlyMap<string, OnnxValue>,
    parent: Scope | undefined,
    opsets: ReadonlyMap<string, number>,
    outputs: readonly string[] | undefined,
    prefix: string,
  ): OnnxValue[] {
    const plan = this.plan(g, outputs);
    const scope = new Scope(g, parent);
    for (const [k, v] of bindings) scope.values.set(k, v);
    const produced = new Set<string>();
    const st = this.state;
    try {
      for (const step of plan.steps) {
        const node = step.node;
        const inputs = node.inputs.map((name) => {
          if (!name) return undefined;
          const t = scope.lookup(name);
          if (t === undefined && !g.inputs.some((i) => i.name === name)) {
            throw new GraphError(`node ${node.label}: value '${name}' is not available when the node runs`);
          }
          return t;
        });
        const t0 = st.timings ? performance.now() : 0;
        const results = this.runNode(node, inputs, scope, opsets, prefix);
        if (st.timings) st.timings.push({ node: prefix + node.name, opType: node.opType, ms: performance.now() - t0 });
        for (let i = 0; i < results.length; i++) {
          const t = results[i]!;
          const name = node.outputs[i];
          if (!name) {
            disposeValue(t);
            continue;
          }
          scope.values.set(name, t);
          produced.add(name);
          st.live += valueBytes(t);
        }
        if (st.live > st.peak) st.peak = st.live;
        for (const name of step.release) {
          const v = scope.values.get(name);
          if (v === undefined) continue;
          st.live -= valueBytes(v);
          scope.values.delete(name);
          produced.delete(name);
          // every value that can share this storage is bound in the scope chain (see ./arena.ts); a GPU
          // tensor's texture is deleted here (its last reference), and never shares host storage
          // (a sequence's own elements count as live for each other: SplitToSequence pieces share one buffer)
          const held = tensorsOf(v);
          const live = this.options.arena && held.length > 0 ? hostValues([...scopeChainValues(scope), ...held]) : [];
          for (const t of held) {
            if (this.options.arena && !(t instanceof GpuTensor)) this.options.arena.reclaim(t, live);
            else t.dispose();
          }
        }
      }
      const result: OnnxValue[] = [];
      const handedOut = new Set<string>();
      for (const name of plan.outputs) {
        const t = scope.lookup(name);
        if (t === undefined) throw new GraphError(`graph '${g.name}': output '${name}' was not produced`);
        if (produced.has(name) && !handedOut.has(name)) {
          handedOut.add(name);
          st.live -= valueBytes(t);
          result.push(t);
        } else {
          result.push(aliasValue(t));
        }
      }
      for (const name of handedOut) scope.values.delete(name);
      return result;
    } finally {
      // on success only handed-out outputs were removed; on error free everything this activation made
      for (const name of produced) {
        const t = scope.values.get(name);
        if (t !== undefined) {
          st.live -= valueBytes(t);
          disposeValue(t);
        }
      }
    }
  }

  private runNode(node: Node, inputs: (OnnxValue | undefined)[], scope: Scope, opsets: ReadonlyMap<string, number>, prefix: string): OnnxValue[] {
    const opset = opsets.get(node.domain);
    if (node.functionBody) {
      const body = node.functionBody;
      const bindings = new Map<string, OnnxValue>();
      body.graph.inputs.forEach((formal, i) => {
        const t = inputs[i];
        if (t !== undefined) bindings.set(formal.name, t);
      });
      const wanted = body.graph.outputs.slice(0, node.outputs.length).map((o) => o.name);
      return this.runGraph(body.graph, bindings, undefined, body.opsets, wanted, `${prefix}${node.name}/`);
    }
    if (opset === undefined) {
      throw new GraphError(`node ${node.label}: domain '${node.domain || 'ai.onnx'}' is not in the model's opset_import`);
    }
    if (node.domain === '') {
      if (node.opType === 'If') return this.runIf(node, inputs, scope, opsets, prefix);
      if (node.opType === 'Loop') return this.runLoop(node, inputs, scope, opsets, prefix);
      if (node.opType === 'Scan') return this.runScan(node, tensorInputs(node, inputs), scope, opsets, prefix, opset);
      if (isSequenceOp(node.opType, inputs)) {
        return runSequenceOp(node, inputs, {
          opset,
          runOp: (op, args, attrs) => runOp(op, args, attrs, { opset, node: node.name, backend: 'cpu', threads: this.options.threads }),
          runBody: (body, bindings) => this.runGraph(body, bindings, scope, opsets, undefined, `${prefix}${node.name}/`),
        });
      }
    }
    if (node.domain === GRADIENT_DOMAIN && node.opType === 'Gradient') {
      return runGradient(node, tensorInputs(node, inputs), scope.graph, {
        lookup: (name) => scope.lookup(name),
        opset: opsets.get('') ?? DEFAULT_GRADIENT_OPSET,
        threads: this.options.threads,
      });
    }
    const tensors = tensorInputs(node, inputs);
    let backend = this.options.backend;
    // string tensors live on the host only: their nodes run on the CPU whatever the backend
    const needsHost = tensors.some((t) => t?.type === 'string');
    if (backend !== 'cpu' && (needsHost || !hasKernel(node.opType, backend, node.domain)) && hasKernel(node.opType, 'cpu', node.domain)) {
      this.state.fallbacks.add(node.name);
      backend = 'cpu';
      // a CPU kernel reads host arrays: download GPU inputs (counted as downloads)
      if (tensors.some((t) => t instanceof GpuTensor)) return this.runOnHostCopies(node, tensors, scope, opsets, prefix);
    }
    try {
      // trailing outputs named '' are omitted optional outputs: do not ask for them
      let numOutputs = node.outputs.length;
      while (numOutputs > 0 && !node.outputs[numOutputs - 1]) numOutputs--;
      const beforeKernel = this.limited() ? (specs: readonly OutputSpec[]) => this.reserve(node, specs) : undefined;
      const constantInputs = initializerInputs(node, tensors, scope);
      const out = runOp(node.opType, tensors, node.attrs, { opset, domain: node.domain, node: node.name, backend, threads: this.options.threads, numOutputs, beforeKernel, constantInputs });
      return checkCount(node, out, numOutputs, 'operator');
    } catch (e) {
      if (e instanceof TesseraError) throw e;
      const err = new KernelError(`node ${node.label}: ${e instanceof Error ? e.message : String(e)}`);
      (err as { cause?: unknown }).cause = e;
      throw err;
    }
  }

  /** Run a CPU-fallback node on host copies of its GPU inputs. */
  private runOnHostCopies(node: Node, inputs: (Tensor | undefined)[], scope: Scope, opsets: ReadonlyMap<string, number>, prefix: string): OnnxValue[] {
    const copies = inputs.map((t) => (t instanceof GpuTensor ? t.toCpu() : t));
    try {
      return this.runNode(node, copies, scope, opsets, prefix);
    } finally {
      copies.forEach((t, i) => {
        if (t && t !== inputs[i]) t.dispose();
      });
    }
  }

  private limited(): boolean {
    return this.options.maxTensorBytes !== undefined || this.options.maxPlanBytes !== undefined;
  }

  /**
   * Refuse, before anything is allocated, outputs of `node` that break maxTensorBytes or that would take the
   * run's bytes (base + live intermediates + these outputs) past maxPlanBytes.
   */
  private reserve(node: Node, specs: readonly OutputSpec[]): void {
    const maxTensor = this.options.maxTensorBytes ?? Infinity;
    const maxPlan = this.options.maxPlanBytes ?? Infinity;
    let total = 0;
    for (let i = 0; i < specs.length; i++) {
      const spec = specs[i]!;
      let bytes = bytesPerElement(spec.type);
      for (const d of spec.dims) bytes *= d;
      if (bytes > maxTensor) {
        throw new LimitExceededError(`node ${node.label}: output ${i} (${spec.type} ${fmtShape(spec.dims)}) needs ${bytes} bytes; maxTensorBytes is ${maxTensor}`, bytes, maxTensor);
      }
      total += bytes;
    }
    const st = this.state;
    const need = st.base + st.live + total;
    if (need > maxPlan) {
      throw new LimitExceededError(
        `node ${node.label}: its outputs (${total} bytes) would bring the run to ${need} bytes (initializers and feeds ${st.base}, live intermediates ${st.live}); maxPlanBytes is ${maxPlan}`,
        need,
        maxPlan,
      );
    }
  }

  /** `stack` after checking the stacked result against the limits. */
  private stackChecked(list: readonly Tensor[], axis: number, node: Node): Tensor {
    if (this.limited() && list.length > 0) this.reserve(node, [{ type: list[0]!.type, dims: [list.length, ...list[0]!.dims] }]);
    return stack(list, axis, node);
  }

  private subgraphAttr(node: Node, name: string): Graph {
    const g = node.attrs[name];
    if (!(g instanceof Graph)) throw new GraphError(`node ${node.label}: attribute '${name}' must be a graph`);
    return g;
  }

  private runIf(node: Node, inputs: (OnnxValue | undefined)[], scope: Scope, opsets: ReadonlyMap<string, number>, prefix: string): OnnxValue[] {
    const cond = inputs[0];
    if (!isTensor(cond)) throw new GraphError(`node ${node.label}: If needs a tensor 'cond' input, got ${describeValue(cond)}`);
    if (cond.size !== 1) throw new GraphError(`node ${node.label}: If 'cond' has shape ${fmtShape(cond.dims)}; expected a single element`);
    const branch = this.subgraphAttr(node, truthy(cond) ? 'then_branch' : 'else_branch');
    const out = this.runGraph(branch, new Map(), scope, opsets, undefined, `${prefix}${node.name}/`);
    return checkCount(node, out, node.outputs.length, 'branch');
  }

  private runLoop(node: Node, inputs: (OnnxValue | undefined)[], scope: Scope, opsets: ReadonlyMap<string, number>, prefix: string): OnnxValue[] {
    const body = this.subgraphAttr(node, 'body');
    const [maxTripT, condT] = tensorInputs(node, inputs.slice(0, 2));
    const initial = inputs.slice(2);
    const nCarried = initial.length;
    const bodyIn = body.inputs;
    const bodyOut = body.outputs;
    if (bodyIn.length !== nCarried + 2) {
      throw new GraphError(`node ${node.label}: Loop body has ${bodyIn.length} inputs; expected ${nCarried + 2} (iteration, condition, ${nCarried} carried)`);
    }
    if (bodyOut.length < nCarried + 1) {
      throw new GraphError(`node ${node.label}: Loop body has ${bodyOut.length} outputs; expected at least ${nCarried + 1}`);
    }
    initial.forEach((t, i) => {
      if (t === undefined) throw new GraphError(`node ${node.label}: Loop carried input ${i} is missing`);
    });
    const nScan = bodyOut.length - 1 - nCarried;
    let maxTrip = Number.POSITIVE_INFINITY;
    if (maxTripT) {
      const v = maxTripT.item();
      maxTrip = Number(v);
    }
    let cond = condT ? truthy(condT) : true;
    let carried = initial as OnnxValue[];
    let ownCarried = false;
    const scans: Tensor[][] = Array.from({ length: nScan }, () => []);
    const subPrefix = `${prefix}${node.name}/`;
    const maxIterations = this.options.maxLoopIterations ?? Infinity;
    try {
      for (let i = 0; i < maxTrip && cond; i++) {
        if (i >= maxIterations) {
          throw new LimitExceededError(
            `node ${node.label}: Loop reached maxLoopIterations (${maxIterations}) with its trip count ${maxTripT ? String(maxTripT.item()) : 'unset'} and condition still true`,
            maxTrip,
            maxIterations,
          );
        }
        const iterT = new Tensor('int64', new BigInt64Array([BigInt(i)]), []);
        const condIn = new Tensor('bool', new Uint8Array([1]), []);
        const bindings = new Map<string, OnnxValue>([
          [bodyIn[0]!.name, iterT],
          [bodyIn[1]!.name, condIn],
        ]);
        carried.forEach((t, j) => bindings.set(bodyIn[j + 2]!.name, t));
        let out: OnnxValue[];
        try {
          out = this.runGraph(body, bindings, scope, opsets, undefined, subPrefix);
        } finally {
          iterT.dispose();
          condIn.dispose();
        }
        if (ownCarried) for (const t of carried) disposeValue(t);
        carried = out.slice(1, 1 + nCarried);
        ownCarried = true;
        const condOut = out[0]!;
        const scanOuts = out.slice(1 + nCarried, 1 + nCarried + nScan);
        if (!isTensor(condOut) || !scanOuts.every(isTensor)) {
          for (const v of [condOut, ...scanOuts]) disposeValue(v);
          throw new GraphError(`node ${node.label}: the Loop body's condition and scan outputs must be tensors`);
        }
        cond = truthy(condOut);
        condOut.dispose();
        for (let k = 0; k < nScan; k++) {
          scans[k]!.push(scanOuts[k]!);
          this.state.live += bytesOf(scanOuts[k]!);
        }
      }
      const final = ownCarried ? carried : carried.map(aliasValue);
      ownCarried = false;
      const stacked: Tensor[] = [];
      try {
        for (let k = 0; k < nScan; k++) {
          const list = scans[k]!;
          stacked.push(list.length ? this.stackChecked(list, 0, node) : emptyScanOutput(bodyOut[1 + nCarried + k]!.type));
        }
      } catch (e) {
        for (const t of [...final, ...stacked]) disposeValue(t);
        throw e;
      }
      // outputs beyond the node's are disposed by runGraph
      return [...final, ...stacked];
    } finally {
      if (ownCarried) for (const t of carried) disposeValue(t);
      for (const list of scans) {
        for (const t of list) {
          this.state.live -= bytesOf(t);
          t.dispose();
        }
      }
    }
  }

  private runScan(
    node: Node,
    inputs: (Tensor | undefined)[],
    scope: Scope,
    opsets: ReadonlyMap<string, number>,
    prefix: string,
    opset: number,
  ): Tensor[] {
    const body = this.subgraphAttr(node, 'body');
    const m = num(node.attrs['num_scan_inputs']);
    if (m === undefined) throw new GraphError(`node ${node.label}: Scan needs the 'num_scan_inputs' attribute`);
    if (opset < 9) return this.runScan8(node, inputs, body, m, scope, opsets, prefix);
    const n = inputs.length - m;
    if (n < 0) throw new GraphError(`node ${node.label}: Scan has ${inputs.length} inputs but num_scan_inputs is ${m}`);
    const states = inputs.slice(0, n) as Tensor[];
    const scanIns = inputs.slice(n) as Tensor[];
    [...states, ...scanIns].forEach((t, i) => {
      if (!t) throw new GraphError(`node ${node.label}: Scan input ${i} is missing`);
    });
    const k = body.outputs.length - n;
    const inAxes = ints(node.attrs['scan_input_axes'], m, 0);
    const inDirs = ints(node.attrs['scan_input_directions'], m, 0);
    const outAxes = ints(node.attrs['scan_output_axes'], k, 0);
    const outDirs = ints(node.attrs['scan_output_directions'], k, 0);
    return this.scanLoop(node, body, states, scanIns, inAxes, inDirs, outAxes, outDirs, scope, opsets, prefix);
  }

  /** Scan-8: a leading batch axis on every input, optional sequence_lens first. Runs Scan-9 per batch item. */
  private runScan8(
    node: Node,
    inputs: (Tensor | undefined)[],
    body: Graph,
    m: number,
    scope: Scope,
    opsets: ReadonlyMap<string, number>,
    prefix: string,
  ): Tensor[] {
    const seqLens = inputs[0];
    const rest = inputs.slice(1) as Tensor[];
    const n = rest.length - m;
    if (n < 0) throw new GraphError(`node ${node.label}: Scan has ${rest.length} inputs but num_scan_inputs is ${m}`);
    rest.forEach((t, i) => {
      if (!t) throw new GraphError(`node ${node.label}: Scan input ${i + 1} is missing`);
    });
    const batch = rest[0]?.dims[0] ?? 0;
    for (const t of rest) {
      if (t.dims[0] !== batch) throw new GraphError(`node ${node.label}: Scan-8 inputs must share the batch dim ${batch}; got ${fmtShape(t.dims)}`);
    }
    const dirs = ints(node.attrs['directions'], m, 0);
    const k = body.outputs.length - n;
    const perBatch: Tensor[][] = [];
    try {
      for (let b = 0; b < batch; b++) {
        const pick = (t: Tensor): Tensor => takeAlong(t, 0, b);
        const states = rest.slice(0, n).map(pick);
        let scanIns = rest.slice(n).map(pick);
        if (seqLens) {
          const len = Number(seqLens.numbers()[b]);
          const full = scanIns[0]?.dims[0] ?? 0;
          if (len !== full) {
            const cut = scanIns.map((t) => t.slice([0], [len], [0]).contiguous());
            for (const t of scanIns) t.dispose();
            scanIns = cut;
          }
        }
        try {
          perBatch.push(this.scanLoop(node, body, states, scanIns, new Array<number>(m).fill(0), dirs, new Array<number>(k).fill(0), new Array<number>(k).fill(0), scope, opsets, prefix));
        } finally {
          for (const t of [...states, ...scanIns]) t.dispose();
        }
      }
      const outCount = n + k;
      const result: Tensor[] = [];
      for (let o = 0; o < outCount; o++) {
        result.push(batch > 0 ? stack(perBatch.map((r) => r[o]!), 0, node) : emptyScanOutput(body.outputs[o]?.type));
      }
      return result.slice(0, node.outputs.length);
    } finally {
      for (const r of perBatch) for (const t of r) t.dispose();
    }
  }

  private scanLoop(
    node: Node,
    body: Graph,
    initialStates: Tensor[],
    scanIns: Tensor[],
    inAxes: number[],
    inDirs: number[],
    outAxes: number[],
    outDirs: number[],
    scope: Scope,
    opsets: ReadonlyMap<string, number>,
    prefix: string,
  ): Tensor[] {
    const n = initialStates.length;
    const m = scanIns.length;
    if (body.inputs.length !== n + m) throw new GraphError(`node ${node.label}: Scan body has ${body.inputs.length} inputs; expected ${n + m}`);
    const axes = scanIns.map((t, i) => normAxis(inAxes[i]!, t.rank, node));
    let seqLen = -1;
    scanIns.forEach((t, i) => {
      const len = t.dims[axes[i]!]!;
      if (seqLen < 0) seqLen = len;
      else if (len !== seqLen) throw new GraphError(`node ${node.label}: Scan inputs disagree on the sequence length (${seqLen} vs ${len} for input ${n + i})`);
    });
    if (seqLen < 0) seqLen = 0;
    const k = body.outputs.length - n;
    let states = initialStates;
    let ownStates = false;
    const outs: Tensor[][] = Array.from({ length: k }, () => []);
    const subPrefix = `${prefix}${node.name}/`;
    try {
      for (let step = 0; step < seqLen; step++) {
        const bindings = new Map<string, Tensor>();
        states.forEach((t, j) => bindings.set(body.inputs[j]!.name, t));
        const slices = scanIns.map((t, i) => takeAlong(t, axes[i]!, inDirs[i] ? seqLen - 1 - step : step));
        slices.forEach((t, i) => bindings.set(body.inputs[n + i]!.name, t));
        let out: Tensor[];
        try {
          out = tensorOutputs(node, this.runGraph(body, bindings, scope, opsets, undefined, subPrefix), 'Scan body');
        } finally {
          for (const t of slices) t.dispose();
        }
        if (ownStates) for (const t of states) t.dispose();
        states = out.slice(0, n);
        ownStates = true;
        for (let j = 0; j < k; j++) {
          outs[j]!.push(out[n + j]!);
          this.state.live += bytesOf(out[n + j]!);
        }
      }
      const finalStates = ownStates ? states : states.map((t) => t.reshape(t.dims));
      ownStates = false;
      const stacked: Tensor[] = [];
      try {
        outs.forEach((list, j) => {
          if (list.length === 0) return void stacked.push(emptyScanOutput(body.outputs[n + j]?.type));
          const ordered = outDirs[j] ? [...list].reverse() : list;
          const rank = list[0]!.rank + 1;
          stacked.push(this.stackChecked(ordered, normAxis(outAxes[j]!, rank, node), node));
        });
      } catch (e) {
        for (const t of [...finalStates, ...stacked]) t.dispose();
        throw e;
      }
      return [...finalStates, ...stacked];
    } finally {
      if (ownStates) for (const t of states) t.dispose();
      for (const list of outs) {
        for (const t of list) {
          this.state.live -= bytesOf(t);
          t.dispose();
        }
      }
    }
  }
}

/** Every tensor bound in `scope` and its enclosing scopes (the elements of sequences included). */
function* scopeChainValues(scope: Scope): Generator<Tensor> {
  for (let s: Scope | undefined = scope; s; s = s.parent) for (const v of s.values.values()) yield* tensorsOf(v);
}

/** Opset assumed for the tensor operators a Gradient node runs when the model imports no default domain. */
const DEFAULT_GRADIENT_OPSET = 12;

/** The inputs of a tensor operator: a GraphError naming the input when one is a sequence or an empty optional. */
function tensorInputs(node: Node, inputs: readonly (OnnxValue | undefined)[]): (Tensor | undefined)[] {
  return inputs.map((v, i) => {
    if (v === undefined || v instanceof Tensor) return v;
    throw new GraphError(`node ${node.label}: input ${i} '${node.inputs[i]}' is ${describeValue(v)}; ${node.opType} takes tensors`);
  });
}

/** Outputs of a body that must be tensors (Scan); disposes them all and throws otherwise. */
function tensorOutputs(node: Node, out: OnnxValue[], what: string): Tensor[] {
  if (out.every(isTensor)) return out;
  for (const v of out) disposeValue(v);
  throw new GraphError(`node ${node.label}: the ${what} produced a non-tensor value; its outputs must be tensors`);
}

/** The host-resident tensors of `values` (GPU tensors never share host storage). */
function hostValues(values: Iterable<Tensor>): Tensor[] {
  const out: Tensor[] = [];
  for (const t of values) if (!(t instanceof GpuTensor)) out.push(t);
  return out;
}

/** Mark a graph's weights (initializers and Constant values, subgraphs included) as persistent uploads. */
function markWeights(g: Graph, residency: GpuResidency): void {
  for (const t of g.initializers.values()) residency.markPersistent(t);
  for (const n of g.nodes) {
    for (const v of Object.values(n.attrs)) if (v instanceof Tensor) residency.markPersistent(v);
    for (const sub of n.subgraphs()) markWeights(sub, residency);
    if (n.functionBody) markWeights(n.functionBody.graph, residency);
  }
}

/** A set that contains every name (outer scopes were validated at session creation). */
class AnyName extends Set<string> {
  override has(): boolean {
    return true;
  }
}

function truthy(t: Tensor): boolean {
  if (t.type === 'string') return (t.data as string[])[0] !== '';
  const v = t.data[0];
  return typeof v === 'bigint' ? v !== 0n : !!v;
}

function num(v: AttrValue | undefined): number | undefined {
  return typeof v === 'number' ? v : undefined;
}

function ints(v: AttrValue | undefined, count: number, dflt: number): number[] {
  if (Array.isArray(v)) return (v as number[]).slice(0, count).concat(new Array<number>(Math.max(0, count - v.length)).fill(dflt));
  return new Array<number>(count).fill(dflt);
}

function normAxis(axis: number, rank: number, node: Node): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new GraphError(`node ${node.label}: axis ${axis} is out of range for rank ${rank}`);
  return a;
}

function checkCount<V extends OnnxValue>(node: Node, out: V[], want: number, what: string): V[] {
  if (out.length < want) {
    for (const t of out) disposeValue(t);
    throw new GraphError(`node ${node.label}: the ${what} produced ${out.length} output(s); the node asks for ${want} (${node.outputs.slice(0, want).map((o) => `'${o}'`).join(', ')})`);
  }
  for (let i = want; i < out.length; i++) disposeValue(out[i]!);
  return out.slice(0, want);
}

/** The sub-tensor at `index` along `axis`, with that axis removed (a contiguous copy). */
function takeAlong(t: Tensor, axis: number, index: number): Tensor {
  const view = t.slice([index], [index + 1], [axis]);
  const dims = t.dims.filter((_, i) => i !== axis);
  const out = new Tensor(t.type, view.data.slice() as TypedArray, dims);
  view.dispose();
  return out;
}

/** Stack same-shaped tensors along a new axis `axis`. */
export function stack(list: readonly Tensor[], axis: number, node?: Node): Tensor {
  const first = list[0]!;
  for (const t of list) {
    if (t.type !== first.type || !shapesEqual(t.dims, first.dims)) {
      throw new GraphError(`${node ? `node ${node.label}: ` : ''}cannot stack ${t.type} ${fmtShape(t.dims)} with ${first.type} ${fmtShape(first.dims)} (scan outputs must agree across iterations)`);
    }
  }
  const size = first.size;
  const out = allocate(first.type, size * list.length) as TypedArray;
  list.forEach((t, i) => (out as unknown as { set(a: ArrayLike<unknown>, o: number): void }).set(t.data, i * size));
  const stacked = new Tensor(first.type, out, [list.length, ...first.dims]);
  if (axis === 0) return stacked;
  const perm = [...Array(first.rank + 1).keys()].slice(1);
  perm.splice(axis, 0, 0);
  const moved = stacked.transpose(perm);
  const result = moved.contiguous();
  if (result !== moved) moved.dispose();
  stacked.dispose();
  return result;
}

/** A zero-iteration scan output: [0, ...declared dims] when the body declares them, else [0]. */
function emptyScanOutput(type: Graph['outputs'][number]['type']): Tensor {
  const dtype: DataType = type?.kind === 'tensor' ? type.dtype : 'float32';
  const dims = type?.kind === 'tensor' && type.shape && type.shape.every((d) => typeof d === 'number') ? (type.shape as number[]) : [];
  return new Tensor(dtype, allocate(dtype, 0) as TypedArray, [0, ...dims]);
}
