/**
 * Quantized-weight operators that the QDQ fusion pass (src/graph/passes/qdq-fusion.ts) and the int4 pass
 * (src/quant/int4.ts) emit: QDQ* in domain 'com.tessera', MatMulNBits in 'com.microsoft'. Their weights stay quantized in memory; the kernels
 * (src/kernels/cpu/quant-fused.ts) dequantize them inside the call.
 *
 * QDQConv, QDQMatMul, QDQGemm: the base operator (Conv, MatMul, Gemm: same attributes, validation and
 * shape inference, delegated to the base schema) whose weight input is stored as int8 with float32 scales,
 * optionally with its data input fake-quantized first and an activation applied to the output:
 *
 *   inputs   X (float32), W (int8, the base operator's weight shape), W_scale (float32: a scalar, or one
 *            scale per output channel: W.shape[0] for Conv and for Gemm with transB, W.shape[1] for MatMul
 *            and Gemm without transB), X_scale (optional float32 scalar), X_zero_point (optional uint8/int8
 *            scalar, needs X_scale), B (optional float32: Conv's bias, Gemm's C)
 *   attrs    the base operator's, plus `activation` ('' = none, else a FusedConv activation name) and
 *            `activation_params`
 *   result   base(X', W * W_scale[channel], B) then the activation, where X' = X when X_scale is absent and
 *            X' = (saturate(roundHalfEven(X / X_scale) + X_zero_point) - X_zero_point) * X_scale otherwise:
 *            exactly DequantizeLinear(QuantizeLinear(X)) -> base(X, DequantizeLinear(W)) of the QDQ graph.
 *
 * MatMulInt4 (com.tessera): a MatMul/Gemm whose weight is int4/uint4 in blocks along K, kept packed two per byte
 *   (the QDQ fusion pass's form of DequantizeLinear(int4, block_size) -> MatMul; see its schema below).
 *
 * SparseConv (com.tessera): a group-1 2-D Conv whose weight is stored in CSR form (W_values, W_columns,
 *   W_row_starts over the [M, C*kH*kW] view) with `weight_shape`, strides, pads, dilations; B optional.
 *
 * MatMulNBits (domain 'com.microsoft', onnxruntime's contrib operator, so int4 models load there too), in the
 *   form src/quant/math.ts's INT4_BLOCK layout declares: bits = 4, block_size = 32, no zero_points (implicit 8),
 *   no g_idx. Y = A (float32 [..., K]) times B (K x N) with B uint8 [N, ceil(K/32), 16] and scales float32
 *   [N * ceil(K/32)], optional bias [N]: Y[..., n] = sum_k A[..., k] * (code(k, n) - 8) * scale(block(k), n) (+ bias[n]).
 */
import type { Attrs, AttrValue, OutputSpec } from '../kernels/registry.js';
import { fmtShape } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import './conv.js';
import { baseAttrs, fusedActivation, TESSERA_DOMAIN } from './fused.js';
import './matmul.js';
import { runOp1 } from './dispatch.js';
import { defineOp, expectMinRank, fail, findSchema, req, type AttrSpec, type InferContext, type Normalized } from './schema.js';

/** The base operators a QDQ operator can wrap, and the QDQ operator's name for each. */
export const QDQ_BASES = ['Conv', 'MatMul', 'Gemm'] as const;
export type QdqBase = (typeof QDQ_BASES)[number];

const ACTIVATION_ATTRS: Readonly<Record<string, AttrSpec>> = {
  activation: { kind: 'string', default: '' },
  activation_params: { kind: 'floats', default: Object.freeze([]) as readonly number[] },
};

/** Channel count W_scale may have for the base operator: the output channels of W. */
export function qdqScaleChannels(base: QdqBase, w: Tensor, attrs: Attrs): number {
  if (base === 'Conv') return w.dims[0] ?? 0;
  if (base === 'Gemm' && attrs['transB']) return w.dims[0] ?? 0;
  return w.dims[1] ?? 0;
}

/** Split a QDQ call into the base operator's inputs: [X, W, B]. */
function baseInputs(inputs: readonly (Tensor | undefined)[]): (Tensor | undefined)[] {
  return [inputs[0], inputs[1], inputs[5]];
}

