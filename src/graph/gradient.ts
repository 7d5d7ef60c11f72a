/**
 * ai.onnx.preview.training.Gradient: reverse-mode differentiation of the graph the node sits in.
 *
 * `Gradient(xs=[...], zs=[...], y='Y')` with inputs (values of xs, then of zs) outputs dY/dx for every x in
 * xs, where Y is summed (the seed is a tensor of ones shaped like Y; ONNX's examples use a scalar Y). The
 * forward function is the part of the graph that computes Y: starting from Y, producers are followed back
 * until a name in xs or zs (bound to the node's inputs, so an intermediate value can be differentiated
 * against), a graph input, an initializer or an outer-scope value (constants). That slice is re-run here
 * through runOp (CPU kernels, the model's opset) keeping every intermediate, then walked in reverse order
 * applying each operator's vector-Jacobian product and summing the contributions that meet at a value.
 *
 * Differentiable operators: Add, Sub, Mul, Div, Neg, Identity (with numpy broadcasting: a contribution is
 * summed over the axes an input was broadcast along and reshaped back to its dims), MatMul (1-D operands and
 * broadcast batch dims included), Relu, Sigmoid, Tanh. Any other operator on the path from xs to Y is an
 * UnsupportedFeatureError naming it; operators that only feed constants into the slice need no rule.
 * Only float32, float64 and float16 are differentiated. An x that Y does not depend on gets zeros.
 *
 * Cost: one forward run of the slice plus about two kernel calls per differentiable node.
 */
import { runOp } from '../ops/dispatch.js';
import type { AttrValue } from '../kernels/registry.js';
import { isFloat } from '../tensor/dtype.js';
import { OpValidationError, UnsupportedFeatureError } from '../tensor/errors.js';
import { fmtShape, shapesEqual } from '../tensor/shape.js';
import { fromNumbers, Tensor } from '../tensor/tensor.js';
import type { Graph, Node } from './ir.js';
import { describeValue, isTensor, type OnnxValue } from './values.js';

/** The domain of the Gradient operator. */
export const GRADIENT_DOMAIN = 'ai.onnx.preview.training';

/** Operators `runGradient` can differentiate through. */
export const DIFFERENTIABLE_OPS: ReadonlySet<string> = new Set(['Add', 'Sub', 'Mul', 'Div', 'Neg', 'Identity', 'MatMul', 'Relu', 'Sigmoid', 'Tanh']);

/** What the Gradient operator needs from the executor. */
export interface GradientEnv {
  /** The value bound to `name` in the node's scope (graph inputs, initializers, outer values). */
  lookup(name: string): OnnxValue | undefined;
  /** Opset of the default domain, for re-running the forward nodes as the model wrote them. */
  readonly opset: number;
  /** Threads kernels may use. */
  readonly threads?: number;
}

/** Opset of the helper operators the backward pass calls (ReduceSum with an axes input, ...). */
const HELPER_OPSET = 21;

function fail(node: Node, message: string): never {
  throw new OpValidationError(`${GRADIENT_DOMAIN}.Gradient (node '${node.name}')`, message);
}

function stringsAttr(node: Node, name: string, required: boolean): string[] {
  const v = node.attrs[name];
  if (v === undefined) {
    if (required) fail(node, `attribute '${name}' is required`);
    return [];
  }
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) fail(node, `attribute '${name}' must be a list of strings`);
  return v as string[];
}

