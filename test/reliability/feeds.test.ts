/**
 * Bad feeds: each gives a clear InputValidationError (or the documented behaviour), and the session runs a good
 * feed correctly right afterwards. NaN and Infinity pass through as IEEE 754 says and stay in their own
 * elements; detached buffers are refused; SharedArrayBuffer-backed data is read like any other (documented:
 * the caller must not write to it while a run is in progress).
 */
import { describe, expect, it } from 'vitest';
import { InputValidationError } from '../../src/graph/errors.js';
import { InferenceSession } from '../../src/graph/session.js';
import { TesseraError } from '../../src/tensor/errors.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { graph, modelBytes, node, value } from '../graph/build.js';

const f32 = (v: number[], dims?: number[]): Tensor => new Tensor('float32', Float32Array.from(v), dims ?? [v.length]);

/** y = Softmax(x * w) over the last axis (w an initializer), z = Relu(u): two independent outputs. */
function session(): InferenceSession {
  return InferenceSession.createSync(
    modelBytes(
      graph({
        nodes: [node('Mul', ['x', 'w'], ['xw']), node('Softmax', ['xw'], ['y'], { axis: -1 }), node('Relu', ['u'], ['z'])],
        inputs: [value('x', 'float32', ['batch', 3]), value('u', 'float32', ['batch', 2])],
        outputs: [value('y', 'float32', ['batch', 3]), value('z', 'float32', ['batch', 2])],
        initializers: { w: f32([1, 2, 3]) },
      }),
    ),
  );
}

const good = () => ({ x: f32([0, 0, 0, 1, 1, 1], [2, 3]), u: f32([-1, 2, 3, -4], [2, 2]) });

function expectGoodRun(s: InferenceSession): void {
  const out = s.runSync(good());
  const y = Array.from(out['y']!.data as Float32Array);
  expect(y.slice(0, 3).map((v) => v.toFixed(5))).toEqual(['0.33333', '0.33333', '0.33333']);
  expect(y[5]).toBeCloseTo(Math.exp(3) / (Math.exp(1) + Math.exp(2) + Math.exp(3)), 6);
  expect(Array.from(out['z']!.data as Float32Array)).toEqual([0, 2, 3, 0]);
}

function refusal(s: InferenceSession, feeds: unknown): InputValidationError {
  try {
    s.runSync(feeds as Record<string, Tensor>);
  } catch (e) {
    expect(e).toBeInstanceOf(InputValidationError);
    return e as InputValidationError;
  }
  throw new Error('expected the feeds to be refused');
}

