/**
 * Attention (opsets 23, 24): scaled dot-product attention with multi-, grouped- and multi-query heads; and
 * LinearAttention (opset 27) and ai.onnx.preview.FlexAttention (without its modifier subgraphs), at the end of
 * this file.
 *
 *   Q [B, Hq, Sq, D]   or 3-D [B, Sq, Hq*D]     (3-D needs the q_num_heads and kv_num_heads attributes)
 *   K [B, Hkv, Skv, D] or 3-D [B, Skv, Hkv*D]
 *   V [B, Hkv, Skv, Dv] or 3-D [B, Skv, Hkv*Dv]
 *   past_key [B, Hkv, P, D], past_value [B, Hkv, P, Dv] (together or not at all); total T = P + Skv
 *
 *   scores = scale * Q K^T            (scale defaults to 1/sqrt(D))   -> qk_matmul_output mode 0
 *   scores = softcap * tanh(scores / softcap)     when softcap > 0    -> mode 1
 *   scores += bias (attn_mask, is_causal, nonpad_kv_seqlen padding)   -> mode 2
 *   P = softmax(scores) over T, a fully masked row gives zeros         -> mode 3
 *   Y = P V, head h of Q reading kv head floor(h / (Hq / Hkv))
 *
 * The bias: a float attn_mask (any rank <= 4, broadcast to [B, Hq, Sq, T]) is added; a bool one adds -inf
 * where false. Its last dim may be shorter than T; the missing columns are masked (-inf). is_causal lets query
 * i see key j iff j <= i + offset, offset = P with a past cache, nonpad_kv_seqlen[b] - Sq with that input,
 * else 0. nonpad_kv_seqlen[b] also masks keys j >= nonpad_kv_seqlen[b].
 *
 * Outputs: Y (Q's layout: 4-D [B, Hq, Sq, Dv] or 3-D [B, Sq, Hq*Dv]), present_key/present_value (4-D
 * concatenation of past and current K/V), qk_matmul_output [B, Hq, Sq, T]. Y and qk_matmul_output take
 * Q's dtype, present_value V's. softmax_precision is accepted; Tessera computes the softmax in float32 (float64
 * for float64 inputs), which is at least the precision any valid setting asks for.
 *
 * Kernel: src/kernels/cpu/attention.ts.
 */
import type { OutputSpec } from '../kernels/registry.js';
import { UnsupportedFeatureError } from '../tensor/errors.js';
import { fmtShape } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { runOp, runOp1 } from './dispatch.js';
import { defineOp, fail, FLOAT_TYPES, type InferContext } from './schema.js';

/** Sizes of one Attention call, as the kernel needs them (attribute `dims` of the canonical call). */
export interface AttentionDims {
  batch: number;
  qHeads: number;
  kvHeads: number;
  qSeq: number;
  kvSeq: number;
  pastSeq: number;
  headSize: number;
  vHeadSize: number;
}

/** The AttentionDims of a validated call (Q/K/V rank 3 or 4 and the head attributes already checked). */
export function attentionDims(q: Tensor, k: Tensor, v: Tensor, pastKey: Tensor | undefined, qNumHeads: number | undefined, kvNumHeads: number | undefined): AttentionDims {
  const batch = q.dims[0]!;
  if (q.rank === 4) {
    return { batch, qHeads: q.dims[1]!, kvHeads: k.dims[1]!, qSeq: q.dims[2]!, kvSeq: k.dims[2]!, pastSeq: pastKey ? pastKey.dims[2]! : 0, headSize: q.dims[3]!, vHeadSize: v.dims[3]! };
  }
  const qHeads = qNumHeads!;
  const kvHeads = kvNumHeads!;
  return { batch, qHeads, kvHeads, qSeq: q.dims[1]!, kvSeq: k.dims[1]!, pastSeq: pastKey ? pastKey.dims[2]! : 0, headSize: q.dims[2]! / qHeads, vHeadSize: v.dims[2]! / kvHeads };
}

