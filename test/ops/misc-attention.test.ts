import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import '../../src/kernels/cpu/index.js';
import { fromNumbers, ops, runOp, Tensor, UnsupportedFeatureError, type DataType } from '../../src/index.js';
import { refAttention, refCausalConvWithState, refLinearAttention } from '../../src/kernels/cpu/reference/misc.js';
import { arbTensor, expectClose, nonContiguous } from '../util/tensors.js';

const f32 = (values: number[], dims: number[]): Tensor => fromNumbers('float32', values, dims);
const values = (t: Tensor): number[] => Array.from(t.numbers());

interface Case {
  q: Tensor;
  k: Tensor;
  v: Tensor;
  mask?: Tensor;
  pastKey?: Tensor;
  pastValue?: Tensor;
  nonpad?: number[];
  causal: boolean;
  scale?: number;
  softcap: number;
  mode: number;
  qHeads: number;
  kvHeads: number;
  three: boolean;
}

const arbCase: fc.Arbitrary<Case> = fc
  .record({
    type: fc.constantFrom<DataType>('float32', 'float64', 'float16'),
    batch: fc.integer({ min: 0, max: 2 }),
    kvHeads: fc.integer({ min: 1, max: 2 }),
    group: fc.integer({ min: 1, max: 3 }),
    qSeq: fc.integer({ min: 0, max: 3 }),
    kvSeq: fc.integer({ min: 0, max: 3 }),
    past: fc.option(fc.integer({ min: 0, max: 2 }), { nil: undefined }),
    head: fc.integer({ min: 1, max: 4 }),
    vHead: fc.integer({ min: 1, max: 4 }),
    three: fc.boolean(),
    maskKind: fc.constantFrom('none', 'bool', 'float'),
    maskRank: fc.integer({ min: 2, max: 4 }),
    maskShort: fc.integer({ min: 0, max: 1 }),
    useNonpad: fc.boolean(),
    causal: fc.boolean(),
    scale: fc.option(fc.float({ min: Math.fround(0.05), max: Math.fround(2), noNaN: true }), { nil: undefined }),
    softcap: fc.constantFrom(0, 0.5, 3),
    mode: fc.integer({ min: 0, max: 3 }),
  })
  .chain((c) => {
    const qHeads = c.kvHeads * c.group;
    const P = c.past ?? 0;
    const T = P + c.kvSeq;
    const qd = c.three ? [c.batch, c.qSeq, qHeads * c.head] : [c.batch, qHeads, c.qSeq, c.head];
    const kd = c.three ? [c.batch, c.kvSeq, c.kvHeads * c.head] : [c.batch, c.kvHeads, c.kvSeq, c.head];
    const vd = c.three ? [c.batch, c.kvSeq, c.kvHeads * c.vHead] : [c.batch, c.kvHeads, c.kvSeq, c.vHead];
    const full = [c.batch, qHeads, c.qSeq, Math.max(0, T - c.maskShort)];
    const maskDims = full.slice(4 - c.maskRank);
    const t = c.type;
    const withNonpad = c.useNonpad && c.past === undefined;
    return fc.record({
      q: arbTensor(t, qd, 2),
      k: arbTensor(t, kd, 2),
      v: arbTensor(t, vd, 2),
      mask: c.maskKind === 'none' ? fc.constant(undefined) : arbTensor(c.maskKind === 'bool' ? 'bool' : t, maskDims, 2),
      pastKey: c.past === undefined ? fc.constant(undefined) : arbTensor(t, [c.batch, c.kvHeads, P, c.head], 2),
      pastValue: c.past === undefined ? fc.constant(undefined) : arbTensor(t, [c.batch, c.kvHeads, P, c.vHead], 2),
      nonpad: withNonpad ? fc.array(fc.integer({ min: 0, max: T }), { minLength: c.batch, maxLength: c.batch }) : fc.constant(undefined),
      causal: fc.constant(c.causal),
      scale: fc.constant(c.scale),
      softcap: fc.constant(c.softcap),
      mode: fc.constant(c.mode),
      qHeads: fc.constant(qHeads),
      kvHeads: fc.constant(c.kvHeads),
      three: fc.constant(c.three),
    });
  });

function runFast(c: Case, strided: boolean) {
  return ops.attention(strided ? nonContiguous(c.q) : c.q, strided ? nonContiguous(c.k) : c.k, c.v, {
    attnMask: c.mask,
    pastKey: c.pastKey,
    pastValue: c.pastValue,
    nonpadKvSeqlen: c.nonpad ? fromNumbers('int64', c.nonpad, [c.nonpad.length]) : undefined,
    isCausal: c.causal,
    qNumHeads: c.three ? c.qHeads : undefined,
    kvNumHeads: c.three ? c.kvHeads : undefined,
    scale: c.scale,
    softcap: c.softcap,
    qkMatmulOutputMode: c.mode,
  });
}

