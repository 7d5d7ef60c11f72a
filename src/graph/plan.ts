/**
 * Execution planning: the order nodes run in and when each intermediate value can be freed.
 *
 * A node depends on the producers of its inputs and, for If/Loop/Scan and function calls, on the producers
 * of the outer-scope values its subgraphs read (their free variables). `planGraph` checks that every value a
 * node reads exists (graph input, initializer, an earlier node's output, or a name of an enclosing scope),
 * orders the nodes topologically (Kahn's algorithm, ties broken by file order, so a sorted file keeps its
 * order; a cycle is reported with the nodes on it), keeps only the nodes the requested outputs need, and
 * computes for every intermediate the step after which no node reads it: the executor disposes it there,
 * so peak memory is the largest set of simultaneously live intermediates rather than all of them.
 * Cost: O(nodes + edges) per plan.
 */
import { GraphError } from './errors.js';
import type { Graph, Node } from './ir.js';

/** One step of a plan. */
export interface PlanStep {
  readonly node: Node;
  /** Intermediate values (produced in this graph) to dispose once this step has run. */
  readonly release: readonly string[];
}

/** The order of execution and the lifetimes of values for one graph and one set of outputs. */
export interface ExecutionPlan {
  readonly graph: Graph;
  readonly steps: readonly PlanStep[];
  /** The outputs this plan produces. */
  readonly outputs: readonly string[];
  /** Names read from enclosing scopes. */
  readonly freeVariables: ReadonlySet<string>;
}

const freeVarCache = new WeakMap<Graph, ReadonlySet<string>>();

/** Names a graph reads but does not define (values it takes from enclosing scopes). */
export function freeVariables(g: Graph): ReadonlySet<string> {
  const cached = freeVarCache.get(g);
  if (cached) return cached;
  const defined = new Set<string>(g.inputs.map((i) => i.name));
  for (const name of g.initializers.keys()) defined.add(name);
  for (const n of g.nodes) for (const o of n.outputs) if (o) defined.add(o);
  const free = new Set<string>();
  for (const n of g.nodes) for (const name of nodeReads(n)) if (!defined.has(name)) free.add(name);
  for (const o of g.outputs) if (!defined.has(o.name)) free.add(o.name);
  freeVarCache.set(g, free);
  return free;
}

/** Every value name a node reads: its inputs and its subgraphs' free variables (function bodies are closed). */
export function nodeReads(n: Node): string[] {
  const out: string[] = [];
  for (const name of n.inputs) if (name) out.push(name);
  for (const sub of n.subgraphs()) for (const name of freeVariables(sub)) out.push(name);
  return out;
}

/**
 * Plan `g` for `outputs` (default: all graph outputs). `outer` holds the names enclosing scopes provide;
 * a name found nowhere is a GraphError.
 */
