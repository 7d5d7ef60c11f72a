/**
 * Static analysis of a model for `tessera inspect`: value shapes (propagated from the declared inputs, with
 * --shape overrides, by src/graph/passes/shapes.ts), parameters (initializer elements) per node, and FLOPs
 * per node from the shapes.
 *
 * FLOP counts (a multiply-add is 2 FLOPs; the usual convention of model zoos):
 *   Conv            2 * N * Cout * prod(out spatial) * (Cin / group) * prod(kernel)  (+ N*Cout*spatial bias)
 *   ConvTranspose   2 * N * Cin * prod(in spatial) * (Cout / group) * prod(kernel)
 *   MatMul          2 * prod(output dims) * K            Gemm  2 * M * N * K (+ M * N for C)
 *   LSTM/GRU/RNN    2 * dirs * seq * batch * gates * H * (I + H)   (gates 4, 3, 1)
 *   pooling         prod(output) * prod(kernel)          reductions, Softmax, normalizations: ~ a few per input
 *   elementwise     one per output element               data movement (Reshape, Transpose, ...): 0
 * Nodes whose shapes cannot be inferred (symbolic dims without --shape, data-dependent shapes, subgraphs)
 * have unknown FLOPs and are counted separately.
 */
import type { Graph, Model, Node } from '../graph/ir.js';
import { propagateShapes, type KnownValue } from '../graph/passes/index.js';
import { bytesPerElement } from '../tensor/dtype.js';
import type { Tensor } from '../tensor/tensor.js';

/** One node of the analysis. */
export interface NodeInfo {
  readonly index: number;
  readonly name: string;
  readonly opType: string;
  readonly domain: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  /** Output dims (null entries unknown; undefined when the rank is unknown). */
  readonly outputShapes: readonly (readonly (number | null)[] | undefined)[];
  /** Elements of the initializers this node reads. */
  readonly params: number;
  /** FLOPs, or undefined when the shapes are not known. */
  readonly flops: number | undefined;
}

/** The whole analysis. */
export interface ModelAnalysis {
  readonly producer: string;
  readonly irVersion: number;
  readonly opsets: Record<string, number>;
  readonly inputs: { name: string; type?: string; shape?: (number | string | null)[] }[];
  readonly outputs: { name: string; type?: string; shape?: (number | null)[] }[];
  readonly nodes: NodeInfo[];
  /** Node count per op type, most frequent first. */
  readonly opCounts: Record<string, number>;
  /** FLOPs per op type (known nodes only). */
  readonly opFlops: Record<string, number>;
  readonly params: number;
  readonly paramBytes: number;
  readonly flops: number;
  /** Nodes whose FLOPs are unknown. */
  readonly unknownFlopNodes: number;
  /** Nodes inside If/Loop/Scan bodies (not listed in `nodes`). */
  readonly subgraphNodes: number;
}

const ZERO_FLOP_OPS = new Set([
  'Reshape', 'Flatten', 'Squeeze', 'Unsqueeze', 'Transpose', 'Identity', 'Shape', 'Size', 'Constant', 'ConstantOfShape',
  'Concat', 'Split', 'Slice', 'Gather', 'GatherElements', 'GatherND', 'Expand', 'Tile', 'Pad', 'DepthToSpace', 'SpaceToDepth',
  'Cast', 'CastLike', 'Dropout', 'Range', 'NonZero', 'ScatterND', 'ScatterElements', 'OneHot', 'Trilu',
]);
const PER_INPUT_OPS: ReadonlyMap<string, number> = new Map([
  ['Softmax', 5], ['LogSoftmax', 5], ['BatchNormalization', 2], ['InstanceNormalization', 5], ['LayerNormalization', 5],
  ['GroupNormalization', 5], ['LpNormalization', 3], ['MeanVarianceNormalization', 5], ['GlobalAveragePool', 1], ['GlobalMaxPool', 1],
  ['ReduceSum', 1], ['ReduceMean', 1], ['ReduceMax', 1], ['ReduceMin', 1], ['ReduceProd', 1], ['ReduceL2', 2], ['ReduceSumSquare', 2],
  ['ReduceL1', 2], ['ReduceLogSumExp', 3], ['ArgMax', 1], ['ArgMin', 1], ['CumSum', 1], ['TopK', 1],
]);

