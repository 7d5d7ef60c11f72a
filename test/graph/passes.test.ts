/**
 * Graph optimization rules on small hand-built graphs: each test checks the rewritten structure and that
 * running the optimized graph gives the same outputs as the graph as written (bit-identical for the 'basic'
 * rules and the activation fusion, within rounding for Conv+BN folding and MatMul+Add -> Gemm). Also: the
 * input graph is never modified, subgraphs are optimized without folding outer-scope values, and the
 * report counts rewrites.
 */
import { describe, expect, it } from 'vitest';
import '../../src/kernels/cpu/index.js';
import '../../src/ops/index.js';
import { Executor } from '../../src/graph/executor.js';
import { Graph, Node, type ValueInfo } from '../../src/graph/ir.js';
import { optimizeGraph, type OptimizationLevel, type OptimizeResult } from '../../src/graph/passes/index.js';
import type { AttrValue } from '../../src/kernels/registry.js';
import type { DataType } from '../../src/tensor/dtype.js';
import { fromNumbers, Tensor } from '../../src/tensor/tensor.js';
import { expectBitwise, expectClose, randomTensor } from '../util/tensors.js';

let counter = 0;
function node(op: string, inputs: string[], outputs: string[], attrs: Record<string, AttrValue> = {}, name?: string, domain = ''): Node {
  return new Node(name ?? `${op}_${counter++}`, op, domain, inputs, outputs, attrs, counter);
}
function info(name: string, dtype: DataType = 'float32', shape?: (number | string | null)[]): ValueInfo {
  return { name, type: { kind: 'tensor', dtype, shape } };
}
function graph(nodes: Node[], inputs: ValueInfo[], outputs: ValueInfo[], initializers: Record<string, Tensor> = {}, valueInfo: ValueInfo[] = []): Graph {
  return new Graph('g', nodes.map((n, i) => new Node(n.name, n.opType, n.domain, n.inputs, n.outputs, n.attrs, i, n.functionBody)), inputs, outputs, new Map(Object.entries(initializers)), new Map(valueInfo.map((v) => [v.name, v])));
}
const i64 = (values: number[], dims: number[] = [values.length]): Tensor => new Tensor('int64', BigInt64Array.from(values, BigInt), dims);
const f32 = (values: number[], dims: number[] = [values.length]): Tensor => fromNumbers('float32', values, dims);

function run(g: Graph, opsets: ReadonlyMap<string, number>, feeds: Record<string, Tensor>): Tensor[] {
  return new Executor(opsets, { backend: 'cpu' }).run(g, new Map(Object.entries(feeds)), g.outputs.map((o) => o.name)).outputs;
}

/** Optimize, check the source graph was not modified, and compare outputs with the unoptimized run. */
function optimizeAndCompare(
  g: Graph,
  feeds: Record<string, Tensor>,
  level: OptimizationLevel = 'all',
  opset = 17,
  exact = true,
): OptimizeResult {
  const opsets = new Map([['', opset]]);
  const nodesBefore = [...g.nodes];
  const initsBefore = new Map(g.initializers);
  const want = run(g, opsets, feeds);
  const result = optimizeGraph(g, opsets, level);
  expect(g.nodes).toEqual(nodesBefore);
  expect([...g.initializers.keys()]).toEqual([...initsBefore.keys()]);
  for (const [k, t] of initsBefore) expect(g.initializers.get(k)).toBe(t);
  expect(result.graph.inputs).toEqual(g.inputs);
  expect(result.graph.outputs).toEqual(g.outputs);
  result.graph.nodes.forEach((n, i) => expect(n.index).toBe(i));
  const got = run(result.graph, result.opsets, feeds);
  got.forEach((t, i) => (exact ? expectBitwise(t, want[i]!, g.outputs[i]!.name) : expectClose(t, want[i]!, { rtol: 1e-5, atol: 1e-6 })));
  return result;
}

const ops = (g: Graph): string[] => g.nodes.map((n) => n.opType);
const rewrites = (r: OptimizeResult, name: string): number => r.report.passes.find((p) => p.name === name)!.rewrites;

