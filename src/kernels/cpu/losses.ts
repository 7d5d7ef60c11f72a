/**
 * CPU kernels of NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss (schemas and semantics in
 * src/ops/losses.ts; targets were range-checked there).
 *
 * Scores [N, C, D] are walked as N blocks of C rows of D (D = product of the trailing dims). NLL gathers one
 * value per (n, d) and its class weight; SoftmaxCrossEntropyLoss first computes log-softmax over C with a
 * running max and sum per (n, d) kept in Float64Arrays of D (three passes over each block, unit stride).
 * Sums are in double; outputs are rounded once to the dtype. Cost: O(N*C*D) for SCE (one exp and one
 * subtraction per score), O(N*D) for NLL.
 */
import type { Tensor } from '../../tensor/tensor.js';
import { registerKernel, type Attrs, type Kernel, type OutputSpec } from '../registry.js';
import { floatArray, floatTensor, readFloats } from './misc-util.js';

/** The loss from log-probabilities `logp` [N, C, D] (NLL semantics), reduced as attrs say. */
function nllFromLogProb(logp: Float32Array | Float64Array, dims: readonly number[], target: Tensor, weight: Tensor | undefined, attrs: Attrs, spec: OutputSpec): Tensor {
  const batch = dims[0]!;
  const classes = dims[1]!;
  const inner = batch === 0 || classes === 0 ? target.size / Math.max(batch, 1) : logp.length / (batch * classes);
  const t = target.data as Int32Array | BigInt64Array;
  const w = weight ? readFloats(weight) : undefined;
  const ignore = attrs.ignore_index as number | undefined;
  const reduction = attrs.reduction as string;
  const losses = reduction === 'none' ? floatArray(spec.type, target.size) : undefined;
  let lossSum = 0;
  let weightSum = 0;
  for (let n = 0; n < batch; n++) {
    for (let d = 0; d < inner; d++) {
      const at = n * inner + d;
      const c = Number(t[at]!);
      let loss = 0;
      if (c !== ignore) {
        const wc = w ? w[c]! : 1;
        loss = -logp[(n * classes + c) * inner + d]! * wc;
        weightSum += wc;
      }
      if (losses) losses[at] = loss;
      lossSum += loss;
    }
  }
  if (losses) return floatTensor(spec.type, losses, spec.dims);
  const value = reduction === 'sum' ? lossSum : lossSum / weightSum;
  const out = floatArray(spec.type, 1);
  out[0] = value;
  return floatTensor(spec.type, out, spec.dims);
}

const negativeLogLikelihoodLoss: Kernel = (inputs, attrs, outputs) => {
  const [x, target, weight] = inputs as [Tensor, Tensor, Tensor | undefined];
  return [nllFromLogProb(readFloats(x), x.dims, target, weight, attrs, outputs[0]!)];
};

/** log_softmax over axis 1 of [N, C, D] (values as float32/float64 like the input's work type). */
function logSoftmaxAxis1(xs: Float32Array | Float64Array, dims: readonly number[], out: Float32Array | Float64Array): void {
  const batch = dims[0]!;
  const classes = dims[1]!;
  if (batch === 0 || classes === 0) return;
  const inner = xs.length / (batch * classes);
  const max = new Float64Array(inner);
  const sum = new Float64Array(inner);
  for (let n = 0; n < batch; n++) {
    const base = n * classes * inner;
    max.fill(-Infinity);
    sum.fill(0);
    for (let c = 0; c < classes; c++) {
      const row = base + c * inner;
      for (let d = 0; d < inner; d++) if (xs[row + d]! > max[d]!) max[d] = xs[row + d]!;
    }
    for (let c = 0; c < classes; c++) {
      const row = base + c * inner;
      for (let d = 0; d < inner; d++) sum[d]! += Math.exp(xs[row + d]! - max[d]!);
    }
    for (let d = 0; d < inner; d++) sum[d] = max[d]! + Math.log(sum[d]!);
    for (let c = 0; c < classes; c++) {
      const row = base + c * inner;
      for (let d = 0; d < inner; d++) out[row + d] = xs[row + d]! - sum[d]!;
    }
  }
}

const softmaxCrossEntropyLoss: Kernel = (inputs, attrs, outputs) => {
  const [x, labels, weights] = inputs as [Tensor, Tensor, Tensor | undefined];
  const logp = new Float64Array(x.size);
  logSoftmaxAxis1(readFloats(x), x.dims, logp);
  const result = [nllFromLogProb(logp, x.dims, labels, weights, attrs, outputs[0]!)];
  const logProbSpec = outputs[1];
  if (logProbSpec) result.push(floatTensor(logProbSpec.type, logProbSpec.type === 'float64' ? logp : Float32Array.from(logp), logProbSpec.dims));
  return result;
};

registerKernel('NegativeLogLikelihoodLoss', 'cpu', negativeLogLikelihoodLoss);
registerKernel('SoftmaxCrossEntropyLoss', 'cpu', softmaxCrossEntropyLoss);
