/**
 * Optimizer steps of the ai.onnx.preview.training domain: Adagrad, Adam and Momentum. Each takes the learning
 * rate R and update count T (scalars) followed by k tensors to optimise and, in blocks of k, their gradients and
 * optimizer states; it returns the k updated tensors followed by the k updated states (one block per state).
 * Deterministic elementwise formulas (see Operators.md, reproduced at each kernel in
 * src/kernels/cpu/training.ts); the tensors of one slot must share their shape (no broadcasting is needed by
 * the optimizer semantics, so a mismatch is reported as an error).
 */
import type { OutputSpec } from '../kernels/registry.js';
import { fmtShape } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { runOp } from './dispatch.js';
import { defineOp, fail, type InferContext } from './schema.js';

export const TRAINING_DOMAIN = 'ai.onnx.preview.training';

/** Input blocks (X, G, states...) and output blocks (X, states...) per optimizer. */
const LAYOUT: Readonly<Record<string, { inBlocks: number; outBlocks: number; names: readonly string[] }>> = {
  Adagrad: { inBlocks: 3, outBlocks: 2, names: ['X', 'G', 'H'] },
  Adam: { inBlocks: 4, outBlocks: 3, names: ['X', 'G', 'V', 'H'] },
  Momentum: { inBlocks: 3, outBlocks: 2, names: ['X', 'G', 'V'] },
};

function inferOptimizer(op: string, inputs: readonly (Tensor | undefined)[], ctx: InferContext): OutputSpec[] {
  const { inBlocks, outBlocks, names } = LAYOUT[op]!;
  const [r, t] = inputs as [Tensor, Tensor];
  if (r.size !== 1) fail(op, `input 'R' has shape ${fmtShape(r.dims)}; expected a scalar learning rate`, ctx);
  if (t.size !== 1) fail(op, `input 'T' has shape ${fmtShape(t.dims)}; expected a scalar update count`, ctx);
  const rest = inputs.slice(2) as Tensor[];
  if (rest.length === 0 || rest.length % inBlocks !== 0) fail(op, `got ${rest.length} tensor inputs after R and T; expected a multiple of ${inBlocks} (${names.join(', ')} per optimised tensor)`, ctx);
  const k = rest.length / inBlocks;
  for (let i = 0; i < k; i++) {
    const x = rest[i]!;
    for (let b = 1; b < inBlocks; b++) {
      const other = rest[b * k + i]!;
      if (other.rank !== x.rank || other.dims.some((d, j) => d !== x.dims[j])) fail(op, `input '${names[b]}[${i}]' has shape ${fmtShape(other.dims)}; expected the shape of 'X[${i}]' ${fmtShape(x.dims)}`, ctx);
    }
  }
  const out: OutputSpec[] = [];
  for (let b = 0; b < outBlocks; b++) for (let i = 0; i < k; i++) out.push({ type: rest[b === 0 ? i : (b + 1) * k + i]!.type, dims: rest[i]!.dims });
  return out;
}

const COMMON = {
  domain: TRAINING_DOMAIN,
  inputs: [
    { name: 'R', type: 'T1' },
    { name: 'T', type: 'T2' },
    { name: 'inputs', type: 'T3', variadic: true },
  ],
  outputs: ['outputs'],
  types: { T1: ['float32', 'float64'], T2: ['int64'], T3: ['float32', 'float64'] },
} as const;

defineOp({
  ...COMMON,
  name: 'Adagrad',
  attributes: { decay_factor: { kind: 'float', default: 0 }, epsilon: { kind: 'float', default: 0 }, norm_coefficient: { kind: 'float', default: 0 } },
  infer: (inputs, _attrs, ctx) => inferOptimizer('Adagrad', inputs, ctx),
});

defineOp({
  ...COMMON,
  name: 'Adam',
  attributes: {
    alpha: { kind: 'float', default: 0.9 },
    beta: { kind: 'float', default: 0.999 },
    epsilon: { kind: 'float', default: 0 },
    norm_coefficient: { kind: 'float', default: 0 },
    norm_coefficient_post: { kind: 'float', default: 0 },
  },
  infer: (inputs, _attrs, ctx) => inferOptimizer('Adam', inputs, ctx),
});

defineOp({
  ...COMMON,
  name: 'Momentum',
  attributes: { alpha: { kind: 'float', required: true }, beta: { kind: 'float', required: true }, mode: { kind: 'string', required: true }, norm_coefficient: { kind: 'float', required: true } },
  infer(inputs, attrs, ctx) {
    const mode = attrs.mode as string;
    if (mode !== 'standard' && mode !== 'nesterov') fail('Momentum', `attribute 'mode' is '${mode}'; expected 'standard' or 'nesterov'`, ctx);
    return inferOptimizer('Momentum', inputs, ctx);
  },
});

/** One optimizer step: returns the updated tensors followed by the updated states, in the operator's order. */
export function optimizerStep(op: 'Adagrad' | 'Adam' | 'Momentum', r: Tensor, t: Tensor, tensors: readonly Tensor[], attrs: Readonly<Record<string, number | string>> = {}): Tensor[] {
  return runOp(op, [r, t, ...tensors], attrs, { domain: TRAINING_DOMAIN });
}
