/**
 * Unary elementwise operators: activations (Relu, LeakyRelu, Elu, Selu, Celu, Sigmoid, HardSigmoid, HardSwish,
 * Gelu, Softplus, Softsign, ThresholdedRelu, Mish), math (Exp, Log, Sqrt, Reciprocal, Abs, Neg, Floor, Ceil,
 * Round, Sign, Erf, trigonometric and hyperbolic functions) and predicates (IsNaN, IsInf, Not, BitwiseNot).
 *
 * Every one keeps the input's dims; the output dtype is the input's, or bool for the predicates. Opset-1
 * forms carried a `consumed_inputs` attribute, accepted and ignored. Kernels: src/kernels/cpu/unary.ts.
 */
import type { AttrValue, OutputSpec } from '../kernels/registry.js';
import type { DataType } from '../tensor/dtype.js';
import type { Tensor } from '../tensor/tensor.js';
import { runOp1 } from './dispatch.js';
import { defineOp, fail, FLOAT_TYPES, INT_TYPES, NUMERIC_TYPES, SIGNED_TYPES, type AttrSpec, type InferContext } from './schema.js';

const CONSUMED_INPUTS: AttrSpec = { kind: 'ints', ignored: true };

/** Define a unary op whose output has the input's dims and dtype `outType` (default: the input's). */
function defineUnary(name: string, types: readonly DataType[], attributes: Record<string, AttrSpec> = {}, outType?: DataType, check?: (attrs: Readonly<Record<string, AttrValue>>, ctx: InferContext) => void): void {
  defineOp({
    name,
    inputs: [{ name: 'X', type: 'T' }],
    outputs: ['Y'],
    types: { T: types },
    attributes,
    infer(inputs, attrs, ctx): OutputSpec[] {
      check?.(attrs, ctx);
      const x = inputs[0]!;
      return [{ type: outType ?? x.type, dims: x.dims }];
    },
  });
}

const float = (value: number): AttrSpec => ({ kind: 'float', default: value });

// Activations
defineUnary('Relu', [...FLOAT_TYPES, 'int8', 'int16', 'int32', 'int64'], { consumed_inputs: CONSUMED_INPUTS });
defineUnary('LeakyRelu', FLOAT_TYPES, { alpha: float(0.01), consumed_inputs: CONSUMED_INPUTS });
defineUnary('Elu', FLOAT_TYPES, { alpha: float(1), consumed_inputs: CONSUMED_INPUTS });
defineUnary('Selu', FLOAT_TYPES, {
  alpha: float(1.67326319217681884765625),
  gamma: float(1.05070102214813232421875),
  consumed_inputs: CONSUMED_INPUTS,
});
defineUnary('Celu', FLOAT_TYPES, { alpha: float(1) }, undefined, (attrs, ctx) => {
  if (attrs['alpha'] === 0) fail('Celu', "attribute 'alpha' is 0; expected a nonzero value (it divides x)", ctx);
});
defineUnary('Sigmoid', FLOAT_TYPES, { consumed_inputs: CONSUMED_INPUTS });
defineUnary('HardSigmoid', FLOAT_TYPES, { alpha: float(0.2), beta: float(0.5), consumed_inputs: CONSUMED_INPUTS });
defineUnary('HardSwish', FLOAT_TYPES);
defineUnary('Tanh', FLOAT_TYPES, { consumed_inputs: CONSUMED_INPUTS });
defineUnary('Gelu', FLOAT_TYPES, { approximate: { kind: 'string', default: 'none' } }, undefined, (attrs, ctx) => {
  const a = attrs['approximate'];
  if (a !== 'none' && a !== 'tanh') fail('Gelu', `attribute 'approximate' is ${JSON.stringify(a)}; expected "none" or "tanh"`, ctx);
});
defineUnary('Softplus', FLOAT_TYPES);
defineUnary('Softsign', FLOAT_TYPES);
defineUnary('ThresholdedRelu', FLOAT_TYPES, { alpha: float(1) });
defineUnary('Mish', FLOAT_TYPES);