/** Run a Gradient node: `inputs` are the values of xs then zs; returns dY/dx per x (owned by the caller). */
export function runGradient(node: Node, inputs: readonly (Tensor | undefined)[], graph: Graph, env: GradientEnv): Tensor[] {
  for (const name of Object.keys(node.attrs)) {
    if (name !== 'xs' && name !== 'zs' && name !== 'y') fail(node, `unknown attribute '${name}'; known attributes: xs, zs, y`);
  }
  const xs = stringsAttr(node, 'xs', true);
  const zs = stringsAttr(node, 'zs', false);
  const yAttr = node.attrs['y'];
  if (typeof yAttr !== 'string' || !yAttr) fail(node, "attribute 'y' is required (the name of the value to differentiate)");
  const y = yAttr;
  const bound = [...xs, ...zs];
  if (inputs.length !== bound.length) fail(node, `got ${inputs.length} inputs; attributes xs and zs name ${bound.length} values (${bound.join(', ')})`);
  if (node.outputs.length > xs.length) fail(node, `has ${node.outputs.length} outputs; xs names ${xs.length} values`);
  if (new Set(bound).size !== bound.length) fail(node, `xs and zs name a value twice (${bound.join(', ')})`);

  const values = new Map<string, Tensor>();
  bound.forEach((name, i) => {
    const t = inputs[i];
    if (!t) fail(node, `input ${i} (value '${name}') is missing`);
    values.set(name, t);
  });
  xs.forEach((name) => {
    const t = values.get(name)!;
    if (!isFloat(t.type)) fail(node, `xs value '${name}' has type ${t.type}; only float32, float64 and float16 values are differentiated`);
  });

  const order = forwardSlice(node, graph, y, new Set(bound));
  const made: Tensor[] = [];
  const opts = (opset: number) => ({ opset, node: node.name, backend: 'cpu' as const, threads: env.threads ?? 1 });
  const call: Call = (op, args, attrs = {}) => {
    const out = runOp(op, args, attrs, opts(HELPER_OPSET));
    made.push(...out);
    return out[0]!;
  };
  call.track = (t) => {
    made.push(t);
    return t;
  };
  const read = (name: string): Tensor => {
    const own = values.get(name);
    if (own) return own;
    const v = env.lookup(name);
    if (!isTensor(v)) fail(node, `the forward graph reads '${name}', which is ${describeValue(v)}; expected a tensor`);
    return v;
  };

  try {
    // forward: re-run the slice, keeping every intermediate
    for (const n of order) {
      const args = n.inputs.map((name) => (name ? read(name) : undefined));
      const out = runOp(n.opType, args, n.attrs, { ...opts(env.opset), node: n.name, numOutputs: n.outputs.length });
      made.push(...out);
      n.outputs.forEach((name, i) => {
        if (name && out[i]) values.set(name, out[i]!);
      });
    }
    const yValue = read(y);
    if (!isFloat(yValue.type)) fail(node, `y value '${y}' has type ${yValue.type}; expected a float tensor`);

    // which values depend on some x (only those need gradients)
    const xSet = new Set(xs);
    const dependsOnX = new Set<string>(xs);
    for (const n of order) {
      if (n.inputs.some((name) => name && dependsOnX.has(name))) for (const o of n.outputs) if (o) dependsOnX.add(o);
    }

    const grads = new Map<string, Tensor>();
    const accumulate = (name: string, g: Tensor): void => {
      const prev = grads.get(name);
      grads.set(name, prev ? call('Add', [prev, g]) : g);
    };
    if (dependsOnX.has(y)) accumulate(y, call.track(fromNumbers(yValue.type, new Float64Array(yValue.size).fill(1), yValue.dims)));

    for (let i = order.length - 1; i >= 0; i--) {
      const n = order[i]!;
      const g = n.outputs[0] ? grads.get(n.outputs[0]) : undefined;
      if (!g) continue;
      const needs = n.inputs.map((name) => !!name && dependsOnX.has(name) && !isConstantBoundary(name, xSet, zs));
      if (!needs.some(Boolean)) continue;
      if (!DIFFERENTIABLE_OPS.has(n.opType) || n.domain !== '') {
        throw new UnsupportedFeatureError(
          `${GRADIENT_DOMAIN}.Gradient (node '${node.name}')`,
          `cannot differentiate through node ${n.label}; supported operators: ${[...DIFFERENTIABLE_OPS].join(', ')}`,
        );
      }
      const args = n.inputs.map((name) => (name ? read(name) : undefined));
      const out = values.get(n.outputs[0]!)!;
      const contributions = vectorJacobian(n, args, out, g, call);
      contributions.forEach((c, k) => {
        const name = n.inputs[k];
        if (c && name && needs[k]) accumulate(name, c);
      });
    }

    return node.outputs.map((_, i) => {
      const x = values.get(xs[i]!)!;
      const g = grads.get(xs[i]!);
      if (!g) return fromNumbers(x.type, new Float64Array(x.size), x.dims);
      if (!shapesEqual(g.dims, x.dims)) fail(node, `internal: gradient of '${xs[i]}' has shape ${fmtShape(g.dims)}, expected ${fmtShape(x.dims)}`);
      return g.reshape(g.dims);
    });
  } finally {
    for (const t of made) t.dispose();
  }
}

