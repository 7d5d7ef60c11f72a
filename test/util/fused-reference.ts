/**
 * Reference twin of the fused operators: run the base operator (Conv, Gemm, MatMul) and then the activation
 * as two separate operators through runOp, exactly what the graph looked like before fusion. The fused kernels
 * (src/kernels/cpu/fused.ts) must agree with this bit for bit. It lives with the tests, not in
 * src/kernels/cpu/reference, because it composes operators through the op layer, which kernels may not import.
 */
import { runOp1 } from '../../src/ops/dispatch.js';
import type { FusedActivation } from '../../src/kernels/cpu/fused.js';
import { fromNumbers, type Tensor } from '../../src/tensor/tensor.js';
import type { AttrValue } from '../../src/kernels/registry.js';

/** Default parameters per activation (as the fused schema fills them in). */
const DEFAULTS: Readonly<Record<FusedActivation, readonly number[]>> = {
  Relu: [],
  LeakyRelu: [0.01],
  Clip: [-Infinity, Infinity],
  Sigmoid: [],
  HardSigmoid: [0.2, 0.5],
  Tanh: [],
  HardSwish: [],
};

/** Apply the standalone activation operator to `y` (Clip bounds become scalar inputs of y's type). */
export function referenceActivation(y: Tensor, activation: FusedActivation, params: readonly number[] = []): Tensor {
  const p = params.length ? params : DEFAULTS[activation];
  switch (activation) {
    case 'LeakyRelu':
      return runOp1('LeakyRelu', [y], { alpha: p[0] });
    case 'HardSigmoid':
      return runOp1('HardSigmoid', [y], { alpha: p[0], beta: p[1] });
    case 'Clip': {
      const lo = fromNumbers(y.type, [p[0]!], []);
      const hi = fromNumbers(y.type, [p[1]!], []);
      try {
        return runOp1('Clip', [y, lo, hi]);
      } finally {
        lo.dispose();
        hi.dispose();
      }
    }
    default:
      return runOp1(activation, [y]);
  }
}

/** `base` (with its own attributes) and then `activation`, unfused. */
export function referenceFused(
  base: 'Conv' | 'Gemm' | 'MatMul',
  inputs: readonly (Tensor | undefined)[],
  attrs: Readonly<Record<string, AttrValue | undefined>>,
  activation: FusedActivation,
  params: readonly number[] = [],
): Tensor {
  const y = runOp1(base, inputs, attrs);
  try {
    return referenceActivation(y, activation, params);
  } finally {
    y.dispose();
  }
}
