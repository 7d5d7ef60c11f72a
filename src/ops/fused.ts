/**
 * Fused operators that graph passes emit, in domain 'com.tessera': FusedConv, FusedGemm and FusedMatMul.
 *
 * Each is its base operator (Conv, Gemm, MatMul: same inputs, same attributes, same validation and shape
 * inference, delegated to the base schema) followed by an elementwise activation on the output, named by the
 * `activation` attribute with its float parameters in `activation_params`:
 *
 *   activation    activation_params        y =
 *   Relu          []                       max(x, 0)
 *   LeakyRelu     [alpha] (default 0.01)   x < 0 ? alpha * x : x
 *   Clip          [min, max] (+-Inf)       min(max(x, min), max)
 *   Sigmoid       []                       1 / (1 + exp(-x))
 *   HardSigmoid   [alpha, beta] (0.2, 0.5) clamp(alpha * x + beta, 0, 1)
 *   Tanh          []                       tanh(x)
 *   HardSwish     []                       x * clamp(x / 6 + 0.5, 0, 1)
 *
 * An empty `activation_params` means the defaults; otherwise the count must match. `normalize` fills in the
 * full parameter list, so kernels receive it complete. Only float types are
 * accepted (the activations are float functions). The fusion pass (src/graph/passes) rewrites e.g.
 * Conv -> Relu into one FusedConv named after the Conv; kernels (src/kernels/cpu/fused.ts) run the base kernel
 * and apply the activation in place, so results equal the unfused pair exactly.
 */
import type { AttrValue, Attrs, OutputSpec } from '../kernels/registry.js';
import type { Tensor } from '../tensor/tensor.js';
import type { ConvOptions } from './conv.js';
import './conv.js';
import { runOp1 } from './dispatch.js';
import type { GemmOptions } from './matmul.js';
import './matmul.js';
import { defineOp, fail, findSchema, FLOAT_TYPES, type AttrSpec, type InferContext, type Normalized, type OpSchema } from './schema.js';

/** Domain of Tessera's own operators. */
export const TESSERA_DOMAIN = 'com.tessera';

/** Activations a fused operator can apply. */
export type FusedActivation = 'Relu' | 'LeakyRelu' | 'Clip' | 'Sigmoid' | 'HardSigmoid' | 'Tanh' | 'HardSwish';

/** Each activation's parameters when `activation_params` is empty. */
export const ACTIVATION_DEFAULTS: Readonly<Record<FusedActivation, readonly number[]>> = {
  Relu: [],
  LeakyRelu: [0.01],
  Clip: [-Infinity, Infinity],
  Sigmoid: [],
  HardSigmoid: [0.2, 0.5],
  Tanh: [],
  HardSwish: [],
};

/** True when `name` is an activation fused operators accept. */
export function isFusedActivation(name: string): name is FusedActivation {
  return Object.prototype.hasOwnProperty.call(ACTIVATION_DEFAULTS, name);
}

/**
 * The activation and its full parameter list from resolved attributes of a fused operator; fails with an
 * OpValidationError for an unknown activation or a wrong parameter count.
 */
export function fusedActivation(op: string, attrs: Attrs, ctx?: InferContext): { activation: FusedActivation; params: number[] } {
  const activation = attrs['activation'] as string;
  if (!isFusedActivation(activation)) {
    fail(op, `attribute 'activation' is '${activation}'; expected one of ${Object.keys(ACTIVATION_DEFAULTS).join(', ')}`, ctx);
  }
  const given = Array.from((attrs['activation_params'] as readonly number[] | undefined) ?? []);
  const defaults = ACTIVATION_DEFAULTS[activation];
  if (given.length === 0) return { activation, params: [...defaults] };
  if (given.length !== defaults.length) {
    fail(op, `attribute 'activation_params' has ${given.length} values [${given.join(', ')}]; activation ${activation} takes ${defaults.length}`, ctx);
  }
  return { activation, params: given };
}

