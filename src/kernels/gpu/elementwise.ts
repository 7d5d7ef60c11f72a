/**
 * GPU kernels of the elementwise family, generated: unary math and activations, broadcasting binary and
 * variadic arithmetic (Add, Sub, Mul, Div, Pow, Max, Min, Sum, Mean, PRelu), Clip, comparisons and logic
 * (bool textures), Where.
 *
 * One generator writes every kernel: each output element is a thread; its flat index is split into the
 * coordinates of the output dims (after merging dims that every input walks alike), each input's element is
 * fetched at `sum coord * broadcast stride`, and the op's expression combines the fetched values. Attribute
 * values (alpha, Clip bounds, ...) become literals. Cost: one fetch per input and a few flops per element.
 * GLSL has no erf, tanh or half-to-even round in WebGL 1, so they are written out here (erf: Abramowitz and
 * Stegun 7.1.26, absolute error below 1.5e-7).
 */
import type { Attrs } from '../registry.js';
import type { Tensor } from '../../tensor/tensor.js';
import { broadcastStridesTo, checkIndexRange, dot, kernelSource, lit, mergeDims, rowStrides, splitIndex } from './codegen.js';
import { registerGpuKernel, type CallScope } from './runtime.js';
import type { OutputSpec } from '../registry.js';

/** Statements computing `y` from the fetched values `v0, v1, ...`. */
type OpBody = (attrs: Attrs) => string;

function num(attrs: Attrs, name: string, dflt: number): number {
  const v = attrs[name];
  return typeof v === 'number' ? v : dflt;
}

const ERF = (x: string, y: string): string =>
  [
    `var ${y}ax = Math.abs(${x});`,
    `var ${y}t = 1.0 / (1.0 + 0.3275911 * ${y}ax);`,
    `var ${y}p = ((((1.061405429 * ${y}t - 1.453152027) * ${y}t + 1.421413741) * ${y}t - 0.284496736) * ${y}t + 0.254829592) * ${y}t;`,
    `var ${y} = 1.0 - ${y}p * Math.exp(-${y}ax * ${y}ax);`,
    `if (${x} < 0.0) { ${y} = -${y}; }`,
  ].join('\n');

/** tanh without overflow: 1 - 2 / (e^(2x) + 1), odd-symmetric. */
const TANH = (x: string, y: string): string =>
  [`var ${y}e = Math.exp(-2.0 * Math.abs(${x}));`, `var ${y} = (1.0 - ${y}e) / (1.0 + ${y}e);`, `if (${x} < 0.0) { ${y} = -${y}; }`].join('\n');

const SOFTPLUS = (x: string, y: string): string => `var ${y} = Math.max(${x}, 0.0) + Math.log(1.0 + Math.exp(-Math.abs(${x})));`;

const expr = (e: string): OpBody => () => `var y = ${e};`;

