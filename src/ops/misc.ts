/**
 * Further operators, family root: re-exports the losses (./losses.ts), Attention (./attention.ts) and the
 * indexing, spatial and signal operators (./misc-extra.ts), the ai.onnx.preview.training optimizers
 * (./training.ts) and defines the small standalone ones:
 *
 * - LRN (opsets 1, 13): local response normalisation across channels of an [N, C, D1, ...] tensor.
 * - CumProd (opset 26): cumulative product along the axis given as a 0-D int input (moved into an `axis`
 *   attribute by normalize, as CumSum does), with `exclusive` and `reverse`.
 * - RMSNormalization (opset 23): X / sqrt(mean(X^2 over axes [axis, rank)) + epsilon) * scale; scale is
 *   unidirectionally broadcast to X; the output takes scale's dtype.
 * - Swish (opset 24): x * sigmoid(alpha * x). SwiGLU (opset 28): Swish(A) * B for same-shape A and B.
 * - Shrink (opset 9): soft/hard shrinkage with `lambd` and `bias`, any numeric dtype.
 * - EyeLike (opsets 9, 22): a 2-D identity-like tensor with ones on diagonal k, dtype from `dtype` or the input.
 * - TensorScatter (opset 24): writes `update` into a copy of `past_cache` along the sequence axis at
 *   per-batch write indices (linear or circular).
 * - CausalConvWithState (opset 27): out[b, c, t] = sum_j w[c, 0, j] * padded[b, c, t + j] + bias[c], where
 *   padded = past_state (or k-1 zeros) followed by the input; optional fused SiLU; present_state = the last
 *   k-1 values of padded.
 *
 * Kernels: src/kernels/cpu/misc.ts (and the files it imports).
 */
import type { OutputSpec } from '../kernels/registry.js';
import { dataTypeFromOnnx, ONNX_TYPE_CODES, type DataType } from '../tensor/dtype.js';
import { UnsupportedFeatureError } from '../tensor/errors.js';
import { fmtShape } from '../tensor/shape.js';
import { Tensor } from '../tensor/tensor.js';
import { runOp, runOp1 } from './dispatch.js';
import { checkAxis, withAttrs } from './reduce-axes.js';
import { ALL_TYPES, defineOp, expectMinRank, expectRank, fail, FLOAT_TYPES, intValues, NUMERIC_TYPES, req, type InferContext } from './schema.js';

export * from './losses.js';
export * from './attention.js';
export * from './misc-extra.js';
export * from './training.js';
export * from './string.js';

function label(op: string, ctx: InferContext): string {
  return ctx.node ? `${op} (node '${ctx.node}')` : op;
}

// ---------------------------------------------------------------------------------------------------------
// LRN

defineOp({
  name: 'LRN',
  inputs: [{ name: 'X', type: 'T' }],
  outputs: ['Y'],
  types: { T: FLOAT_TYPES },
  attributes: {
    alpha: { kind: 'float', default: 0.0001 },
    beta: { kind: 'float', default: 0.75 },
    bias: { kind: 'float', default: 1.0 },
    size: { kind: 'int', required: true },
  },
  infer(inputs, attrs, ctx): OutputSpec[] {
    const x = inputs[0]!;
    expectMinRank('LRN', 'X', x, 2, ctx);
    const size = attrs.size as number;
    if (size < 1) fail('LRN', `attribute 'size' is ${size}; expected a positive number of channels (input 'X' has shape ${fmtShape(x.dims)})`, ctx);
    return [{ type: x.type, dims: x.dims }];
  },
});

// ---------------------------------------------------------------------------------------------------------
// CumProd

defineOp({
  name: 'CumProd',
  inputs: [
    { name: 'x', type: 'T' },
    // required by ONNX; normalize moves its value into the `axis` attribute
    { name: 'axis', type: 'T2', optional: true },
  ],
  outputs: ['y'],
  types: { T: ['uint32', 'int32', 'int64', 'float16', 'float32', 'float64'], T2: ['int32', 'int64'] },
  attributes: {
    exclusive: { kind: 'int', default: 0 },
    reverse: { kind: 'int', default: 0 },
  },
  normalize(inputs, attrs, ctx) {
    const x = req('CumProd', inputs, 0, 'x', ctx);
    const a = req('CumProd', inputs, 1, 'axis', ctx);
    if (inputs.length > 2) fail('CumProd', `got ${inputs.length} inputs; expected 2 (x, axis)`, ctx);
    if (a.size !== 1 || a.rank > 1) fail('CumProd', `input 'axis' has shape ${fmtShape(a.dims)}; expected a scalar`, ctx);
    if (x.rank === 0) fail('CumProd', `input 'x' is a scalar (shape []); expected rank >= 1`, ctx);
    const axis = checkAxis('CumProd', 'axis', intValues('CumProd', 'axis', a, ctx)[0]!, x.dims, ctx);
    return { inputs: [x], attrs: withAttrs(attrs, { axis }) };
  },
  infer(inputs, attrs, ctx): OutputSpec[] {
    const x = inputs[0]!;
    if (typeof attrs.axis !== 'number') fail('CumProd', `input 'axis' is required`, ctx);
    return [{ type: x.type, dims: x.dims }];
  },
});