/** zs values are held constant: no gradient flows into them (nor past them). */
function isConstantBoundary(name: string, xs: ReadonlySet<string>, zs: readonly string[]): boolean {
  return !xs.has(name) && zs.includes(name);
}

/**
 * The nodes that compute `y`, in an order that runs producers first: a depth-first walk back from y that
 * stops at `bound` names (xs and zs) and at values no node of `graph` produces.
 */
function forwardSlice(gradNode: Node, graph: Graph, y: string, bound: ReadonlySet<string>): Node[] {
  const producer = new Map<string, Node>();
  for (const n of graph.nodes) for (const o of n.outputs) if (o) producer.set(o, n);
  const order: Node[] = [];
  const state = new Map<Node, 1 | 2>();
  const visit = (name: string): void => {
    if (bound.has(name)) return;
    const n = producer.get(name);
    if (!n) return;
    if (n === gradNode) fail(gradNode, `'${name}' is an output of the Gradient node itself`);
    const s = state.get(n);
    if (s === 2) return;
    if (s === 1) fail(gradNode, `the graph computing '${y}' has a cycle through node ${n.label}`);
    if (n.subgraphs().length > 0 || n.functionBody) {
      throw new UnsupportedFeatureError(`${GRADIENT_DOMAIN}.Gradient (node '${gradNode.name}')`, `cannot differentiate through control flow or function node ${n.label}`);
    }
    state.set(n, 1);
    for (const i of n.inputs) if (i) visit(i);
    state.set(n, 2);
    order.push(n);
  };
  if (!producer.has(y) && !bound.has(y)) {
    const known = graph.inputs.some((i) => i.name === y) || graph.initializers.has(y);
    if (!known) fail(gradNode, `attribute 'y' names '${y}', which no node, graph input or initializer provides`);
  }
  visit(y);
  return order;
}

/** Runs a helper operator, keeping its outputs for disposal; `track` keeps a tensor made otherwise. */
interface Call {
  (op: string, args: readonly (Tensor | undefined)[], attrs?: Readonly<Record<string, AttrValue | undefined>>): Tensor;
  track(t: Tensor): Tensor;
}

/**
 * The contributions of `g` (dL/dOut) to each input of `n`: dL/dIn_k = vjp_k(g), summed over broadcast axes
 * and shaped like the input. Inputs with no contribution get undefined.
 */