/** Unary ops: statements from `v0` to `y`. */
const UNARY: Record<string, OpBody> = {
  Abs: expr('Math.abs(v0)'),
  Neg: expr('-v0'),
  Exp: expr('Math.exp(v0)'),
  Log: expr('Math.log(v0)'),
  Sqrt: expr('Math.sqrt(v0)'),
  Reciprocal: expr('1.0 / v0'),
  Floor: expr('Math.floor(v0)'),
  Ceil: expr('Math.ceil(v0)'),
  Sign: () => 'var y = 0.0;\nif (v0 > 0.0) { y = 1.0; }\nif (v0 < 0.0) { y = -1.0; }',
  Round: () =>
    [
      'var y = Math.floor(v0);',
      'var fr = v0 - y;',
      'if (fr > 0.5) { y = y + 1.0; }',
      'if (fr == 0.5) { if (y - 2.0 * Math.floor(y * 0.5) > 0.5) { y = y + 1.0; } }',
    ].join('\n'),
  Sin: expr('Math.sin(v0)'),
  Cos: expr('Math.cos(v0)'),
  Tan: expr('Math.tan(v0)'),
  // through atan2: Mesa's asin/acos are off by 1e-4 near |x| = 1
  Asin: expr('Math.atan2(v0, Math.sqrt(1.0 - v0 * v0))'),
  Acos: expr('Math.atan2(Math.sqrt(1.0 - v0 * v0), v0)'),
  Atan: expr('Math.atan(v0)'),
  Sinh: expr('(Math.exp(v0) - Math.exp(-v0)) * 0.5'),
  Cosh: expr('(Math.exp(v0) + Math.exp(-v0)) * 0.5'),
  Tanh: () => TANH('v0', 'y'),
  Asinh: () => 'var y = Math.log(Math.abs(v0) + Math.sqrt(v0 * v0 + 1.0));\nif (v0 < 0.0) { y = -y; }',
  Acosh: expr('Math.log(v0 + Math.sqrt(v0 * v0 - 1.0))'),
  Atanh: expr('0.5 * Math.log((1.0 + v0) / (1.0 - v0))'),
  Erf: () => ERF('v0', 'y'),
  Relu: expr('Math.max(v0, 0.0)'),
  LeakyRelu: (a) => `var y = v0;\nif (v0 < 0.0) { y = v0 * ${lit(num(a, 'alpha', 0.01))}; }`,
  Elu: (a) => `var y = v0;\nif (v0 < 0.0) { y = ${lit(num(a, 'alpha', 1))} * (Math.exp(v0) - 1.0); }`,
  Selu: (a) => `var y = v0;\nif (v0 <= 0.0) { y = ${lit(num(a, 'alpha', 1.67326319217681884765625))} * (Math.exp(v0) - 1.0); }\ny = y * ${lit(num(a, 'gamma', 1.05070102214813232421875))};`,
  Celu: (a) => {
    const alpha = num(a, 'alpha', 1);
    return `var y = Math.max(v0, 0.0) + Math.min(0.0, ${lit(alpha)} * (Math.exp(v0 / ${lit(alpha)}) - 1.0));`;
  },
  ThresholdedRelu: (a) => `var y = 0.0;\nif (v0 > ${lit(num(a, 'alpha', 1))}) { y = v0; }`,
  Sigmoid: expr('1.0 / (1.0 + Math.exp(-v0))'),
  HardSigmoid: (a) => `var y = Math.max(0.0, Math.min(1.0, ${lit(num(a, 'alpha', 0.2))} * v0 + ${lit(num(a, 'beta', 0.5))}));`,
  HardSwish: expr('v0 * Math.max(0.0, Math.min(1.0, v0 / 6.0 + 0.5))'),
  Softplus: () => SOFTPLUS('v0', 'y'),
  Softsign: expr('v0 / (1.0 + Math.abs(v0))'),
  Mish: () => `${SOFTPLUS('v0', 'sp')}\n${TANH('sp', 'th')}\nvar y = v0 * th;`,
  Gelu: (a) =>
    a['approximate'] === 'tanh'
      ? `var gu = 0.7978845608028654 * (v0 + 0.044715 * v0 * v0 * v0);\n${TANH('gu', 'th')}\nvar y = 0.5 * v0 * (1.0 + th);`
      : `var gx = v0 * 0.7071067811865476;\n${ERF('gx', 'ge')}\nvar y = 0.5 * v0 * (1.0 + ge);`,
};

/** Pow with ONNX's sign rules for a negative base and an integer exponent. */
const POW_BODY = [
  'var y = Math.pow(Math.abs(v0), v1);',
  'if (v1 == 0.0) { y = 1.0; }',
  'if (v0 < 0.0) {',
  '  if (Math.floor(v1) == v1) { if (Math.abs(v1 - 2.0 * Math.floor(v1 * 0.5)) > 0.5) { y = -y; } }',
  '  else { y = (0.0 / 0.0); }',
  '}',
  'if (v0 == 0.0 && v1 > 0.0) { y = 0.0; }',
].join('\n');

/** Binary ops: statements from `v0, v1` to `y`. */
const BINARY: Record<string, OpBody> = {
  Add: expr('v0 + v1'),
  Sub: expr('v0 - v1'),
  Mul: expr('v0 * v1'),
  Div: expr('v0 / v1'),
  Pow: () => POW_BODY,
  PRelu: expr('v0 < 0.0 ? v0 * v1 : v0'),
};

