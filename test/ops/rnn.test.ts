/**
 * Recurrent operators (LSTM, GRU, RNN): fast kernels against the per-element reference on random small
 * problems (every direction, both layouts, each optional input present or absent, random sequence_lens,
 * clip, activations with alpha/beta, input_forget, linear_before_reset, float32/float64/float16, strided
 * inputs), known answers from the ONNX backend tests and hand computation, and bad calls.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import '../../src/kernels/cpu/rnn.js';
import { gru, lstm, rnn } from '../../src/ops/rnn.js';
import { runOp } from '../../src/ops/dispatch.js';
import { referenceGru, referenceLstm, referenceRnn, type ReferenceRecurrentAttrs } from '../../src/kernels/cpu/reference/rnn.js';
import type { DataType } from '../../src/tensor/dtype.js';
import { OpValidationError } from '../../src/tensor/errors.js';
import { fromNumbers, Tensor } from '../../src/tensor/tensor.js';
import { arbTensor, expectClose, nonContiguous } from '../util/tensors.js';

type RecurrentOp = 'LSTM' | 'GRU' | 'RNN';
const GATES: Record<RecurrentOp, number> = { LSTM: 4, GRU: 3, RNN: 1 };
const ACTIVATIONS_PER_DIRECTION: Record<RecurrentOp, number> = { LSTM: 3, GRU: 2, RNN: 1 };
const ACTIVATION_NAMES = ['Sigmoid', 'Tanh', 'Relu', 'HardSigmoid', 'LeakyRelu', 'ThresholdedRelu', 'ScaledTanh', 'Affine', 'Elu', 'Softsign', 'Softplus'];
const REFERENCE = { LSTM: referenceLstm, GRU: referenceGru, RNN: referenceRnn };

interface RecurrentCase {
  op: RecurrentOp;
  inputs: (Tensor | undefined)[];
  attrs: ReferenceRecurrentAttrs;
}

const f32 = (values: readonly number[], dims: readonly number[]) => fromNumbers('float32', values, dims);
const filled = (value: number, dims: readonly number[]) => f32(new Array<number>(dims.reduce((a, b) => a * b, 1)).fill(value), dims);
const int32 = (values: readonly number[]) => new Tensor('int32', Int32Array.from(values), [values.length]);

/** A random, valid call of `op`: small dims, seq 0..4, every attribute and optional input drawn. */
function arbCase(op: RecurrentOp, type: DataType, batchRange = { min: 1, max: 3 }): fc.Arbitrary<RecurrentCase> {
  const G = GATES[op];
  return fc
    .record({
      seq: fc.integer({ min: 0, max: 4 }),
      batch: fc.integer(batchRange),
      inputSize: fc.integer({ min: 1, max: 5 }),
      hidden: fc.integer({ min: 1, max: 5 }),
      direction: fc.constantFrom('forward', 'reverse', 'bidirectional'),
      layout: fc.constantFrom(0, 1),
      withB: fc.boolean(),
      withLens: fc.boolean(),
      withH0: fc.boolean(),
      withC0: fc.boolean(),
      withP: fc.boolean(),
      clip: fc.option(fc.double({ min: 0.2, max: 2, noNaN: true }), { nil: undefined }),
      customActivations: fc.boolean(),
      giveHiddenSize: fc.boolean(),
      flag: fc.constantFrom(0, 1),
      strided: fc.boolean(),
    })
    .chain((c) => {
      const D = c.direction === 'bidirectional' ? 2 : 1;
      const xDims = c.layout === 0 ? [c.seq, c.batch, c.inputSize] : [c.batch, c.seq, c.inputSize];
      const stateDims = c.layout === 0 ? [D, c.batch, c.hidden] : [c.batch, D, c.hidden];
      const nActs = ACTIVATIONS_PER_DIRECTION[op] * D;
      const maybe = (present: boolean, dims: number[]) => (present ? arbTensor(type, dims, 1) : fc.constant(undefined));
      return fc.record({
        c: fc.constant(c),
        x: arbTensor(type, xDims, 2),
        w: arbTensor(type, [D, G * c.hidden, c.inputSize], 1),
        r: arbTensor(type, [D, G * c.hidden, c.hidden], 1),
        b: maybe(c.withB, [D, 2 * G * c.hidden]),
        lens: c.withLens ? fc.array(fc.integer({ min: 0, max: c.seq }), { minLength: c.batch, maxLength: c.batch }).map(int32) : fc.constant(undefined),
        h0: maybe(c.withH0, stateDims),
        c0: maybe(op === 'LSTM' && c.withC0, stateDims),
        p: maybe(op === 'LSTM' && c.withP, [D, 3 * c.hidden]),
        activations: c.customActivations ? fc.array(fc.constantFrom(...ACTIVATION_NAMES), { minLength: nActs, maxLength: nActs }) : fc.constant(undefined),
        alphas: fc.option(fc.array(fc.double({ min: 0.05, max: 1.5, noNaN: true }), { maxLength: 6 }), { nil: undefined }),
        betas: fc.option(fc.array(fc.double({ min: -0.5, max: 1, noNaN: true }), { maxLength: 6 }), { nil: undefined }),
      });
    })
    .map(({ c, x, w, r, b, lens, h0, c0, p, activations, alphas, betas }) => {
      const attrs: ReferenceRecurrentAttrs = { direction: c.direction, layout: c.layout };
      if (c.giveHiddenSize) attrs.hidden_size = c.hidden;
      if (c.clip !== undefined) attrs.clip = c.clip;
      if (activations) {
        attrs.activations = activations;
        if (alphas) attrs.activation_alpha = alphas;
        if (betas) attrs.activation_beta = betas;
      }
      if (op === 'LSTM') attrs.input_forget = c.flag;
      if (op === 'GRU') attrs.linear_before_reset = c.flag;
      const inputs = op === 'LSTM' ? [x, w, r, b, lens, h0, c0, p] : [x, w, r, b, lens, h0];
      if (c.strided) {
        inputs[0] = nonContiguous(x);
        inputs[2] = nonContiguous(r);
      }
      return { op, inputs, attrs };
    });
}

