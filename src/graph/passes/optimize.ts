/**
 * optimizeGraph: run the rewrite rules of an optimization level over a graph until nothing changes.
 *
 * Levels (the rules of each are listed in LEVEL_RULES):
 *   'none'  the graph as written (returned unchanged: bit-exact debugging);
 *   'basic' rewrites that keep every value bit-identical: Constant nodes to initializers, constant folding
 *           through the same CPU kernels, shape folding, dead-node, Identity and Dropout elimination;
 *   'all'   basic plus fusions that may change results by rounding: Conv+BatchNormalization folding,
 *           constant per-channel Mul/Add folded into a Conv's weights (after it, or before an unpadded one),
 *           written-out HardSwish to FusedConv/HardSwish (./affine.ts), MatMul+Add to Gemm,
 *           Conv/Gemm/MatMul + activation to the com.tessera fused operators, QDQ int8-weight Conv/MatMul/Gemm
 *           (with their fake-quantized input) to com.tessera QDQConv/QDQMatMul/QDQGemm (./qdq-fusion.ts),
 *           int4 blocked DequantizeLinear -> MatMul/Gemm to MatMulInt4.
 *           Rules may declare the backend they target (OptimizeOptions.target): the activation and int8/int4
 *           fusions run for the CPU only; for the GPU, QuantizeLinear -> DequantizeLinear pairs become
 *           FakeQuantize (./fake-quant.ts) and dynamic int8 chains become float operators (./dynamic-gpu.ts).
 *
 * The driver works scope by scope: subgraphs (If/Loop/Scan bodies) and model-local function bodies first,
 * each in its own GraphEditor where values of enclosing scopes are never constants, then the graph itself.
 * In each round every node is offered to the rules targeting its op type, in level order; the first rule
 * that applies rewrites it. Rounds repeat until one changes nothing or `maxIterations` is reached. Finally
 * initializers nothing reads any more are dropped (graph inputs and outputs are never touched).
 *
 * The input graph is never modified: the result is a new Graph (the same object when nothing changed),
 * sharing unchanged tensors with the input. The report counts rewrites per rule and nodes before/after.
 */
import { TesseraError } from '../../tensor/errors.js';
import type { Tensor } from '../../tensor/tensor.js';
import { Graph, type Node } from '../ir.js';
import { nodeReads } from '../plan.js';
import { constantFolding, constantToInitializer, shapeFolding, shapeSliceFolding } from './constants.js';
import { GraphEditor, graphTensors } from './editor.js';
import { deadNodeElimination, dropoutElimination, identityElimination } from './elimination.js';
import { convInputAffineFolding, convOutputAffineFolding, fusedConvInputAffineFolding, hardSwishFusion } from './affine.js';
import { activationFusion, convBatchNormFolding, matMulAddToGemm } from './fusion.js';
import { fakeQuantFusion } from './fake-quant.js';
import { dynamicQuantToFloat } from './dynamic-gpu.js';
import { fusedInt4MatMulFusion, fusedQdqFusion, int4MatMulFusion, qdqFusion, qdqHardSwishFusion } from './qdq-fusion.js';
import type { OptimizeOptions, RewriteRule, RuleContext } from './rule.js';

/** Optimization levels. */
export type OptimizationLevel = 'none' | 'basic' | 'all';

const BASIC_RULES: readonly RewriteRule[] = [
  constantToInitializer,
  deadNodeElimination,
  identityElimination,
  dropoutElimination,
  shapeFolding,
  shapeSliceFolding,
  constantFolding,
];

/** The rules of each level, in the order they are offered a node. */
export const LEVEL_RULES: Readonly<Record<OptimizationLevel, readonly RewriteRule[]>> = {
  none: [],
  basic: BASIC_RULES,
  all: [
    ...BASIC_RULES,
    convBatchNormFolding,
    convOutputAffineFolding,
    convInputAffineFolding,
    fusedConvInputAffineFolding,
    hardSwishFusion,
    matMulAddToGemm,
    // on the GPU a fused activation runs as the same two shaders: fusion buys nothing there
    cpuOnly(activationFusion),
    // the quantized-weight kernels these emit are CPU kernels
    cpuOnly(qdqFusion),
    cpuOnly(fusedQdqFusion),
    cpuOnly(qdqHardSwishFusion),
    cpuOnly(int4MatMulFusion),
    cpuOnly(fusedInt4MatMulFusion),
    // textures hold float32: a Q -> DQ pair becomes one float shader
    fakeQuantFusion,
    dynamicQuantToFloat,
  ],
};