// Math
for (const op of ['Exp', 'Log', 'Sqrt', 'Reciprocal', 'Floor', 'Ceil']) defineUnary(op, FLOAT_TYPES, { consumed_inputs: CONSUMED_INPUTS });
for (const op of ['Round', 'Erf', 'Sin', 'Cos', 'Tan', 'Asin', 'Acos', 'Atan', 'Sinh', 'Cosh', 'Asinh', 'Acosh', 'Atanh']) defineUnary(op, FLOAT_TYPES);
defineUnary('Abs', NUMERIC_TYPES, { consumed_inputs: CONSUMED_INPUTS });
defineUnary('Neg', SIGNED_TYPES, { consumed_inputs: CONSUMED_INPUTS });
defineUnary('Sign', NUMERIC_TYPES);

// Predicates
defineUnary('IsNaN', FLOAT_TYPES, {}, 'bool');
defineUnary('IsInf', FLOAT_TYPES, { detect_negative: { kind: 'int', default: 1 }, detect_positive: { kind: 'int', default: 1 } }, 'bool');
defineUnary('Not', ['bool']);
defineUnary('BitwiseNot', INT_TYPES);

/** max(x, 0). Float types and int8/16/32/64. */
export function relu(x: Tensor): Tensor {
  return runOp1('Relu', [x]);
}

/** x for x >= 0, alpha * x otherwise (alpha default 0.01). */
export function leakyRelu(x: Tensor, alpha?: number): Tensor {
  return runOp1('LeakyRelu', [x], { alpha });
}

/** x for x >= 0, alpha * (exp(x) - 1) otherwise (alpha default 1). */
export function elu(x: Tensor, alpha?: number): Tensor {
  return runOp1('Elu', [x], { alpha });
}

/** gamma * (x > 0 ? x : alpha * exp(x) - alpha), with the SELU constants as defaults. */
export function selu(x: Tensor, options: { alpha?: number; gamma?: number } = {}): Tensor {
  return runOp1('Selu', [x], { alpha: options.alpha, gamma: options.gamma });
}

/** max(0, x) + min(0, alpha * (exp(x / alpha) - 1)) (alpha default 1). */
export function celu(x: Tensor, alpha?: number): Tensor {
  return runOp1('Celu', [x], { alpha });
}

/** 1 / (1 + exp(-x)). */
export function sigmoid(x: Tensor): Tensor {
  return runOp1('Sigmoid', [x]);
}

/** max(0, min(1, alpha * x + beta)) (alpha 0.2, beta 0.5 by default). */
export function hardSigmoid(x: Tensor, options: { alpha?: number; beta?: number } = {}): Tensor {
  return runOp1('HardSigmoid', [x], { alpha: options.alpha, beta: options.beta });
}

/** x * max(0, min(1, x / 6 + 0.5)). */
export function hardSwish(x: Tensor): Tensor {
  return runOp1('HardSwish', [x]);
}

/** Hyperbolic tangent. */
export function tanh(x: Tensor): Tensor {
  return runOp1('Tanh', [x]);
}

/** 0.5 * x * (1 + erf(x / sqrt(2))), or the tanh approximation with `approximate: 'tanh'`. */
export function gelu(x: Tensor, approximate: 'none' | 'tanh' = 'none'): Tensor {
  return runOp1('Gelu', [x], { approximate });
}

/** The error function. */
export function erf(x: Tensor): Tensor {
  return runOp1('Erf', [x]);
}

/** log(1 + exp(x)), computed without overflow. */
export function softplus(x: Tensor): Tensor {
  return runOp1('Softplus', [x]);
}

/** x / (1 + |x|). */
export function softsign(x: Tensor): Tensor {
  return runOp1('Softsign', [x]);
}