describe('Attention', () => {
  it('matches the reference (3-D/4-D, GQA, masks, causal, past, nonpad, softcap, every qk mode, float16/32/64)', () => {
    fc.assert(
      fc.property(arbCase, fc.boolean(), (c, strided) => {
        const got = runFast(c, strided);
        const want = refAttention(c.q, c.k, c.v, {
          attnMask: c.mask,
          pastKey: c.pastKey,
          pastValue: c.pastValue,
          nonpadKvSeqlen: c.nonpad,
          isCausal: c.causal,
          qNumHeads: c.qHeads,
          kvNumHeads: c.kvHeads,
          scale: c.scale,
          softcap: c.softcap,
          qkMatmulOutputMode: c.mode,
        });
        const tol = c.q.type === 'float16' ? { rtol: 5e-3, atol: 5e-3 } : { rtol: 1e-4, atol: 1e-5 };
        expectClose(got.y, want.y, { ...tol, label: 'Y' });
        expectClose(got.presentKey, want.presentKey, { ...tol, label: 'present_key' });
        expectClose(got.presentValue, want.presentValue, { ...tol, label: 'present_value' });
        expectClose(got.qkMatmulOutput, want.qk, { ...tol, label: `qk mode ${c.mode}` });
      }),
      { numRuns: 150 },
    );
  });

  it('known answer: one query over two keys', () => {
    // scores = [0, 1] * scale 1 -> softmax [1/(1+e), e/(1+e)]; Y = p0 * 10 + p1 * 20
    const q = f32([1], [1, 1, 1, 1]);
    const k = f32([0, 1], [1, 1, 2, 1]);
    const v = f32([10, 20], [1, 1, 2, 1]);
    const { y } = ops.attention(q, k, v, { scale: 1 });
    const p1 = Math.E / (1 + Math.E);
    expect(values(y)[0]).toBeCloseTo(10 * (1 - p1) + 20 * p1, 5);
    // a causal query 0 sees only key 0
    expect(values(ops.attention(q, k, v, { scale: 1, isCausal: true }).y)[0]).toBeCloseTo(10, 5);
  });

  it('a fully masked row gives zeros, not NaN', () => {
    const q = f32([1, 1], [1, 1, 2, 1]);
    const k = f32([1, 2], [1, 1, 2, 1]);
    const v = f32([3, 4], [1, 1, 2, 1]);
    const mask = fromNumbers('bool', [0, 0, 1, 0], [2, 2]);
    const { y, qkMatmulOutput } = ops.attention(q, k, v, { attnMask: mask, qkMatmulOutputMode: 3 });
    expect(values(y)).toEqual([0, 3]);
    expect(values(qkMatmulOutput)).toEqual([0, 0, 1, 0]);
  });

  it('graph calls compute only the outputs asked for', () => {
    const q = f32([1, 2], [1, 1, 1, 2]);
    expect(runOp('Attention', [q, q, q], {}, { numOutputs: 1 })).toHaveLength(1);
  });

  it('rejects bad ranks, head counts, cache shapes, masks and attributes', () => {
    const q4 = f32(new Array<number>(8).fill(1), [1, 2, 2, 2]);
    const q3 = f32(new Array<number>(8).fill(1), [1, 2, 4]);
    expect(() => ops.attention(f32([1, 2], [1, 2]), q4, q4)).toThrow(/Attention: input 'Q' has shape \[1, 2\] \(rank 2\); expected rank 3/);
    expect(() => ops.attention(q4, q3, q4)).toThrow(/input 'K' has shape \[1, 2, 4\] \(rank 3\); expected rank 4/);
    expect(() => ops.attention(q3, q3, q3)).toThrow(/3-D inputs .* need the attributes 'q_num_heads' and 'kv_num_heads'/);
    expect(() => ops.attention(q3, q3, q3, { qNumHeads: 3, kvNumHeads: 1 })).toThrow(/input 'Q' has shape \[1, 2, 4\]; its hidden size 4 is not a multiple of q_num_heads 3/);
    expect(() => ops.attention(q4, f32(new Array<number>(12).fill(1), [1, 3, 2, 2]), f32(new Array<number>(12).fill(1), [1, 3, 2, 2]))).toThrow(/'Q' has 2 heads and 'K' 3; q heads must be a multiple of kv heads/);
    expect(() => ops.attention(q4, f32(new Array<number>(12).fill(1), [1, 2, 2, 3]), q4)).toThrow(/head size 3, but 'Q' \[1, 2, 2, 2\] has head size 2/);
    expect(() => ops.attention(q4, q4, q4, { pastKey: q4 })).toThrow(/'past_key' and 'past_value' must be given together/);
    expect(() => ops.attention(q4, q4, q4, { attnMask: f32([0, 0, 0], [1, 3]) })).toThrow(/input 'attn_mask' has shape \[1, 3\]; expected a shape that broadcasts to \[1, 2, 2, 2\]/);
    expect(() => ops.attention(q4, q4, q4, { qkMatmulOutputMode: 4 })).toThrow(/attribute 'qk_matmul_output_mode' is 4/);
    expect(() => ops.attention(q4, q4, q4, { nonpadKvSeqlen: fromNumbers('int64', [3], [1]) })).toThrow(/input 'nonpad_kv_seqlen'\[0\] is 3; expected a length in \[0, 2\]/);
  });
});