/** `rule`, run only when the graph targets the CPU. */
function cpuOnly(rule: RewriteRule): RewriteRule {
  return { ...rule, targets: ['cpu'] };
}

/** Rewrites made by one rule. */
export interface PassCount {
  readonly name: string;
  readonly rewrites: number;
}

/** What optimizeGraph did. */
export interface OptimizeReport {
  readonly level: OptimizationLevel;
  /** Every rule of the level with its rewrite count (in level order). */
  readonly passes: readonly PassCount[];
  /** Initializers dropped because nothing read them any more. */
  readonly initializersRemoved: number;
  /** Nodes of the main graph before and after. */
  readonly nodesBefore: number;
  readonly nodesAfter: number;
  /** Nodes including all subgraphs and function bodies, before and after. */
  readonly totalNodesBefore: number;
  readonly totalNodesAfter: number;
  /** Largest number of rounds any scope took. */
  readonly rounds: number;
}

/** Result of optimizeGraph. */
export interface OptimizeResult {
  readonly graph: Graph;
  /**
   * Opsets to run the result with: the given ones plus the domains the rules emitted (com.tessera when a
   * fused operator was created). Pass these to the Executor.
   */
  readonly opsets: ReadonlyMap<string, number>;
  readonly report: OptimizeReport;
}

function countNodes(g: Graph): number {
  let n = 0;
  for (const node of g.nodes) {
    n++;
    for (const s of node.subgraphs()) n += countNodes(s);
    if (node.functionBody) n += countNodes(node.functionBody.graph);
  }
  return n;
}

interface RunState {
  readonly rules: readonly RewriteRule[];
  readonly options: RuleContext['options'];
  readonly counts: Map<string, number>;
  readonly usedDomains: Map<string, number>;
  readonly gaveUp: WeakSet<Node>;
  initializersRemoved: number;
  rounds: number;
  /** Tensors created by rewrites; the ones the final graph does not hold are disposed at the end. */
  readonly created: Set<Tensor>;
}

/**
 * Optimize `graph` (run with `opsets`) at `level`. Returns the new graph, the opsets it needs, and a report.
 */
export function optimizeGraph(graph: Graph, opsets: ReadonlyMap<string, number>, level: OptimizationLevel, options: OptimizeOptions = {}): OptimizeResult {
  const rulesOfLevel = LEVEL_RULES[level];
  if (!rulesOfLevel) throw new TesseraError(`optimizeGraph: level must be 'none', 'basic' or 'all', got '${String(level)}'`);
  const disabled = new Set(options.disabledRules ?? []);
  const known = new Set(LEVEL_RULES.all.map((r) => r.name));
  for (const name of disabled) if (!known.has(name)) throw new TesseraError(`optimizeGraph: unknown rule '${name}' in disabledRules; rules: ${[...known].join(', ')}`);
  const target = options.target ?? 'cpu';
  if (target !== 'cpu' && target !== 'gpu') throw new TesseraError(`optimizeGraph: target must be 'cpu' or 'gpu', got '${String(target)}'`);
  const rules = rulesOfLevel.filter((r) => !disabled.has(r.name) && (!r.targets || r.targets.includes(target)));
  const state: RunState = {
    rules,
    options: { maxFoldedElements: options.maxFoldedElements ?? 1_000_000, maxIterations: options.maxIterations ?? 16 },
    counts: new Map(rules.map((r) => [r.name, 0])),
    usedDomains: new Map(),
    gaveUp: new WeakSet(),
    initializersRemoved: 0,
    rounds: 0,
    created: new Set(),
  };
  const result = rules.length ? optimizeScope(graph, opsets, state, true) : graph;
  if (state.created.size > 0) {
    // intermediates of multi-round folding: neither in the input graph (the caller owns those) nor in the result
    const keep = new Set([...graphTensors(graph), ...graphTensors(result)]);
    for (const t of state.created) if (!keep.has(t)) t.dispose();
  }
  const outOpsets = new Map(opsets);
  for (const [d, v] of state.usedDomains) if (!outOpsets.has(d)) outOpsets.set(d, v);
  const report: OptimizeReport = {
    level,
    passes: rules.map((r) => ({ name: r.name, rewrites: state.counts.get(r.name) ?? 0 })),
    initializersRemoved: state.initializersRemoved,
    nodesBefore: graph.nodes.length,
    nodesAfter: result.nodes.length,
    totalNodesBefore: countNodes(graph),
    totalNodesAfter: countNodes(result),
    rounds: state.rounds,
  };
  return { graph: result, opsets: outOpsets, report };
}