// ---------------------------------------------------------------------------------------------------------
// RMSNormalization

/** ONNX TensorProto codes accepted as stash_type: float, float16, double, bfloat16. */
const STASH_TYPES = [1, 10, 11, 16];

defineOp({
  name: 'RMSNormalization',
  inputs: [
    { name: 'X', type: 'T' },
    { name: 'scale', type: 'V' },
  ],
  outputs: ['Y'],
  types: { T: FLOAT_TYPES, V: FLOAT_TYPES },
  attributes: {
    axis: { kind: 'int', default: -1 },
    epsilon: { kind: 'float', default: 1e-5 },
    stash_type: { kind: 'int', default: 1 },
  },
  normalize(inputs, attrs, ctx) {
    const x = req('RMSNormalization', inputs, 0, 'X', ctx);
    if (x.rank === 0) fail('RMSNormalization', `input 'X' is a scalar (shape []); expected rank >= 1`, ctx);
    const axis = checkAxis('RMSNormalization', 'attribute axis', attrs.axis as number, x.dims, ctx);
    return { inputs, attrs: withAttrs(attrs, { axis }) };
  },
  infer(inputs, attrs, ctx): OutputSpec[] {
    const [x, scale] = inputs as [Tensor, Tensor];
    if (!STASH_TYPES.includes(attrs.stash_type as number)) {
      fail('RMSNormalization', `attribute 'stash_type' is ${String(attrs.stash_type)}; expected a float type code (1, 10, 11 or 16)`, ctx);
    }
    expectUnidirectional('RMSNormalization', 'scale', scale, x, ctx);
    return [{ type: scale.type, dims: x.dims }];
  },
});

/** Fail unless `t` broadcasts to `target`'s shape without changing it (numpy rules, one direction). */
function expectUnidirectional(op: string, name: string, t: Tensor, target: Tensor, ctx: InferContext): void {
  const off = target.rank - t.rank;
  const ok = off >= 0 && t.dims.every((d, i) => d === 1 || d === target.dims[off + i]);
  if (!ok) fail(op, `input '${name}' has shape ${fmtShape(t.dims)}, which does not broadcast to input shape ${fmtShape(target.dims)}`, ctx);
}

// ---------------------------------------------------------------------------------------------------------
// Swish, SwiGLU, Shrink

defineOp({
  name: 'Swish',
  inputs: [{ name: 'X', type: 'T' }],
  outputs: ['Y'],
  types: { T: FLOAT_TYPES },
  attributes: { alpha: { kind: 'float', default: 1.0 } },
  infer(inputs): OutputSpec[] {
    const x = inputs[0]!;
    return [{ type: x.type, dims: x.dims }];
  },
});

defineOp({
  name: 'SwiGLU',
  inputs: [
    { name: 'A', type: 'T' },
    { name: 'B', type: 'T' },
  ],
  outputs: ['Y'],
  types: { T: FLOAT_TYPES },
  attributes: { alpha: { kind: 'float', default: 1.0 } },
  infer(inputs, _attrs, ctx): OutputSpec[] {
    const [a, b] = inputs as [Tensor, Tensor];
    if (a.rank !== b.rank || a.dims.some((d, i) => d !== b.dims[i])) {
      fail('SwiGLU', `input 'B' has shape ${fmtShape(b.dims)} but 'A' has ${fmtShape(a.dims)}; they must be equal (no broadcasting)`, ctx);
    }
    return [{ type: a.type, dims: a.dims }];
  },
});

defineOp({
  name: 'Shrink',
  inputs: [{ name: 'input', type: 'T' }],
  outputs: ['output'],
  types: { T: NUMERIC_TYPES },
  attributes: { bias: { kind: 'float', default: 0 }, lambd: { kind: 'float', default: 0.5 } },
  infer(inputs): OutputSpec[] {
    const x = inputs[0]!;
    return [{ type: x.type, dims: x.dims }];
  },
});

// ---------------------------------------------------------------------------------------------------------
// EyeLike

