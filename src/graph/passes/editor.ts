/**
 * GraphEditor: the mutable working copy of one graph scope that rewrite rules edit.
 *
 * The input Graph is never touched: the editor holds its own node list (immutable Node objects, replaced
 * rather than changed), its own initializer map and value_info map, and builds a fresh Graph at the end
 * (`build`, which also renumbers Node.index). Indexes (producer and consumers of each value) are rebuilt
 * lazily after a change. A node "consumes" a value when it names it as an input or when one of its
 * subgraphs reads it from the enclosing scope, so a value an If branch reads is never treated as unused.
 *
 * Constants are this scope's initializers that are not graph inputs (an initializer that is also an input
 * can be overridden by a feed). Values from enclosing scopes are never constants here, even when the outer
 * graph holds them as initializers: a subgraph never folds them.
 */
import { TesseraError } from '../../tensor/errors.js';
import { Tensor } from '../../tensor/tensor.js';
import { Graph, Node, type FunctionBody, type ValueInfo } from '../ir.js';
import { freeVariables, nodeReads } from '../plan.js';
import { isStatic, propagateShapes, type KnownValue } from './shapes.js';

/** Build a Node (its index is set when the graph is built). */
export function makeNode(
  name: string,
  opType: string,
  domain: string,
  inputs: readonly string[],
  outputs: readonly string[],
  attrs: Readonly<Record<string, unknown>>,
  functionBody?: FunctionBody,
): Node {
  const a = Object.create(null) as Record<string, unknown>;
  for (const k of Object.keys(attrs)) if (attrs[k] !== undefined) a[k] = attrs[k];
  return new Node(name, opType, domain, [...inputs], [...outputs], a as Node['attrs'], -1, functionBody);
}

/** Names a graph defines itself (inputs, initializers, node outputs). */
function localNames(g: Graph): Set<string> {
  const s = new Set<string>(g.inputs.map((i) => i.name));
  for (const k of g.initializers.keys()) s.add(k);
  for (const n of g.nodes) for (const o of n.outputs) if (o) s.add(o);
  return s;
}

/**
 * `g` with every read of the enclosing-scope name `from` replaced by `to`, recursively through nested
 * subgraphs. Returns `g` itself when `g` does not read `from`. Throws when `g` defines `to` itself (the new
 * name would be captured); callers check `canRenameFree` first.
 */
export function renameFree(g: Graph, from: string, to: string): Graph {
  if (!freeVariables(g).has(from)) return g;
  if (localNames(g).has(to)) throw new TesseraError(`renameFree: graph '${g.name}' defines '${to}' itself`);
  const nodes = g.nodes.map((n) => {
    const reads = nodeReads(n);
    if (!reads.includes(from)) return n;
    return new Node(n.name, n.opType, n.domain, n.inputs.map((i) => (i === from ? to : i)), n.outputs, renameInAttrs(n.attrs, from, to), n.index, n.functionBody);
  });
  const outputs = g.outputs.map((o) => (o.name === from ? { ...o, name: to } : o));
  return new Graph(g.name, nodes, g.inputs, outputs, g.initializers, g.valueInfo);
}

function renameInAttrs(attrs: Node['attrs'], from: string, to: string): Node['attrs'] {
  const out = Object.create(null) as Record<string, Node['attrs'][string]>;
  for (const [k, v] of Object.entries(attrs)) {
    if (v instanceof Graph) out[k] = renameFree(v, from, to);
    else if (Array.isArray(v) && v.some((x) => x instanceof Graph)) out[k] = Object.freeze((v as Graph[]).map((x) => renameFree(x, from, to)));
    else out[k] = v;
  }
  return out;
}

/** True when `to` can replace free reads of `from` in `g` without capture (checked recursively). */
export function canRenameFree(g: Graph, from: string, to: string): boolean {
  if (!freeVariables(g).has(from)) return true;
  if (localNames(g).has(to)) return false;
  return g.nodes.every((n) => n.subgraphs().every((s) => canRenameFree(s, from, to)));
}

interface Index {
  producer: Map<string, Node>;
  consumers: Map<string, Node[]>;
  position: Map<Node, number>;
}

