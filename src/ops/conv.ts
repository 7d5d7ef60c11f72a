/**
 * Operator family 'conv': Conv, ConvTranspose, MaxPool, AveragePool, LpPool and their Global* forms.
 *
 * All of them slide an N-D window (kernel_shape, strides, dilations, pads) over the spatial axes of an
 * (N, C, D1, ..., Dn) input. This file owns the window geometry: `normalize` turns every attribute form into one
 * canonical call (kernel_shape read from W, default strides/dilations filled in, auto_pad resolved into explicit
 * `pads` with auto_pad = NOTSET, ConvTranspose's output_shape turned into pads), and `infer` validates channels,
 * groups and bias and computes the output dims. Kernels (src/kernels/cpu/conv.ts, pooling.ts) then read the
 * canonical attributes and never see auto_pad.
 *
 * Output size of one spatial axis (ek = (k - 1) * dilation + 1 is the dilated kernel extent):
 *   Conv, pools:    floor((in + padBegin + padEnd - ek) / stride) + 1
 *   pools, ceil:    ceil(...) + 1, minus one when that last window would start at or after in + padBegin
 *   ConvTranspose:  stride * (in - 1) + output_padding + ek - padBegin - padEnd
 * auto_pad SAME_UPPER / SAME_LOWER pads so that out = ceil(in / stride) (ConvTranspose: in * stride), the odd
 * pixel going to the end (UPPER) or the beginning (LOWER); VALID means no padding.
 */
import type { AttrValue, Attrs, OutputSpec } from '../kernels/registry.js';
import { fmtShape } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { runOp, runOp1 } from './dispatch.js';
import { defineOp, fail, FLOAT_TYPES, req, type AttrSpec, type InferContext, type Normalized } from './schema.js';

/** The auto_pad attribute's values. */
export type AutoPad = 'NOTSET' | 'SAME_UPPER' | 'SAME_LOWER' | 'VALID';

const AUTO_PAD_VALUES: readonly string[] = ['NOTSET', 'SAME_UPPER', 'SAME_LOWER', 'VALID'];

/** Window geometry with auto_pad resolved: one entry per spatial axis (pads: all begins, then all ends). */
export interface WindowGeometry {
  readonly kernelShape: readonly number[];
  readonly strides: readonly number[];
  readonly dilations: readonly number[];
  readonly pads: readonly number[];
}

function intList(attrs: Attrs, name: string): number[] | undefined {
  const v = attrs[name];
  return v === undefined ? undefined : Array.from(v as readonly number[]);
}

/** Dilated kernel extent: the span of input positions one window covers. */
function extent(kernel: number, dilation: number): number {
  return (kernel - 1) * dilation + 1;
}

/**
 * Validate strides, dilations, pads and auto_pad for a window over `spatial` input dims and resolve auto_pad into
 * explicit pads following the forward rule (out = ceil(in / stride)); ConvTranspose resolves SAME itself in
 * resolveTransposePads.
 */
export function resolveWindow(
  op: string,
  spatial: readonly number[],
  kernelShape: readonly number[],
  attrs: Attrs,
  ctx?: InferContext,
): WindowGeometry {
  const rank = spatial.length;
  const autoPad = (attrs['auto_pad'] as string | undefined) ?? 'NOTSET';
  if (!AUTO_PAD_VALUES.includes(autoPad)) {
    fail(op, `attribute 'auto_pad' is '${autoPad}'; expected one of ${AUTO_PAD_VALUES.join(', ')}`, ctx);
  }
  const check = (name: string, values: number[] | undefined, length: number, min: number, fallback: number): number[] => {
    if (values === undefined) return new Array<number>(length).fill(fallback);
    if (values.length !== length) {
      fail(op, `attribute '${name}' has ${values.length} values [${values.join(', ')}]; expected ${length} for ${rank} spatial axes (input spatial dims ${fmtShape(spatial)})`, ctx);
    }
    for (const v of values) if (v < min) fail(op, `attribute '${name}' is [${values.join(', ')}]; every value must be >= ${min}`, ctx);
    return values;
  };
  const strides = check('strides', intList(attrs, 'strides'), rank, 1, 1);
  const dilations = check('dilations', intList(attrs, 'dilations'), rank, 1, 1);
  let pads = check('pads', intList(attrs, 'pads'), 2 * rank, 0, 0);
  for (let i = 0; i < rank; i++) {
    if (kernelShape[i]! < 1) fail(op, `kernel_shape ${fmtShape(kernelShape)} has a dim < 1`, ctx);
  }
  if (autoPad === 'VALID') pads = new Array<number>(2 * rank).fill(0);
  else if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
    pads = new Array<number>(2 * rank).fill(0);
    for (let i = 0; i < rank; i++) {
      const out = Math.ceil(spatial[i]! / strides[i]!);
      const total = Math.max(0, (out - 1) * strides[i]! + extent(kernelShape[i]!, dilations[i]!) - spatial[i]!);
      const small = Math.floor(total / 2);
      pads[i] = autoPad === 'SAME_UPPER' ? small : total - small;
      pads[rank + i] = total - pads[i]!;
    }
  }
  return { kernelShape: [...kernelShape], strides, dilations, pads };
}