function validate(inputs: readonly (Tensor | undefined)[], attrs: Readonly<Record<string, unknown>>, ctx: InferContext): AttentionDims {
  const op = 'Attention';
  const [q, k, v, mask, pastKey, pastValue, nonpad] = inputs as (Tensor | undefined)[] as [Tensor, Tensor, Tensor, Tensor?, Tensor?, Tensor?, Tensor?];
  if (q.rank !== 3 && q.rank !== 4) fail(op, `input 'Q' has shape ${fmtShape(q.dims)} (rank ${q.rank}); expected rank 3 [B, S, H*D] or 4 [B, H, S, D]`, ctx);
  for (const [name, t] of [
    ['K', k],
    ['V', v],
  ] as const) {
    if (t.rank !== q.rank) fail(op, `input '${name}' has shape ${fmtShape(t.dims)} (rank ${t.rank}); expected rank ${q.rank} like 'Q' ${fmtShape(q.dims)}`, ctx);
    if (t.dims[0] !== q.dims[0]) fail(op, `input '${name}' has shape ${fmtShape(t.dims)}; its batch ${t.dims[0]} differs from 'Q' ${fmtShape(q.dims)}`, ctx);
  }
  const qNum = attrs.q_num_heads as number | undefined;
  const kvNum = attrs.kv_num_heads as number | undefined;
  if (q.rank === 3) {
    if (qNum === undefined || kvNum === undefined) fail(op, `3-D inputs (Q ${fmtShape(q.dims)}) need the attributes 'q_num_heads' and 'kv_num_heads'`, ctx);
    if (qNum < 1 || kvNum < 1) fail(op, `attributes q_num_heads=${qNum} and kv_num_heads=${kvNum} must be positive`, ctx);
    if (q.dims[2]! % qNum !== 0) fail(op, `input 'Q' has shape ${fmtShape(q.dims)}; its hidden size ${q.dims[2]} is not a multiple of q_num_heads ${qNum}`, ctx);
    if (k.dims[2]! % kvNum !== 0) fail(op, `input 'K' has shape ${fmtShape(k.dims)}; its hidden size ${k.dims[2]} is not a multiple of kv_num_heads ${kvNum}`, ctx);
    if (v.dims[2]! % kvNum !== 0) fail(op, `input 'V' has shape ${fmtShape(v.dims)}; its hidden size ${v.dims[2]} is not a multiple of kv_num_heads ${kvNum}`, ctx);
    if (k.dims[1] !== v.dims[1]) fail(op, `input 'V' has shape ${fmtShape(v.dims)}; its sequence length differs from 'K' ${fmtShape(k.dims)}`, ctx);
  } else {
    if (k.dims[1] !== v.dims[1] || k.dims[2] !== v.dims[2]) fail(op, `input 'V' has shape ${fmtShape(v.dims)}; its heads and sequence length must match 'K' ${fmtShape(k.dims)}`, ctx);
    if (qNum !== undefined && qNum !== q.dims[1]) fail(op, `attribute q_num_heads=${qNum} disagrees with 'Q' ${fmtShape(q.dims)}`, ctx);
    if (kvNum !== undefined && kvNum !== k.dims[1]) fail(op, `attribute kv_num_heads=${kvNum} disagrees with 'K' ${fmtShape(k.dims)}`, ctx);
  }
  const d = attentionDims(q, k, v, pastKey, qNum, kvNum);
  const qHead = q.rank === 4 ? q.dims[3]! : d.headSize;
  const kHead = k.rank === 4 ? k.dims[3]! : k.dims[2]! / d.kvHeads;
  if (qHead !== kHead) fail(op, `input 'K' has shape ${fmtShape(k.dims)}: head size ${kHead}, but 'Q' ${fmtShape(q.dims)} has head size ${qHead}`, ctx);
  if (d.kvHeads < 1 || d.qHeads % d.kvHeads !== 0) fail(op, `'Q' has ${d.qHeads} heads and 'K' ${d.kvHeads}; q heads must be a multiple of kv heads`, ctx);
  if (!!pastKey !== !!pastValue) fail(op, `inputs 'past_key' and 'past_value' must be given together`, ctx);
  if (pastKey && pastValue) {
    const wantK = [d.batch, d.kvHeads, pastKey.dims[2]!, d.headSize];
    if (pastKey.rank !== 4 || pastKey.dims.some((x, i) => x !== wantK[i])) fail(op, `input 'past_key' has shape ${fmtShape(pastKey.dims)}; expected [${d.batch}, ${d.kvHeads}, P, ${d.headSize}]`, ctx);
    const wantV = [d.batch, d.kvHeads, d.pastSeq, d.vHeadSize];
    if (pastValue.rank !== 4 || pastValue.dims.some((x, i) => x !== wantV[i])) fail(op, `input 'past_value' has shape ${fmtShape(pastValue.dims)}; expected ${fmtShape(wantV)}`, ctx);
    if (nonpad) fail(op, `input 'nonpad_kv_seqlen' cannot be used together with 'past_key'/'past_value'`, ctx);
  }
  const total = d.pastSeq + d.kvSeq;
  if (nonpad) {
    if (nonpad.rank !== 1 || nonpad.dims[0] !== d.batch) fail(op, `input 'nonpad_kv_seqlen' has shape ${fmtShape(nonpad.dims)}; expected [${d.batch}]`, ctx);
    const values = nonpad.data as BigInt64Array;
    for (let b = 0; b < values.length; b++) {
      const n = values[b]!;
      if (n < 0n || n > BigInt(total)) fail(op, `input 'nonpad_kv_seqlen'[${b}] is ${n}; expected a length in [0, ${total}]`, ctx);
    }
  }
  if (mask) {
    const want = [d.batch, d.qHeads, d.qSeq, total];
    const off = 4 - mask.rank;
    const ok = mask.rank >= 1 && mask.rank <= 4 && mask.dims.every((x, i) => (i === mask.rank - 1 ? x <= total : x === 1 || x === want[off + i]));
    if (!ok) fail(op, `input 'attn_mask' has shape ${fmtShape(mask.dims)}; expected a shape that broadcasts to ${fmtShape(want)} (the last dim may be shorter than ${total})`, ctx);
    if (mask.type !== 'bool' && mask.type !== q.type) fail(op, `input 'attn_mask' has type ${mask.type}; expected bool or the type of 'Q' (${q.type})`, ctx);
  }
  const mode = attrs.qk_matmul_output_mode as number;
  if (mode < 0 || mode > 3) fail(op, `attribute 'qk_matmul_output_mode' is ${mode}; expected 0, 1, 2 or 3`, ctx);
  if (attrs.is_causal !== 0 && attrs.is_causal !== 1) fail(op, `attribute 'is_causal' is ${String(attrs.is_causal)}; expected 0 or 1`, ctx);
  const sp = attrs.softmax_precision as number | undefined;
  if (sp !== undefined && ![1, 10, 11, 16].includes(sp)) fail(op, `attribute 'softmax_precision' is ${sp}; expected a float type code (1, 10, 11 or 16)`, ctx);
  return d;
}

