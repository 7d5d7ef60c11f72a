/**
 * Loss operators: NegativeLogLikelihoodLoss (opsets 12, 13, 22) and SoftmaxCrossEntropyLoss (opsets 12, 13).
 *
 * Both take class scores of shape [N, C, D1, ..., Dk] (k >= 0), integer targets of shape [N, D1, ..., Dk]
 * and an optional per-class weight vector [C]. A sample whose target equals `ignore_index` contributes 0 and
 * has weight 0. The per-sample loss is -input[n, target, d...] * weight[target] (SoftmaxCrossEntropyLoss first
 * takes the log-softmax over C, and can also return it as `log_prob`). Reductions: 'none' keeps the
 * target's shape; 'sum' adds everything; 'mean' divides the sum by the sum of the applied weights (the count
 * of non-ignored samples when there are no weights). A mean over zero total weight is NaN, as 0/0 is.
 *
 * Target values are validated here (they are data, but a value outside [0, C) that is not ignore_index
 * would otherwise read out of bounds). Kernels: src/kernels/cpu/losses.ts.
 */
import type { Attrs, OutputSpec } from '../kernels/registry.js';
import { fmtShape } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { runOp, runOp1 } from './dispatch.js';
import { defineOp, fail, FLOAT_TYPES, type InferContext } from './schema.js';

/** Reductions the loss operators accept. */
export type LossReduction = 'none' | 'sum' | 'mean';

/** Validate a loss call (scores, targets, weights, reduction, target values); returns the loss dims. */
function checkLossCall(op: string, names: readonly [string, string, string], inputs: readonly (Tensor | undefined)[], attrs: Attrs, ctx: InferContext): number[] {
  const [x, target, weight] = inputs as [Tensor, Tensor, Tensor | undefined];
  const [xName, tName, wName] = names;
  if (x.rank < 2) fail(op, `input '${xName}' has shape ${fmtShape(x.dims)} (rank ${x.rank}); expected [N, C] or [N, C, D1, ..., Dk]`, ctx);
  const want = [x.dims[0]!, ...x.dims.slice(2)];
  if (target.rank !== want.length || target.dims.some((d, i) => d !== want[i])) {
    fail(op, `input '${tName}' has shape ${fmtShape(target.dims)}; expected ${fmtShape(want)} ('${xName}' ${fmtShape(x.dims)} without the class axis)`, ctx);
  }
  const classes = x.dims[1]!;
  if (weight && (weight.rank !== 1 || weight.dims[0] !== classes)) {
    fail(op, `input '${wName}' has shape ${fmtShape(weight.dims)}; expected [${classes}] (one weight per class)`, ctx);
  }
  const reduction = attrs.reduction as string;
  if (reduction !== 'none' && reduction !== 'sum' && reduction !== 'mean') fail(op, `attribute 'reduction' is '${reduction}'; expected 'none', 'sum' or 'mean'`, ctx);
  const ignore = attrs.ignore_index as number | undefined;
  const values = target.data as Int32Array | BigInt64Array;
  for (let i = 0; i < values.length; i++) {
    const v = Number(values[i]!);
    if (v === ignore) continue;
    if (v < 0 || v >= classes) {
      const why = ignore === undefined ? '' : ` or ignore_index ${ignore}`;
      fail(op, `input '${tName}' holds ${v} at flat index ${i}; expected a class in [0, ${classes})${why} (input '${xName}' has shape ${fmtShape(x.dims)})`, ctx);
    }
  }
  return reduction === 'none' ? want : [];
}

defineOp({
  name: 'NegativeLogLikelihoodLoss',
  inputs: [
    { name: 'input', type: 'T' },
    { name: 'target', type: 'Tind' },
    { name: 'weight', type: 'T', optional: true },
  ],
  outputs: ['loss'],
  types: { T: FLOAT_TYPES, Tind: ['int32', 'int64'] },
  attributes: { ignore_index: { kind: 'int' }, reduction: { kind: 'string', default: 'mean' } },
  infer(inputs, attrs, ctx): OutputSpec[] {
    const dims = checkLossCall('NegativeLogLikelihoodLoss', ['input', 'target', 'weight'], inputs, attrs, ctx);
    return [{ type: inputs[0]!.type, dims }];
  },
});

defineOp({
  name: 'SoftmaxCrossEntropyLoss',
  inputs: [
    { name: 'scores', type: 'T' },
    { name: 'labels', type: 'Tind' },
    { name: 'weights', type: 'T', optional: true },
  ],
  outputs: ['output', 'log_prob'],
  types: { T: FLOAT_TYPES, Tind: ['int32', 'int64'] },
  attributes: { ignore_index: { kind: 'int' }, reduction: { kind: 'string', default: 'mean' } },
  infer(inputs, attrs, ctx): OutputSpec[] {
    const x = inputs[0]!;
    const dims = checkLossCall('SoftmaxCrossEntropyLoss', ['scores', 'labels', 'weights'], inputs, attrs, ctx);
    const out: OutputSpec[] = [{ type: x.type, dims }];
    // log_prob is computed only when asked for (a graph node with two outputs, or eager calls)
    if (ctx.numOutputs !== 1) out.push({ type: x.type, dims: x.dims });
    return out;
  },
});

/** Options of the loss functions. */
export interface LossOptions {
  /** Per-class weights, shape [C]. */
  weight?: Tensor;
  /** Target value whose samples are skipped. */
  ignoreIndex?: number;
  /** 'mean' (default), 'sum' or 'none'. */
  reduction?: LossReduction;
}

/** Negative log-likelihood of log-probabilities `input` [N, C, ...] at integer `target` [N, ...]. */
export function negativeLogLikelihoodLoss(input: Tensor, target: Tensor, options: LossOptions = {}): Tensor {
  return runOp1('NegativeLogLikelihoodLoss', [input, target, options.weight], { ignore_index: options.ignoreIndex, reduction: options.reduction });
}

/** Softmax cross-entropy of `scores` [N, C, ...] against `labels` [N, ...]; also returns log_softmax(scores). */
export function softmaxCrossEntropyLoss(scores: Tensor, labels: Tensor, options: LossOptions = {}): { loss: Tensor; logProb: Tensor } {
  const [loss, logProb] = runOp('SoftmaxCrossEntropyLoss', [scores, labels, options.weight], { ignore_index: options.ignoreIndex, reduction: options.reduction });
  return { loss: loss!, logProb: logProb! };
}
