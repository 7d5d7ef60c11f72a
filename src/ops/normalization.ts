/**
 * Normalisation layers: BatchNormalization (inference and training mode), InstanceNormalization,
 * LayerNormalization (with the optional Mean and InvStdDev outputs), GroupNormalization (opset 18 per-group
 * and opset 21 per-channel scale/bias), MeanVarianceNormalization and LpNormalization. Schemas, validation
 * and eager functions; the loops live in src/kernels/cpu/normalization.ts.
 *
 * Canonical forms produced by `normalize`:
 * - BatchNormalization: attribute `spatial` (1 unless an opset 7/8 model set it to 0, in which case scale,
 *   B, mean and var hold one value per element of [C, D1, ..., Dn]).
 * - GroupNormalization: attribute `per_group_params` = 1 for the opset 18-20 form whose scale and bias hold
 *   one value per group (the kernel repeats each over the group's C / num_groups channels), 0 for the
 *   opset-21 per-channel form.
 * - LayerNormalization, MeanVarianceNormalization, LpNormalization: axis/axes made non-negative.
 */
import type { Attrs, OutputSpec } from '../kernels/registry.js';
import type { DataType } from '../tensor/dtype.js';
import { fmtShape } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { runOp, runOp1 } from './dispatch.js';
import { checkAxis, withAttrs } from './reduce-axes.js';
import { defineOp, expectMinRank, fail, FLOAT_TYPES, ints, req, type InferContext } from './schema.js';

/** Fail unless `t` is a vector of `n` values (rank 1, or any shape listed in `shapes`). */
function expectParam(op: string, name: string, t: Tensor, n: number, what: string, ctx: InferContext, alsoShape?: readonly number[]): void {
  const sameAsAlso = alsoShape !== undefined && t.rank === alsoShape.length && t.dims.every((d, i) => d === alsoShape[i]);
  if (!((t.rank === 1 && t.dims[0] === n) || sameAsAlso)) {
    const alt = alsoShape ? ` or ${fmtShape(alsoShape)}` : '';
    fail(op, `input '${name}' has shape ${fmtShape(t.dims)}; expected [${n}]${alt} (${what})`, ctx);
  }
}

// ---------------------------------------------------------------------------------------------------------
// BatchNormalization

defineOp({
  name: 'BatchNormalization',
  inputs: [
    { name: 'X', type: 'T' },
    { name: 'scale', type: 'T1' },
    { name: 'B', type: 'T1' },
    { name: 'input_mean', type: 'T2' },
    { name: 'input_var', type: 'T2' },
  ],
  outputs: ['Y', 'running_mean', 'running_var'],
  types: { T: FLOAT_TYPES, T1: FLOAT_TYPES, T2: FLOAT_TYPES },
  attributes: {
    epsilon: { kind: 'float', default: 1e-5 },
    momentum: { kind: 'float', default: 0.9 },
    training_mode: { kind: 'int', default: 0 },
    // opsets 7-8: spatial=0 means per-element statistics over [C, D1, ..., Dn]
    spatial: { kind: 'int', default: 1 },
    // opsets 1-6: is_test (inference is what Tessera runs) and consumed_inputs (a legacy memory hint)
    is_test: { kind: 'int', ignored: true },
    consumed_inputs: { kind: 'ints', ignored: true },
  },
  normalize(inputs, attrs, ctx) {
    if (attrs.spatial !== 1 && (ctx.opset < 7 || ctx.opset >= 9)) {
      fail('BatchNormalization', `attribute 'spatial' exists only in opsets 7 and 8 (opset in effect: ${ctx.opset})`, ctx);
    }
    if (attrs.training_mode !== 0 && attrs.training_mode !== 1) fail('BatchNormalization', `attribute 'training_mode' is ${String(attrs.training_mode)}; expected 0 or 1`, ctx);
    return { inputs, attrs };
  },
  infer(inputs, attrs, ctx) {
    const op = 'BatchNormalization';
    const x = req(op, inputs, 0, 'X', ctx);
    expectMinRank(op, 'X', x, 1, ctx);
    const c = x.rank === 1 ? 1 : x.dims[1]!;
    const spatial = attrs.spatial !== 0;
    const perChannelShape = x.rank === 1 ? [1] : x.dims.slice(1);
    const n = spatial ? c : perChannelShape.reduce((p, d) => p * d, 1);
    const what = spatial ? `one value per channel of X ${fmtShape(x.dims)}` : `one value per element of X's [C, D1, ...] block (spatial = 0)`;
    const names = ['scale', 'B', 'input_mean', 'input_var'];
    for (let i = 1; i <= 4; i++) expectParam(op, names[i - 1]!, req(op, inputs, i, names[i - 1]!, ctx), n, what, ctx, spatial ? undefined : perChannelShape);
    const out: OutputSpec[] = [{ type: x.type, dims: x.dims }];
    if (attrs.training_mode === 1) {
      const stats = inputs[3]!;
      out.push({ type: stats.type, dims: stats.dims }, { type: stats.type, dims: stats.dims });
    }
    return out;
  },
});