export function planGraph(g: Graph, outer: ReadonlySet<string> = new Set(), outputs?: readonly string[]): ExecutionPlan {
  const nodes = g.nodes;
  const producer = new Map<string, number>();
  const local = new Set<string>(g.inputs.map((i) => i.name));
  for (const name of g.initializers.keys()) local.add(name);
  nodes.forEach((n, i) => {
    for (const o of n.outputs) {
      if (!o) continue;
      const prev = producer.get(o);
      if (prev !== undefined) throw new GraphError(`graph '${g.name}': value '${o}' is produced by both node ${nodes[prev]!.label} and node ${n.label}`);
      if (local.has(o)) throw new GraphError(`graph '${g.name}': node ${n.label} produces '${o}', which is already a graph input or initializer`);
      producer.set(o, i);
    }
  });
  const reads = nodes.map(nodeReads);
  const free = new Set<string>();
  const resolve = (name: string, who: string): number | undefined => {
    const p = producer.get(name);
    if (p !== undefined) return p;
    if (local.has(name)) return undefined;
    if (outer.has(name)) {
      free.add(name);
      return undefined;
    }
    throw new GraphError(`graph '${g.name}': ${who} reads '${name}', which no node, graph input or initializer provides`);
  };

  // which nodes the requested outputs need
  const wanted = outputs ?? g.outputs.map((o) => o.name);
  const needed = new Uint8Array(nodes.length);
  const stack: number[] = [];
  for (const name of wanted) {
    const p = resolve(name, `output '${name}'`);
    if (p !== undefined && !needed[p]) {
      needed[p] = 1;
      stack.push(p);
    }
  }
  while (stack.length) {
    const i = stack.pop()!;
    for (const name of reads[i]!) {
      const p = resolve(name, `node ${nodes[i]!.label}`);
      if (p !== undefined && !needed[p]) {
        needed[p] = 1;
        stack.push(p);
      }
    }
  }
  // validate the nodes that are not needed too, so a broken graph fails whatever is fetched
  nodes.forEach((n, i) => {
    if (!needed[i]) for (const name of reads[i]!) resolve(name, `node ${n.label}`);
  });

  // Kahn's algorithm over needed nodes; ready nodes are taken in file order
  const indegree = new Int32Array(nodes.length);
  const dependents: number[][] = nodes.map(() => []);
  for (let i = 0; i < nodes.length; i++) {
    if (!needed[i]) continue;
    const seen = new Set<number>();
    for (const name of reads[i]!) {
      const p = producer.get(name);
      if (p === undefined || seen.has(p)) continue;
      if (p === i) throw new GraphError(`graph '${g.name}': node ${nodes[i]!.label} reads its own output '${name}' (a cycle)`);
      seen.add(p);
      indegree[i]!++;
      dependents[p]!.push(i);
    }
  }
  const ready = new MinHeap();
  for (let i = 0; i < nodes.length; i++) if (needed[i] && indegree[i] === 0) ready.push(i);
  const order: number[] = [];
  while (ready.size > 0) {
    const i = ready.pop();
    order.push(i);
    for (const d of dependents[i]!) if (--indegree[d]! === 0) ready.push(d);
  }
  const neededCount = needed.reduce((a, b) => a + b, 0);
  if (order.length < neededCount) {
    // nodes left are on a cycle or downstream of one; peel off the downstream ones (no remaining dependents)
    const left = new Set<number>();
    for (let i = 0; i < nodes.length; i++) if (needed[i] && indegree[i]! > 0) left.add(i);
    for (let changed = true; changed; ) {
      changed = false;
      for (const i of left) {
        if (!dependents[i]!.some((d) => left.has(d))) {
          left.delete(i);
          changed = true;
        }
      }
    }
    const stuck = [...left].sort((a, b) => a - b).map((i) => nodes[i]!.label);
    throw new GraphError(`graph '${g.name}': the graph has a cycle through ${stuck.length} node(s): ${stuck.slice(0, 10).join(', ')}${stuck.length > 10 ? ', ...' : ''}`);
  }

  // last use of each intermediate; graph outputs are never released
  const keep = new Set(wanted);
  const lastUse = new Map<string, number>();
  order.forEach((i, step) => {
    for (const name of reads[i]!) if (producer.has(name)) lastUse.set(name, step);
  });
  const release: string[][] = order.map(() => []);
  order.forEach((i, step) => {
    for (const o of nodes[i]!.outputs) {
      if (!o || keep.has(o)) continue;
      const last = lastUse.get(o);
      // an output nobody reads is released right after it is made
      release[last ?? step]!.push(o);
    }
  });
  return {
    graph: g,
    steps: order.map((i, step) => ({ node: nodes[i]!, release: release[step]! })),
    outputs: wanted,
    freeVariables: free,
  };
}

/** Names visible inside `g`'s subgraphs: everything `g` defines plus what its own scope sees. */
export function scopeNames(g: Graph, outer: ReadonlySet<string>): Set<string> {
  const s = new Set(outer);
  for (const i of g.inputs) s.add(i.name);
  for (const name of g.initializers.keys()) s.add(name);
  for (const n of g.nodes) for (const o of n.outputs) if (o) s.add(o);
  return s;
}

/** A small binary min-heap of node indices. */
class MinHeap {
  private readonly a: number[] = [];
  get size(): number {
    return this.a.length;
  }
  push(v: number): void {
    const a = this.a;
    a.push(v);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p]! <= v) break;
      a[i] = a[p]!;
      i = p;
    }
    a[i] = v;
  }
  pop(): number {
    const a = this.a;
    const top = a[0]!;
    const last = a.pop()!;
    if (a.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= a.length) break;
        const r = l + 1;
        const c = r < a.length && a[r]! < a[l]! ? r : l;
        if (a[c]! >= last) break;
        a[i] = a[c]!;
        i = c;
      }
      a[i] = last;
    }
    return top;
  }
}