defineOp({
  name: 'Attention',
  inputs: [
    { name: 'Q', type: 'T1' },
    { name: 'K', type: 'T1' },
    { name: 'V', type: 'T2' },
    { name: 'attn_mask', type: 'U', optional: true },
    { name: 'past_key', type: 'T1', optional: true },
    { name: 'past_value', type: 'T2', optional: true },
    { name: 'nonpad_kv_seqlen', type: 'I', optional: true },
  ],
  outputs: ['Y', 'present_key', 'present_value', 'qk_matmul_output'],
  types: { T1: FLOAT_TYPES, T2: FLOAT_TYPES, U: [...FLOAT_TYPES, 'bool'], I: ['int64'] },
  attributes: {
    is_causal: { kind: 'int', default: 0 },
    kv_num_heads: { kind: 'int' },
    q_num_heads: { kind: 'int' },
    qk_matmul_output_mode: { kind: 'int', default: 0 },
    scale: { kind: 'float' },
    softcap: { kind: 'float', default: 0 },
    softmax_precision: { kind: 'int' },
  },
  infer(inputs, attrs, ctx): OutputSpec[] {
    const d = validate(inputs, attrs, ctx);
    const [q, , v] = inputs as [Tensor, Tensor, Tensor];
    const total = d.pastSeq + d.kvSeq;
    const y = q.rank === 4 ? [d.batch, d.qHeads, d.qSeq, d.vHeadSize] : [d.batch, d.qSeq, d.qHeads * d.vHeadSize];
    const all: OutputSpec[] = [
      { type: q.type, dims: y },
      { type: q.type, dims: [d.batch, d.kvHeads, total, d.headSize] },
      { type: v.type, dims: [d.batch, d.kvHeads, total, d.vHeadSize] },
      { type: q.type, dims: [d.batch, d.qHeads, d.qSeq, total] },
    ];
    return all.slice(0, ctx.numOutputs ?? 4);
  },
});