function defineQdq(base: QdqBase): void {
  const schema = findSchema(base);
  if (!schema) throw new Error(`quantized operators: base operator ${base} is not defined`);
  const op = `QDQ${base}`;
  defineOp({
    name: op,
    domain: TESSERA_DOMAIN,
    inputs: [
      { name: 'X', type: 'T' },
      { name: 'W', type: 'TW' },
      { name: 'W_scale', type: 'T' },
      { name: 'X_scale', type: 'T', optional: true },
      { name: 'X_zero_point', type: 'TZ', optional: true },
      { name: 'B', type: 'T', optional: true },
    ],
    outputs: ['Y'],
    types: { T: ['float32'], TW: ['int8'], TZ: ['uint8', 'int8'] },
    attributes: { ...schema.attributes, ...ACTIVATION_ATTRS },
    normalize(inputs, attrs, ctx): Normalized {
      const activation = attrs['activation'] as string;
      const base0 = baseAttrs(attrs);
      const n = schema.normalize ? schema.normalize(baseInputs(inputs), base0, ctx) : { inputs: baseInputs(inputs), attrs: base0 };
      if (activation !== '') {
        const full = fusedActivation(op, attrs, ctx);
        n.attrs['activation'] = full.activation;
        n.attrs['activation_params'] = Object.freeze(full.params);
      } else {
        if ((attrs['activation_params'] as readonly number[]).length) fail(op, `attribute 'activation_params' is given without an activation`, ctx);
        n.attrs['activation'] = '';
        n.attrs['activation_params'] = Object.freeze([]);
      }
      return { inputs: [...inputs], attrs: n.attrs };
    },
    infer(inputs, attrs, ctx): OutputSpec[] {
      const x = req(op, inputs, 0, 'X', ctx);
      const w = req(op, inputs, 1, 'W', ctx);
      const ws = req(op, inputs, 2, 'W_scale', ctx);
      const [xs, xz] = [inputs[3], inputs[4]];
      if (attrs['activation'] !== '') fusedActivation(op, attrs, ctx);
      const out = schema.infer(baseInputs(inputs), baseAttrs(attrs), ctx);
      const channels = qdqScaleChannels(base, w, attrs);
      if (!(ws.size === 1 && ws.rank <= 1) && !(ws.rank === 1 && ws.dims[0] === channels)) {
        fail(op, `input 'W_scale' has shape ${fmtShape(ws.dims)}; expected a scalar or [${channels}] (one scale per output channel of W ${fmtShape(w.dims)})`, ctx);
      }
      if (xs && !(xs.size === 1 && xs.rank <= 1)) fail(op, `input 'X_scale' has shape ${fmtShape(xs.dims)}; expected a scalar (per-tensor activation quantization)`, ctx);
      if (xz && !xs) fail(op, `input 'X_zero_point' is given without 'X_scale'`, ctx);
      if (xz && !(xz.size === 1 && xz.rank <= 1)) fail(op, `input 'X_zero_point' has shape ${fmtShape(xz.dims)}; expected a scalar`, ctx);
      if (x.type !== 'float32') fail(op, `input 'X' is ${x.type}; expected float32`, ctx);
      return out;
    },
  });
}

for (const base of QDQ_BASES) defineQdq(base);

/** Domain of onnxruntime's contrib operators (MatMulNBits). */
export const MICROSOFT_DOMAIN = 'com.microsoft';