defineOp({
  name: 'EyeLike',
  inputs: [{ name: 'input', type: 'T1' }],
  outputs: ['output'],
  types: { T1: ALL_TYPES },
  attributes: { dtype: { kind: 'int' }, k: { kind: 'int', default: 0 } },
  infer(inputs, attrs, ctx): OutputSpec[] {
    const x = inputs[0]!;
    expectRank('EyeLike', 'input', x, 2, ctx);
    let type: DataType = x.type;
    if (attrs.dtype !== undefined) {
      const code = attrs.dtype as number;
      const t = dataTypeFromOnnx(code);
      if (!t) {
        if ([8, 13, 14, 15, 16].includes(code) || code >= 17) {
          throw new UnsupportedFeatureError(label('EyeLike', ctx), `attribute 'dtype' is ONNX type ${code}, a type Tessera has no tensor for`);
        }
        fail('EyeLike', `attribute 'dtype' is ${code}; expected an ONNX tensor type code`, ctx);
      }
      type = t;
    }
    return [{ type, dims: x.dims }];
  },
});

// ---------------------------------------------------------------------------------------------------------
// TensorScatter

defineOp({
  name: 'TensorScatter',
  inputs: [
    { name: 'past_cache', type: 'T' },
    { name: 'update', type: 'T' },
    { name: 'write_indices', type: 'I', optional: true },
  ],
  outputs: ['present_cache'],
  types: { T: ALL_TYPES, I: ['int64'] },
  attributes: { axis: { kind: 'int', default: -2 }, mode: { kind: 'string', default: 'linear' } },
  normalize(inputs, attrs, ctx) {
    const past = req('TensorScatter', inputs, 0, 'past_cache', ctx);
    if (past.rank < 2) fail('TensorScatter', `input 'past_cache' has shape ${fmtShape(past.dims)} (rank ${past.rank}); expected rank >= 2`, ctx);
    const axis = checkAxis('TensorScatter', 'attribute axis', attrs.axis as number, past.dims, ctx);
    if (axis === 0) fail('TensorScatter', `attribute 'axis' is ${String(attrs.axis)}, the batch dimension of shape ${fmtShape(past.dims)}; the sequence axis cannot be 0`, ctx);
    return { inputs, attrs: withAttrs(attrs, { axis }) };
  },
  infer(inputs, attrs, ctx): OutputSpec[] {
    const [past, update, writes] = inputs as [Tensor, Tensor, Tensor | undefined];
    const axis = attrs.axis as number;
    const mode = attrs.mode as string;
    if (mode !== 'linear' && mode !== 'circular') fail('TensorScatter', `attribute 'mode' is '${mode}'; expected 'linear' or 'circular'`, ctx);
    const sameElsewhere = update.rank === past.rank && update.dims.every((d, i) => i === axis || d === past.dims[i]);
    if (!sameElsewhere || update.dims[axis]! > past.dims[axis]!) {
      fail('TensorScatter', `input 'update' has shape ${fmtShape(update.dims)}; expected the shape of 'past_cache' ${fmtShape(past.dims)} with at most ${past.dims[axis]} on axis ${axis}`, ctx);
    }
    if (writes) {
      if (writes.rank !== 1 || writes.dims[0] !== past.dims[0]) {
        fail('TensorScatter', `input 'write_indices' has shape ${fmtShape(writes.dims)}; expected [${past.dims[0]}] (one per batch)`, ctx);
      }
      const max = past.dims[axis]!;
      const seq = update.dims[axis]!;
      intValues('TensorScatter', 'write_indices', writes, ctx).forEach((w, b) => {
        if (mode === 'linear' && (w < 0 || w + seq > max)) {
          fail('TensorScatter', `input 'write_indices'[${b}] is ${w}; linear mode needs 0 <= index and index + ${seq} (update length) <= ${max} (cache length)`, ctx);
        }
      });
    }
    return [{ type: past.type, dims: past.dims }];
  },
});

// ---------------------------------------------------------------------------------------------------------
// Eager API

/** Local response normalisation across channels (axis 1) over windows of `size` channels. */
export function lrn(x: Tensor, size: number, options: { alpha?: number; beta?: number; bias?: number } = {}): Tensor {
  return runOp1('LRN', [x], { size, alpha: options.alpha, beta: options.beta, bias: options.bias });
}

/** Cumulative product along `axis` (negative counts from the end). */
export function cumProd(x: Tensor, axis: number, options: { exclusive?: boolean; reverse?: boolean } = {}): Tensor {
  const at = new Tensor('int64', BigInt64Array.of(BigInt(axis)), []);
  try {
    return runOp1('CumProd', [x, at], { exclusive: options.exclusive ? 1 : 0, reverse: options.reverse ? 1 : 0 });
  } finally {
    at.dispose();
  }
}