/** Optimize one scope (and, first, the scopes nested in it). */
function optimizeScope(g: Graph, opsets: ReadonlyMap<string, number>, state: RunState, isMain = false): Graph {
  const ed = new GraphEditor(g, opsets, isMain);
  ed.created = state.created;
  optimizeNested(ed, opsets, state);
  const byOp = new Map<string, RewriteRule[]>();
  const everyOp: RewriteRule[] = [];
  for (const r of state.rules) {
    if (r.opTypes.includes('*')) everyOp.push(r);
    for (const op of r.opTypes) {
      if (op === '*') continue;
      const key = `${r.domain ?? ''}\u0000${op}`;
      let list = byOp.get(key);
      if (!list) byOp.set(key, (list = []));
      list.push(r);
    }
  }
  // keep level order when a node matches both specific and '*' rules
  const order = new Map(state.rules.map((r, i) => [r, i]));
  const rulesFor = (n: Node): RewriteRule[] => [...(byOp.get(`${n.domain}\u0000${n.opType}`) ?? []), ...everyOp].sort((a, b) => order.get(a)! - order.get(b)!);
  const ctx: RuleContext = {
    editor: ed,
    options: state.options,
    opset: (domain) => opsets.get(domain),
    useDomain: (domain, version) => state.usedDomains.set(domain, version),
    gaveUp: state.gaveUp,
  };
  let rounds = 0;
  while (rounds < state.options.maxIterations) {
    rounds++;
    ed.invalidateShapes();
    let changed = false;
    for (const n of [...ed.nodes]) {
      if (!ed.contains(n)) continue;
      for (const rule of rulesFor(n)) {
        if (rule.condition(n, ctx) && rule.apply(n, ctx)) {
          state.counts.set(rule.name, (state.counts.get(rule.name) ?? 0) + 1);
          changed = true;
          break;
        }
      }
    }
    if (!changed) break;
  }
  state.rounds = Math.max(state.rounds, rounds);
  removeUnusedInitializers(ed, state);
  return ed.build();
}

/** Replace each node's subgraphs and function body by optimized ones. */
function optimizeNested(ed: GraphEditor, opsets: ReadonlyMap<string, number>, state: RunState): void {
  for (const n of [...ed.nodes]) {
    const subs = n.subgraphs();
    let attrs = n.attrs;
    if (subs.length) {
      const out = Object.create(null) as Record<string, Node['attrs'][string]>;
      let changed = false;
      for (const [k, v] of Object.entries(n.attrs)) {
        if (v instanceof Graph) {
          const o = optimizeScope(v, opsets, state);
          changed ||= o !== v;
          out[k] = o;
        } else if (Array.isArray(v) && v.some((x) => x instanceof Graph)) {
          const list = (v as Graph[]).map((x) => optimizeScope(x, opsets, state));
          changed ||= list.some((x, i) => x !== (v as Graph[])[i]);
          out[k] = Object.freeze(list);
        } else out[k] = v;
      }
      if (changed) attrs = out;
    }
    let body = n.functionBody;
    if (body) {
      const optimized = optimizeScope(body.graph, body.opsets, state);
      if (optimized !== body.graph) {
        // the body runs with its own opsets: give it the domains rules emitted
        const bodyOpsets = new Map(body.opsets);
        for (const [d, v] of state.usedDomains) if (!bodyOpsets.has(d)) bodyOpsets.set(d, v);
        body = { graph: optimized, opsets: bodyOpsets };
      }
    }
    if (attrs !== n.attrs || body !== n.functionBody) ed.withAttrs(n, attrs, body);
  }
}

/** Drop initializers that no node reads and that are neither graph inputs nor graph outputs. */
function removeUnusedInitializers(ed: GraphEditor, state: RunState): void {
  const read = new Set<string>();
  for (const n of ed.nodes) for (const name of nodeReads(n)) read.add(name);
  for (const name of [...ed.initializers.keys()]) {
    if (read.has(name) || ed.isGraphInput(name) || ed.isGraphOutput(name)) continue;
    ed.deleteInitializer(name);
    state.initializersRemoved++;
  }
}