/** Options of batchNormalization. */
export interface BatchNormOptions {
  /** Added to the variance (default 1e-5). */
  epsilon?: number;
}

/** (x - mean) / sqrt(var + epsilon) * scale + bias per channel (dim 1), with the given (running) statistics. */
export function batchNormalization(x: Tensor, scale: Tensor, bias: Tensor, mean: Tensor, variance: Tensor, opts: BatchNormOptions = {}): Tensor {
  return runOp1('BatchNormalization', [x, scale, bias, mean, variance], { epsilon: opts.epsilon ?? 1e-5 });
}

// ---------------------------------------------------------------------------------------------------------
// InstanceNormalization

defineOp({
  name: 'InstanceNormalization',
  inputs: [
    { name: 'input', type: 'T' },
    { name: 'scale', type: 'T' },
    { name: 'B', type: 'T' },
  ],
  outputs: ['output'],
  types: { T: FLOAT_TYPES },
  attributes: {
    epsilon: { kind: 'float', default: 1e-5 },
    consumed_inputs: { kind: 'ints', ignored: true },
  },
  infer(inputs, _attrs, ctx) {
    const op = 'InstanceNormalization';
    const x = inputs[0]!;
    expectMinRank(op, 'input', x, 3, ctx);
    const c = x.dims[1]!;
    expectParam(op, 'scale', inputs[1]!, c, `one value per channel of input ${fmtShape(x.dims)}`, ctx);
    expectParam(op, 'B', inputs[2]!, c, `one value per channel of input ${fmtShape(x.dims)}`, ctx);
    return [{ type: x.type, dims: x.dims }];
  },
});

/** Normalise each (sample, channel) plane to zero mean and unit variance, then scale and shift per channel. */
export function instanceNormalization(x: Tensor, scale: Tensor, bias: Tensor, opts: { epsilon?: number } = {}): Tensor {
  return runOp1('InstanceNormalization', [x, scale, bias], { epsilon: opts.epsilon ?? 1e-5 });
}

// ---------------------------------------------------------------------------------------------------------
// LayerNormalization

/** Fail unless `p` broadcasts unidirectionally to `x` (each of its dims, right-aligned, equal or 1). */
function expectUnidirectional(op: string, name: string, p: Tensor, x: Tensor, ctx: InferContext): void {
  const off = x.rank - p.rank;
  const ok = off >= 0 && p.dims.every((d, i) => d === 1 || d === x.dims[off + i]);
  if (!ok) fail(op, `input '${name}' has shape ${fmtShape(p.dims)}, which does not broadcast to X's shape ${fmtShape(x.dims)}`, ctx);
}

