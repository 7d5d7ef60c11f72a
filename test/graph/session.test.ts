/**
 * Session and executor tests on models built in code: end-to-end runs, feed validation, initializer
 * overrides, fetch subsets, intermediate disposal and peak memory, If / Loop / Scan with outer-scope values,
 * model-local functions with attribute references, and the plan's ordering.
 */
import { describe, expect, it } from 'vitest';
import { InputValidationError } from '../../src/graph/errors.js';
import { buildModel } from '../../src/graph/ir.js';
import { encodeModel } from '../../src/graph/onnx/encode.js';
import { decodeModel } from '../../src/graph/onnx/decode.js';
import { AttributeType, emptyAttribute } from '../../src/graph/onnx/proto.js';
import { planGraph } from '../../src/graph/plan.js';
import { InferenceSession } from '../../src/graph/session.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { vals } from './values.js';
import { attr, graph, model, modelBytes, node, value } from './build.js';

const f32 = (values: number[], dims: number[] = [values.length]) => new Tensor('float32', new Float32Array(values), dims);

/** y = Relu(x) + b, with b an initializer that is also a graph input (overridable). */
function reluAddModel(): Uint8Array {
  const g = graph({
    nodes: [node('Relu', ['x'], ['r']), node('Add', ['r', 'b'], ['y'])],
    inputs: [value('x', 'float32', ['N', 3]), value('b', 'float32', [3])],
    outputs: [value('y', 'float32', ['N', 3])],
    initializers: { b: f32([1, 2, 3]) },
  });
  return modelBytes(g);
}