defineOp({
  name: 'MatMulNBits',
  domain: MICROSOFT_DOMAIN,
  inputs: [
    { name: 'A', type: 'T' },
    { name: 'B', type: 'TC' },
    { name: 'scales', type: 'T' },
    { name: 'zero_points', type: 'TC', optional: true },
    { name: 'g_idx', type: 'TG', optional: true },
    { name: 'bias', type: 'T', optional: true },
  ],
  outputs: ['Y'],
  types: { T: ['float32'], TC: ['uint8'], TG: ['int32'] },
  attributes: {
    K: { kind: 'int', required: true },
    N: { kind: 'int', required: true },
    bits: { kind: 'int', default: 4 },
    block_size: { kind: 'int', required: true },
    accuracy_level: { kind: 'int', default: 0, ignored: true },
  },
  infer(inputs, attrs: Attrs, ctx: InferContext): OutputSpec[] {
    const op = 'MatMulNBits';
    const a = req(op, inputs, 0, 'A', ctx);
    const codes = req(op, inputs, 1, 'B', ctx);
    const scales = req(op, inputs, 2, 'scales', ctx);
    const k = attrs['K'] as number;
    const n = attrs['N'] as number;
    if (attrs['bits'] !== 4) fail(op, `attribute 'bits' is ${String(attrs['bits'])}; only 4 is supported`, ctx);
    if (attrs['block_size'] !== 32) fail(op, `attribute 'block_size' is ${String(attrs['block_size'])}; only 32 (the INT4_BLOCK layout) is supported`, ctx);
    if (inputs[3]) fail(op, `input 'zero_points' is given; only the implicit zero point 8 is supported`, ctx);
    if (inputs[4]) fail(op, `input 'g_idx' is given; act-order (g_idx) is not supported`, ctx);
    if (!(k >= 1) || !(n >= 1)) fail(op, `attributes K = ${k} and N = ${n} must be at least 1`, ctx);
    expectMinRank(op, 'A', a, 1, ctx);
    if (a.dims[a.rank - 1] !== k) fail(op, `input 'A' has shape ${fmtShape(a.dims)}; expected its last dim to be K = ${k}`, ctx);
    const blocks = Math.ceil(k / 32);
    if (codes.rank !== 3 || codes.dims[0] !== n || codes.dims[1] !== blocks || codes.dims[2] !== 16) {
      fail(op, `input 'B' has shape ${fmtShape(codes.dims)}; expected [${n}, ${blocks}, 16] (N, ceil(K/32) blocks, 16 bytes of 4-bit codes)`, ctx);
    }
    if (scales.size !== n * blocks || scales.rank > 2) {
      fail(op, `input 'scales' has shape ${fmtShape(scales.dims)}; expected [${n * blocks}] (one scale per block: N * ceil(K/32))`, ctx);
    }
    const bias = inputs[5];
    if (bias && (bias.rank !== 1 || bias.dims[0] !== n)) fail(op, `input 'bias' has shape ${fmtShape(bias.dims)}; expected [${n}]`, ctx);
    return [{ type: 'float32', dims: [...a.dims.slice(0, -1), n] }];
  },
});

/**
 * MatMulInt4 (com.tessera): Y = A (float32 [..., K]) times W[K, N] plus an optional bias and activation, W given as
 * the QDQ fusion pass finds it behind DequantizeLinear(int4 or uint4 [K, N], axis 0, block_size): `B` the values
 * packed two per byte in row-major [K, N] order (ONNX INT4 packing: element i in byte i >> 1, low nibble first;
 * ceil(K * N / 2) bytes), `scales` float32 [ceil(K / block_size), N], optional `zero_points` int4/uint4 of the
 * same shape (one value per element), optional `bias` float32 [N] (a Gemm's C). Attributes K, N, block_size,
 * signed (1: int4 two's-complement codes, 0: uint4), activation / activation_params as the QDQ ops.
 *   Y[..., n] = act(sum_k A[..., k] * fround((code(k, n) - zp(k / block_size, n)) * scale(k / block_size, n)) + bias[n])
 * which is DequantizeLinear -> MatMul (-> Add) exactly. Kernel: src/kernels/cpu/int4-matmul.ts.
 */
