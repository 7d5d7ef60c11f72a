/**
 * The affine-folding and HardSwish rules (src/graph/passes/affine.ts) on small hand-built graphs: the
 * rewritten structure, outputs equal to the graph as written within rounding, and the cases each rule must
 * leave alone (padding, shared values, broadcasting constants, opsets without HardSwish).
 */
import { describe, expect, it } from 'vitest';
import '../../src/kernels/cpu/index.js';
import '../../src/ops/index.js';
import { Executor } from '../../src/graph/executor.js';
import { Graph, Node, type ValueInfo } from '../../src/graph/ir.js';
import { optimizeGraph, type OptimizeResult } from '../../src/graph/passes/index.js';
import type { AttrValue } from '../../src/kernels/registry.js';
import { fromNumbers, type Tensor } from '../../src/tensor/tensor.js';
import { expectClose, randomTensor } from '../util/tensors.js';

let counter = 0;
function node(op: string, inputs: string[], outputs: string[], attrs: Record<string, AttrValue> = {}, name?: string): Node {
  return new Node(name ?? `${op}_${counter++}`, op, '', inputs, outputs, attrs, counter);
}
function info(name: string, shape?: number[]): ValueInfo {
  return { name, type: { kind: 'tensor', dtype: 'float32', shape } };
}
function graph(nodes: Node[], inputs: ValueInfo[], outputs: ValueInfo[], initializers: Record<string, Tensor>): Graph {
  return new Graph('g', nodes.map((n, i) => new Node(n.name, n.opType, n.domain, n.inputs, n.outputs, n.attrs, i)), inputs, outputs, new Map(Object.entries(initializers)), new Map());
}
const scalar = (v: number): Tensor => fromNumbers('float32', [v], []);

function run(g: Graph, opsets: ReadonlyMap<string, number>, feeds: Record<string, Tensor>): Tensor[] {
  return new Executor(opsets, { backend: 'cpu' }).run(g, new Map(Object.entries(feeds)), g.outputs.map((o) => o.name)).outputs as Tensor[];
}

/** Optimize at level 'all' and check the outputs against the graph as written. */
function optimizeAndCompare(g: Graph, feeds: Record<string, Tensor>, opset = 9): OptimizeResult {
  const opsets = new Map([['', opset]]);
  const want = run(g, opsets, feeds);
  const result = optimizeGraph(g, opsets, 'all');
  const got = run(result.graph, result.opsets, feeds);
  got.forEach((t, i) => expectClose(t, want[i]!, { rtol: 1e-5, atol: 1e-5 }));
  return result;
}
const ops = (g: Graph): string[] => g.nodes.map((n) => n.opType);
const rewrites = (r: OptimizeResult, name: string): number => r.report.passes.find((p) => p.name === name)!.rewrites;

const X = [1, 3, 5, 6];
const feeds = () => ({ x: randomTensor('float32', X, 11, 4) });

describe('ConvOutputAffineFolding', () => {
  it('folds a scalar Mul and a per-channel Add after a Conv into its weights and bias', () => {
    const g = graph(
      [node('Conv', ['x', 'W', 'B'], ['c'], { pads: [1, 1, 1, 1] }, 'conv'), node('Mul', ['s', 'c'], ['m']), node('Add', ['m', 'b'], ['y'])],
      [info('x', X)],
      [info('y')],
      { W: randomTensor('float32', [4, 3, 3, 3], 1), B: randomTensor('float32', [4], 2), s: scalar(1.7), b: randomTensor('float32', [4, 1, 1], 3) },
    );
    const r = optimizeAndCompare(g, feeds());
    expect(r.graph.nodes.map((n) => `${n.name}:${n.opType}`)).toEqual(['conv:Conv']);
    expect(r.graph.nodes[0]!.outputs).toEqual(['y']);
    expect(rewrites(r, 'ConvOutputAffineFolding')).toBe(2);
    const w = g.initializers.get('W')!.data as Float32Array;
    const folded = r.graph.initializers.get(r.graph.nodes[0]!.inputs[1]!)!.data as Float32Array;
    expect(folded[5]).toBeCloseTo(w[5]! * 1.7, 6);
  });

  it('adds a bias to a Conv that had none, and leaves shared outputs and spatial constants alone', () => {
    const noBias = graph([node('Conv', ['x', 'W'], ['c']), node('Add', ['c', 'b'], ['y'])], [info('x', X)], [info('y')], { W: randomTensor('float32', [2, 3, 1, 1], 4), b: randomTensor('float32', [1, 2, 1, 1], 5) });
    const r = optimizeAndCompare(noBias, feeds());
    expect(ops(r.graph)).toEqual(['Conv']);
    expect(r.graph.nodes[0]!.inputs).toHaveLength(3);
    const shared = graph(
      [node('Conv', ['x', 'W'], ['c']), node('Mul', ['c', 's'], ['y']), node('Neg', ['c'], ['z'])],
      [info('x', X)],
      [info('y'), info('z')],
      { W: randomTensor('float32', [2, 3, 1, 1], 4), s: scalar(2) },
    );
    expect(ops(optimizeAndCompare(shared, feeds()).graph)).toEqual(['Conv', 'Mul', 'Neg']);
    // a constant that varies along a spatial axis is not per-channel
    const spatial = graph([node('Conv', ['x', 'W'], ['c']), node('Mul', ['c', 's'], ['y'])], [info('x', X)], [info('y')], { W: randomTensor('float32', [2, 3, 1, 1], 4), s: randomTensor('float32', [6], 6) });
    expect(ops(optimizeAndCompare(spatial, feeds()).graph)).toEqual(['Conv', 'Mul']);
  });
});