function vectorJacobian(n: Node, args: readonly (Tensor | undefined)[], out: Tensor, g: Tensor, call: Call): (Tensor | undefined)[] {
  const [a, b] = args;
  const unb = (t: Tensor, like: Tensor): Tensor => unbroadcast(t, like.dims, call);
  switch (n.opType) {
    case 'Identity':
      return [g];
    case 'Neg':
      return [call('Neg', [g])];
    case 'Add':
      return [unb(g, a!), unb(g, b!)];
    case 'Sub':
      return [unb(g, a!), unb(call('Neg', [g]), b!)];
    case 'Mul':
      return [unb(call('Mul', [g, b!]), a!), unb(call('Mul', [g, a!]), b!)];
    case 'Div': {
      // d(a/b)/da = 1/b; d(a/b)/db = -a/b^2 = -out/b
      const ga = call('Div', [g, b!]);
      const gb = call('Neg', [call('Mul', [ga, out])]);
      return [unb(ga, a!), unb(gb, b!)];
    }
    case 'Relu': {
      const zero = scalarLike(a!, 0, call);
      const mask = call('Cast', [call('Greater', [a!, zero])], { to: onnxCode(a!.type) });
      return [call('Mul', [g, mask])];
    }
    case 'Sigmoid': {
      // out * (1 - out)
      const one = scalarLike(out, 1, call);
      return [call('Mul', [g, call('Mul', [out, call('Sub', [one, out])])])];
    }
    case 'Tanh': {
      const one = scalarLike(out, 1, call);
      return [call('Mul', [g, call('Sub', [one, call('Mul', [out, out])])])];
    }
    case 'MatMul':
      return matMulVjp(a!, b!, g, call);
    default:
      return [];
  }
}

function onnxCode(type: Tensor['type']): number {
  return type === 'float64' ? 11 : type === 'float16' ? 10 : 1;
}

function scalarLike(t: Tensor, value: number, call: Call): Tensor {
  return call.track(fromNumbers(t.type, [value], []));
}

/** Sum `t` over the axes along which `dims` was broadcast to t's shape, then reshape to `dims`. */
function unbroadcast(t: Tensor, dims: readonly number[], call: Call): Tensor {
  if (shapesEqual(t.dims, dims)) return t;
  const lead = t.rank - dims.length;
  const axes: number[] = [];
  for (let i = 0; i < t.rank; i++) {
    if (i < lead || (dims[i - lead] === 1 && t.dims[i] !== 1)) axes.push(i);
  }
  const summed = axes.length ? call('ReduceSum', [t, call.track(dimsTensor(axes))], { keepdims: 1 }) : t;
  return call('Reshape', [summed, call.track(dimsTensor(dims))]);
}

/**
 * MatMul: with A [..., m, k], B [..., k, n], G [..., m, n]: dA = G B^T, dB = A^T G, each summed over
 * broadcast batch axes. A 1-D A is a row [1, k] and a 1-D B a column [k, 1] (numpy), so G gets the dropped
 * axis back first and the results are reshaped to the operands' own dims.
 */
function matMulVjp(a: Tensor, b: Tensor, g: Tensor, call: Call): Tensor[] {
  const a2 = a.rank === 1 ? call.track(a.reshape([1, a.dims[0]!])) : a;
  const b2 = b.rank === 1 ? call.track(b.reshape([b.dims[0]!, 1])) : b;
  let gDims = [...g.dims];
  if (a.rank === 1) gDims.splice(gDims.length - (b.rank === 1 ? 0 : 1), 0, 1);
  if (b.rank === 1) gDims = [...gDims, 1];
  const g2 = call.track(g.reshape(gDims));
  const swap = (t: Tensor): Tensor => {
    const perm = [...Array(t.rank).keys()];
    [perm[t.rank - 2], perm[t.rank - 1]] = [perm[t.rank - 1]!, perm[t.rank - 2]!];
    return call('Transpose', [t], { perm });
  };
  const ga = call('MatMul', [g2, swap(b2)]);
  const gb = call('MatMul', [swap(a2), g2]);
  const result = [unbroadcast(ga, a2.dims, call), unbroadcast(gb, b2.dims, call)];
  return [call('Reshape', [result[0]!, call.track(dimsTensor(a.dims))]), call('Reshape', [result[1]!, call.track(dimsTensor(b.dims))])];
}

function dimsTensor(dims: readonly number[]): Tensor {
  return new Tensor('int64', BigInt64Array.from(dims, BigInt), [dims.length]);
}