/** The working copy of one graph scope. */
export class GraphEditor {
  readonly name: string;
  readonly inputs: readonly ValueInfo[];
  readonly outputs: readonly ValueInfo[];
  readonly valueInfo: Map<string, ValueInfo>;
  readonly initializers: Map<string, Tensor>;
  private nodeList: Node[];
  private readonly inputNames: Set<string>;
  private readonly outputNames: Set<string>;
  private index?: Index;
  private shapes?: Map<string, KnownValue>;
  /** Set once anything was edited. */
  changed = false;

  constructor(
    readonly source: Graph,
    /** Opsets the scope's nodes run with. */
    readonly opsets: ReadonlyMap<string, number>,
    /** Whether declared input dims are reliable (the main graph's are checked against feeds). */
    private readonly trustInputShapes = true,
  ) {
    this.name = source.name;
    this.inputs = source.inputs;
    this.outputs = source.outputs;
    this.valueInfo = new Map(source.valueInfo);
    this.initializers = new Map(source.initializers);
    this.nodeList = [...source.nodes];
    this.inputNames = new Set(source.inputs.map((i) => i.name));
    this.outputNames = new Set(source.outputs.map((o) => o.name));
  }

  /** Current nodes in order. */
  get nodes(): readonly Node[] {
    return this.nodeList;
  }

  private idx(): Index {
    if (this.index) return this.index;
    const producer = new Map<string, Node>();
    const consumers = new Map<string, Node[]>();
    const position = new Map<Node, number>();
    this.nodeList.forEach((n, i) => {
      position.set(n, i);
      for (const o of n.outputs) if (o) producer.set(o, n);
      for (const name of new Set(nodeReads(n))) {
        let list = consumers.get(name);
        if (!list) consumers.set(name, (list = []));
        list.push(n);
      }
    });
    this.index = { producer, consumers, position };
    return this.index;
  }

  private touch(): void {
    this.index = undefined;
    this.changed = true;
  }

  /** True while `n` is part of the graph. */
  contains(n: Node): boolean {
    return this.idx().position.has(n);
  }

  /** The node producing `name`, if this scope has one. */
  producer(name: string): Node | undefined {
    return this.idx().producer.get(name);
  }

  /** Nodes reading `name` (as an input or through a subgraph), each once. */
  consumers(name: string): readonly Node[] {
    return this.idx().consumers.get(name) ?? [];
  }

  isGraphOutput(name: string): boolean {
    return this.outputNames.has(name);
  }

  isGraphInput(name: string): boolean {
    return this.inputNames.has(name);
  }

  /** True when nothing reads `name` and it is not a graph output. */
  isUnused(name: string): boolean {
    return !this.isGraphOutput(name) && this.consumers(name).length === 0;
  }

  /** The constant tensor named `name` (an initializer of this scope that no feed can override). */
  constant(name: string): Tensor | undefined {
    if (!name || this.inputNames.has(name)) return undefined;
    return this.initializers.get(name);
  }

  /** True when `name` is defined in this scope (input, initializer or node output). */
  definesLocally(name: string): boolean {
    return this.inputNames.has(name) || this.initializers.has(name) || this.idx().producer.has(name);
  }

  /** Static knowledge (dtype, dims) of a value; computed once per round (see `invalidateShapes`). */
  known(name: string): KnownValue | undefined {
    const c = this.constant(name);
    if (c) return { dtype: c.type, dims: c.dims };
    if (!this.shapes) {
      this.shapes = propagateShapes({ inputs: this.inputs, outputs: this.outputs, valueInfo: this.valueInfo }, this.nodeList, (n) => this.constant(n), this.opsets, this.trustInputShapes);
    }
    return this.shapes.get(name);
  }

  /** Fully known dims of a value, or undefined. */
  staticDims(name: string): readonly number[] | undefined {
    const d = this.known(name)?.dims;
    return isStatic(d) ? d : undefined;
  }

  /**
   * Forget propagated shapes. Rewrites keep the meaning of every surviving value, so shapes stay valid
   * across a round; the driver recomputes them each round to pick up newly folded constants.
   */
  invalidateShapes(): void {
    this.shapes = undefined;
  }