describe('ConvInputAffineFolding', () => {
  const chain = (pads: number[], group = 1, sDims: number[] = [], source = 'x') =>
    graph(
      [node('Mul', [source, 's'], ['m']), node('Add', ['bb', 'm'], ['a']), node('Conv', ['a', 'W', 'B'], ['y'], { pads, group, kernel_shape: [1, 2] }, 'conv')],
      [info(source, source === 'x' ? X : [1, 1, 5, 6])],
      [info('y')],
      {
        s: sDims.length ? randomTensor('float32', sDims, 7) : scalar(0.6),
        bb: sDims.length ? randomTensor('float32', sDims, 8) : scalar(-0.3),
        W: randomTensor('float32', [6, 3 / group, 1, 2], 9),
        B: randomTensor('float32', [6], 10),
      },
    );
  it('folds Mul and Add before an unpadded Conv (scalar and per-channel, grouped)', () => {
    const r = optimizeAndCompare(chain([0, 0, 0, 0]), feeds());
    expect(r.graph.nodes.map((n) => `${n.name}:${n.opType}`)).toEqual(['conv:Conv']);
    expect(r.graph.nodes[0]!.inputs[0]).toBe('x');
    expect(rewrites(r, 'ConvInputAffineFolding')).toBe(2);
    const grouped = optimizeAndCompare(chain([0, 0, 0, 0], 3, [3, 1, 1]), feeds());
    expect(ops(grouped.graph)).toEqual(['Conv']);
  });
  it('leaves padded Convs and constants that would broadcast the source alone', () => {
    expect(ops(optimizeAndCompare(chain([0, 1, 0, 0]), feeds()).graph)).toEqual(['Mul', 'Add', 'Conv']);
    // x1 has one channel: the Mul's per-channel constant broadcasts it to three, so x1 alone cannot feed the
    // Conv (the Add, whose source already has three channels, still folds)
    const broadcast = chain([0, 0, 0, 0], 1, [1, 3, 1, 1], 'x1');
    expect(ops(optimizeAndCompare(broadcast, { x1: randomTensor('float32', [1, 1, 5, 6], 12) }).graph)).toEqual(['Mul', 'Conv']);
  });
});

describe('HardSwishFusion', () => {
  /** x * Clip(x + 3, 0, 6) / 6 (or times 1/6); Clip with attribute bounds before opset 11, inputs after. */
  const hardSwish = (x: string, out: string, divide: boolean, swap = false, opset = 9): Node[] => [
    node('Add', [x, 'three'], [`${out}_a`]),
    opset < 11 ? node('Clip', [`${out}_a`], [`${out}_c`], { min: 0, max: 6 }) : node('Clip', [`${out}_a`, 'zero', 'six'], [`${out}_c`]),
    node('Mul', swap ? [`${out}_c`, x] : [x, `${out}_c`], [`${out}_m`]),
    divide ? node('Div', [`${out}_m`, 'six'], [out]) : node('Mul', ['sixth', `${out}_m`], [out]),
  ];
  const consts = { zero: scalar(0), three: scalar(3), six: scalar(6), sixth: scalar(1 / 6), W: randomTensor('float32', [4, 3, 3, 3], 13) };
  it('turns Conv + written-out HardSwish into FusedConv(HardSwish), in both spellings', () => {
    for (const [divide, swap] of [[true, false], [false, true]]) {
      const g = graph([node('Conv', ['x', 'W'], ['c'], { pads: [1, 1, 1, 1] }, 'conv'), ...hardSwish('c', 'y', divide, swap)], [info('x', X)], [info('y')], consts);
      const r = optimizeAndCompare(g, feeds());
      expect(r.graph.nodes.map((n) => `${n.name}:${n.domain}.${n.opType}:${String(n.attrs['activation'])}`)).toEqual(['conv:com.tessera.FusedConv:HardSwish']);
      expect(rewrites(r, 'HardSwishFusion')).toBe(1);
    }
  });
  it('makes a HardSwish node from opset 14 on, and leaves the pattern alone before that or when a value is shared', () => {
    const plain = (opset: number): Graph => graph([node('Neg', ['x'], ['n']), ...hardSwish('n', 'y', true, false, opset)], [info('x', X)], [info('y')], consts);
    expect(ops(optimizeAndCompare(plain(9), feeds(), 9).graph)).toEqual(['Neg', 'Add', 'Clip', 'Mul', 'Div']);
    expect(ops(optimizeAndCompare(plain(14), feeds(), 14).graph)).toEqual(['Neg', 'HardSwish']);
    const shared = graph([node('Neg', ['x'], ['n']), ...hardSwish('n', 'y', true, false, 14), node('Relu', ['y_c'], ['z'])], [info('x', X)], [info('y'), info('z')], consts);
    expect(ops(optimizeAndCompare(shared, feeds(), 14).graph)).toEqual(['Neg', 'Add', 'Clip', 'Mul', 'Div', 'Relu']);
    const wrongBound = graph([node('Neg', ['x'], ['n']), ...hardSwish('n', 'y', true, false, 14)], [info('x', X)], [info('y')], { ...consts, six: scalar(5), zero: scalar(0) });
    expect(ops(optimizeAndCompare(wrongBound, feeds(), 14).graph)).toEqual(['Neg', 'Add', 'Clip', 'Mul', 'Div']);
  });
});