function runFast(c: RecurrentCase): Tensor[] {
  return runOp(c.op, c.inputs, { ...c.attrs });
}

function compareWithReference(c: RecurrentCase, tol: { rtol: number; atol: number }): void {
  const fast = runFast(c);
  const ref = REFERENCE[c.op](c.inputs, c.attrs);
  expect(fast.length).toBe(ref.length);
  fast.forEach((t, i) => expectClose(t, ref[i]!, { ...tol, label: `${c.op} output ${i} ${JSON.stringify(c.attrs)}` }));
}

describe.each(['LSTM', 'GRU', 'RNN'] as const)('%s fast kernel vs reference', (op) => {
  it('float32: random shapes, directions, layouts, optional inputs and attributes', () => {
    fc.assert(fc.property(arbCase(op, 'float32'), (c) => compareWithReference(c, { rtol: 1e-4, atol: 2e-5 })), { numRuns: 80 });
  });
  it('float64 agrees tightly', () => {
    fc.assert(fc.property(arbCase(op, 'float64'), (c) => compareWithReference(c, { rtol: 1e-9, atol: 1e-11 })), { numRuns: 30 });
  });
  it('float16 computes in float32 and rounds once', () => {
    fc.assert(fc.property(arbCase(op, 'float16'), (c) => compareWithReference(c, { rtol: 2e-3, atol: 2e-3 })), { numRuns: 20 });
  });
  it('float32 with 4..6 sequences (recurrent products through sgemm rather than row dot products)', () => {
    fc.assert(fc.property(arbCase(op, 'float32', { min: 4, max: 6 }), (c) => compareWithReference(c, { rtol: 1e-4, atol: 2e-5 })), { numRuns: 15 });
  });
});