describe('InferenceSession end to end', () => {
  it('runs a hand-built model and exposes metadata', async () => {
    const s = await InferenceSession.create(reluAddModel());
    expect(s.inputNames).toEqual(['x']);
    expect(s.outputNames).toEqual(['y']);
    expect(s.inputMetadata).toEqual([{ name: 'x', isTensor: true, type: 'float32', shape: ['N', 3] }]);
    expect(s.outputMetadata[0]!.shape).toEqual(['N', 3]);
    const out = await s.run({ x: f32([-1, 2, -3, 4, -5, 6], [2, 3]) });
    expect(out['y']!.dims).toEqual([2, 3]);
    expect(vals(out['y']!)).toEqual([1, 4, 3, 5, 2, 9]);
    await s.release();
    await expect(s.run({ x: f32([1, 1, 1], [1, 3]) })).rejects.toThrow(/released/);
  });
  it('lets a feed override an initializer that is also a graph input', async () => {
    const s = await InferenceSession.create(reluAddModel());
    const out = await s.run({ x: f32([1, 1, 1], [1, 3]), b: f32([10, 20, 30]) });
    expect(vals(out['y']!)).toEqual([11, 21, 31]);
  });
  it('validates feeds: unknown, missing, dtype, rank, static dims, symbolic consistency', async () => {
    const s = await InferenceSession.create(reluAddModel());
    await expect(s.run({ x: f32([1, 2, 3], [1, 3]), z: f32([1]) })).rejects.toThrow(/unknown input 'z'; the model's inputs are: 'x'/);
    await expect(s.run({})).rejects.toThrow(/missing input: 'x' \(float32 \[N, 3\]\)/);
    await expect(s.run({ x: new Tensor('int32', new Int32Array(3), [1, 3]) })).rejects.toThrow(/input 'x' has type int32; expected float32 \[N, 3\]/);
    await expect(s.run({ x: f32([1, 2, 3]) })).rejects.toThrow(/input 'x' has shape \[3\] \(rank 1\); expected float32 \[N, 3\] \(rank 2\)/);
    await expect(s.run({ x: f32([1, 2, 3, 4], [2, 2]) })).rejects.toThrow(/dim 1 must be 3/);
    await expect(s.run({ x: [1, 2, 3] as unknown as Tensor })).rejects.toThrow(InputValidationError);
    const two = graph({
      nodes: [node('Add', ['a', 'b'], ['y'])],
      inputs: [value('a', 'float32', ['batch', 2]), value('b', 'float32', ['batch', 2])],
      outputs: [value('y', 'float32', ['batch', 2])],
    });
    const s2 = await InferenceSession.create(modelBytes(two));
    await expect(s2.run({ a: f32([1, 2], [1, 2]), b: f32([1, 2, 3, 4], [2, 2]) })).rejects.toThrow(/dim 0 'batch' is 2 here and 1 in input 'a'/);
    await expect(s.run({ x: f32([1, 2, 3], [1, 3]) }, ['nope'])).rejects.toThrow(/unknown output 'nope'/);
  });
  it('fetches a subset of outputs and runs only what they need', async () => {
    const g = graph({
      nodes: [node('Relu', ['x'], ['a'], {}, 'needed'), node('NoKernelNeeded', ['x'], ['b'], {}, 'skipped')],
      inputs: [value('x', 'float32', [2])],
      outputs: [value('a', 'float32', [2]), value('b', 'float32', [2])],
    });
    // the model is refused as a whole (unknown op), so check pruning at the plan level
    const m = buildModel(decodeModel(modelBytes(g)));
    const plan = planGraph(m.graph, new Set(), ['a']);
    expect(plan.steps.map((s) => s.node.name)).toEqual(['needed']);
    const s = await InferenceSession.create(reluAddModel(), { enableProfiling: true });
    const out = await s.run({ x: f32([1, 2, 3], [1, 3]) }, ['y']);
    expect(Object.keys(out)).toEqual(['y']);
    expect(s.lastRunStats!.nodes!.map((n) => n.opType)).toEqual(['Relu', 'Add']);
  });
  it('disposes intermediates after their last use and reports the peak', async () => {
    // chain of 6 Relus on a 1000-element tensor: only two intermediates are ever alive at once
    const nodes = [node('Relu', ['x'], ['t0'])];
    for (let i = 1; i < 6; i++) nodes.push(node('Relu', [`t${i - 1}`], [`t${i}`]));
    const g = graph({ nodes, inputs: [value('x', 'float32', [1000])], outputs: [value('t5', 'float32', [1000])] });
    const s = await InferenceSession.create(modelBytes(g));
    const x = f32(Array.from({ length: 1000 }, (_, i) => i - 500));
    const before = Tensor.liveCount;
    const out = await s.run({ x });
    expect(Tensor.liveCount - before).toBe(1); // only the returned output is alive
    expect(s.lastRunStats!.peakLiveBytes).toBe(2 * 4000);
    out['t5']!.dispose();
    expect(x.disposed).toBe(false);
  });
  it('returns views for outputs that are inputs or initializers passed through', async () => {
    const g = graph({
      nodes: [],
      inputs: [value('x', 'float32', [2])],
      outputs: [value('x', 'float32', [2]), value('w', 'float32', [1])],
      initializers: { w: f32([5]) },
    });
    const s = await InferenceSession.create(modelBytes(g));
    const x = f32([1, 2]);
    const out = await s.run({ x });
    expect(out['x']).not.toBe(x);
    out['x']!.dispose();
    out['w']!.dispose();
    expect(x.disposed).toBe(false);
    const again = await s.run({ x });
    expect(vals(again['w']!)).toEqual([5]);
  });
});

describe('control flow', () => {
  it('If picks a branch; branches read outer-scope values', async () => {
    const thenG = graph({ nodes: [node('Add', ['x', 'x'], ['t'])], inputs: [], outputs: [value('t', 'float32', [2])], name: 'then' });
    const elseG = graph({ nodes: [node('Relu', ['x'], ['e'])], inputs: [], outputs: [value('e', 'float32', [2])], name: 'else' });
    const g = graph({
      nodes: [node('If', ['c'], ['y'], { then_branch: thenG, else_branch: elseG })],
      inputs: [value('c', 'bool', []), value('x', 'float32', [2])],
      outputs: [value('y', 'float32', [2])],
    });
    const s = await InferenceSession.create(modelBytes(g));
    const x = f32([-1, 3]);
    const yes = await s.run({ c: new Tensor('bool', new Uint8Array([1]), []), x });
    expect(vals(yes['y']!)).toEqual([-2, 6]);
    const no = await s.run({ c: new Tensor('bool', new Uint8Array([0]), []), x });
    expect(vals(no['y']!)).toEqual([0, 3]);
  });
  it('If branch returning an outer value directly gives the caller its own tensor', async () => {
    const thenG = graph({ nodes: [], inputs: [], outputs: [value('x', 'float32', [1])] });
    const elseG = graph({ nodes: [], inputs: [], outputs: [value('x', 'float32', [1])] });
    const g = graph({
      nodes: [node('If', ['c'], ['y'], { then_branch: thenG, else_branch: elseG }), node('Relu', ['y'], ['z'])],
      inputs: [value('c', 'bool', []), value('x', 'float32', [1])],
      outputs: [value('z', 'float32', [1])],
    });
    const s = await InferenceSession.create(modelBytes(g));
    const x = f32([-4]);
    const out = await s.run({ c: new Tensor('bool', new Uint8Array([1]), []), x });
    expect(vals(out['z']!)).toEqual([0]);
    expect(x.disposed).toBe(false);
  });
  it('Loop carries a sum, emits scan outputs, reads an outer value, stops at M', async () => {
    // body(i, cond, acc) -> (cond, acc + step, acc + step as scan output); step comes from the outer scope
    const body = graph({
      nodes: [node('Identity', ['cond_in'], ['cond_out']), node('Add', ['acc', 'step'], ['acc_out']), node('Identity', ['acc_out'], ['scan'])],
      inputs: [value('i', 'int64', []), value('cond_in', 'bool', []), value('acc', 'float32', [2])],
      outputs: [value('cond_out', 'bool', []), value('acc_out', 'float32', [2]), value('scan', 'float32', [2])],
      name: 'body',
    });
    const g = graph({
      nodes: [node('Loop', ['M', '', 'init'], ['final', 'all'], { body })],
      inputs: [value('M', 'int64', []), value('init', 'float32', [2]), value('step', 'float32', [2])],
      outputs: [value('final', 'float32', [2]), value('all', 'float32', [null, 2])],
    });
    const s = await InferenceSession.create(modelBytes(g));
    const feeds = { M: new Tensor('int64', new BigInt64Array([3n]), []), init: f32([0, 10]), step: f32([1, -1]) };
    const before = Tensor.liveCount;
    const out = await s.run(feeds);
    expect(vals(out['final']!)).toEqual([3, 7]);
    expect(out['all']!.dims).toEqual([3, 2]);
    expect(vals(out['all']!)).toEqual([1, 9, 2, 8, 3, 7]);
    expect(Tensor.liveCount - before).toBe(2);
    const zero = await s.run({ ...feeds, M: new Tensor('int64', new BigInt64Array([0n]), []) });
    expect(vals(zero['final']!)).toEqual([0, 10]);
    expect(zero['all']!.dims).toEqual([0, 2]);
  });
  it('Loop uses the iteration number and a condition input', async () => {
    // cond input false: no iteration runs
    const body = graph({
      nodes: [node('Identity', ['c'], ['c_out']), node('Add', ['acc', 'acc'], ['acc_out'])],
      inputs: [value('i', 'int64', []), value('c', 'bool', []), value('acc', 'float32', [1])],
      outputs: [value('c_out', 'bool', []), value('acc_out', 'float32', [1])],
    });
    const g = graph({
      nodes: [node('Loop', ['M', 'cond', 'x'], ['y'], { body })],
      inputs: [value('M', 'int64', []), value('cond', 'bool', []), value('x', 'float32', [1])],
      outputs: [value('y', 'float32', [1])],
    });
    const s = await InferenceSession.create(modelBytes(g));
    const M = new Tensor('int64', new BigInt64Array([4n]), []);
    const go = await s.run({ M, cond: new Tensor('bool', new Uint8Array([1]), []), x: f32([1]) });
    expect(vals(go['y']!)).toEqual([16]);
    const stop = await s.run({ M, cond: new Tensor('bool', new Uint8Array([0]), []), x: f32([1]) });
    expect(vals(stop['y']!)).toEqual([1]);
    // the iteration counter reaches the body as an int64 scalar
    const counting = graph({
      nodes: [node('Identity', ['c'], ['c_out']), node('Identity', ['i'], ['i_out'])],
      inputs: [value('i', 'int64', []), value('c', 'bool', [])],
      outputs: [value('c_out', 'bool', []), value('i_out', 'int64', [])],
    });
    const g2 = graph({
      nodes: [node('Loop', ['M', ''], ['iters'], { body: counting })],
      inputs: [value('M', 'int64', [])],
      outputs: [value('iters', 'int64', [null])],
    });
    const s2 = await InferenceSession.create(modelBytes(g2));
    const r = await s2.run({ M });
    expect(vals(r['iters']!)).toEqual([0n, 1n, 2n, 3n]);
  });
  it('Scan (opset 9+) accumulates along an axis, in both directions', async () => {
    const body = graph({
      nodes: [node('Add', ['s', 'xi'], ['s_out']), node('Identity', ['s_out'], ['y'])],
      inputs: [value('s', 'float32', [2]), value('xi', 'float32', [2])],
      outputs: [value('s_out', 'float32', [2]), value('y', 'float32', [2])],
    });
    const make = (attrs: Record<string, number | number[]>) =>
      modelBytes(
        graph({
          nodes: [node('Scan', ['init', 'xs'], ['final', 'ys'], { body, num_scan_inputs: 1, ...attrs })],
          inputs: [value('init', 'float32', [2]), value('xs', 'float32', [3, 2])],
          outputs: [value('final', 'float32', [2]), value('ys', 'float32', [3, 2])],
        }),
        11,
      );
    const xs = f32([1, 2, 3, 4, 5, 6], [3, 2]);
    const init = f32([0, 0]);
    const fwd = await (await InferenceSession.create(make({}))).run({ init, xs });
    expect(vals(fwd['final']!)).toEqual([9, 12]);
    expect(vals(fwd['ys']!)).toEqual([1, 2, 4, 6, 9, 12]);
    const rev = await (await InferenceSession.create(make({ scan_input_directions: [1] }))).run({ init, xs });
    expect(vals(rev['ys']!)).toEqual([5, 6, 8, 10, 9, 12]);
    const revOut = await (await InferenceSession.create(make({ scan_output_directions: [1] }))).run({ init, xs });
    expect(vals(revOut['ys']!)).toEqual([9, 12, 4, 6, 1, 2]);
    // scanning axis 1 of a [2, 3] input and stacking outputs on axis 1
    const body1 = graph({
      nodes: [node('Add', ['s', 'xi'], ['s_out']), node('Identity', ['s_out'], ['y'])],
      inputs: [value('s', 'float32', [2]), value('xi', 'float32', [2])],
      outputs: [value('s_out', 'float32', [2]), value('y', 'float32', [2])],
    });
    const axisModel = modelBytes(
      graph({
        nodes: [node('Scan', ['init', 'xs'], ['final', 'ys'], { body: body1, num_scan_inputs: 1, scan_input_axes: [1], scan_output_axes: [1] })],
        inputs: [value('init', 'float32', [2]), value('xs', 'float32', [2, 3])],
        outputs: [value('final', 'float32', [2]), value('ys', 'float32', [2, 3])],
      }),
      11,
    );
    const ax = await (await InferenceSession.create(axisModel)).run({ init, xs: f32([1, 2, 3, 4, 5, 6], [2, 3]) });
    expect(vals(ax['final']!)).toEqual([6, 15]);
    expect(ax['ys']!.dims).toEqual([2, 3]);
    expect(vals(ax['ys']!)).toEqual([1, 3, 6, 4, 9, 15]);
  });
  it('Scan-8 runs per batch item', async () => {
    const body = graph({
      nodes: [node('Add', ['s', 'xi'], ['s_out']), node('Identity', ['s_out'], ['y'])],
      inputs: [value('s', 'float32', [1]), value('xi', 'float32', [1])],
      outputs: [value('s_out', 'float32', [1]), value('y', 'float32', [1])],
    });
    const bytes = modelBytes(
      graph({
        nodes: [node('Scan', ['', 'init', 'xs'], ['final', 'ys'], { body, num_scan_inputs: 1 })],
        inputs: [value('init', 'float32', [2, 1]), value('xs', 'float32', [2, 3, 1])],
        outputs: [value('final', 'float32', [2, 1]), value('ys', 'float32', [2, 3, 1])],
      }),
      8,
    );
    const out = await (await InferenceSession.create(bytes)).run({ init: f32([0, 100], [2, 1]), xs: f32([1, 2, 3, 4, 5, 6], [2, 3, 1]) });
    expect(vals(out['final']!)).toEqual([6, 115]);
    expect(vals(out['ys']!)).toEqual([1, 3, 6, 104, 109, 115]);
  });
  it('a subgraph reading a name no scope defines is refused at load', () => {
    const thenG = graph({ nodes: [node('Relu', ['ghost'], ['t'])], inputs: [], outputs: [value('t', 'float32', [1])] });
    const g = graph({
      nodes: [node('If', ['c'], ['y'], { then_branch: thenG, else_branch: thenG })],
      inputs: [value('c', 'bool', [])],
      outputs: [value('y', 'float32', [1])],
    });
    expect(() => InferenceSession.createSync(modelBytes(g))).toThrow(/reads 'ghost'/);
  });
});

describe('model-local functions', () => {
  it('runs a function body with attribute references and defaults', async () => {
    // custom.ScaledSum(a, b) = ReduceSum(Concat(a, b, axis=@axis), keepdims=0) ; axis defaults to 0
    const m = model(
      graph({
        nodes: [{ ...node('ScaledSum', ['x', 'y'], ['z']), domain: 'custom' }],
        inputs: [value('x', 'float32', [2]), value('y', 'float32', [2])],
        outputs: [value('z', 'float32', [])],
      }),
    );
    m.opsetImport.push({ domain: 'custom', version: 1 });
    const concat = node('Concat', ['a', 'b'], ['c']);
    concat.attribute.push({ ...emptyAttribute('axis', AttributeType.INT), refAttrName: 'axis' });
    m.functions.push({
      name: 'ScaledSum',
      domain: 'custom',
      input: ['a', 'b'],
      output: ['s'],
      attribute: [],
      attributeProto: [attr('axis', 0)],
      node: [concat, node('ReduceSum', ['c'], ['s'], { keepdims: 0 })],
      opsetImport: [{ domain: '', version: 13 }],
    });
    const bytes = encodeModel(m);
    expect(decodeModel(bytes).functions[0]!.node[0]!.attribute[0]!.refAttrName).toBe('axis');
    const s = await InferenceSession.create(bytes);
    const out = await s.run({ x: f32([1, 2]), y: f32([3, 4]) });
    expect(out['z']!.dims).toEqual([]);
    expect(vals(out['z']!)).toEqual([10]);
  });
});

describe('plan', () => {
  it('orders nodes topologically and keeps file order among ready nodes', () => {
    const g = graph({
      nodes: [node('Add', ['a', 'b'], ['y'], {}, 'last'), node('Relu', ['x'], ['a'], {}, 'first'), node('Relu', ['x'], ['b'], {}, 'second')],
      inputs: [value('x', 'float32', [1])],
      outputs: [value('y', 'float32', [1])],
    });
    const m = buildModel(decodeModel(modelBytes(g)));
    const plan = planGraph(m.graph);
    expect(plan.steps.map((s) => s.node.name)).toEqual(['first', 'second', 'last']);
    expect(plan.steps[2]!.release).toEqual(['a', 'b']);
  });
});

describe('run options', () => {
  it('accepts run(feeds, options) and run(feeds, fetches, options) with per-run profiling', async () => {
    const s = await InferenceSession.create(reluAddModel());
    const x = f32([1, 2, 3], [1, 3]);
    await s.run({ x }, { profile: true });
    expect(s.lastRunStats!.nodes!.length).toBe(2);
    await s.run({ x }, ['y']);
    expect(s.lastRunStats!.nodes).toBeUndefined();
    const out = await s.run({ x }, { y: null }, { profile: true });
    expect(Object.keys(out)).toEqual(['y']);
    expect(s.lastRunStats!.nodes!.map((n) => n.node)).toEqual(['Relu_0', 'Add_1']);
  });
  it('rejects bad options at creation', async () => {
    await expect(InferenceSession.create(reluAddModel(), { threads: 0 })).rejects.toThrow(/threads must be a positive integer/);
    await expect(InferenceSession.create(reluAddModel(), { graphOptimizationLevel: 'max' as 'all' })).rejects.toThrow(/graphOptimizationLevel/);
    await expect(InferenceSession.create(reluAddModel(), { backend: 'tpu' as 'cpu' })).rejects.toThrow(/backend must be/);
  });
});