describe('bad feeds are refused clearly and the session keeps working', () => {
  const s = session();
  const cases: [string, () => unknown, RegExp][] = [
    ['missing input', () => ({ x: good().x }), /missing input: 'u' \(float32 \[batch, 2\]\)/],
    ['both inputs missing', () => ({}), /missing inputs: 'x' .*, 'u'/],
    ['extra input', () => ({ ...good(), extra: f32([1]) }), /unknown input 'extra'; the model's inputs are: 'x', 'u'/],
    ['misnamed input', () => ({ X: good().x, u: good().u }), /unknown input 'X'/],
    ['initializer name fed with the wrong shape', () => ({ ...good(), w: f32([1]) }), /unknown input 'w'/],
    ['wrong dtype', () => ({ ...good(), x: new Tensor('float64', new Float64Array(6), [2, 3]) }), /input 'x' has type float64; expected float32 \[batch, 3\]/],
    ['int64 instead of float', () => ({ ...good(), u: new Tensor('int64', new BigInt64Array(4), [2, 2]) }), /input 'u' has type int64/],
    ['wrong rank', () => ({ ...good(), x: f32([1, 2, 3]) }), /input 'x' has shape \[3\] \(rank 1\); expected float32 \[batch, 3\] \(rank 2\)/],
    ['wrong static dim', () => ({ ...good(), x: f32([1, 2, 3, 4], [2, 2]) }), /input 'x' has shape \[2, 2\]; .*dim 1 must be 3/],
    ['symbolic dim disagrees between inputs', () => ({ ...good(), u: f32([1, 2], [1, 2]) }), /dim 0 'batch' is 1 here and 2 in input 'x'/],
    ['not a Tensor', () => ({ ...good(), x: [[0, 0, 0]] }), /input 'x' is not a Tensor/],
    ['a typed array instead of a Tensor', () => ({ ...good(), x: new Float32Array(6) }), /input 'x' is not a Tensor/],
    ['null feeds', () => null, /feeds must be an object/],
    ['a disposed tensor', () => {
      const f = good();
      f.x.dispose();
      return f;
    }, /input 'x' was disposed/],
    ['a detached buffer', () => {
      const f = good();
      const buf = (f.x.data as Float32Array).buffer;
      structuredClone(buf, { transfer: [buf] });
      return f;
    }, /input 'x' \(float32 \[2, 3\]\) has lost its data: its ArrayBuffer was detached/],
  ];
  for (const [name, feeds, message] of cases) {
    it(name, () => {
      const e = refusal(s, feeds());
      expect(e.message).toMatch(message);
      expectGoodRun(s);
    });
  }

  it('an unknown output name is refused', () => {
    expect(() => s.runSync(good(), ['y', 'nope'])).toThrow(/unknown output 'nope' requested; the model's outputs are: y, z/);
    expectGoodRun(s);
  });

  it('a Tensor cannot even be built over a detached buffer', () => {
    const data = new Float32Array(4);
    structuredClone(data.buffer, { transfer: [data.buffer] });
    expect(() => new Tensor('float32', data, [4])).toThrow(TesseraError);
  });
});

describe('NaN and Infinity', () => {
  it('pass through per IEEE 754 and never reach other rows or outputs', () => {
    const s = session();
    const x = f32([NaN, 0, 0, 1, 1, 1, Infinity, 0, 0, -Infinity, 0, 0], [4, 3]);
    const u = f32([NaN, 2, -Infinity, Infinity, 1, -1, 0, 5], [4, 2]);
    const out = s.runSync({ x, u });
    const y = Array.from(out['y']!.data as Float32Array);
    // row 0 has a NaN: softmax of that row is NaN; row 1 is untouched by it
    expect(y.slice(0, 3).every(Number.isNaN)).toBe(true);
    expect(y[5]).toBeCloseTo(Math.exp(3) / (Math.exp(1) + Math.exp(2) + Math.exp(3)), 6);
    // row 2 has +Infinity * 1: exp(inf - inf) is NaN per IEEE (onnxruntime gives the same); row 3 has -Infinity: its weight is 0
    expect(y.slice(6, 9).some(Number.isNaN)).toBe(true);
    expect(y[9]).toBe(0);
    expect(y[10]! + y[11]!).toBeCloseTo(1, 6);
    // Relu: NaN stays NaN, -Inf -> 0, +Inf -> +Inf, and the finite elements are exact
    expect(Array.from(out['z']!.data as Float32Array)).toEqual([NaN, 2, 0, Infinity, 1, 0, 0, 5]);
    expectGoodRun(s);
  });
});

describe('SharedArrayBuffer-backed feeds', () => {
  it('are read like ordinary arrays and give bitwise the same outputs', () => {
    const s = session();
    const plain = good();
    const shared = new Float32Array(new SharedArrayBuffer(6 * 4));
    shared.set(plain.x.data as Float32Array);
    const a = s.runSync(plain);
    const b = s.runSync({ x: new Tensor('float32', shared, [2, 3]), u: plain.u });
    expect(Buffer.from((b['y']!.data as Float32Array).buffer).equals(Buffer.from((a['y']!.data as Float32Array).buffer))).toBe(true);
    // the caller's shared memory is not written
    expect(Array.from(shared)).toEqual([0, 0, 0, 1, 1, 1]);
    expectGoodRun(s);
  });
});