function stashType(op: string, attrs: Attrs, ctx: InferContext): DataType {
  const s = attrs.stash_type as number;
  if (s === 1) return 'float32';
  if (s === 11) return 'float64';
  return fail(op, `attribute 'stash_type' is ${s}; expected 1 (float32) or 11 (float64)`, ctx);
}

defineOp({
  name: 'LayerNormalization',
  inputs: [
    { name: 'X', type: 'T' },
    { name: 'Scale', type: 'T' },
    { name: 'B', type: 'T', optional: true },
  ],
  outputs: ['Y', 'Mean', 'InvStdDev'],
  types: { T: FLOAT_TYPES },
  attributes: {
    axis: { kind: 'int', default: -1 },
    epsilon: { kind: 'float', default: 1e-5 },
    stash_type: { kind: 'int', default: 1 },
  },
  normalize(inputs, attrs, ctx) {
    const x = req('LayerNormalization', inputs, 0, 'X', ctx);
    if (x.rank === 0) fail('LayerNormalization', `input 'X' is a scalar (shape []); expected rank >= 1`, ctx);
    return { inputs, attrs: withAttrs(attrs, { axis: checkAxis('LayerNormalization', 'attribute axis', attrs.axis as number, x.dims, ctx) }) };
  },
  infer(inputs, attrs, ctx) {
    const op = 'LayerNormalization';
    const x = inputs[0]!;
    const u = stashType(op, attrs, ctx);
    expectUnidirectional(op, 'Scale', inputs[1]!, x, ctx);
    if (inputs[2]) expectUnidirectional(op, 'B', inputs[2], x, ctx);
    const axis = attrs.axis as number;
    const statDims = x.dims.map((d, i) => (i < axis ? d : 1));
    return [
      { type: x.type, dims: x.dims },
      { type: u, dims: statDims },
      { type: u, dims: statDims },
    ];
  },
});

/** Options of layerNormalization. */
export interface LayerNormOptions {
  /** First normalised axis (default -1): statistics are taken over dims[axis:]. */
  axis?: number;
  /** Added to the variance (default 1e-5). */
  epsilon?: number;
}

/** Normalise over the trailing dims from `axis`, then multiply by `scale` and add `bias` (both broadcast). */
export function layerNormalization(x: Tensor, scale: Tensor, bias?: Tensor, opts: LayerNormOptions = {}): Tensor {
  const [y, mean, inv] = runOp('LayerNormalization', [x, scale, bias], { axis: opts.axis ?? -1, epsilon: opts.epsilon ?? 1e-5 });
  mean!.dispose();
  inv!.dispose();
  return y!;
}

// ---------------------------------------------------------------------------------------------------------
// GroupNormalization

defineOp({
  name: 'GroupNormalization',
  inputs: [
    { name: 'X', type: 'T' },
    { name: 'scale', type: 'T' },
    { name: 'bias', type: 'T' },
  ],
  outputs: ['Y'],
  types: { T: FLOAT_TYPES },
  attributes: {
    epsilon: { kind: 'float', default: 1e-5 },
    num_groups: { kind: 'int', required: true },
    stash_type: { kind: 'int', default: 1 },
  },
  normalize(inputs, attrs, ctx) {
    const op = 'GroupNormalization';
    const x = req(op, inputs, 0, 'X', ctx);
    const scale = req(op, inputs, 1, 'scale', ctx);
    const bias = req(op, inputs, 2, 'bias', ctx);
    expectMinRank(op, 'X', x, 2, ctx);
    const c = x.dims[1]!;
    const g = attrs.num_groups as number;
    if (g <= 0 || c % g !== 0) fail(op, `attribute num_groups = ${g} must be positive and divide the ${c} channels of X ${fmtShape(x.dims)}`, ctx);
    stashType(op, attrs, ctx);
    // opset 18-20: scale and bias hold one value per group (the kernel repeats each over its channels)
    const perGroup = ctx.opset < 21 && c !== g;
    return { inputs: [x, scale, bias], attrs: withAttrs(attrs, { per_group_params: perGroup ? 1 : 0 }) };
  },
  infer(inputs, attrs, ctx) {
    const op = 'GroupNormalization';
    const x = inputs[0]!;
    const perGroup = attrs.per_group_params === 1;
    const n = perGroup ? (attrs.num_groups as number) : x.dims[1]!;
    const what = perGroup ? `one value per group before opset 21` : `one value per channel of X ${fmtShape(x.dims)}`;
    expectParam(op, 'scale', inputs[1]!, n, what, ctx);
    expectParam(op, 'bias', inputs[2]!, n, what, ctx);
    return [{ type: x.type, dims: x.dims }];
  },
});