/** Output spatial dims of Conv or a pool (ceilMode: pools only); fails when the kernel exceeds the padded input. */
export function windowOutputShape(
  op: string,
  spatial: readonly number[],
  geom: WindowGeometry,
  ceilMode: boolean,
  ctx?: InferContext,
): number[] {
  const rank = spatial.length;
  const out = new Array<number>(rank);
  for (let i = 0; i < rank; i++) {
    const padded = spatial[i]! + geom.pads[i]! + geom.pads[rank + i]!;
    const ek = extent(geom.kernelShape[i]!, geom.dilations[i]!);
    if (padded < ek) {
      fail(
        op,
        `kernel extent ${ek} (kernel_shape ${fmtShape(geom.kernelShape)}, dilations ${fmtShape(geom.dilations)}) is larger than the padded input ${padded} on spatial axis ${i} (input spatial dims ${fmtShape(spatial)}, pads ${fmtShape(geom.pads)})`,
        ctx,
      );
    }
    const s = geom.strides[i]!;
    let o = (ceilMode ? Math.ceil((padded - ek) / s) : Math.floor((padded - ek) / s)) + 1;
    // a window that would start in the end padding is dropped
    if (ceilMode && (o - 1) * s >= spatial[i]! + geom.pads[i]!) o--;
    out[i] = o;
  }
  return out;
}

/** A null-prototype copy of `attrs` with `changes` applied (canonical attributes for the kernels). */
function withAttrs(attrs: Record<string, AttrValue>, changes: Record<string, AttrValue>): Record<string, AttrValue> {
  const out = Object.create(null) as Record<string, AttrValue>;
  for (const k of Object.keys(attrs)) out[k] = attrs[k]!;
  for (const k of Object.keys(changes)) out[k] = changes[k]!;
  return out;
}

function requireSpatialInput(op: string, name: string, x: Tensor, ctx?: InferContext): number[] {
  if (x.rank < 3) {
    fail(op, `input '${name}' has shape ${fmtShape(x.dims)} (rank ${x.rank}); expected rank >= 3 (N, C, D1, ...)`, ctx);
  }
  return x.dims.slice(2);
}

/** kernel_shape from W (rank must match X), checked against the attribute when given. */
function kernelFromWeights(op: string, x: Tensor, w: Tensor, attrs: Attrs, ctx?: InferContext): number[] {
  if (w.rank !== x.rank) {
    fail(op, `input 'W' has shape ${fmtShape(w.dims)} (rank ${w.rank}); expected rank ${x.rank}, the rank of X ${fmtShape(x.dims)}`, ctx);
  }
  const kernel = w.dims.slice(2);
  const given = intList(attrs, 'kernel_shape');
  if (given !== undefined && fmtShape(given) !== fmtShape(kernel)) {
    fail(op, `attribute 'kernel_shape' is ${fmtShape(given)} but input 'W' has shape ${fmtShape(w.dims)} (kernel ${fmtShape(kernel)})`, ctx);
  }
  return kernel;
}