describe('layout 1 is layout 0 transposed', () => {
  it('LSTM bidirectional with all optional inputs', () => {
    const seq = 3;
    const batch = 2;
    const I = 2;
    const H = 3;
    const rand = (dims: number[], seed: number) => f32(dims.length ? Array.from({ length: dims.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(seed * 7.1 + i * 1.3)) : [], dims);
    const x0 = rand([seq, batch, I], 1);
    const h0 = rand([2, batch, H], 2);
    const c0 = rand([2, batch, H], 3);
    const w = rand([2, 4 * H, I], 4);
    const r = rand([2, 4 * H, H], 5);
    const b = rand([2, 8 * H], 6);
    const p = rand([2, 3 * H], 7);
    const lens = int32([3, 1]);
    const a = lstm(x0, w, r, { b, sequenceLens: lens, initialH: h0, initialC: c0, p, direction: 'bidirectional' });
    const t = lstm(x0.transpose([1, 0, 2]).contiguous(), w, r, {
      b,
      sequenceLens: lens,
      initialH: h0.transpose([1, 0, 2]).contiguous(),
      initialC: c0.transpose([1, 0, 2]).contiguous(),
      p,
      direction: 'bidirectional',
      layout: 1,
    });
    expectClose(t.y, a.y.transpose([2, 0, 1, 3]).contiguous());
    expectClose(t.yH, a.yH.transpose([1, 0, 2]).contiguous());
    expectClose(t.yC, a.yC.transpose([1, 0, 2]).contiguous());
  });
});

// Known answers: inputs of the ONNX backend tests (built from constants as in Operators.md), outputs from
// their test_data_set_0 (produced by ONNX's numpy reference).
describe('ONNX backend-test answers', () => {
  const X32 = f32([1, 2, 3, 4, 5, 6], [1, 3, 2]);
  it('test_lstm_defaults', () => {
    const { yH } = lstm(X32, filled(0.1, [1, 12, 2]), filled(0.1, [1, 12, 3]), { hiddenSize: 3 });
    expectClose(yH, f32([0.0952412, 0.0952412, 0.0952412, 0.25606447, 0.25606447, 0.25606447, 0.40323776, 0.40323776, 0.40323776], [1, 3, 3]));
  });
  it('test_lstm_with_initial_bias', () => {
    const x = f32([1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 3, 3]);
    const b = f32([...new Array<number>(16).fill(0.1), ...new Array<number>(16).fill(0)], [1, 32]);
    const { yH } = lstm(x, filled(0.1, [1, 16, 3]), filled(0.1, [1, 16, 4]), { b, hiddenSize: 4 });
    const rows = [0.25606447, 0.53672779, 0.6672132];
    expectClose(yH, f32(rows.flatMap((v) => [v, v, v, v]), [1, 3, 4]));
  });
  it('test_lstm_with_peepholes', () => {
    const x = f32([1, 2, 3, 4, 5, 6, 7, 8], [1, 2, 4]);
    const { yH } = lstm(x, filled(0.1, [1, 12, 4]), filled(0.1, [1, 12, 3]), {
      b: filled(0, [1, 24]),
      sequenceLens: int32([1, 1]),
      initialH: filled(0, [1, 2, 3]),
      initialC: filled(0, [1, 2, 3]),
      p: filled(0.1, [1, 9]),
      hiddenSize: 3,
    });
    expectClose(yH, f32([0.37506911, 0.37506911, 0.37506911, 0.6801309, 0.6801309, 0.6801309], [1, 2, 3]));
  });
  it('test_lstm_batchwise (layout 1)', () => {
    const x = f32([1, 2, 3, 4, 5, 6], [3, 1, 2]);
    const { y, yH } = lstm(x, filled(0.3, [1, 28, 2]), filled(0.3, [1, 28, 7]), { hiddenSize: 7, layout: 1 });
    const rows = [0.33369261, 0.62239319, 0.71857899];
    expectClose(y, f32(rows.flatMap((v) => new Array<number>(7).fill(v)), [3, 1, 1, 7]));
    expectClose(yH, f32(rows.flatMap((v) => new Array<number>(7).fill(v)), [3, 1, 7]));
  });
  it('test_gru_defaults', () => {
    const { yH } = gru(X32, filled(0.1, [1, 15, 2]), filled(0.1, [1, 15, 5]), { hiddenSize: 5 });
    const rows = [0.12397026, 0.20053662, 0.19991654];
    expectClose(yH, f32(rows.flatMap((v) => new Array<number>(5).fill(v)), [1, 3, 5]));
  });
  it('test_gru_with_initial_bias', () => {
    const x = f32([1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 3, 3]);
    const b = f32([...new Array<number>(9).fill(0.1), ...new Array<number>(9).fill(0)], [1, 18]);
    const { yH } = gru(x, filled(0.1, [1, 9, 3]), filled(0.1, [1, 9, 3]), { b, hiddenSize: 3 });
    const rows = [0.20053662, 0.15482338, 0.07484276];
    expectClose(yH, f32(rows.flatMap((v) => [v, v, v]), [1, 3, 3]));
  });
  it('test_gru_batchwise (layout 1)', () => {
    const x = f32([1, 2, 3, 4, 5, 6], [3, 1, 2]);
    const { y, yH } = gru(x, filled(0.2, [1, 18, 2]), filled(0.2, [1, 18, 6]), { hiddenSize: 6, layout: 1 });
    const rows = [0.19030014, 0.1751368, 0.09733085];
    expectClose(y, f32(rows.flatMap((v) => new Array<number>(6).fill(v)), [3, 1, 1, 6]));
    expectClose(yH, f32(rows.flatMap((v) => new Array<number>(6).fill(v)), [3, 1, 6]));
  });
  it('test_simple_rnn_defaults', () => {
    const { yH } = rnn(X32, filled(0.1, [1, 4, 2]), filled(0.1, [1, 4, 4]), { hiddenSize: 4 });
    const rows = [0.29131263, 0.60436779, 0.80049902];
    expectClose(yH, f32(rows.flatMap((v) => [v, v, v, v]), [1, 3, 4]));
  });
  it('test_simple_rnn_batchwise (layout 1)', () => {
    const x = f32([1, 2, 3, 4, 5, 6], [3, 1, 2]);
    const { y, yH } = rnn(x, filled(0.5, [1, 4, 2]), filled(0.5, [1, 4, 4]), { hiddenSize: 4, layout: 1 });
    const rows = [0.90514821, 0.99817789, 0.99996662];
    expectClose(y, f32(rows.flatMap((v) => [v, v, v, v]), [3, 1, 1, 4]));
    expectClose(yH, f32(rows.flatMap((v) => [v, v, v, v]), [3, 1, 4]));
  });
});

describe('hand-computed single steps', () => {
  it('RNN: tanh(x.W + h0.R + Wb + Rb)', () => {
    // 1*0.5 + 2*(-0.25) + 0.5*0.3 + 0.1 + 0.2 = 0.45
    const { y, yH } = rnn(f32([1, 2], [1, 1, 2]), f32([0.5, -0.25], [1, 1, 2]), f32([0.3], [1, 1, 1]), {
      b: f32([0.1, 0.2], [1, 2]),
      initialH: f32([0.5], [1, 1, 1]),
    });
    expectClose(y, f32([0.4218990052500079], [1, 1, 1, 1]));
    expectClose(yH, f32([0.4218990052500079], [1, 1, 1]));
  });
  it('LSTM: gates in i, o, f, c order with peepholes i, o, f', () => {
    // x = 1, h0 = 0, c0 = 0.5; W rows (i, o, f, c) = (0, 0, 1, 2); P = (pi 0.4, po 0.6, pf 0.2)
    // i = s(0 + 0.4*0.5) = s(0.2) = 0.549833997312478, f = s(1 + 0.2*0.5) = s(1.1) = 0.7502601055951177
    // c~ = tanh(2) = 0.9640275800758169, C = f*0.5 + i*c~ = 0.9051851906701202
    // o = s(0 + 0.6*C) = s(0.543111114402072) = 0.632535844988442, H = o * tanh(C) = 0.45467515563988486
    const { y, yH, yC } = lstm(f32([1], [1, 1, 1]), f32([0, 0, 1, 2], [1, 4, 1]), filled(0, [1, 4, 1]), {
      initialC: f32([0.5], [1, 1, 1]),
      p: f32([0.4, 0.6, 0.2], [1, 3]),
    });
    expectClose(yC, f32([0.9051851906701202], [1, 1, 1]));
    expectClose(yH, f32([0.45467515563988486], [1, 1, 1]));
    expectClose(y, f32([0.45467515563988486], [1, 1, 1, 1]));
  });
  it('LSTM input_forget couples f = 1 - i (forget weights ignored)', () => {
    // i = s(0) = 0.5 so f = 0.5 whatever W_f says; c~ = tanh(0) = 0; C = 0.5 * c0
    const { yC } = lstm(f32([1], [1, 1, 1]), f32([0, 0, 9, 0], [1, 4, 1]), filled(0, [1, 4, 1]), {
      initialC: f32([0.8], [1, 1, 1]),
      inputForget: 1,
    });
    expectClose(yC, f32([0.4], [1, 1, 1]));
  });
  it('GRU linear_before_reset moves Rb_h inside the reset product', () => {
    // x = 0, h0 = 1, W = 0, R rows (z, r, h) = (0, 0, 1), B: Wb = 0, Rb = (0, 0, 1); z = r = 0.5
    // lbr 0: h~ = tanh(0.5*1*1 + 1) = tanh(1.5); lbr 1: h~ = tanh(0.5*(1*1 + 1)) = tanh(1); H = 0.5*h~ + 0.5
    const args = [f32([0], [1, 1, 1]), filled(0, [1, 3, 1]), f32([0, 0, 1], [1, 3, 1])] as const;
    const opts = { b: f32([0, 0, 0, 0, 0, 1], [1, 6]), initialH: f32([1], [1, 1, 1]) };
    expectClose(gru(...args, opts).yH, f32([0.5 * Math.tanh(1.5) + 0.5], [1, 1, 1]));
    expectClose(gru(...args, { ...opts, linearBeforeReset: 1 }).yH, f32([0.5 * Math.tanh(1) + 0.5], [1, 1, 1]));
  });
  it('clip bounds every pre-activation', () => {
    const { yH } = rnn(f32([10], [1, 1, 1]), f32([1], [1, 1, 1]), f32([0], [1, 1, 1]), { clip: 0.5, activations: ['Affine'], activationAlpha: [2], activationBeta: [0.25] });
    expectClose(yH, f32([2 * 0.5 + 0.25], [1, 1, 1]));
  });
  it('activation_alpha/beta are consumed in order by the activations that take them', () => {
    // forward Tanh (takes none), reverse LeakyRelu takes the first alpha: -1 * 0.3
    const { yH } = rnn(f32([-1], [1, 1, 1]), filled(1, [2, 1, 1]), filled(0, [2, 1, 1]), {
      direction: 'bidirectional',
      activations: ['Tanh', 'LeakyRelu'],
      activationAlpha: [0.3],
    });
    expectClose(yH, f32([Math.tanh(-1), -0.3], [2, 1, 1]));
  });
  it('RNN with the documented default pair [Tanh, Tanh] in one direction uses the first', () => {
    const { yH } = rnn(f32([-1], [1, 1, 1]), filled(1, [1, 1, 1]), filled(0, [1, 1, 1]), { activations: ['Relu', 'Tanh'] });
    expectClose(yH, f32([0], [1, 1, 1]));
  });
  it('sequence_lens: zeros past each length, reverse starts at the last valid step, length 0 gives zero state', () => {
    // X[t, b]: b0 = (1, 3), b1 = (2, 4); W 0.5, R 0.25, h0 0.5, lengths (2, 0) — values checked against onnxruntime
    const x = f32([1, 2, 3, 4], [2, 2, 1]);
    const opts = { sequenceLens: int32([2, 0]), initialH: filled(0.5, [1, 2, 1]) };
    const w = filled(0.5, [1, 1, 1]);
    const r = filled(0.25, [1, 1, 1]);
    const fwd = rnn(x, w, r, opts);
    const h1 = Math.tanh(0.5 + 0.125);
    const h2 = Math.tanh(1.5 + 0.25 * h1);
    expectClose(fwd.y, f32([h1, 0, h2, 0], [2, 1, 2, 1]));
    expectClose(fwd.yH, f32([h2, 0], [1, 2, 1]));
    const rev = rnn(x, w, r, { ...opts, direction: 'reverse' });
    const g1 = Math.tanh(1.5 + 0.125); // t = 1 first
    const g0 = Math.tanh(0.5 + 0.25 * g1);
    expectClose(rev.y, f32([g0, 0, g1, 0], [2, 1, 2, 1]));
    expectClose(rev.yH, f32([g0, 0], [1, 2, 1]));
  });
  it('seq_length 0: empty Y, zero final states', () => {
    const { y, yH, yC } = lstm(filled(0, [0, 2, 3]), filled(0.1, [1, 8, 3]), filled(0.1, [1, 8, 2]), { initialH: filled(1, [1, 2, 2]) });
    expect([...y.dims]).toEqual([0, 1, 2, 2]);
    expectClose(yH, filled(0, [1, 2, 2]));
    expectClose(yC, filled(0, [1, 2, 2]));
  });
  it('float64 and float16 keep their dtype', () => {
    const x = fromNumbers('float64', [1, 2, 3, 4, 5, 6], [1, 3, 2]);
    const { yH } = rnn(x, fromNumbers('float64', new Array<number>(8).fill(0.1), [1, 4, 2]), fromNumbers('float64', new Array<number>(16).fill(0.1), [1, 4, 4]));
    expect(yH.type).toBe('float64');
    expect(yH.numbers()[0]).toBeCloseTo(0.29131263, 7);
    const h = rnn(fromNumbers('float16', [1, 2, 3, 4, 5, 6], [1, 3, 2]), fromNumbers('float16', new Array<number>(8).fill(0.1), [1, 4, 2]), fromNumbers('float16', new Array<number>(16).fill(0.1), [1, 4, 4]));
    expect(h.yH.type).toBe('float16');
    expect(h.yH.numbers()[0]).toBeCloseTo(0.2913, 3);
  });
});

describe('bad calls', () => {
  const x = filled(1, [2, 1, 3]);
  const w = filled(0.1, [1, 8, 3]);
  const r = filled(0.1, [1, 8, 2]);
  const bad = (f: () => unknown, message: RegExp) => {
    expect(f).toThrow(OpValidationError);
    expect(f).toThrow(message);
  };
  it('W with the wrong gate count or input size', () => {
    bad(() => lstm(x, filled(0.1, [1, 6, 3]), r), /LSTM: input 'W' has shape \[1, 6, 3\]; expected \[1, 8, 3\] \(\[num_directions, 4\*hidden_size, input_size\]/);
    bad(() => lstm(x, filled(0.1, [1, 8, 4]), r), /input 'W' has shape \[1, 8, 4\]; expected \[1, 8, 3\]/);
    bad(() => gru(x, filled(0.1, [1, 8, 3]), r), /GRU: input 'W' has shape \[1, 8, 3\]; expected \[1, 6, 3\]/);
  });
  it('hidden_size that disagrees with R', () => {
    bad(() => lstm(x, w, r, { hiddenSize: 3 }), /input 'W' has shape \[1, 8, 3\]; expected \[1, 12, 3\].*hidden_size 3/);
    bad(() => lstm(x, w, filled(0.1, [1, 8, 3]), { hiddenSize: 2 }), /input 'R' has shape \[1, 8, 3\]; expected \[1, 8, 2\]/);
    bad(() => rnn(x, filled(0.1, [1, 2, 3]), filled(0.1, [1, 2, 2]), { hiddenSize: 0 }), /'hidden_size' is 0; expected a positive integer/);
  });
  it('num_directions mismatch and bad direction', () => {
    bad(() => lstm(x, w, r, { direction: 'bidirectional' }), /input 'W' has shape \[1, 8, 3\]; expected \[2, 8, 3\]/);
    bad(() => runOp('LSTM', [x, w, r], { direction: 'sideways' }), /attribute 'direction' is "sideways"; expected 'forward', 'reverse' or 'bidirectional'/);
  });
  it('activations: wrong count, unknown name', () => {
    bad(() => lstm(x, w, r, { activations: ['Sigmoid', 'Tanh'] }), /'activations' has 2 entries \[Sigmoid, Tanh\]; expected 3 \(3 per direction, 1 direction\)/);
    bad(() => gru(x, filled(0.1, [2, 6, 3]), filled(0.1, [2, 6, 2]), { direction: 'bidirectional', activations: ['Sigmoid', 'Tanh'] }), /expected 4 \(2 per direction, 2 directions\)/);
    bad(() => rnn(x, filled(0.1, [1, 2, 3]), filled(0.1, [1, 2, 2]), { activations: ['Gelu'] }), /unknown activation 'Gelu'/);
  });
  it('optional inputs of the wrong shape', () => {
    bad(() => lstm(x, w, r, { b: filled(0, [1, 8]) }), /input 'B' has shape \[1, 8\]; expected \[1, 16\]/);
    bad(() => lstm(x, w, r, { p: filled(0, [1, 8]) }), /input 'P' has shape \[1, 8\]; expected \[1, 6\]/);
    bad(() => lstm(x, w, r, { initialH: filled(0, [1, 2, 2]) }), /input 'initial_h' has shape \[1, 2, 2\]; expected \[1, 1, 2\]/);
    bad(() => lstm(x, w, r, { initialC: filled(0, [1, 1, 2]), layout: 1 }), /input 'initial_c' has shape \[1, 1, 2\]; expected \[2, 1, 2\] \(\[batch_size, num_directions, hidden_size\] \(layout 1\)\)/);
  });
  it('sequence_lens: wrong length, out-of-range value, int64', () => {
    bad(() => lstm(x, w, r, { sequenceLens: int32([1, 1]) }), /input 'sequence_lens' has shape \[2\]; expected \[1\]/);
    bad(() => lstm(x, w, r, { sequenceLens: int32([3]) }), /'sequence_lens' has value 3 at batch 0; expected a length in \[0, 2\]/);
    bad(() => lstm(x, w, r, { sequenceLens: new Tensor('int64', [2n], [1]) }), /input 4 'sequence_lens' has type int64; expected one of int32/);
  });
  it('rank, dtype, layout, clip and attribute errors', () => {
    bad(() => lstm(filled(1, [2, 3]), w, r), /input 'X' has shape \[2, 3\] \(rank 2\); expected rank 3/);
    bad(() => lstm(new Tensor('int32', new Int32Array(6), [2, 1, 3]), w, r), /input 0 'X' has type int32/);
    bad(() => lstm(x, fromNumbers('float64', new Array<number>(24).fill(0), [1, 8, 3]), r), /'W' has type float64 but 'X' has float32/);
    bad(() => runOp('LSTM', [x, w, r], { layout: 2 }), /attribute 'layout' is 2; expected 0 or 1/);
    bad(() => runOp('LSTM', [x, w, r], { layout: 1 }, { opset: 13 }), /'layout' exists from opset 14/);
    bad(() => lstm(x, w, r, { clip: 0 }), /attribute 'clip' is 0; expected a positive threshold/);
    bad(() => runOp('GRU', [x, filled(0, [1, 6, 3]), filled(0, [1, 6, 2])], { input_forget: 1 }), /unknown attribute 'input_forget'/);
  });
  it('accepts the opset-1 output_sequence attribute and opset-7 calls', () => {
    const [y] = runOp('RNN', [x, filled(0.1, [1, 2, 3]), filled(0.1, [1, 2, 2])], { output_sequence: 1 }, { opset: 7 });
    expect([...y!.dims]).toEqual([2, 1, 1, 2]);
  });
});