describe('LinearAttention', () => {
  it('matches the matrix reference (every update rule, GQA, decay/beta forms, past state, float16)', () => {
    fc.assert(
      fc.property(
        fc
          .record({
            batch: fc.integer({ min: 0, max: 2 }),
            steps: fc.integer({ min: 0, max: 4 }),
            kvHeads: fc.integer({ min: 1, max: 2 }),
            group: fc.integer({ min: 1, max: 2 }),
            dk: fc.integer({ min: 1, max: 3 }),
            dv: fc.integer({ min: 1, max: 3 }),
            rule: fc.constantFrom('linear', 'gated', 'delta', 'gated_delta'),
            perKeyDecay: fc.boolean(),
            betaPerHead: fc.boolean(),
            withPast: fc.boolean(),
            scale: fc.constantFrom(0, 0.5),
            type: fc.constantFrom<DataType>('float32', 'float16'),
          })
          .chain((c) => {
            const hq = c.kvHeads * c.group;
            return fc.tuple(
              fc.constant(c),
              arbTensor(c.type, [c.batch, c.steps, hq * c.dk], 1),
              arbTensor(c.type, [c.batch, c.steps, c.kvHeads * c.dk], 1),
              arbTensor(c.type, [c.batch, c.steps, c.kvHeads * c.dv], 1),
              arbTensor(c.type, [c.batch, c.kvHeads, c.dk, c.dv], 1),
              arbTensor(c.type, [c.batch, c.steps, c.perKeyDecay ? c.kvHeads * c.dk : c.kvHeads], 0.5),
              arbTensor(c.type, [c.batch, c.steps, c.betaPerHead ? c.kvHeads : 1], 1).map((t) => fromNumbers(c.type, values(t).map((x) => Math.abs(x)), t.dims as number[])),
            );
          }),
        ([c, q, k, v, past, decay, beta]) => {
          const gated = c.rule === 'gated' || c.rule === 'gated_delta';
          const delta = c.rule === 'delta' || c.rule === 'gated_delta';
          const opts = { qNumHeads: c.kvHeads * c.group, kvNumHeads: c.kvHeads, updateRule: c.rule as 'linear', pastState: c.withPast ? past : undefined, decay: gated ? decay : undefined, beta: delta ? beta : undefined, scale: c.scale };
          const got = ops.linearAttention(nonContiguous(q), k, v, opts);
          const want = refLinearAttention(q, k, v, { qHeads: opts.qNumHeads, kvHeads: c.kvHeads, rule: c.rule, past: opts.pastState, decay: opts.decay, beta: opts.beta, scale: c.scale });
          const tol = c.type === 'float16' ? { rtol: 5e-3, atol: 5e-3 } : { rtol: 1e-4, atol: 1e-5 };
          expectClose(got.output, want.output, tol);
          expectClose(got.presentState, want.state, tol);
        },
      ),
      { numRuns: 100 },
    );
  });
  it('known answer: linear rule accumulates k v^T', () => {
    // one head, dk = dv = 1, scale 1: S_t = sum of k*v so far, o_t = q_t * S_t
    const t = (vals: number[]) => f32(vals, [1, 2, 1]);
    const { output, presentState } = ops.linearAttention(t([1, 2]), t([3, 4]), t([5, 6]), { qNumHeads: 1, kvNumHeads: 1, updateRule: 'linear', scale: 1 });
    expect(values(output)).toEqual([15, 78]);
    expect(values(presentState)).toEqual([39]);
  });
  it('rejects a missing decay, bad head counts and a bad rule', () => {
    const x = f32([1, 2], [1, 1, 2]);
    expect(() => ops.linearAttention(x, x, x, { qNumHeads: 1, kvNumHeads: 1, updateRule: 'gated' })).toThrow(/LinearAttention: update_rule 'gated' needs the 'decay' input/);
    expect(() => ops.linearAttention(x, x, x, { qNumHeads: 1, kvNumHeads: 2, updateRule: 'linear' })).toThrow(/q_num_heads 1 must be a positive multiple of kv_num_heads 2/);
    expect(() => runOp('LinearAttention', [x, x, x], { q_num_heads: 1, kv_num_heads: 1, update_rule: 'mamba' })).toThrow(/attribute 'update_rule' is 'mamba'/);
  });
});