function checkGroup(op: string, attrs: Attrs, ctx?: InferContext): number {
  const group = attrs['group'] as number;
  if (group < 1) fail(op, `attribute 'group' is ${group}; expected >= 1`, ctx);
  return group;
}

function checkBias(op: string, b: Tensor | undefined, channels: number, ctx?: InferContext): void {
  if (b && (b.rank !== 1 || b.dims[0] !== channels)) {
    fail(op, `input 'B' has shape ${fmtShape(b.dims)}; expected [${channels}] (one bias per output channel)`, ctx);
  }
}

const WINDOW_ATTRS: Readonly<Record<string, AttrSpec>> = {
  auto_pad: { kind: 'string', default: 'NOTSET' },
  dilations: { kind: 'ints' },
  kernel_shape: { kind: 'ints' },
  pads: { kind: 'ints' },
  strides: { kind: 'ints' },
};

// ---------------------------------------------------------------------------------------------------------
// Conv

defineOp({
  name: 'Conv',
  inputs: [
    { name: 'X', type: 'T' },
    { name: 'W', type: 'T' },
    { name: 'B', type: 'T', optional: true },
  ],
  outputs: ['Y'],
  types: { T: FLOAT_TYPES },
  attributes: { ...WINDOW_ATTRS, group: { kind: 'int', default: 1 } },
  normalize(inputs, attrs, ctx): Normalized {
    const x = req('Conv', inputs, 0, 'X', ctx);
    const w = req('Conv', inputs, 1, 'W', ctx);
    const spatial = requireSpatialInput('Conv', 'X', x, ctx);
    const kernel = kernelFromWeights('Conv', x, w, attrs, ctx);
    const g = resolveWindow('Conv', spatial, kernel, attrs, ctx);
    return {
      inputs,
      attrs: withAttrs(attrs, { kernel_shape: g.kernelShape, strides: g.strides, dilations: g.dilations, pads: g.pads, auto_pad: 'NOTSET' }),
    };
  },
  infer(inputs, attrs, ctx): OutputSpec[] {
    const x = inputs[0]!;
    const w = inputs[1]!;
    const group = checkGroup('Conv', attrs, ctx);
    const channels = x.dims[1]!;
    const featureMaps = w.dims[0]!;
    if (channels % group !== 0) {
      fail('Conv', `group ${group} does not divide the ${channels} channels of input 'X' ${fmtShape(x.dims)}`, ctx);
    }
    if (w.dims[1]! * group !== channels) {
      fail('Conv', `input 'W' has shape ${fmtShape(w.dims)}: W.shape[1] * group = ${w.dims[1]} * ${group} = ${w.dims[1]! * group}; expected the ${channels} channels of input 'X' ${fmtShape(x.dims)}`, ctx);
    }
    if (featureMaps % group !== 0) {
      fail('Conv', `group ${group} does not divide the ${featureMaps} output channels of input 'W' ${fmtShape(w.dims)}`, ctx);
    }
    checkBias('Conv', inputs[2], featureMaps, ctx);
    const out = windowOutputShape('Conv', x.dims.slice(2), windowGeometryFromAttrs(attrs), false, ctx);
    return [{ type: x.type, dims: [x.dims[0]!, featureMaps, ...out] }];
  },
});

/** The canonical geometry attributes of a normalized call. */
export function windowGeometryFromAttrs(attrs: Attrs): WindowGeometry {
  return {
    kernelShape: attrs['kernel_shape'] as readonly number[],
    strides: attrs['strides'] as readonly number[],
    dilations: attrs['dilations'] as readonly number[],
    pads: attrs['pads'] as readonly number[],
  };
}

// ---------------------------------------------------------------------------------------------------------
// ConvTranspose

/**
 * Pads and output spatial dims of ConvTranspose. With output_shape (or SAME auto_pad, where the target is
 * in * stride) the total padding is stride * (in - 1) + output_padding + ek - out, split with floor division as
 * ONNX does: SAME_UPPER puts floor(total / 2) first, the other modes put total - floor(total / 2) first. The
 * total may be negative (output_shape larger than the full result): the extra rows get only the bias.
 */