/** Variadic reductions over `v0..v(n-1)`. */
const VARIADIC: Record<string, (n: number) => string> = {
  Sum: (n) => `var y = ${Array.from({ length: n }, (_, k) => `v${k}`).join(' + ')};`,
  Mean: (n) => `var y = (${Array.from({ length: n }, (_, k) => `v${k}`).join(' + ')}) / ${lit(n)};`,
  Max: (n) => `var y = v0;${Array.from({ length: n - 1 }, (_, k) => `\ny = Math.max(y, v${k + 1});`).join('')}`,
  Min: (n) => `var y = v0;${Array.from({ length: n - 1 }, (_, k) => `\ny = Math.min(y, v${k + 1});`).join('')}`,
};

/**
 * The source of an elementwise kernel over `outDims` whose inputs have `inputDims` (broadcast to the output)
 * and whose `body` turns the fetched `v0, v1, ...` into `y`.
 */
export function elementwiseSource(outDims: readonly number[], inputDims: readonly (readonly number[])[], body: string): string {
  const strides = inputDims.map((d) => broadcastStridesTo(d, outDims));
  const merged = mergeDims(outDims, strides);
  const contiguous = rowStrides(merged.dims);
  const needsCoords = merged.strides.some((s) => s.some((v, d) => v !== contiguous[d]) && s.some((v) => v !== 0));
  const lines: string[] = [];
  let coords: string[] = [];
  if (needsCoords) {
    const split = splitIndex('i', merged.dims, 'c');
    lines.push(split.code);
    coords = split.coords;
  }
  merged.strides.forEach((s, k) => {
    const allZero = s.every((v) => v === 0);
    const same = s.every((v, d) => v === contiguous[d]);
    const at = allZero ? '0.0' : same ? 'i' : dot(coords, s);
    lines.push(`var v${k} = a${k}[${at}];`);
  });
  lines.push(body, 'return y;');
  return kernelSource(inputDims.map((_, k) => `a${k}`), lines.join('\n'));
}

function runElementwise(scope: CallScope, inputs: readonly Tensor[], spec: OutputSpec, body: string): Tensor {
  checkIndexRange(scope.ctx.op, spec.dims);
  return scope.run(elementwiseSource(spec.dims, inputs.map((t) => t.dims), body), spec, inputs);
}

for (const [op, body] of Object.entries(UNARY)) {
  registerGpuKernel(op, (scope, inputs, attrs, outputs) => [runElementwise(scope, [inputs[0]!], outputs[0]!, body(attrs))]);
}
for (const [op, body] of Object.entries(BINARY)) {
  registerGpuKernel(op, (scope, inputs, attrs, outputs) => [runElementwise(scope, [inputs[0]!, inputs[1]!], outputs[0]!, body(attrs))]);
}
for (const [op, body] of Object.entries(VARIADIC)) {
  registerGpuKernel(op, (scope, inputs, _attrs, outputs) => {
    const list = inputs.filter((t): t is Tensor => !!t);
    return [runElementwise(scope, list, outputs[0]!, body(list.length))];
  });
}

/** Clip's shader body for bounds `lo`, `hi`. */
function clipBody(lo: number, hi: number): string {
  // onnxruntime: x < lo ? lo : x, then > hi ? hi : x (lo > hi gives hi); NaN passes through
  return `var y = v0;\nif (y < ${lit(lo)}) { y = ${lit(lo)}; }\nif (y > ${lit(hi)}) { y = ${lit(hi)}; }`;
}

/**
 * The shader body (from `v0` to `y`) of a fused operator's activation (see src/ops/fused.ts) with its
 * complete parameter list.
 */
export function activationBody(activation: string, params: readonly number[]): string {
  switch (activation) {
    case 'Clip':
      return clipBody(params[0]!, params[1]!);
    case 'LeakyRelu':
      return UNARY['LeakyRelu']!({ alpha: params[0]! });
    case 'HardSigmoid':
      return UNARY['HardSigmoid']!({ alpha: params[0]!, beta: params[1]! });
    default: {
      const body = UNARY[activation];
      if (!body) throw new Error(`activationBody: no shader for activation '${activation}'`);
      return body({});
    }
  }
}