/** Options of attention(). */
export interface AttentionOptions {
  attnMask?: Tensor;
  pastKey?: Tensor;
  pastValue?: Tensor;
  nonpadKvSeqlen?: Tensor;
  isCausal?: boolean;
  /** Heads of Q and of K/V; required for 3-D inputs. */
  qNumHeads?: number;
  kvNumHeads?: number;
  /** Multiplies Q K^T (default 1/sqrt(head size)). */
  scale?: number;
  softcap?: number;
  /** What qkMatmulOutput holds: 0 scaled Q K^T, 1 after softcap, 2 after the bias, 3 after softmax. */
  qkMatmulOutputMode?: number;
}

/** Scaled dot-product attention; returns Y, the present key/value caches and the chosen Q K^T stage. */
export function attention(q: Tensor, k: Tensor, v: Tensor, options: AttentionOptions = {}): { y: Tensor; presentKey: Tensor; presentValue: Tensor; qkMatmulOutput: Tensor } {
  const [y, presentKey, presentValue, qk] = runOp('Attention', [q, k, v, options.attnMask, options.pastKey, options.pastValue, options.nonpadKvSeqlen], {
    is_causal: options.isCausal === undefined ? undefined : options.isCausal ? 1 : 0,
    q_num_heads: options.qNumHeads,
    kv_num_heads: options.kvNumHeads,
    scale: options.scale,
    softcap: options.softcap,
    qk_matmul_output_mode: options.qkMatmulOutputMode,
  });
  return { y: y!, presentKey: presentKey!, presentValue: presentValue!, qkMatmulOutput: qk! };
}

// ---------------------------------------------------------------------------------------------------------
// LinearAttention (opset 27): recurrent linear attention with a [B, Hkv, dk, dv] state per KV head.
//
//   linear:      S = S + k v^T
//   gated:       S = exp(g) * S + k v^T                       (g per key dim [B, T, Hkv*dk] or per head [B, T, Hkv])
//   delta:       S = S + beta * k (v - S^T k)^T               (beta [B, T, Hkv] or [B, T, 1])
//   gated_delta: S' = exp(g) * S;  S = S' + beta * k (v - S'^T k)^T
//   o_t = scale * q_t^T S_t for each query head (query head h reads kv head floor(h / (Hq / Hkv))).

const UPDATE_RULES = ['linear', 'gated', 'delta', 'gated_delta'];