function resolveTransposePads(
  spatial: readonly number[],
  g: WindowGeometry,
  outputPadding: readonly number[],
  outputShape: readonly number[] | undefined,
  autoPad: string,
): { pads: number[]; out: number[] } {
  const rank = spatial.length;
  const full = spatial.map((d, i) => g.strides[i]! * (d - 1) + outputPadding[i]! + extent(g.kernelShape[i]!, g.dilations[i]!));
  let target = outputShape;
  if (target === undefined && (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER')) target = spatial.map((d, i) => d * g.strides[i]!);
  if (target === undefined) {
    return { pads: [...g.pads], out: full.map((f, i) => f - g.pads[i]! - g.pads[rank + i]!) };
  }
  const pads = new Array<number>(2 * rank);
  for (let i = 0; i < rank; i++) {
    const total = full[i]! - target[i]!;
    const half = Math.floor(total / 2);
    pads[i] = autoPad === 'SAME_UPPER' ? half : total - half;
    pads[rank + i] = total - pads[i]!;
  }
  return { pads, out: [...target] };
}

defineOp({
  name: 'ConvTranspose',
  inputs: [
    { name: 'X', type: 'T' },
    { name: 'W', type: 'T' },
    { name: 'B', type: 'T', optional: true },
  ],
  outputs: ['Y'],
  types: { T: FLOAT_TYPES },
  attributes: {
    ...WINDOW_ATTRS,
    group: { kind: 'int', default: 1 },
    output_padding: { kind: 'ints' },
    output_shape: { kind: 'ints' },
  },
  normalize(inputs, attrs, ctx): Normalized {
    const op = 'ConvTranspose';
    const x = req(op, inputs, 0, 'X', ctx);
    const w = req(op, inputs, 1, 'W', ctx);
    const spatial = requireSpatialInput(op, 'X', x, ctx);
    const rank = spatial.length;
    const kernel = kernelFromWeights(op, x, w, attrs, ctx);
    const autoPad = (attrs['auto_pad'] as string | undefined) ?? 'NOTSET';
    if (!AUTO_PAD_VALUES.includes(autoPad)) fail(op, `attribute 'auto_pad' is '${autoPad}'; expected one of ${AUTO_PAD_VALUES.join(', ')}`, ctx);
    // strides, dilations and pads are checked as for Conv; SAME padding is resolved below from the target size
    const g = resolveWindow(op, spatial, kernel, withAttrs(attrs, { auto_pad: autoPad === 'VALID' ? 'VALID' : 'NOTSET' }), ctx);
    const outputPadding = intList(attrs, 'output_padding') ?? new Array<number>(rank).fill(0);
    if (outputPadding.length !== rank) {
      fail(op, `attribute 'output_padding' has ${outputPadding.length} values [${outputPadding.join(', ')}]; expected ${rank} for ${rank} spatial axes`, ctx);
    }
    for (let i = 0; i < rank; i++) {
      const limit = Math.max(g.strides[i]!, g.dilations[i]!);
      if (outputPadding[i]! < 0 || outputPadding[i]! >= limit) {
        fail(op, `attribute 'output_padding' is [${outputPadding.join(', ')}]; value ${i} must be in [0, ${limit}) (less than the stride or the dilation)`, ctx);
      }
    }
    let outputShape = intList(attrs, 'output_shape');
    if (outputShape !== undefined) {
      if (outputShape.length === rank + 2) outputShape = outputShape.slice(2);
      if (outputShape.length !== rank) {
        fail(op, `attribute 'output_shape' has ${outputShape.length} values [${outputShape.join(', ')}]; expected ${rank} spatial dims`, ctx);
      }
      for (const d of outputShape) if (d < 0) fail(op, `attribute 'output_shape' [${outputShape.join(', ')}] has a negative dim`, ctx);
    }
    const { pads, out } = resolveTransposePads(spatial, g, outputPadding, outputShape, autoPad);
    for (let i = 0; i < rank; i++) {
      if (out[i]! < 0) {
        fail(op, `pads ${fmtShape(g.pads)} remove more than the full output on spatial axis ${i} (input spatial dims ${fmtShape(spatial)}, kernel ${fmtShape(kernel)}, strides ${fmtShape(g.strides)})`, ctx);
      }
    }
    return {
      inputs,
      attrs: withAttrs(attrs, {
        kernel_shape: g.kernelShape,
        strides: g.strides,
        dilations: g.dilations,
        pads,
        output_padding: outputPadding,
        output_shape: out,
        auto_pad: 'NOTSET',
      }),
    };
  },
  infer(inputs, attrs, ctx): OutputSpec[] {
    const op = 'ConvTranspose';
    const x = inputs[0]!;
    const w = inputs[1]!;
    const group = checkGroup(op, attrs, ctx);
    const channels = x.dims[1]!;
    if (channels % group !== 0) fail(op, `group ${group} does not divide the ${channels} channels of input 'X' ${fmtShape(x.dims)}`, ctx);
    if (w.dims[0] !== channels) {
      fail(op, `input 'W' has shape ${fmtShape(w.dims)}; expected W.shape[0] = ${channels}, the channels of input 'X' ${fmtShape(x.dims)}`, ctx);
    }
    const featureMaps = w.dims[1]! * group;
    checkBias(op, inputs[2], featureMaps, ctx);
    return [{ type: x.type, dims: [x.dims[0]!, featureMaps, ...(attrs['output_shape'] as readonly number[])] }];
  },
});

// ---------------------------------------------------------------------------------------------------------
// MaxPool, AveragePool, LpPool

const POOL_ATTRS: Readonly<Record<string, AttrSpec>> = {
  ...WINDOW_ATTRS,
  kernel_shape: { kind: 'ints', required: true },
  ceil_mode: { kind: 'int', default: 0 },
};

function normalizePool(op: string) {
  return (inputs: (Tensor | undefined)[], attrs: Record<string, AttrValue>, ctx: InferContext): Normalized => {
    const x = req(op, inputs, 0, 'X', ctx);
    const spatial = requireSpatialInput(op, 'X', x, ctx);
    const kernel = attrs['kernel_shape'] as readonly number[];
    if (kernel.length !== spatial.length) {
      fail(op, `attribute 'kernel_shape' ${fmtShape(kernel)} has ${kernel.length} dims; input 'X' ${fmtShape(x.dims)} has ${spatial.length} spatial dims`, ctx);
    }
    const g = resolveWindow(op, spatial, kernel, attrs, ctx);
    return { inputs, attrs: withAttrs(attrs, { strides: g.strides, dilations: g.dilations, pads: g.pads, auto_pad: 'NOTSET' }) };
  };
}

function poolOutput(op: string, x: Tensor, attrs: Attrs, ctx: InferContext): number[] {
  const ceil = attrs['ceil_mode'] as number;
  if (ceil !== 0 && ceil !== 1) fail(op, `attribute 'ceil_mode' is ${ceil}; expected 0 or 1`, ctx);
  return [x.dims[0]!, x.dims[1]!, ...windowOutputShape(op, x.dims.slice(2), windowGeometryFromAttrs(attrs), ceil === 1, ctx)];
}

defineOp({
  name: 'MaxPool',
  inputs: [{ name: 'X', type: 'T' }],
  outputs: ['Y', 'Indices'],
  types: { T: [...FLOAT_TYPES, 'int8', 'uint8'] },
  attributes: { ...POOL_ATTRS, storage_order: { kind: 'int', default: 0 } },
  normalize: normalizePool('MaxPool'),
  infer(inputs, attrs, ctx): OutputSpec[] {
    const x = inputs[0]!;
    const order = attrs['storage_order'] as number;
    if (order !== 0 && order !== 1) fail('MaxPool', `attribute 'storage_order' is ${order}; expected 0 (row major) or 1 (column major)`, ctx);
    const wanted = ctx.numOutputs ?? 1;
    if (wanted < 1 || wanted > 2) fail('MaxPool', `${wanted} outputs requested; MaxPool has Y and optionally Indices`, ctx);
    if (wanted === 2 && ctx.opset < 8) fail('MaxPool', `the Indices output exists from opset 8; this call is opset ${ctx.opset}`, ctx);
    const dims = poolOutput('MaxPool', x, attrs, ctx);
    const specs: OutputSpec[] = [{ type: x.type, dims }];
    if (wanted === 2) specs.push({ type: 'int64', dims });
    return specs;
  },
});

defineOp({
  name: 'AveragePool',
  inputs: [{ name: 'X', type: 'T' }],
  outputs: ['Y'],
  types: { T: FLOAT_TYPES },
  attributes: { ...POOL_ATTRS, count_include_pad: { kind: 'int', default: 0 } },
  normalize: normalizePool('AveragePool'),
  infer(inputs, attrs, ctx): OutputSpec[] {
    const x = inputs[0]!;
    const cip = attrs['count_include_pad'] as number;
    if (cip !== 0 && cip !== 1) fail('AveragePool', `attribute 'count_include_pad' is ${cip}; expected 0 or 1`, ctx);
    return [{ type: x.type, dims: poolOutput('AveragePool', x, attrs, ctx) }];
  },
});

function checkP(op: string, attrs: Attrs, ctx: InferContext): void {
  const p = attrs['p'] as number;
  if (!(p > 0) || !Number.isFinite(p)) fail(op, `attribute 'p' is ${p}; expected a positive number`, ctx);
}

defineOp({
  name: 'LpPool',
  inputs: [{ name: 'X', type: 'T' }],
  outputs: ['Y'],
  types: { T: FLOAT_TYPES },
  // p is a float in opset 1 and an int from opset 2: the float kind accepts both
  attributes: { ...POOL_ATTRS, p: { kind: 'float', default: 2 } },
  normalize: normalizePool('LpPool'),
  infer(inputs, attrs, ctx): OutputSpec[] {
    checkP('LpPool', attrs, ctx);
    const x = inputs[0]!;
    return [{ type: x.type, dims: poolOutput('LpPool', x, attrs, ctx) }];
  },
});

// ---------------------------------------------------------------------------------------------------------
// Global pools

function globalInfer(op: string) {
  return (inputs: readonly (Tensor | undefined)[], _attrs: Attrs, ctx: InferContext): OutputSpec[] => {
    const x = req(op, inputs, 0, 'X', ctx);
    requireSpatialInput(op, 'X', x, ctx);
    return [{ type: x.type, dims: x.dims.map((d, i) => (i < 2 ? d : 1)) }];
  };
}

defineOp({
  name: 'GlobalAveragePool',
  inputs: [{ name: 'X', type: 'T' }],
  outputs: ['Y'],
  types: { T: FLOAT_TYPES },
  attributes: {},
  infer: globalInfer('GlobalAveragePool'),
});

defineOp({
  name: 'GlobalMaxPool',
  inputs: [{ name: 'X', type: 'T' }],
  outputs: ['Y'],
  types: { T: FLOAT_TYPES },
  attributes: {},
  infer: globalInfer('GlobalMaxPool'),
});

defineOp({
  name: 'GlobalLpPool',
  inputs: [{ name: 'X', type: 'T' }],
  outputs: ['Y'],
  types: { T: FLOAT_TYPES },
  attributes: { p: { kind: 'float', default: 2 } },
  infer(inputs, attrs, ctx): OutputSpec[] {
    checkP('GlobalLpPool', attrs, ctx);
    return globalInfer('GlobalLpPool')(inputs, attrs, ctx);
  },
});

// ---------------------------------------------------------------------------------------------------------
// Eager API

/** Window options shared by convolutions and pools (camelCase forms of the ONNX attributes). */
export interface WindowOptions {
  /** Stride per spatial axis (default 1). */
  strides?: readonly number[];
  /** Padding [x1_begin, x2_begin, ..., x1_end, x2_end, ...] (default 0). Ignored when autoPad is not NOTSET. */
  pads?: readonly number[];
  /** Dilation per spatial axis (default 1). */
  dilations?: readonly number[];
  /** Automatic padding (default NOTSET: use `pads`). */
  autoPad?: AutoPad;
}

/** Options of `conv`. */
export interface ConvOptions extends WindowOptions {
  /** Number of groups the channels are split into (default 1). */
  group?: number;
  /** Kernel spatial shape; must equal W's spatial dims when given. */
  kernelShape?: readonly number[];
}

/** Options of `convTranspose`. */
export interface ConvTransposeOptions extends ConvOptions {
  /** Extra elements at the end of each spatial output axis (each < stride or dilation). */
  outputPadding?: readonly number[];
  /** Explicit output spatial dims; pads are then derived from it. */
  outputShape?: readonly number[];
}

/** Options of the windowed pools. */
export interface PoolOptions extends WindowOptions {
  /** Window size per spatial axis (required). */
  kernelShape: readonly number[];
  /** Use ceil instead of floor for the output size (default false). */
  ceilMode?: boolean;
}

function windowAttrs(o: WindowOptions): Record<string, AttrValue | undefined> {
  return { strides: o.strides, pads: o.pads, dilations: o.dilations, auto_pad: o.autoPad };
}

/**
 * N-D convolution (ONNX Conv): x is (N, C, D1, ..., Dn), w is (M, C / group, k1, ..., kn), optional bias b of
 * shape (M). Returns (N, M, O1, ..., On).
 */
export function conv(x: Tensor, w: Tensor, b?: Tensor, options: ConvOptions = {}): Tensor {
  return runOp1('Conv', [x, w, b], { ...windowAttrs(options), group: options.group, kernel_shape: options.kernelShape });
}

/**
 * Transposed convolution (ONNX ConvTranspose, the gradient of Conv with respect to its input): x is
 * (N, C, D1, ..., Dn), w is (C, M / group, k1, ..., kn), optional bias b of shape (M).
 */
export function convTranspose(x: Tensor, w: Tensor, b?: Tensor, options: ConvTransposeOptions = {}): Tensor {
  return runOp1('ConvTranspose', [x, w, b], {
    ...windowAttrs(options),
    group: options.group,
    kernel_shape: options.kernelShape,
    output_padding: options.outputPadding,
    output_shape: options.outputShape,
  });
}

function poolAttrs(o: PoolOptions): Record<string, AttrValue | undefined> {
  return { ...windowAttrs(o), kernel_shape: o.kernelShape, ceil_mode: o.ceilMode === undefined ? undefined : o.ceilMode ? 1 : 0 };
}

/** Max pooling (ONNX MaxPool). Padding never wins: windows take the max over real input elements. */
export function maxPool(x: Tensor, options: PoolOptions): Tensor {
  return runOp1('MaxPool', [x], poolAttrs(options));
}

/**
 * Max pooling with the argmax of each window (ONNX MaxPool's second output): `indices` are int64 positions in
 * the flattened input, row-major (storageOrder 0, default) or with the spatial axes column-major (1).
 */
export function maxPoolWithIndices(x: Tensor, options: PoolOptions & { storageOrder?: 0 | 1 }): { values: Tensor; indices: Tensor } {
  const [values, indices] = runOp('MaxPool', [x], { ...poolAttrs(options), storage_order: options.storageOrder }, { numOutputs: 2 });
  return { values: values!, indices: indices! };
}

/** Average pooling (ONNX AveragePool); countIncludePad counts padding positions in the divisor (default false). */
export function averagePool(x: Tensor, options: PoolOptions & { countIncludePad?: boolean }): Tensor {
  const cip = options.countIncludePad === undefined ? undefined : options.countIncludePad ? 1 : 0;
  return runOp1('AveragePool', [x], { ...poolAttrs(options), count_include_pad: cip });
}

/** Lp pooling (ONNX LpPool): (sum over the window of |x|^p)^(1/p), default p = 2. */
export function lpPool(x: Tensor, options: PoolOptions & { p?: number }): Tensor {
  return runOp1('LpPool', [x], { ...poolAttrs(options), p: options.p });
}

/** Mean over all spatial positions of each (n, c): output (N, C, 1, ..., 1). */
export function globalAveragePool(x: Tensor): Tensor {
  return runOp1('GlobalAveragePool', [x]);
}

/** Max over all spatial positions of each (n, c): output (N, C, 1, ..., 1). */
export function globalMaxPool(x: Tensor): Tensor {
  return runOp1('GlobalMaxPool', [x]);
}

/** Lp norm over all spatial positions of each (n, c): output (N, C, 1, ..., 1). */
export function globalLpPool(x: Tensor, p = 2): Tensor {
  return runOp1('GlobalLpPool', [x], { p });
}