/** A null-prototype copy of `attrs` without the activation attributes (what the base operator sees). */
export function baseAttrs(attrs: Readonly<Record<string, AttrValue>>): Record<string, AttrValue> {
  const out = Object.create(null) as Record<string, AttrValue>;
  for (const k of Object.keys(attrs)) if (k !== 'activation' && k !== 'activation_params') out[k] = attrs[k]!;
  return out;
}

const ACTIVATION_ATTRS: Readonly<Record<string, AttrSpec>> = {
  activation: { kind: 'string', required: true },
  activation_params: { kind: 'floats', default: Object.freeze([]) as readonly number[] },
};

function baseSchema(name: string): OpSchema {
  const s = findSchema(name);
  if (!s) throw new Error(`fused operators: base operator ${name} is not defined`);
  return s;
}

/** Define `Fused<base>`: the base schema's inputs, attributes and inference, plus the activation. */
function defineFused(base: string): void {
  const schema = baseSchema(base);
  const op = `Fused${base}`;
  defineOp({
    name: op,
    domain: TESSERA_DOMAIN,
    inputs: schema.inputs,
    outputs: schema.outputs,
    types: { ...schema.types, T: FLOAT_TYPES },
    attributes: { ...schema.attributes, ...ACTIVATION_ATTRS },
    // canonical form: the base operator's canonical attributes plus the full activation parameter list
    normalize(inputs, attrs, ctx): Normalized {
      const { activation, params } = fusedActivation(op, attrs, ctx);
      const n = schema.normalize ? schema.normalize(inputs, baseAttrs(attrs), ctx) : { inputs, attrs: baseAttrs(attrs) };
      n.attrs['activation'] = activation;
      n.attrs['activation_params'] = Object.freeze(params);
      return n;
    },
    infer(inputs, attrs, ctx): OutputSpec[] {
      fusedActivation(op, attrs, ctx);
      return schema.infer(inputs, baseAttrs(attrs), ctx);
    },
  });
}

defineFused('Conv');
defineFused('Gemm');
defineFused('MatMul');

/** How a fused operator's activation is given to the eager functions. */
export interface ActivationOptions {
  activation: FusedActivation;
  /** Parameters (see the table in this file's header); omitted = the activation's defaults. */
  activationParams?: readonly number[];
}

function activationAttrs(o: ActivationOptions): Record<string, AttrValue | undefined> {
  return { activation: o.activation, activation_params: o.activationParams };
}

/** Conv followed by an activation, in one operator (see `conv` for the window options). */
export function fusedConv(x: Tensor, w: Tensor, b: Tensor | undefined, options: ConvOptions & ActivationOptions): Tensor {
  return runOp1(
    'FusedConv',
    [x, w, b],
    {
      strides: options.strides,
      pads: options.pads,
      dilations: options.dilations,
      group: options.group,
      kernel_shape: options.kernelShape,
      auto_pad: options.autoPad,
      ...activationAttrs(options),
    },
    { domain: TESSERA_DOMAIN, opset: 1 },
  );
}

/** Gemm followed by an activation, in one operator. */
export function fusedGemm(a: Tensor, b: Tensor, c: Tensor | undefined, options: GemmOptions & ActivationOptions): Tensor {
  return runOp1(
    'FusedGemm',
    [a, b, c],
    {
      alpha: options.alpha,
      beta: options.beta,
      transA: options.transA === undefined ? undefined : options.transA ? 1 : 0,
      transB: options.transB === undefined ? undefined : options.transB ? 1 : 0,
      ...activationAttrs(options),
    },
    { domain: TESSERA_DOMAIN, opset: 1 },
  );
}

/** MatMul (numpy semantics) followed by an activation, in one operator. */
export function fusedMatMul(a: Tensor, b: Tensor, options: ActivationOptions): Tensor {
  return runOp1('FusedMatMul', [a, b], activationAttrs(options), { domain: TESSERA_DOMAIN, opset: 1 });
}