describe('constant rules', () => {
  it('turns Constant nodes into initializers and folds nodes over constants', () => {
    const g = graph(
      [
        node('Constant', [], ['a'], { value: f32([1, 2, 3]) }),
        node('Constant', [], ['b'], { value_float: 0.5 }),
        node('Mul', ['a', 'b'], ['c']),
        node('Add', ['x', 'c'], ['y'], {}, 'add'),
      ],
      [info('x', 'float32', [3])],
      [info('y', 'float32', [3])],
    );
    const r = optimizeAndCompare(g, { x: f32([10, 20, 30]) }, 'basic');
    expect(ops(r.graph)).toEqual(['Add']);
    expect(r.graph.nodes[0]!.name).toBe('add');
    expect(Array.from(r.graph.initializers.get('c')!.data as Float32Array)).toEqual([0.5, 1, 1.5]);
    expect([...r.graph.initializers.keys()]).toEqual(['c']); // a and b were folded away and dropped
    expect(rewrites(r, 'ConstantToInitializer')).toBe(2);
    expect(rewrites(r, 'ConstantFolding')).toBe(1);
    expect(r.report.initializersRemoved).toBe(2);
    expect(r.report.nodesBefore).toBe(4);
    expect(r.report.nodesAfter).toBe(1);
  });
  it('does not fold huge outputs, random ops, or initializers that a feed may override', () => {
    const g = graph(
      [
        node('ConstantOfShape', ['big_shape'], ['big'], { value: f32([1], [1]) }),
        node('ReduceSum', ['big'], ['s'], { keepdims: 0 }),
        node('Add', ['b', 'b'], ['b2']),
        node('Add', ['s', 'b2'], ['y0']),
        node('Add', ['y0', 'x'], ['y']),
      ],
      [info('x', 'float32', []), info('b', 'float32', [])],
      [info('y', 'float32', [])],
      { big_shape: i64([1100, 1000]), b: f32([2], []) },
    );
    const r = optimizeAndCompare(g, { x: f32([1], []) }, 'basic');
    expect(ops(r.graph)).toEqual(['ConstantOfShape', 'ReduceSum', 'Add', 'Add', 'Add']);
    const small = optimizeGraph(g, new Map([['', 17]]), 'basic', { maxFoldedElements: 2_000_000 });
    expect(ops(small.graph)).toEqual(['Add', 'Add', 'Add']);
    const random = graph([node('RandomNormal', [], ['r'], { shape: [2] }), node('Add', ['r', 'x'], ['y'])], [info('x', 'float32', [2])], [info('y', 'float32', [2])]);
    expect(ops(optimizeGraph(random, new Map([['', 17]]), 'all').graph)).toEqual(['RandomNormal', 'Add']);
  });
  it('folds Shape of a statically known value and the shape arithmetic after it', () => {
    const g = graph(
      [
        node('Relu', ['x'], ['r']),
        node('Shape', ['r'], ['s']),
        node('Gather', ['s', 'zero'], ['d0'], { axis: 0 }),
        node('Unsqueeze', ['d0', 'axes'], ['d0v']),
        node('Concat', ['d0v', 'minus1'], ['target'], { axis: 0 }),
        node('Reshape', ['r', 'target'], ['y'], {}, 'reshape'),
      ],
      [info('x', 'float32', [2, 3, 4])],
      [info('y', 'float32')],
      { zero: i64([0], []), axes: i64([0]), minus1: i64([-1]) },
    );
    const r = optimizeAndCompare(g, { x: randomTensor('float32', [2, 3, 4], 1) }, 'basic');
    expect(ops(r.graph)).toEqual(['Relu', 'Reshape']);
    const target = r.graph.nodes[1]!.inputs[1]!;
    expect(Array.from(r.graph.initializers.get(target)!.data as BigInt64Array)).toEqual([2n, -1n]);
    expect(rewrites(r, 'ShapeFolding')).toBe(1);
  });
  it('folds Gather/Slice over a partly known shape only when the picked dims are known', () => {
    const g = graph(
      [
        node('Shape', ['x'], ['s']),
        node('Gather', ['s', 'one'], ['c'], { axis: 0 }, 'pick_c'),
        node('Gather', ['s', 'zero'], ['n'], { axis: 0 }, 'pick_n'),
        node('Slice', ['s', 'one', 'big'], ['hw'], {}, 'slice_tail'),
        node('Cast', ['c'], ['cf'], { to: 1 }),
        node('Cast', ['n'], ['nf'], { to: 1 }),
        node('ReduceProd', ['hw'], ['hwp'], { keepdims: 0 }),
        node('Cast', ['hwp'], ['hwf'], { to: 1 }),
        node('Sum', ['cf', 'nf', 'hwf'], ['y']),
      ],
      [info('x', 'float32', ['N', 3, 4, 5])],
      [info('y', 'float32', [])],
      { one: i64([1], []), zero: i64([0], []), big: i64([100]) },
    );
    const r = optimizeAndCompare(g, { x: randomTensor('float32', [2, 3, 4, 5], 1) }, 'basic');
    const names = r.graph.nodes.map((n) => n.name);
    expect(names).not.toContain('pick_c');
    expect(names).not.toContain('slice_tail');
    expect(names).toContain('pick_n'); // N is symbolic
    expect(rewrites(r, 'ShapeSliceFolding')).toBe(2);
  });
});