defineOp({
  name: 'MatMulInt4',
  domain: TESSERA_DOMAIN,
  inputs: [
    { name: 'A', type: 'T' },
    { name: 'B', type: 'TB' },
    { name: 'scales', type: 'T' },
    { name: 'zero_points', type: 'TZ', optional: true },
    { name: 'bias', type: 'T', optional: true },
  ],
  outputs: ['Y'],
  types: { T: ['float32'], TB: ['uint8'], TZ: ['int4', 'uint4'] },
  attributes: {
    K: { kind: 'int', required: true },
    N: { kind: 'int', required: true },
    block_size: { kind: 'int', required: true },
    signed: { kind: 'int', default: 1 },
    ...ACTIVATION_ATTRS,
  },
  normalize(inputs, attrs, ctx): Normalized {
    const out: Record<string, AttrValue> = { ...(attrs as Record<string, AttrValue>) };
    if (attrs['activation'] !== '') {
      const full = fusedActivation('MatMulInt4', attrs, ctx);
      out['activation'] = full.activation;
      out['activation_params'] = Object.freeze(full.params);
    } else if ((attrs['activation_params'] as readonly number[]).length) {
      fail('MatMulInt4', `attribute 'activation_params' is given without an activation`, ctx);
    }
    return { inputs: [...inputs], attrs: out };
  },
  infer(inputs, attrs: Attrs, ctx: InferContext): OutputSpec[] {
    const op = 'MatMulInt4';
    const a = req(op, inputs, 0, 'A', ctx);
    const codes = req(op, inputs, 1, 'B', ctx);
    const scales = req(op, inputs, 2, 'scales', ctx);
    const k = attrs['K'] as number;
    const n = attrs['N'] as number;
    const bs = attrs['block_size'] as number;
    const signed = attrs['signed'] as number;
    if (!(k >= 1) || !(n >= 1) || !(bs >= 1)) fail(op, `attributes K = ${k}, N = ${n} and block_size = ${bs} must be at least 1`, ctx);
    if (signed !== 0 && signed !== 1) fail(op, `attribute 'signed' is ${signed}; expected 0 (uint4) or 1 (int4)`, ctx);
    expectMinRank(op, 'A', a, 1, ctx);
    if (a.dims[a.rank - 1] !== k) fail(op, `input 'A' has shape ${fmtShape(a.dims)}; expected its last dim to be K = ${k}`, ctx);
    const bytes = Math.ceil((k * n) / 2);
    if (codes.rank !== 1 || codes.dims[0] !== bytes) fail(op, `input 'B' has shape ${fmtShape(codes.dims)}; expected [${bytes}] (K * N = ${k * n} 4-bit codes packed two per byte)`, ctx);
    const blocks = Math.ceil(k / bs);
    if (scales.rank !== 2 || scales.dims[0] !== blocks || scales.dims[1] !== n) fail(op, `input 'scales' has shape ${fmtShape(scales.dims)}; expected [${blocks}, ${n}] (ceil(K / block_size) blocks per column)`, ctx);
    const zp = inputs[3];
    if (zp) {
      if (zp.rank !== 2 || zp.dims[0] !== blocks || zp.dims[1] !== n) fail(op, `input 'zero_points' has shape ${fmtShape(zp.dims)}; expected [${blocks}, ${n}] like 'scales'`, ctx);
      if ((zp.type === 'int4') !== (signed === 1)) fail(op, `input 'zero_points' is ${zp.type} but 'signed' is ${signed}; they must agree`, ctx);
    }
    const bias = inputs[4];
    if (bias && (bias.rank !== 1 || bias.dims[0] !== n)) fail(op, `input 'bias' has shape ${fmtShape(bias.dims)}; expected [${n}]`, ctx);
    if (attrs['activation'] !== '') fusedActivation(op, attrs, ctx);
    return [{ type: 'float32', dims: [...a.dims.slice(0, -1), n] }];
  },
});

defineOp({
  name: 'SparseConv',
  domain: TESSERA_DOMAIN,
  inputs: [
    { name: 'X', type: 'T' },
    { name: 'W_values', type: 'T' },
    { name: 'W_columns', type: 'TI' },
    { name: 'W_row_starts', type: 'TI' },
    { name: 'B', type: 'T', optional: true },
  ],
  outputs: ['Y'],
  types: { T: ['float32'], TI: ['int32'] },
  attributes: {
    weight_shape: { kind: 'ints', required: true },
    strides: { kind: 'ints', default: Object.freeze([1, 1]) as readonly number[] },
    pads: { kind: 'ints', default: Object.freeze([0, 0, 0, 0]) as readonly number[] },
    dilations: { kind: 'ints', default: Object.freeze([1, 1]) as readonly number[] },
  },
  infer(inputs, attrs: Attrs, ctx: InferContext): OutputSpec[] {
    const op = 'SparseConv';
    const x = req(op, inputs, 0, 'X', ctx);
    const values = req(op, inputs, 1, 'W_values', ctx);
    const columns = req(op, inputs, 2, 'W_columns', ctx);
    const starts = req(op, inputs, 3, 'W_row_starts', ctx);
    const shape = attrs['weight_shape'] as readonly number[];
    const strides = attrs['strides'] as readonly number[];
    const pads = attrs['pads'] as readonly number[];
    const dilations = attrs['dilations'] as readonly number[];
    if (shape.length !== 4 || shape.some((d) => !(d >= 1))) fail(op, `attribute 'weight_shape' is [${shape.join(', ')}]; expected [M, C, kH, kW] with positive dims`, ctx);
    if (strides.length !== 2 || dilations.length !== 2 || pads.length !== 4 || strides.some((v) => v < 1) || dilations.some((v) => v < 1) || pads.some((v) => v < 0)) {
      fail(op, `attributes strides [${strides.join(', ')}], dilations [${dilations.join(', ')}], pads [${pads.join(', ')}]; expected 2 positive strides and dilations, 4 non-negative pads`, ctx);
    }
    if (x.rank !== 4 || x.dims[1] !== shape[1]) fail(op, `input 'X' has shape ${fmtShape(x.dims)}; expected rank 4 with ${shape[1]} channels (weight_shape[1])`, ctx);
    const [m, , kh, kw] = shape as [number, number, number, number];
    if (starts.rank !== 1 || starts.dims[0] !== m + 1) fail(op, `input 'W_row_starts' has shape ${fmtShape(starts.dims)}; expected [${m + 1}] (output channels + 1)`, ctx);
    if (values.rank !== 1 || columns.rank !== 1 || values.dims[0] !== columns.dims[0]) {
      fail(op, `inputs 'W_values' ${fmtShape(values.dims)} and 'W_columns' ${fmtShape(columns.dims)} must be 1-D of the same length`, ctx);
    }
    const b = inputs[4];
    if (b && (b.rank !== 1 || b.dims[0] !== m)) fail(op, `input 'B' has shape ${fmtShape(b.dims)}; expected [${m}]`, ctx);
    const out = [0, 1].map((a) => Math.floor((x.dims[2 + a]! + pads[a]! + pads[a + 2]! - ((a === 0 ? kh : kw) - 1) * dilations[a]! - 1) / strides[a]!) + 1);
    if (out.some((d) => d < 0)) fail(op, `input 'X' ${fmtShape(x.dims)} is smaller than the dilated kernel`, ctx);
    return [{ type: 'float32', dims: [x.dims[0]!, m, Math.max(0, out[0]!), Math.max(0, out[1]!)] }];
  },
});