/** RMS normalisation over axes [axis, rank) followed by a broadcast multiply by `scale`. */
export function rmsNormalization(x: Tensor, scale: Tensor, options: { axis?: number; epsilon?: number } = {}): Tensor {
  return runOp1('RMSNormalization', [x, scale], { axis: options.axis, epsilon: options.epsilon });
}

/** x * sigmoid(alpha * x). */
export function swish(x: Tensor, alpha?: number): Tensor {
  return runOp1('Swish', [x], { alpha });
}

/** Swish(a) * b for same-shape a (gate) and b (value). */
export function swiGLU(a: Tensor, b: Tensor, alpha?: number): Tensor {
  return runOp1('SwiGLU', [a, b], { alpha });
}

/** x < -lambd ? x + bias : x > lambd ? x - bias : 0. */
export function shrink(x: Tensor, options: { lambd?: number; bias?: number } = {}): Tensor {
  return runOp1('Shrink', [x], { lambd: options.lambd, bias: options.bias });
}

/** A tensor shaped like the 2-D `x` with ones on diagonal `k` (output[i, i + k] = 1), of `x`'s dtype or `dtype`. */
export function eyeLike(x: Tensor, options: { k?: number; dtype?: DataType } = {}): Tensor {
  const code = options.dtype === undefined ? undefined : ONNX_TYPE_CODES[options.dtype];
  return runOp1('EyeLike', [x], { k: options.k, dtype: code });
}

/** A copy of `pastCache` with `update` written along `axis` at each batch's write index. */
export function tensorScatter(pastCache: Tensor, update: Tensor, options: { writeIndices?: Tensor; axis?: number; mode?: 'linear' | 'circular' } = {}): Tensor {
  return runOp1('TensorScatter', [pastCache, update, options.writeIndices], { axis: options.axis, mode: options.mode });
}

// ---------------------------------------------------------------------------------------------------------
// CausalConvWithState (opset 27): stateful causal depthwise 1-D convolution

defineOp({
  name: 'CausalConvWithState',
  inputs: [
    { name: 'input', type: 'T' },
    { name: 'weight', type: 'T' },
    { name: 'bias', type: 'T', optional: true },
    { name: 'past_state', type: 'T', optional: true },
  ],
  outputs: ['output', 'present_state'],
  types: { T: ['float32', 'float16'] },
  attributes: { activation: { kind: 'string', default: 'none' } },
  infer(inputs, attrs, ctx): OutputSpec[] {
    const op = 'CausalConvWithState';
    const [x, w, bias, past] = inputs as [Tensor, Tensor, Tensor | undefined, Tensor | undefined];
    expectRank(op, 'input', x, 3, ctx);
    const [batch, channels] = x.dims as [number, number];
    if (w.rank !== 3 || w.dims[0] !== channels || w.dims[1] !== 1 || w.dims[2]! < 1) fail(op, `input 'weight' has shape ${fmtShape(w.dims)}; expected [${channels}, 1, k] with k >= 1 (depthwise)`, ctx);
    const k = w.dims[2]!;
    if (bias && (bias.rank !== 1 || bias.dims[0] !== channels)) fail(op, `input 'bias' has shape ${fmtShape(bias.dims)}; expected [${channels}]`, ctx);
    const state = [batch, channels, k - 1];
    if (past && (past.rank !== 3 || past.dims.some((d, i) => d !== state[i]))) fail(op, `input 'past_state' has shape ${fmtShape(past.dims)}; expected ${fmtShape(state)}`, ctx);
    const act = attrs.activation as string;
    if (act !== 'none' && act !== 'silu' && act !== 'swish') fail(op, `attribute 'activation' is '${act}'; expected 'none', 'silu' or 'swish'`, ctx);
    const out: OutputSpec[] = [{ type: x.type, dims: x.dims }];
    if (ctx.numOutputs !== 1) out.push({ type: x.type, dims: state });
    return out;
  },
});

/** Causal depthwise convolution of [B, C, L] with weight [C, 1, k], carrying the last k-1 inputs as state. */
export function causalConvWithState(x: Tensor, weight: Tensor, options: { bias?: Tensor; pastState?: Tensor; activation?: 'none' | 'silu' | 'swish' } = {}): { output: Tensor; presentState: Tensor } {
  const [output, presentState] = runOp('CausalConvWithState', [x, weight, options.bias, options.pastState], { activation: options.activation });
  return { output: output!, presentState: presentState! };
}