describe('elimination rules', () => {
  it('removes dead nodes but keeps nodes read only by a subgraph', () => {
    const thenBranch = new Graph('then', [node('Add', ['outer', 'outer'], ['t'])], [], [info('t')], new Map(), new Map());
    const elseBranch = new Graph('else', [node('Neg', ['outer'], ['e'])], [], [info('e')], new Map(), new Map());
    const g = graph(
      [
        node('Exp', ['x'], ['unused']),
        node('Log', ['unused'], ['unused2']),
        node('Relu', ['x'], ['outer'], {}, 'read_by_if'),
        node('If', ['cond'], ['y'], { then_branch: thenBranch, else_branch: elseBranch }),
      ],
      [info('x', 'float32', [2]), info('cond', 'bool', [])],
      [info('y', 'float32', [2])],
    );
    const r = optimizeAndCompare(g, { x: f32([1, -2]), cond: new Tensor('bool', new Uint8Array([1]), []) }, 'basic');
    expect(ops(r.graph)).toEqual(['Relu', 'If']);
    expect(rewrites(r, 'DeadNodeElimination')).toBe(2);
  });
  it('removes Identity, renaming the producer when the Identity wrote a graph output', () => {
    const g = graph(
      [node('Relu', ['x'], ['a'], {}, 'relu'), node('Identity', ['a'], ['b']), node('Neg', ['b'], ['c'], {}, 'neg'), node('Identity', ['c'], ['y']), node('Identity', ['x'], ['x_out'])],
      [info('x', 'float32', [3])],
      [info('y', 'float32', [3]), info('x_out', 'float32', [3])],
    );
    const r = optimizeAndCompare(g, { x: f32([1, -2, 3]) }, 'basic');
    expect(r.graph.nodes.map((n) => `${n.name}:${n.inputs.join(',')}->${n.outputs.join(',')}`)).toEqual(['relu:x->a', 'neg:a->y', `${g.nodes[4]!.name}:x->x_out`]);
    expect(rewrites(r, 'IdentityElimination')).toBe(2);
  });
  it('renames reads inside subgraphs when an outer Identity goes away', () => {
    const branch = new Graph('b', [node('Mul', ['alias', 'alias'], ['t'])], [], [info('t')], new Map(), new Map());
    const g = graph(
      [node('Relu', ['x'], ['a']), node('Identity', ['a'], ['alias']), node('If', ['cond'], ['y'], { then_branch: branch, else_branch: branch })],
      [info('x', 'float32', [2]), info('cond', 'bool', [])],
      [info('y', 'float32', [2])],
    );
    const r = optimizeAndCompare(g, { x: f32([3, -1]), cond: new Tensor('bool', new Uint8Array([0]), []) }, 'basic');
    expect(ops(r.graph)).toEqual(['Relu', 'If']);
    const newBranch = r.graph.nodes[1]!.attrs['then_branch'] as Graph;
    expect(newBranch.nodes[0]!.inputs).toEqual(['a', 'a']);
    expect(branch.nodes[0]!.inputs).toEqual(['alias', 'alias']); // source subgraph untouched
  });
  it('removes inference Dropout unless its mask is used or training is requested', () => {
    const g = graph(
      [node('Dropout', ['x'], ['d', ''], {}, 'drop1'), node('Dropout', ['d'], ['d2', 'mask'], {}, 'drop2'), node('Relu', ['d2'], ['y'])],
      [info('x', 'float32', [3])],
      [info('y', 'float32', [3]), info('mask', 'bool', [3])],
    );
    const r = optimizeAndCompare(g, { x: f32([1, -2, 3]) }, 'basic');
    expect(r.graph.nodes.map((n) => n.name)).toEqual(['drop2', g.nodes[2]!.name]);
    expect(r.graph.nodes[0]!.inputs).toEqual(['x']);
    expect(rewrites(r, 'DropoutElimination')).toBe(1);
  });
});

