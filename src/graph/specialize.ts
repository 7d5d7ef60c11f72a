/**
 * Shape specialization: re-run the graph passes for the concrete dims of a run's feeds, so the integer shape
 * arithmetic that symbolic input dims leave in a graph (Shape -> Gather -> Unsqueeze -> Concat -> Reshape) folds
 * into constants before execution.
 *
 * Why. A model exported with a dynamic batch or width keeps that arithmetic as nodes, because at load time the
 * dims are unknown. On the GPU backend those nodes are the only ones that cannot run in a shader (their values
 * are int64 shapes, read by the host to size the next kernel), so each run computes them on the host between
 * shader dispatches. Once the feed dims are known, the same rules that fold shapes at load time
 * (src/graph/passes: shape folding, constant folding, dead-node removal) remove them entirely: the specialized
 * graph holds only the tensor operators, every one of which runs on the GPU, and Reshape gets a constant.
 *
 * How. The key of a run is the dims of every feed whose declared shape has a symbolic or unknown dim. On a miss
 * the base graph's inputs are re-declared with those dims and `optimizeGraph` runs at the session's level; the
 * result (sharing every initializer with the base graph, so GPU uploads of weights are shared too) is cached.
 * The cache is LRU-bounded (`capacity` graphs); an evicted graph disposes the constants it created. The executor
 * keeps one plan per graph object, so each specialized graph also gets its own liveness plan and arena.
 *
 * Results are unchanged: the folded values are exactly what the removed nodes computed for these dims.
 * Cost: one pass run per new input signature (milliseconds for the PP-OCR models), then a map lookup per run.
 */
import { TesseraError } from '../tensor/errors.js';
import type { Tensor } from '../tensor/tensor.js';
import { Graph, type Dim, type ValueInfo } from './ir.js';
import { graphTensors } from './passes/editor.js';
import { optimizeGraph, type OptimizationLevel } from './passes/index.js';
import type { RuleTarget } from './passes/rule.js';
import type { OnnxValue } from './values.js';

/** Default number of specialized graphs a session keeps. */
export const DEFAULT_SPECIALIZATION_CAPACITY = 8;

function hasOpenDim(info: ValueInfo): boolean {
  const t = info.type;
  return t?.kind === 'tensor' && (t.shape === undefined || t.shape.some((d) => typeof d !== 'number'));
}

function isTensorFeed(v: OnnxValue | undefined): v is Tensor {
  return v !== null && v !== undefined && !Array.isArray(v) && typeof (v as Tensor).dims === 'object';
}

/** Specialized graphs of one base graph, keyed by the dims of the feeds with open dims. */
export class ShapeSpecializer {
  private readonly cache = new Map<string, Graph>();
  private readonly baseTensors: ReadonlySet<Tensor>;
  /** Inputs whose declared shape leaves something open (only their dims enter the key). */
  private readonly openInputs: readonly ValueInfo[];
  /** Specialized graphs built so far (misses), for tests and stats. */
  builds = 0;

  constructor(
    private readonly base: Graph,
    private readonly opsets: ReadonlyMap<string, number>,
    private readonly level: OptimizationLevel,
    private readonly target: RuleTarget,
    readonly capacity = DEFAULT_SPECIALIZATION_CAPACITY,
  ) {
    this.baseTensors = new Set(graphTensors(base));
    this.openInputs = base.inputs.filter((i) => !base.initializers.has(i.name) && hasOpenDim(i));
  }

  /** True when some input's shape is open, i.e. specialization can fold anything. */
  get applies(): boolean {
    return this.level !== 'none' && this.openInputs.length > 0;
  }

  /** The graph to run for these (validated) feeds: the base graph, or its specialization for their dims. */
  graphFor(feeds: ReadonlyMap<string, OnnxValue>): Graph {
    if (!this.applies) return this.base;
    const parts: string[] = [];
    for (const info of this.openInputs) {
      const v = feeds.get(info.name);
      // an omitted optional input or a non-tensor feed: nothing to specialize on for it
      parts.push(isTensorFeed(v) ? v.dims.join('x') : '-');
    }
    const key = parts.join('|');
    const hit = this.cache.get(key);
    if (hit) {
      // LRU: move to the back
      this.cache.delete(key);
      this.cache.set(key, hit);
      return hit;
    }
    const specialized = this.build(feeds);
    this.cache.set(key, specialized);
    if (this.cache.size > this.capacity) {
      const [oldKey, old] = this.cache.entries().next().value as [string, Graph];
      this.cache.delete(oldKey);
      this.disposeOwn(old);
    }
    return specialized;
  }

  /** Number of cached specialized graphs. */
  get size(): number {
    return this.cache.size;
  }

  /** Dispose every specialized graph's own constants. */
  release(): void {
    for (const g of this.cache.values()) this.disposeOwn(g);
    this.cache.clear();
  }

  private build(feeds: ReadonlyMap<string, OnnxValue>): Graph {
    const inputs = this.base.inputs.map((info): ValueInfo => {
      const v = feeds.get(info.name);
      if (!this.openInputs.includes(info) || !isTensorFeed(v) || info.type?.kind !== 'tensor') return info;
      const shape: Dim[] = [...v.dims];
      return { name: info.name, type: { kind: 'tensor', dtype: info.type.dtype, shape } };
    });
    const g = this.base;
    const declared = new Graph(g.name, g.nodes, inputs, g.outputs, g.initializers, g.valueInfo);
    this.builds++;
    const { graph, opsets } = optimizeGraph(declared, this.opsets, this.level, { target: this.target });
    for (const domain of opsets.keys()) {
      if (!this.opsets.has(domain)) throw new TesseraError(`shape specialization emitted operators of domain '${domain}', which the session was not set up to run`);
    }
    return graph;
  }

  private disposeOwn(g: Graph): void {
    if (g === this.base) return;
    for (const t of graphTensors(g)) if (!this.baseTensors.has(t)) t.dispose();
  }
}