/** Run `body` (from `v0` to `y`) over every element of `x` into `spec`. */
export function runUnary(scope: CallScope, x: Tensor, spec: OutputSpec, body: string): Tensor {
  return runElementwise(scope, [x], spec, body);
}

/** Clip: bounds are scalars read on the host and written into the shader. */
registerGpuKernel(
  'Clip',
  (scope, inputs, _attrs, outputs) => {
    const lo = inputs[1] ? Number(inputs[1].numbers()[0]) : Number.NEGATIVE_INFINITY;
    const hi = inputs[2] ? Number(inputs[2].numbers()[0]) : Number.POSITIVE_INFINITY;
    return [runElementwise(scope, [inputs[0]!], outputs[0]!, clipBody(lo, hi))];
  },
  { hostInputs: [1, 2] },
);

/**
 * Comparisons (float32 inputs, or bool for Equal) and logic on bools, written as 0.0 / 1.0 into a bool texture
 * (see GpuDataType in ./runtime.ts), so a mask computed on the GPU stays there for Where, Not, And, Or, Xor.
 * Comparisons of floats are exact in the shader; NaN operands compare false (IEEE, as on the CPU).
 */
const COMPARE: Record<string, string> = {
  Equal: 'v0 == v1',
  Less: 'v0 < v1',
  LessOrEqual: 'v0 <= v1',
  Greater: 'v0 > v1',
  GreaterOrEqual: 'v0 >= v1',
};
for (const [op, test] of Object.entries(COMPARE)) {
  registerGpuKernel(op, (scope, inputs, _attrs, outputs) => [runElementwise(scope, [inputs[0]!, inputs[1]!], outputs[0]!, `var y = 0.0;\nif (${test}) { y = 1.0; }`)], {
    accepts: (inputs, outputs) =>
      outputs[0]!.type === 'bool' &&
      ((inputs[0]!.type === 'float32' && inputs[1]!.type === 'float32') || (op === 'Equal' && inputs[0]!.type === 'bool' && inputs[1]!.type === 'bool')),
  });
}

/** Logic on bools (0.0 / 1.0): a value is true above 0.5. */
const LOGIC: Record<string, { arity: number; body: string }> = {
  Not: { arity: 1, body: 'var y = 1.0 - v0;' },
  And: { arity: 2, body: 'var y = 0.0;\nif (v0 > 0.5 && v1 > 0.5) { y = 1.0; }' },
  Or: { arity: 2, body: 'var y = 0.0;\nif (v0 > 0.5 || v1 > 0.5) { y = 1.0; }' },
  Xor: { arity: 2, body: 'var y = 0.0;\nif ((v0 > 0.5) != (v1 > 0.5)) { y = 1.0; }' },
};
for (const [op, { arity, body }] of Object.entries(LOGIC)) {
  registerGpuKernel(op, (scope, inputs, _attrs, outputs) => [runElementwise(scope, inputs.slice(0, arity) as Tensor[], outputs[0]!, body)], {
    accepts: (inputs, outputs) => outputs[0]!.type === 'bool' && inputs.slice(0, arity).every((t) => t?.type === 'bool'),
  });
}

/**
 * Where: float32 X and Y selected by a bool condition (a bool texture from a comparison, or host data uploaded
 * as 0/1 floats). All three broadcast to the output.
 */
registerGpuKernel(
  'Where',
  (scope, inputs, _attrs, outputs) => [runElementwise(scope, [inputs[0]!, inputs[1]!, inputs[2]!], outputs[0]!, 'var y = v2;\nif (v0 > 0.5) { y = v1; }')],
  {
    accepts: (inputs, outputs) =>
      outputs[0]!.type === 'float32' && inputs[0]!.type === 'bool' && inputs[1]!.type === 'float32' && inputs[2]!.type === 'float32',
  },
);

/** Ops with an elementwise GPU kernel (for tests and docs). */
export const GPU_ELEMENTWISE_OPS = [...Object.keys(UNARY), ...Object.keys(BINARY), ...Object.keys(VARIADIC), 'Clip', 'Where'];
/** Ops with a GPU kernel writing a bool texture (for tests and docs). */
export const GPU_BOOL_OPS = [...Object.keys(COMPARE), ...Object.keys(LOGIC)];
