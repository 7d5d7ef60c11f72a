import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeModel } from '../../src/graph/onnx/encode.js';
import type { NodeProto } from '../../src/graph/onnx/proto.js';
import { InferenceSession } from '../../src/graph/session.js';
import { OpValidationError, UnsupportedFeatureError } from '../../src/tensor/errors.js';
import { fromNumbers, Tensor } from '../../src/tensor/tensor.js';
import { attr, graph, model, node, value } from './build.js';

const TRAINING = 'ai.onnx.preview.training';

function gradientNode(inputs: string[], outputs: string[], xs: string[], y: string, zs?: string[]): NodeProto {
  const attribute = [attr('xs', xs), attr('y', y)];
  if (zs) attribute.push(attr('zs', zs));
  return { opType: 'Gradient', domain: TRAINING, input: inputs, output: outputs, name: 'grad', attribute };
}

function session(nodes: NodeProto[], inputs: ReturnType<typeof value>[], outputs: ReturnType<typeof value>[]): InferenceSession {
  const m = model(graph({ nodes, inputs, outputs }), 17);
  m.opsetImport.push({ domain: TRAINING, version: 1 });
  return InferenceSession.createSync(encodeModel(m), { graphOptimizationLevel: 'none' });
}

const f64 = (values: number[], dims: number[]): Tensor => fromNumbers('float64', values, dims);
const nums = (t: Tensor | undefined): number[] => Array.from(t!.numbers());

/** Central differences of sum(f(x)) with respect to every element of feeds[name]. */
function numericGradient(run: (feeds: Record<string, Tensor>) => Tensor, feeds: Record<string, Tensor>, name: string): number[] {
  const x = feeds[name]!;
  const base = nums(x);
  const h = 1e-6;
  return base.map((_, i) => {
    const at = (delta: number): number => {
      const v = [...base];
      v[i]! += delta;
      const y = run({ ...feeds, [name]: f64(v, [...x.dims]) });
      return nums(y).reduce((a, b) => a + b, 0);
    };
    return (at(h) - at(-h)) / (2 * h);
  });
}