describe('CausalConvWithState', () => {
  it('matches the reference (kernel sizes, bias, past state, SiLU, float16)', () => {
    fc.assert(
      fc.property(
        fc
          .record({ b: fc.integer({ min: 0, max: 2 }), c: fc.integer({ min: 1, max: 3 }), l: fc.integer({ min: 0, max: 5 }), k: fc.integer({ min: 1, max: 4 }), bias: fc.boolean(), past: fc.boolean(), act: fc.constantFrom('none', 'silu', 'swish'), type: fc.constantFrom<DataType>('float32', 'float16') })
          .chain((p) => fc.tuple(fc.constant(p), arbTensor(p.type, [p.b, p.c, p.l], 2), arbTensor(p.type, [p.c, 1, p.k], 1), arbTensor(p.type, [p.c], 1), arbTensor(p.type, [p.b, p.c, p.k - 1], 2))),
        ([p, x, w, bias, past]) => {
          const got = ops.causalConvWithState(nonContiguous(x), w, { bias: p.bias ? bias : undefined, pastState: p.past ? past : undefined, activation: p.act as 'none' });
          const want = refCausalConvWithState(x, w, p.bias ? bias : undefined, p.past ? past : undefined, p.act);
          const tol = p.type === 'float16' ? { rtol: 3e-3, atol: 3e-3 } : { rtol: 1e-5, atol: 1e-6 };
          expectClose(got.output, want.output, tol);
          expectClose(got.presentState, want.state, tol);
        },
      ),
      { numRuns: 80 },
    );
  });
  it('known answer and errors', () => {
    // k = 2, weights [1, 10]: y_t = x_{t-1} + 10 x_t with x_{-1} from the state (7)
    const { output, presentState } = ops.causalConvWithState(f32([1, 2, 3], [1, 1, 3]), f32([1, 10], [1, 1, 2]), { pastState: f32([7], [1, 1, 1]) });
    expect(values(output)).toEqual([17, 21, 32]);
    expect(values(presentState)).toEqual([3]);
    expect(() => ops.causalConvWithState(f32([1, 2], [1, 2, 1]), f32([1], [1, 1, 1]))).toThrow(/CausalConvWithState: input 'weight' has shape \[1, 1, 1\]; expected \[2, 1, k\]/);
    expect(() => runOp('CausalConvWithState', [f32([1], [1, 1, 1]), f32([1], [1, 1, 1])], { activation: 'gelu' })).toThrow(/attribute 'activation' is 'gelu'/);
  });
});

describe('FlexAttention (ai.onnx.preview)', () => {
  it('equals the reference attention on 4-D inputs without modifiers (GQA, scale)', () => {
    fc.assert(
      fc.property(
        fc
          .record({ b: fc.integer({ min: 0, max: 2 }), kv: fc.integer({ min: 1, max: 2 }), group: fc.integer({ min: 1, max: 2 }), l: fc.integer({ min: 0, max: 3 }), s: fc.integer({ min: 1, max: 3 }), e: fc.integer({ min: 1, max: 3 }), ev: fc.integer({ min: 1, max: 3 }), scale: fc.option(fc.constantFrom(0.1, 2), { nil: undefined }) })
          .chain((p) => fc.tuple(fc.constant(p), arbTensor('float32', [p.b, p.kv * p.group, p.l, p.e], 2), arbTensor('float32', [p.b, p.kv, p.s, p.e], 2), arbTensor('float32', [p.b, p.kv, p.s, p.ev], 2))),
        ([p, q, k, v]) => {
          expectClose(ops.flexAttention(q, k, v, { scale: p.scale }), refAttention(q, k, v, { scale: p.scale }).y, { rtol: 1e-4, atol: 1e-5 });
        },
      ),
      { numRuns: 40 },
    );
  });
  it('refuses modifier subgraphs as unsupported and rejects rank-3 inputs', () => {
    const q = f32([1, 2], [1, 1, 1, 2]);
    expect(() => runOp('FlexAttention', [q, q, q], { score_mod: { kind: 'graph' } }, { domain: 'ai.onnx.preview' })).toThrow(UnsupportedFeatureError);
    expect(() => ops.flexAttention(f32([1, 2], [1, 1, 2]), q, q)).toThrow(/FlexAttention: input 'Q' has shape \[1, 1, 2\] \(rank 3\); expected rank 4/);
  });
});