/** x where x > alpha, else 0 (alpha default 1). */
export function thresholdedRelu(x: Tensor, alpha?: number): Tensor {
  return runOp1('ThresholdedRelu', [x], { alpha });
}

/** x * tanh(softplus(x)). */
export function mish(x: Tensor): Tensor {
  return runOp1('Mish', [x]);
}

/** e^x. */
export function exp(x: Tensor): Tensor {
  return runOp1('Exp', [x]);
}

/** Natural logarithm. */
export function log(x: Tensor): Tensor {
  return runOp1('Log', [x]);
}

/** Square root. */
export function sqrt(x: Tensor): Tensor {
  return runOp1('Sqrt', [x]);
}

/** 1 / x. */
export function reciprocal(x: Tensor): Tensor {
  return runOp1('Reciprocal', [x]);
}

/** |x| (integers wrap like C: abs(-128) is -128 in int8). */
export function abs(x: Tensor): Tensor {
  return runOp1('Abs', [x]);
}

/** -x. */
export function neg(x: Tensor): Tensor {
  return runOp1('Neg', [x]);
}

/** Round toward -Infinity. */
export function floor(x: Tensor): Tensor {
  return runOp1('Floor', [x]);
}

/** Round toward +Infinity. */
export function ceil(x: Tensor): Tensor {
  return runOp1('Ceil', [x]);
}

/** Round to nearest, ties to even (2.5 -> 2, -1.5 -> -2). */
export function round(x: Tensor): Tensor {
  return runOp1('Round', [x]);
}

/** -1, 0 or 1 by sign (NaN stays NaN). */
export function sign(x: Tensor): Tensor {
  return runOp1('Sign', [x]);
}

/** Sine. */
export function sin(x: Tensor): Tensor {
  return runOp1('Sin', [x]);
}

/** Cosine. */
export function cos(x: Tensor): Tensor {
  return runOp1('Cos', [x]);
}

/** Tangent. */
export function tan(x: Tensor): Tensor {
  return runOp1('Tan', [x]);
}

/** Arcsine. */
export function asin(x: Tensor): Tensor {
  return runOp1('Asin', [x]);
}

/** Arccosine. */
export function acos(x: Tensor): Tensor {
  return runOp1('Acos', [x]);
}

/** Arctangent. */
export function atan(x: Tensor): Tensor {
  return runOp1('Atan', [x]);
}

/** Hyperbolic sine. */
export function sinh(x: Tensor): Tensor {
  return runOp1('Sinh', [x]);
}

/** Hyperbolic cosine. */
export function cosh(x: Tensor): Tensor {
  return runOp1('Cosh', [x]);
}

/** Inverse hyperbolic sine. */
export function asinh(x: Tensor): Tensor {
  return runOp1('Asinh', [x]);
}

/** Inverse hyperbolic cosine. */
export function acosh(x: Tensor): Tensor {
  return runOp1('Acosh', [x]);
}

/** Inverse hyperbolic tangent. */
export function atanh(x: Tensor): Tensor {
  return runOp1('Atanh', [x]);
}

/** True where x is NaN (bool tensor). */
export function isNan(x: Tensor): Tensor {
  return runOp1('IsNaN', [x]);
}

/** True where x is infinite; either sign can be switched off. */
export function isInf(x: Tensor, options: { detectNegative?: boolean; detectPositive?: boolean } = {}): Tensor {
  const flag = (v: boolean | undefined): number | undefined => (v === undefined ? undefined : v ? 1 : 0);
  return runOp1('IsInf', [x], { detect_negative: flag(options.detectNegative), detect_positive: flag(options.detectPositive) });
}

/** Logical not of a bool tensor. */
export function logicalNot(x: Tensor): Tensor {
  return runOp1('Not', [x]);
}

/** Bitwise complement of an integer tensor. */
export function bitwiseNot(x: Tensor): Tensor {
  return runOp1('BitwiseNot', [x]);
}