describe('ai.onnx.preview.training.Gradient', () => {
  it('differentiates Add and Mul (the simple-suite graphs)', () => {
    const s = session(
      [node('Add', ['a', 'b'], ['c']), node('Mul', ['c', 'a'], ['d']), gradientNode(['a', 'b'], ['dd_da', 'dd_db'], ['a', 'b'], 'd')],
      [value('a', 'float32', []), value('b', 'float32', [])],
      [value('d', 'float32', []), value('dd_da', 'float32', []), value('dd_db', 'float32', [])],
    );
    const out = s.runSync({ a: fromNumbers('float32', [2], []), b: fromNumbers('float32', [3], []) });
    // d = (a + b) a: dd/da = 2a + b = 7, dd/db = a = 2
    expect(nums(out['d'])).toEqual([10]);
    expect(nums(out['dd_da'])).toEqual([7]);
    expect(nums(out['dd_db'])).toEqual([2]);
  });

  it('matches finite differences through every supported operator, with broadcasting and MatMul', () => {
    // y = Tanh(Relu(MatMul(x, w) + b) / (1 + Sigmoid(-x2))) - x3 * w2, summed
    const nodes = [
      node('MatMul', ['x', 'w'], ['xw']),
      node('Add', ['xw', 'b'], ['h']),
      node('Relu', ['h'], ['r']),
      node('Neg', ['x2'], ['nx2']),
      node('Sigmoid', ['nx2'], ['sg']),
      node('Add', ['sg', 'one'], ['den']),
      node('Div', ['r', 'den'], ['q']),
      node('Tanh', ['q'], ['t']),
      node('Identity', ['t'], ['ti']),
      node('Mul', ['x3', 'w2'], ['m']),
      node('Sub', ['ti', 'm'], ['y']),
    ];
    const inputs = [
      value('x', 'float64', [2, 3]),
      value('w', 'float64', [3]),
      value('b', 'float64', [1]),
      value('x2', 'float64', [2]),
      value('one', 'float64', []),
      value('x3', 'float64', [2, 1]),
      value('w2', 'float64', [2]),
    ];
    const names = ['x', 'w', 'b', 'x2', 'x3', 'w2'];
    const grads = session(
      [...nodes, gradientNode([...names, 'one'], names.map((n) => `d_${n}`), names, 'y', ['one'])],
      inputs,
      names.map((n) => value(`d_${n}`, 'float64')),
    );
    const forward = session(nodes, inputs, [value('y', 'float64'), value('h', 'float64')]);
    fc.assert(
      fc.property(fc.array(fc.double({ min: -2, max: 2, noNaN: true }), { minLength: 19, maxLength: 19 }), (v) => {
        const feeds: Record<string, Tensor> = {
          x: f64(v.slice(0, 6), [2, 3]),
          w: f64(v.slice(6, 9), [3]),
          b: f64([v[9]!], [1]),
          x2: f64(v.slice(10, 12), [2]),
          one: f64([1], []),
          x3: f64(v.slice(12, 14), [2, 1]),
          w2: f64(v.slice(14, 16), [2]),
        };
        // keep Relu's input away from its kink, where finite differences are meaningless
        fc.pre(nums(forward.runSync(feeds)['h']).every((v) => Math.abs(v) > 1e-3));
        const out = grads.runSync(feeds);
        for (const n of names) {
          const want = numericGradient((f) => forward.runSync(f)['y']!, feeds, n);
          const got = nums(out[`d_${n}`]);
          expect(out[`d_${n}`]!.dims).toEqual([...feeds[n]!.dims]);
          got.forEach((g, i) => expect(g).toBeCloseTo(want[i]!, 4));
        }
      }),
      { numRuns: 25 },
    );
  });

  it('matches finite differences for MatMul with a 1-D operand and broadcast batch dims', () => {
    const nodes = [node('MatMul', ['v', 'B'], ['vb']), node('MatMul', ['A', 'C'], ['ac']), node('MatMul', ['vb', 'D'], ['p']), node('Add', ['p', 'ac'], ['y'])];
    const inputs = [value('v', 'float64', [3]), value('B', 'float64', [2, 3, 4]), value('A', 'float64', [2, 2, 3]), value('C', 'float64', [3, 1]), value('D', 'float64', [4, 1])];
    const names = ['v', 'B', 'A', 'C', 'D'];
    const grads = session([...nodes, gradientNode(names, names.map((n) => `d_${n}`), names, 'y')], inputs, names.map((n) => value(`d_${n}`, 'float64')));
    const forward = session(nodes, inputs, [value('y', 'float64')]);
    const v = Array.from({ length: 49 }, (_, i) => Math.sin(i + 1));
    const feeds = { v: f64(v.slice(0, 3), [3]), B: f64(v.slice(3, 27), [2, 3, 4]), A: f64(v.slice(27, 39), [2, 2, 3]), C: f64(v.slice(39, 42), [3, 1]), D: f64(v.slice(42, 46), [4, 1]) };
    const out = grads.runSync(feeds);
    for (const n of names) {
      const want = numericGradient((f) => forward.runSync(f)['y']!, feeds, n);
      nums(out[`d_${n}`]).forEach((g, i) => expect(g).toBeCloseTo(want[i]!, 5));
    }
  });

  it('gives zeros for an x that y does not depend on and stops at intermediate xs', () => {
    const s = session(
      [node('Mul', ['a', 'a'], ['sq']), node('Mul', ['sq', 'k'], ['y']), gradientNode(['sq', 'k', 'b'], ['d_sq', 'd_k', 'd_b'], ['sq', 'k', 'b'], 'y')],
      [value('a', 'float32', [2]), value('k', 'float32', [2]), value('b', 'float32', [2])],
      [value('d_sq', 'float32'), value('d_k', 'float32'), value('d_b', 'float32')],
    );
    const out = s.runSync({ a: fromNumbers('float32', [1, 2], [2]), k: fromNumbers('float32', [3, 4], [2]), b: fromNumbers('float32', [5, 6], [2]) });
    // xs includes the intermediate sq: its value is the node input, and y = sq * k
    expect(nums(out['d_sq'])).toEqual([3, 4]);
    expect(nums(out['d_k'])).toEqual([1, 4]);
    expect(nums(out['d_b'])).toEqual([0, 0]);
  });

  it('works at the default optimization level when y is not a graph output (rewrites are skipped)', () => {
    const m = model(
      graph({
        nodes: [node('MatMul', ['x', 'w'], ['xw']), node('Add', ['xw', 'b'], ['h']), node('Relu', ['h'], ['y']), gradientNode(['x', 'w', 'b'], ['dx', 'dw', 'db'], ['x', 'w', 'b'], 'y')],
        inputs: [value('x', 'float32', [1, 2]), value('w', 'float32', [2, 1]), value('b', 'float32', [1])],
        outputs: [value('dx', 'float32'), value('dw', 'float32'), value('db', 'float32')],
      }),
      17,
    );
    m.opsetImport.push({ domain: TRAINING, version: 1 });
    const s = InferenceSession.createSync(encodeModel(m));
    const out = s.runSync({ x: fromNumbers('float32', [1, 2], [1, 2]), w: fromNumbers('float32', [3, 4], [2, 1]), b: fromNumbers('float32', [0.5], [1]) });
    expect(nums(out['dx'])).toEqual([3, 4]);
    expect(nums(out['dw'])).toEqual([1, 2]);
    expect(nums(out['db'])).toEqual([1]);
  });

  it('refuses operators it cannot differentiate, and malformed attributes', () => {
    const exp = session(
      [node('Exp', ['a'], ['y']), gradientNode(['a'], ['da'], ['a'], 'y')],
      [value('a', 'float32', [1])],
      [value('da', 'float32')],
    );
    expect(() => exp.runSync({ a: fromNumbers('float32', [1], [1]) })).toThrow(UnsupportedFeatureError);
    expect(() => exp.runSync({ a: fromNumbers('float32', [1], [1]) })).toThrow(/cannot differentiate through node 'Exp_0' \(Exp\)/);
    const badY = session([node('Exp', ['a'], ['y']), gradientNode(['a'], ['da'], ['a'], 'nowhere')], [value('a', 'float32', [1])], [value('da', 'float32')]);
    expect(() => badY.runSync({ a: fromNumbers('float32', [1], [1]) })).toThrow(OpValidationError);
    expect(() => badY.runSync({ a: fromNumbers('float32', [1], [1]) })).toThrow(/attribute 'y' names 'nowhere'/);
    const intX = session(
      [node('Add', ['a', 'a'], ['y']), gradientNode(['a'], ['da'], ['a'], 'y')],
      [value('a', 'int32', [1])],
      [value('da', 'int32')],
    );
    expect(() => intX.runSync({ a: new Tensor('int32', new Int32Array(1)) })).toThrow(/xs value 'a' has type int32/);
  });
});