/** Normalise each (sample, group of channels) block, then scale and shift per channel. */
export function groupNormalization(x: Tensor, scale: Tensor, bias: Tensor, numGroups: number, opts: { epsilon?: number } = {}): Tensor {
  return runOp1('GroupNormalization', [x, scale, bias], { num_groups: numGroups, epsilon: opts.epsilon ?? 1e-5 });
}

// ---------------------------------------------------------------------------------------------------------
// MeanVarianceNormalization

defineOp({
  name: 'MeanVarianceNormalization',
  inputs: [{ name: 'X', type: 'T' }],
  outputs: ['Y'],
  types: { T: FLOAT_TYPES },
  attributes: { axes: { kind: 'ints', default: Object.freeze([0, 2, 3]) } },
  normalize(inputs, attrs, ctx) {
    const op = 'MeanVarianceNormalization';
    const x = req(op, inputs, 0, 'X', ctx);
    const raw = ints(attrs, 'axes');
    const axes = raw.map((a) => checkAxis(op, 'axis', a, x.dims, ctx));
    if (new Set(axes).size !== axes.length) fail(op, `axes [${raw.join(', ')}] repeat an axis of X ${fmtShape(x.dims)}`, ctx);
    axes.sort((a, b) => a - b);
    return { inputs, attrs: withAttrs(attrs, { axes: Object.freeze(axes) }) };
  },
  infer(inputs) {
    const x = inputs[0]!;
    return [{ type: x.type, dims: x.dims }];
  },
});

/** (x - mean) / (std + 1e-9) with mean and std over `axes` (default [0, 2, 3]). */
export function meanVarianceNormalization(x: Tensor, axes: readonly number[] = [0, 2, 3]): Tensor {
  return runOp1('MeanVarianceNormalization', [x], { axes });
}

// ---------------------------------------------------------------------------------------------------------
// LpNormalization

defineOp({
  name: 'LpNormalization',
  inputs: [{ name: 'input', type: 'T' }],
  outputs: ['output'],
  types: { T: FLOAT_TYPES },
  attributes: {
    axis: { kind: 'int', default: -1 },
    p: { kind: 'int', default: 2 },
  },
  normalize(inputs, attrs, ctx) {
    const op = 'LpNormalization';
    const x = req(op, inputs, 0, 'input', ctx);
    if (x.rank === 0) fail(op, `input 'input' is a scalar (shape []); expected rank >= 1`, ctx);
    if (attrs.p !== 1 && attrs.p !== 2) fail(op, `attribute p = ${String(attrs.p)}; only 1 and 2 are defined`, ctx);
    return { inputs, attrs: withAttrs(attrs, { axis: checkAxis(op, 'attribute axis', attrs.axis as number, x.dims, ctx) }) };
  },
  infer(inputs) {
    const x = inputs[0]!;
    return [{ type: x.type, dims: x.dims }];
  },
});

/** x divided by its L1 or L2 norm along `axis` (default -1, p = 2); 0 where the norm is 0. */
export function lpNormalization(x: Tensor, opts: { axis?: number; p?: 1 | 2 } = {}): Tensor {
  return runOp1('LpNormalization', [x], { axis: opts.axis ?? -1, p: opts.p ?? 2 });
}