defineOp({
  name: 'LinearAttention',
  inputs: [
    { name: 'query', type: 'T' },
    { name: 'key', type: 'T' },
    { name: 'value', type: 'T' },
    { name: 'past_state', type: 'S', optional: true },
    { name: 'decay', type: 'T', optional: true },
    { name: 'beta', type: 'T', optional: true },
  ],
  outputs: ['output', 'present_state'],
  types: { T: ['float32', 'float16'], S: ['float32', 'float16'] },
  attributes: {
    chunk_size: { kind: 'int', default: 64 },
    kv_num_heads: { kind: 'int', required: true },
    q_num_heads: { kind: 'int', required: true },
    scale: { kind: 'float', default: 0 },
    update_rule: { kind: 'string', default: 'gated_delta' },
  },
  infer(inputs, attrs, ctx): OutputSpec[] {
    const op = 'LinearAttention';
    const [q, k, v, past, decay, beta] = inputs as [Tensor, Tensor, Tensor, Tensor?, Tensor?, Tensor?];
    const hq = attrs.q_num_heads as number;
    const hkv = attrs.kv_num_heads as number;
    const rule = attrs.update_rule as string;
    if (!UPDATE_RULES.includes(rule)) fail(op, `attribute 'update_rule' is '${rule}'; expected one of ${UPDATE_RULES.join(', ')}`, ctx);
    if (hq < 1 || hkv < 1 || hq % hkv !== 0) fail(op, `q_num_heads ${hq} must be a positive multiple of kv_num_heads ${hkv}`, ctx);
    for (const [name, t] of [
      ['query', q],
      ['key', k],
      ['value', v],
    ] as const) {
      if (t.rank !== 3 || t.dims[0] !== q.dims[0] || t.dims[1] !== q.dims[1]) fail(op, `input '${name}' has shape ${fmtShape(t.dims)}; expected [B, T, heads * size] with B, T of 'query' ${fmtShape(q.dims)}`, ctx);
    }
    const [batch, steps] = q.dims as [number, number];
    if (q.dims[2]! % hq !== 0) fail(op, `input 'query' has shape ${fmtShape(q.dims)}; its last dim is not a multiple of q_num_heads ${hq}`, ctx);
    const dk = q.dims[2]! / hq;
    if (k.dims[2] !== hkv * dk) fail(op, `input 'key' has shape ${fmtShape(k.dims)}; expected last dim ${hkv * dk} (kv_num_heads ${hkv} x key size ${dk})`, ctx);
    if (v.dims[2]! % hkv !== 0) fail(op, `input 'value' has shape ${fmtShape(v.dims)}; its last dim is not a multiple of kv_num_heads ${hkv}`, ctx);
    const dv = v.dims[2]! / hkv;
    const state = [batch, hkv, dk, dv];
    if (past && (past.rank !== 4 || past.dims.some((d, i) => d !== state[i]))) fail(op, `input 'past_state' has shape ${fmtShape(past.dims)}; expected ${fmtShape(state)}`, ctx);
    const gated = rule === 'gated' || rule === 'gated_delta';
    const delta = rule === 'delta' || rule === 'gated_delta';
    if (gated && !decay) fail(op, `update_rule '${rule}' needs the 'decay' input`, ctx);
    if (delta && !beta) fail(op, `update_rule '${rule}' needs the 'beta' input`, ctx);
    if (decay && (decay.rank !== 3 || decay.dims[0] !== batch || decay.dims[1] !== steps || (decay.dims[2] !== hkv * dk && decay.dims[2] !== hkv))) {
      fail(op, `input 'decay' has shape ${fmtShape(decay.dims)}; expected [${batch}, ${steps}, ${hkv * dk}] or [${batch}, ${steps}, ${hkv}]`, ctx);
    }
    if (beta && (beta.rank !== 3 || beta.dims[0] !== batch || beta.dims[1] !== steps || (beta.dims[2] !== hkv && beta.dims[2] !== 1))) {
      fail(op, `input 'beta' has shape ${fmtShape(beta.dims)}; expected [${batch}, ${steps}, ${hkv}] or [${batch}, ${steps}, 1]`, ctx);
    }
    const out: OutputSpec[] = [{ type: q.type, dims: [batch, steps, hq * dv] }];
    if (ctx.numOutputs !== 1) out.push({ type: past ? past.type : q.type, dims: state });
    return out;
  },
});