/** Attributes of the eager QDQ functions: the base operator's (ONNX names) plus `activation`/`activation_params`. */
export type QdqAttrs = Readonly<Record<string, AttrValue | undefined>>;

/** Activation fake-quantization of a QDQ call: X' = DequantizeLinear(QuantizeLinear(X, scale, zeroPoint)). */
export interface QdqInput {
  scale: Tensor;
  zeroPoint?: Tensor;
}

/**
 * `QDQ<base>`: the base operator with an int8 weight `w` dequantized by `wScale` inside the kernel, the data
 * input optionally fake-quantized (`input`), the bias/C optional (see the file comment).
 */
export function qdqOp(base: QdqBase, x: Tensor, w: Tensor, wScale: Tensor, bias?: Tensor, input?: QdqInput, attrs: QdqAttrs = {}): Tensor {
  return runOp1(`QDQ${base}`, [x, w, wScale, input?.scale, input?.zeroPoint, bias], attrs, { domain: TESSERA_DOMAIN, opset: 1 });
}

/**
 * com.microsoft.MatMulNBits with bits=4, block_size=32: a [.., K] x B[K, N] product with B in int4 blocks
 * (`codes` [N, ceil(K/32), 16], `scales` [N * ceil(K/32)], implicit zero point 8).
 */
export function matMulNBits(a: Tensor, codes: Tensor, scales: Tensor, k: number, n: number, bias?: Tensor): Tensor {
  return runOp1('MatMulNBits', [a, codes, scales, undefined, undefined, bias], { K: k, N: n, bits: 4, block_size: 32 }, { domain: MICROSOFT_DOMAIN, opset: 1 });
}

/** Options of `matMulInt4`: the weight's geometry and, optionally, zero points, bias and activation. */
export interface MatMulInt4Options {
  k: number;
  n: number;
  blockSize: number;
  /** int4 codes (default) or uint4. */
  signed?: boolean;
  zeroPoints?: Tensor;
  bias?: Tensor;
  activation?: string;
  activationParams?: readonly number[];
}

/** com.tessera MatMulInt4: `a` [..., K] times the packed int4 W[K, N] (`codes`, `scales`; see the schema's comment). */
export function matMulInt4(a: Tensor, codes: Tensor, scales: Tensor, o: MatMulInt4Options): Tensor {
  const attrs = { K: o.k, N: o.n, block_size: o.blockSize, signed: o.signed === false ? 0 : 1, activation: o.activation, activation_params: o.activationParams };
  return runOp1('MatMulInt4', [a, codes, scales, o.zeroPoints, o.bias], attrs, { domain: TESSERA_DOMAIN, opset: 1 });
}

/**
 * SparseConv: a group-1 2-D convolution whose weight [M, C, kH, kW] is given in CSR form (row m = output channel,
 * column = c * kH * kW + kh * kW + kw), as `sparsifyWeights` (src/quant/sparse.ts) writes it.
 */
export function sparseConv(x: Tensor, values: Tensor, columns: Tensor, rowStarts: Tensor, bias: Tensor | undefined, attrs: { weightShape: readonly number[]; strides?: readonly number[]; pads?: readonly number[]; dilations?: readonly number[] }): Tensor {
  return runOp1('SparseConv', [x, values, columns, rowStarts, bias], { weight_shape: attrs.weightShape, strides: attrs.strides, pads: attrs.pads, dilations: attrs.dilations }, { domain: TESSERA_DOMAIN, opset: 1 });
}