describe('fusion rules', () => {
  const convInputs = () => ({ x: randomTensor('float32', [1, 3, 6, 6], 1, 2) });
  function convBn(extraConsumer: boolean, constantStats = true): Graph {
    const nodes = [
      node('Conv', ['x', 'W', 'B'], ['c'], { pads: [1, 1, 1, 1] }, 'conv'),
      node('BatchNormalization', ['c', 'gamma', 'beta', 'mean', constantStats ? 'var' : 'var_in'], ['bn'], { epsilon: 1e-3 }, 'bn'),
      node('Relu', ['bn'], ['y'], {}, 'relu'),
    ];
    if (extraConsumer) nodes.push(node('Neg', ['c'], ['z']));
    return graph(
      nodes,
      [info('x', 'float32', [1, 3, 6, 6]), ...(constantStats ? [] : [info('var_in', 'float32', [4])])],
      [info('y', 'float32'), ...(extraConsumer ? [info('z', 'float32')] : [])],
      {
        W: randomTensor('float32', [4, 3, 3, 3], 2),
        B: randomTensor('float32', [4], 3),
        gamma: randomTensor('float32', [4], 4),
        beta: randomTensor('float32', [4], 5),
        mean: randomTensor('float32', [4], 6, 0.3),
        ...(constantStats ? { var: fromNumbers('float32', [0.5, 1, 2, 0.1], [4]) } : {}),
      },
    );
  }
  it('folds BatchNormalization into the Conv, then fuses the Relu', () => {
    const r = optimizeAndCompare(convBn(false), convInputs(), 'all', 17, false);
    expect(r.graph.nodes.map((n) => `${n.name}:${n.domain}.${n.opType}`)).toEqual(['conv:com.tessera.FusedConv']);
    expect(r.graph.nodes[0]!.outputs).toEqual(['y']);
    expect(r.graph.nodes[0]!.attrs['activation']).toBe('Relu');
    expect(r.opsets.get('com.tessera')).toBe(1);
    expect(rewrites(r, 'ConvBatchNormFolding')).toBe(1);
    expect(rewrites(r, 'ActivationFusion')).toBe(1);
    // folded weights: W' = W * gamma / sqrt(var + eps) per output channel
    const g = convBn(false);
    const w = g.initializers.get('W')!.data as Float32Array;
    const gamma = g.initializers.get('gamma')!.data as Float32Array;
    const folded = r.graph.initializers.get(r.graph.nodes[0]!.inputs[1]!)!.data as Float32Array;
    expect(folded[27 * 3]).toBeCloseTo((w[27 * 3]! * gamma[3]!) / Math.sqrt(0.1 + 1e-3), 5);
    // 'basic' leaves both in place
    expect(ops(optimizeGraph(g, new Map([['', 17]]), 'basic').graph)).toEqual(['Conv', 'BatchNormalization', 'Relu']);
  });
  it('does not fold when the Conv output has another reader or a statistic is not constant', () => {
    const shared = optimizeAndCompare(convBn(true), convInputs(), 'all');
    expect(ops(shared.graph)).toEqual(['Conv', 'BatchNormalization', 'Relu', 'Neg']);
    const fed = convBn(false, false);
    const r = optimizeAndCompare(fed, { ...convInputs(), var_in: fromNumbers('float32', [1, 1, 1, 1], [4]) }, 'all');
    expect(ops(r.graph)).toEqual(['Conv', 'BatchNormalization', 'Relu']);
  });
  it('fuses Conv/Gemm/MatMul with each activation, bit-identical to the unfused graph', () => {
    const acts: [string, Record<string, AttrValue>, string[]][] = [
      ['Relu', {}, []],
      ['LeakyRelu', { alpha: 0.2 }, []],
      ['Clip', {}, ['lo', 'hi']],
      ['Sigmoid', {}, []],
      ['HardSigmoid', { alpha: 0.3, beta: 0.4 }, []],
      ['Tanh', {}, []],
      ['HardSwish', {}, []],
    ];
    for (const [act, attrs, extra] of acts) {
      const g = graph(
        [
          node('Conv', ['x', 'W'], ['c'], {}, 'conv'),
          node(act, ['c', ...extra], ['y1'], attrs),
          node('Gemm', ['a', 'G'], ['gm'], { transB: 1 }, 'gemm'),
          node(act, ['gm', ...extra], ['y2'], attrs),
          node('MatMul', ['a', 'M'], ['mm'], {}, 'matmul'),
          node(act, ['mm', ...extra], ['y3'], attrs),
        ],
        [info('x', 'float32', [1, 2, 4, 4]), info('a', 'float32', [3, 4])],
        [info('y1'), info('y2'), info('y3')],
        { W: randomTensor('float32', [3, 2, 3, 3], 1), G: randomTensor('float32', [5, 4], 2), M: randomTensor('float32', [4, 2], 3), lo: f32([-0.5], []), hi: f32([0.75], []) },
      );
      const r = optimizeAndCompare(g, { x: randomTensor('float32', [1, 2, 4, 4], 4, 3), a: randomTensor('float32', [3, 4], 5, 3) }, 'all');
      expect(r.graph.nodes.map((n) => `${n.name}:${n.opType}:${String(n.attrs['activation'])}`)).toEqual([`conv:FusedConv:${act}`, `gemm:FusedGemm:${act}`, `matmul:FusedMatMul:${act}`]);
    }
  });
  it('fuses Clip with attribute bounds (opset < 11) and leaves integer MatMul + Relu alone', () => {
    const g = graph(
      [node('Conv', ['x', 'W'], ['c'], {}, 'conv'), node('Clip', ['c'], ['y'], { min: 0, max: 6 })],
      [info('x', 'float32', [1, 1, 3, 3])],
      [info('y')],
      { W: randomTensor('float32', [2, 1, 2, 2], 1, 4) },
    );
    const r = optimizeAndCompare(g, { x: randomTensor('float32', [1, 1, 3, 3], 2, 4) }, 'all', 9);
    expect(r.graph.nodes[0]!.attrs['activation_params']).toEqual([0, 6]);
    const ints = graph([node('MatMul', ['a', 'M'], ['m']), node('Relu', ['m'], ['y'])], [info('a', 'int32', [2, 2])], [info('y', 'int32')], { M: fromNumbers('int32', [1, -2, 3, -4], [2, 2]) });
    const ri = optimizeAndCompare(ints, { a: fromNumbers('int32', [1, 2, 3, 4], [2, 2]) }, 'all');
    expect(ops(ri.graph)).toEqual(['MatMul', 'Relu']);
  });
  it('turns MatMul + Add into Gemm only for rank-2 A, constant B and a Gemm-shaped C', () => {
    const make = (aDims: (number | string)[], cDims: number[], addFirst = false): Graph =>
      graph(
        [node('MatMul', ['a', 'B'], ['m'], {}, 'mm'), node('Add', addFirst ? ['C', 'm'] : ['m', 'C'], ['s'], {}, 'add'), node('Relu', ['s'], ['y'])],
        [info('a', 'float32', aDims)],
        [info('y')],
        { B: randomTensor('float32', [4, 3], 1), C: randomTensor('float32', cDims, 2) },
      );
    const feeds2 = { a: randomTensor('float32', [2, 4], 3) };
    for (const [cDims, addFirst] of [[[3], false], [[2, 3], true], [[1, 3], false], [[], false]] as [number[], boolean][]) {
      const r = optimizeAndCompare(make(['M', 4], cDims, addFirst), feeds2, 'all', 13, false);
      if (cDims.length === 2 && cDims[0] === 2) {
        // M is symbolic: a C with 2 rows might broadcast the result; left alone
        expect(ops(r.graph)).toEqual(['MatMul', 'Add', 'Relu']);
      } else {
        expect(r.graph.nodes.map((n) => `${n.name}:${n.opType}`)).toEqual(['mm:FusedGemm']);
        expect(rewrites(r, 'MatMulAddToGemm')).toBe(1);
      }
    }
    const known = optimizeAndCompare(make([2, 4], [2, 3], true), feeds2, 'all', 13, false);
    expect(ops(known.graph)).toEqual(['FusedGemm']);
    const rank3 = optimizeAndCompare(make([1, 2, 4], [3]), { a: randomTensor('float32', [1, 2, 4], 3) }, 'all');
    expect(ops(rank3.graph)).toEqual(['MatMul', 'Add', 'Relu']);
    const wide = optimizeAndCompare(make([2, 4], [4, 2, 3]), feeds2, 'all');
    expect(ops(wide.graph)).toEqual(['MatMul', 'Add', 'Relu']);
  });
});