  /** Replace `old` by `replacements` at its position. */
  replaceNode(old: Node, ...replacements: Node[]): void {
    const i = this.idx().position.get(old);
    if (i === undefined) throw new TesseraError(`GraphEditor: node ${old.label} is not in graph '${this.name}'`);
    this.nodeList.splice(i, 1, ...replacements);
    this.touch();
  }

  /** Remove nodes. */
  removeNodes(...nodes: Node[]): void {
    const drop = new Set(nodes);
    this.nodeList = this.nodeList.filter((n) => !drop.has(n));
    this.touch();
  }

  /**
   * Tensors the rewrites of one optimizeGraph call created (set by the optimizer): those that do not survive
   * into the final graph are disposed at its end, so folding in several rounds leaves no live intermediates.
   */
  created: Set<Tensor> | undefined;

  /** Add (or replace) an initializer. */
  setInitializer(name: string, t: Tensor): void {
    this.initializers.set(name, t);
    this.created?.add(t);
    this.touch();
  }

  /** Drop an initializer (the tensor is not disposed: the source graph may still own it). */
  deleteInitializer(name: string): void {
    this.initializers.delete(name);
    this.touch();
  }

  /**
   * True when every read of `from` in this scope can be redirected to `to` (no subgraph defines `to`
   * itself, which would capture the new name).
   */
  canReplaceUses(from: string, to: string): boolean {
    return this.consumers(from).every((n) => n.subgraphs().every((s) => canRenameFree(s, from, to)));
  }

  /** Redirect every read of `from` (node inputs and subgraph free reads) to `to`. Graph outputs are not renamed. */
  replaceUses(from: string, to: string): void {
    for (const n of [...this.consumers(from)]) {
      const updated = new Node(n.name, n.opType, n.domain, n.inputs.map((i) => (i === from ? to : i)), n.outputs, renameInAttrs(n.attrs, from, to), n.index, n.functionBody);
      this.replaceNode(n, updated);
    }
    this.touch();
  }

  /** Rename the output `from` of its producer to `to`. */
  renameOutput(producer: Node, from: string, to: string): Node {
    const updated = new Node(producer.name, producer.opType, producer.domain, producer.inputs, producer.outputs.map((o) => (o === from ? to : o)), producer.attrs, producer.index, producer.functionBody);
    this.replaceNode(producer, updated);
    return updated;
  }

  /** Replace a node's attributes (used to swap in optimized subgraphs). */
  withAttrs(n: Node, attrs: Node['attrs'], functionBody = n.functionBody): Node {
    const updated = new Node(n.name, n.opType, n.domain, n.inputs, n.outputs, attrs, n.index, functionBody);
    this.replaceNode(n, updated);
    return updated;
  }

  /** The edited graph: a new Graph (or the source when nothing changed), nodes renumbered. */
  build(): Graph {
    if (!this.changed) return this.source;
    const nodes = this.nodeList.map((n, i) => (n.index === i ? n : new Node(n.name, n.opType, n.domain, n.inputs, n.outputs, n.attrs, i, n.functionBody)));
    // value_info of values that no longer exist is dropped; initializers keep their own types
    const alive = new Set<string>();
    for (const n of nodes) for (const o of n.outputs) if (o) alive.add(o);
    const valueInfo = new Map([...this.valueInfo].filter(([k]) => alive.has(k)));
    return new Graph(this.name, nodes, this.inputs, this.outputs, new Map(this.initializers), valueInfo);
  }
}

/** Every tensor a graph holds: initializers and tensor attributes, in subgraphs and function bodies too. */
export function graphTensors(g: Graph, out: Tensor[] = []): Tensor[] {
  for (const t of g.initializers.values()) out.push(t);
  for (const n of g.nodes) {
    for (const v of Object.values(n.attrs)) {
      if (v instanceof Tensor) out.push(v);
      else if (Array.isArray(v)) for (const x of v) if (x instanceof Tensor) out.push(x);
    }
    for (const sub of n.subgraphs()) graphTensors(sub, out);
    if (n.functionBody) graphTensors(n.functionBody.graph, out);
  }
  return out;
}