function prod(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

function ints(v: unknown): number[] | undefined {
  return Array.isArray(v) && v.every((x) => typeof x === 'number') ? (v as number[]) : undefined;
}

/** FLOPs of one node given static dims of its values (undefined when unknown). */
export function nodeFlops(n: Node, dimsOf: (name: string) => readonly number[] | undefined): number | undefined {
  const op = n.domain === 'com.tessera' ? n.opType.replace(/^Fused/, '') : n.domain === '' ? n.opType : undefined;
  if (!op) return undefined;
  if (ZERO_FLOP_OPS.has(op)) return 0;
  const out = n.outputs[0] ? dimsOf(n.outputs[0]) : undefined;
  const x = n.inputs[0] ? dimsOf(n.inputs[0]) : undefined;
  const w = n.inputs[1] ? dimsOf(n.inputs[1]) : undefined;
  switch (op) {
    case 'Conv':
    case 'ConvInteger':
    case 'QLinearConv': {
      const weight = op === 'QLinearConv' ? (n.inputs[3] ? dimsOf(n.inputs[3]) : undefined) : w;
      if (!out || !weight) return undefined;
      // weight [Cout, Cin / group, k...]: each output element is Cin / group * prod(k) multiply-adds
      const macs = prod(out) * weight[1]! * prod(weight.slice(2));
      const hasBias = op === 'Conv' && !!n.inputs[2];
      return 2 * macs + (hasBias ? prod(out) : 0);
    }
    case 'ConvTranspose': {
      if (!x || !w) return undefined;
      // weight [Cin, Cout / group, k...]: each input element scatters into Cout / group * prod(k) outputs
      return 2 * prod(x) * w[1]! * prod(w.slice(2));
    }
    case 'MatMul':
    case 'MatMulInteger':
    case 'QLinearMatMul': {
      if (!out || !x) return undefined;
      const k = x[x.length - 1]!;
      return 2 * prod(out) * k;
    }
    case 'Gemm': {
      if (!out || !x) return undefined;
      const transA = n.attrs['transA'] === 1;
      const k = x.length === 2 ? (transA ? x[0]! : x[1]!) : 1;
      return 2 * prod(out) * k + (n.inputs[2] ? prod(out) : 0);
    }
    case 'LSTM':
    case 'GRU':
    case 'RNN': {
      if (!x || !w) return undefined;
      const gates = op === 'LSTM' ? 4 : op === 'GRU' ? 3 : 1;
      const [dirs, gh] = [w[0]!, w[1]!];
      const hidden = gh / gates;
      const [seq, batch, inputSize] = n.attrs['layout'] === 1 ? [x[1]!, x[0]!, x[2]!] : [x[0]!, x[1]!, x[2]!];
      return 2 * dirs * seq * batch * gh * (inputSize + hidden);
    }
    case 'MaxPool':
    case 'AveragePool':
    case 'LpPool': {
      const kernel = ints(n.attrs['kernel_shape']);
      if (!out || !kernel) return undefined;
      return prod(out) * prod(kernel);
    }
    case 'Einsum':
    case 'Attention':
      return undefined;
    default: {
      const per = PER_INPUT_OPS.get(op);
      if (per !== undefined) return x ? per * prod(x) : undefined;
      // elementwise and anything else: one per output element
      return out ? prod(out) : undefined;
    }
  }
}

/** Analyse `model`'s main graph; `shapes` fix input dims (e.g. symbolic ones). */
export function analyzeModel(model: Model, shapes: ReadonlyMap<string, readonly number[]> = new Map()): ModelAnalysis {
  const g = model.graph;
  const inputs = g.inputs.map((v) => {
    const fixed = shapes.get(v.name);
    if (!fixed || v.type?.kind !== 'tensor') return v;
    return { ...v, type: { ...v.type, shape: fixed } };
  });
  const isInput = new Set(g.inputs.map((i) => i.name));
  const constant = (name: string): Tensor | undefined => (isInput.has(name) ? undefined : g.initializers.get(name));
  const known = propagateShapes({ inputs, outputs: g.outputs, valueInfo: g.valueInfo }, g.nodes, constant, model.opsets);
  const dimsOf = (name: string): readonly number[] | undefined => {
    const init = g.initializers.get(name);
    if (init) return init.dims;
    const k: KnownValue | undefined = known.get(name);
    return k?.dims && k.dims.every((d) => d !== null) ? (k.dims as number[]) : undefined;
  };
  const nodes: NodeInfo[] = g.nodes.map((n) => {
    let params = 0;
    for (const name of n.inputs) {
      const t = name ? g.initializers.get(name) : undefined;
      if (t && !isInput.has(name)) params += t.size;
    }
    return {
      index: n.index,
      name: n.name,
      opType: n.domain ? `${n.domain}.${n.opType}` : n.opType,
      domain: n.domain,
      inputs: n.inputs,
      outputs: n.outputs,
      outputShapes: n.outputs.map((o) => (o ? (known.get(o)?.dims ?? (g.initializers.get(o)?.dims as (number | null)[] | undefined)) : undefined)),
      params,
      flops: n.subgraphs().length ? undefined : nodeFlops(n, dimsOf),
    };
  });
  let params = 0;
  let paramBytes = 0;
  for (const [name, t] of g.initializers) {
    if (isInput.has(name)) continue;
    params += t.size;
    paramBytes += t.size * bytesPerElement(t.type);
  }
  const opCounts: Record<string, number> = {};
  const opFlops: Record<string, number> = {};
  let flops = 0;
  let unknown = 0;
  for (const n of nodes) {
    opCounts[n.opType] = (opCounts[n.opType] ?? 0) + 1;
    if (n.flops === undefined) unknown++;
    else {
      flops += n.flops;
      opFlops[n.opType] = (opFlops[n.opType] ?? 0) + n.flops;
    }
  }
  const sortedCounts = Object.fromEntries(Object.entries(opCounts).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])));
  const sortedFlops = Object.fromEntries(Object.entries(opFlops).sort((a, b) => b[1] - a[1]));
  return {
    producer: `${model.producerName} ${model.producerVersion}`.trim(),
    irVersion: model.irVersion,
    opsets: Object.fromEntries([...model.opsets].map(([d, v]) => [d || 'ai.onnx', v])),
    inputs: g.inputs.filter((i) => !g.initializers.has(i.name)).map((i) => ({ name: i.name, type: i.type?.kind === 'tensor' ? i.type.dtype : undefined, shape: i.type?.kind === 'tensor' ? i.type.shape?.slice() : undefined })),
    outputs: g.outputs.map((o) => ({ name: o.name, type: known.get(o.name)?.dtype, shape: known.get(o.name)?.dims?.slice() })),
    nodes,
    opCounts: sortedCounts,
    opFlops: sortedFlops,
    params,
    paramBytes,
    flops,
    unknownFlopNodes: unknown,
    subgraphNodes: countSubgraphNodes(g),
  };
}

function countSubgraphNodes(g: Graph): number {
  let n = 0;
  for (const node of g.nodes) for (const sub of node.subgraphs()) n += sub.nodes.length + countSubgraphNodes(sub);
  return n;
}