/** Recurrent linear attention over [B, T, H*D] inputs; returns the output and the final state. */
export function linearAttention(
  query: Tensor,
  key: Tensor,
  value: Tensor,
  options: { qNumHeads: number; kvNumHeads: number; updateRule?: 'linear' | 'gated' | 'delta' | 'gated_delta'; pastState?: Tensor; decay?: Tensor; beta?: Tensor; scale?: number },
): { output: Tensor; presentState: Tensor } {
  const [output, presentState] = runOp('LinearAttention', [query, key, value, options.pastState, options.decay, options.beta], {
    q_num_heads: options.qNumHeads,
    kv_num_heads: options.kvNumHeads,
    update_rule: options.updateRule,
    scale: options.scale,
  });
  return { output: output!, presentState: presentState! };
}

// ---------------------------------------------------------------------------------------------------------
// ai.onnx.preview.FlexAttention (experimental): 4-D scaled dot-product attention with optional score_mod and
// prob_mod subgraphs. Without modifiers it is Attention on 4-D inputs (GQA by contiguous head groups); the
// modifiers are subgraphs a kernel cannot run, so a call that has them is refused as unsupported.

defineOp({
  name: 'FlexAttention',
  domain: 'ai.onnx.preview',
  inputs: [
    { name: 'Q', type: 'T1' },
    { name: 'K', type: 'T1' },
    { name: 'V', type: 'T1' },
  ],
  outputs: ['Y'],
  types: { T1: FLOAT_TYPES },
  attributes: { prob_mod: { kind: 'graph' }, score_mod: { kind: 'graph' }, scale: { kind: 'float' }, softmax_precision: { kind: 'int' } },
  infer(inputs, attrs, ctx): OutputSpec[] {
    const op = 'FlexAttention';
    const [q, k, v] = inputs as [Tensor, Tensor, Tensor];
    if (attrs.score_mod !== undefined || attrs.prob_mod !== undefined) {
      throw new UnsupportedFeatureError(ctx.node ? `${op} (node '${ctx.node}')` : op, `the score_mod/prob_mod subgraph attributes are not supported (a CPU kernel cannot run a subgraph)`);
    }
    for (const [name, t] of [
      ['Q', q],
      ['K', k],
      ['V', v],
    ] as const) {
      if (t.rank !== 4) fail(op, `input '${name}' has shape ${fmtShape(t.dims)} (rank ${t.rank}); expected rank 4`, ctx);
    }
    const [b, hq, l, e] = q.dims as [number, number, number, number];
    if (k.dims[0] !== b || k.dims[3] !== e) fail(op, `input 'K' has shape ${fmtShape(k.dims)}; expected [${b}, kv_heads, S, ${e}] for 'Q' ${fmtShape(q.dims)}`, ctx);
    if (v.dims[0] !== b || v.dims[1] !== k.dims[1] || v.dims[2] !== k.dims[2]) fail(op, `input 'V' has shape ${fmtShape(v.dims)}; expected [${b}, ${k.dims[1]}, ${k.dims[2]}, Ev] to match 'K' ${fmtShape(k.dims)}`, ctx);
    if (k.dims[1]! < 1 || hq % k.dims[1]! !== 0) fail(op, `'Q' has ${hq} heads and 'K' ${k.dims[1]}; q heads must be a multiple of kv heads`, ctx);
    const sp = attrs.softmax_precision as number | undefined;
    if (sp !== undefined && ![1, 10, 11, 16].includes(sp)) fail(op, `attribute 'softmax_precision' is ${sp}; expected a float type code (1, 10, 11 or 16)`, ctx);
    return [{ type: q.type, dims: [b, hq, l, v.dims[3]!] }];
  },
});

/** FlexAttention without modifiers: softmax(scale * Q K^T) V on 4-D inputs. */
export function flexAttention(q: Tensor, k: Tensor, v: Tensor, options: { scale?: number } = {}): Tensor {
  return runOp1('FlexAttention', [q, k, v], { scale: options.scale }, { domain: 'ai.onnx.preview' });
}