describe('subgraphs, levels and the report', () => {
  it('optimizes If branches without folding values of the enclosing scope', () => {
    const branch = new Graph(
      'then',
      [node('Constant', [], ['k'], { value: f32([2]) }), node('Add', ['k', 'k'], ['k2']), node('Mul', ['outer_init', 'k2'], ['t'])],
      [],
      [info('t')],
      new Map(),
      new Map(),
    );
    const other = new Graph('else', [node('Identity', ['outer_init'], ['e'])], [], [info('e')], new Map(), new Map());
    const g = graph(
      [node('If', ['cond'], ['y'], { then_branch: branch, else_branch: other })],
      [info('cond', 'bool', [])],
      [info('y')],
      { outer_init: f32([3]) },
    );
    const r = optimizeAndCompare(g, { cond: new Tensor('bool', new Uint8Array([1]), []) }, 'basic');
    const newBranch = r.graph.nodes[0]!.attrs['then_branch'] as Graph;
    expect(newBranch.nodes.map((n) => n.opType)).toEqual(['Mul']);
    expect(newBranch.nodes[0]!.inputs[0]).toBe('outer_init');
    expect(Array.from(newBranch.initializers.get('k2')!.data as Float32Array)).toEqual([4]);
    expect(r.graph.initializers.has('outer_init')).toBe(true);
    expect(r.report.totalNodesBefore).toBe(5);
    expect(r.report.totalNodesAfter).toBe(3);
  });
  it('does not trust declared shapes of Loop body inputs (carried values may grow)', () => {
    const body = new Graph(
      'body',
      [node('Identity', ['cond_in'], ['cond_out']), node('Concat', ['v', 'v'], ['v_next'], { axis: 0 }), node('Shape', ['v'], ['s'])],
      [info('iter', 'int64', []), info('cond_in', 'bool', []), info('v', 'float32', [1])],
      [info('cond_out', 'bool', []), info('v_next', 'float32', [null]), info('s', 'int64', [1])],
      new Map(),
      new Map(),
    );
    const g = graph(
      [node('Loop', ['trip', '', 'v0'], ['v_final', 'shapes'], { body })],
      [info('v0', 'float32', [1])],
      [info('v_final'), info('shapes', 'int64')],
      { trip: i64([3], []) },
    );
    const r = optimizeAndCompare(g, { v0: f32([1]) }, 'all');
    const newBody = r.graph.nodes[0]!.attrs['body'] as Graph;
    expect(newBody.nodes.map((n) => n.opType)).toContain('Shape');
  });
  it("level 'none' returns the graph as written; unknown rules and levels are refused", () => {
    const g = graph([node('Identity', ['x'], ['a']), node('Relu', ['a'], ['y'])], [info('x', 'float32', [1])], [info('y')]);
    const r = optimizeGraph(g, new Map([['', 17]]), 'none');
    expect(r.graph).toBe(g);
    expect(r.report.passes).toEqual([]);
    const off = optimizeGraph(g, new Map([['', 17]]), 'basic', { disabledRules: ['IdentityElimination'] });
    expect(ops(off.graph)).toEqual(['Identity', 'Relu']);
    expect(() => optimizeGraph(g, new Map([['', 17]]), 'basic', { disabledRules: ['Nope'] })).toThrow(/unknown rule 'Nope'/);
    expect(() => optimizeGraph(g, new Map([['', 17]]), 'most' as OptimizationLevel)).toThrow(/level must be/);
    const untouched = graph([node('Relu', ['x'], ['y'])], [info('x', 'float32', [1])], [info('y')]);
    expect(optimizeGraph(untouched, new Map([['', 17]]), 'all').graph).toBe(untouched);
  });
  it('stops at the iteration cap', () => {
    // nodes listed consumers-first: each round folds one more link of the constant chain
    const g = graph(
      [
        node('Add', ['x', 'k4'], ['y'], {}, 'final'),
        node('Add', ['k2', 'k2'], ['k4']),
        node('Add', ['k', 'k'], ['k2']),
        node('Constant', [], ['k'], { value: f32([1]) }),
      ],
      [info('x', 'float32', [1])],
      [info('y')],
    );
    const capped = optimizeGraph(g, new Map([['', 17]]), 'basic', { maxIterations: 1 });
    expect(capped.report.rounds).toBe(1);
    expect(ops(capped.graph)).toEqual(['Add', 'Add', 'Add']);
    const two = optimizeGraph(g, new Map([['', 17]]), 'basic', { maxIterations: 2 });
    expect(ops(two.graph)).toEqual(['Add', 'Add']);
    const full = optimizeAndCompare(g, { x: f32([1]) }, 'basic');
    expect(full.graph.nodes.map((n) => n.name)).toEqual(['final']);
    expect(Array.from(full.graph.initializers.get('k4')!.data as Float32Array)).toEqual([4]);
    expect(full.report.rounds).toBe(4); // three folding rounds and one that changes nothing
  });
});
