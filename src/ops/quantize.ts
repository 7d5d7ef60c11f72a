/**
 * The int8 family: QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear, MatMulInteger, QLinearMatMul
 * (and ConvInteger, QLinearConv in ./quantize-conv.ts).
 *
 * Quantization maps a real value x to an integer q = saturate(roundHalfEven(x / scale) + zeroPoint); the
 * inverse is x = (q - zeroPoint) * scale. Scale and zero point are per tensor (scalars), per axis (1-D, one
 * per slice along `axis`) or blocked (same rank as x, `block_size` consecutive elements along `axis` share
 * one). These schemas check that the parameter shapes describe exactly one of those layouts.
 */
import type { AttrValue, Attrs, OutputSpec } from '../kernels/registry.js';
import { OpValidationError } from '../tensor/errors.js';
import './conv.js';
import './quant-fused.js';
import { dataTypeFromOnnx, dataTypeFromOnnxCode, type DataType } from '../tensor/dtype.js';
import { fmtShape, normalizeAxis } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { runOp, runOp1 } from './dispatch.js';
import { broadcastOrFail, defineOp, fail, findSchema, req, type InferContext, type Normalized, type OpSchema } from './schema.js';

/** Integer types of quantized values: int4/uint4 (opset 21) are held one value per byte (src/tensor/dtype.ts). */
const QUANT_TYPES: readonly DataType[] = ['int8', 'uint8', 'int16', 'uint16', 'int4', 'uint4'];
const SCALE_TYPES: readonly DataType[] = ['float32', 'float16'];

/** How quantization parameters map onto a tensor: resolved by `quantLayout`. */
export interface QuantLayout {
  kind: 'tensor' | 'axis' | 'block';
  /** Normalised axis (per-axis and blocked). */
  axis: number;
  /** Elements sharing a parameter along `axis` (blocked only; 1 for per-axis). */
  blockSize: number;
}

/**
 * Decide the granularity of (scale, zeroPoint) for a tensor of `dims`, or throw naming what does not fit.
 */
export function quantLayout(op: string, dims: readonly number[], scale: Tensor, zeroPoint: Tensor | undefined, axisAttr: number, blockSize: number, ctx?: InferContext): QuantLayout {
  // a one-element zero point of rank 0 or 1 goes with a one-element scale of rank 0 or 1 (ONNX's own int4 tests pair [1] with [])
  const bothScalar = zeroPoint !== undefined && zeroPoint.size === 1 && zeroPoint.rank <= 1 && scale.size === 1 && scale.rank <= 1;
  if (zeroPoint && !bothScalar && fmtShape(zeroPoint.dims) !== fmtShape(scale.dims)) {
    fail(op, `zero point shape ${fmtShape(zeroPoint.dims)} must equal scale shape ${fmtShape(scale.dims)}`, ctx);
  }
  if (blockSize < 0) fail(op, `block_size must be >= 0, got ${blockSize}`, ctx);
  if (blockSize === 0 && scale.size === 1 && scale.rank <= 1) return { kind: 'tensor', axis: 0, blockSize: 1 };
  if (blockSize === 0 && scale.rank === 0) fail(op, `scale has shape ${fmtShape(scale.dims)}; expected a scalar`, ctx);
  if (dims.length === 0) fail(op, `scale has shape ${fmtShape(scale.dims)} but the input is a scalar; expected a scalar scale`, ctx);
  let axis: number;
  try {
    axis = normalizeAxis(axisAttr, dims.length, 'axis');
  } catch {
    fail(op, `axis ${axisAttr} is out of range for input rank ${dims.length}`, ctx);
  }
  if (blockSize === 0) {
    if (scale.rank !== 1 || scale.dims[0] !== dims[axis]) {
      fail(op, `per-axis scale has shape ${fmtShape(scale.dims)}; expected [${dims[axis]}] (input ${fmtShape(dims)}, axis ${axis})`, ctx);
    }
    return { kind: 'axis', axis, blockSize: 1 };
  }
  const want = dims.map((d, i) => (i === axis ? Math.ceil(d / blockSize) : d));
  if (fmtShape(scale.dims) !== fmtShape(want)) {
    fail(op, `blocked scale has shape ${fmtShape(scale.dims)}; expected ${fmtShape(want)} (input ${fmtShape(dims)}, axis ${axis}, block_size ${blockSize})`, ctx);
  }
  return { kind: 'block', axis, blockSize };
}

function quantOutputType(op: string, zp: Tensor | undefined, outputDtype: number, ctx: InferContext): DataType {
  if (outputDtype !== 0) {
    const t = dataTypeFromOnnxCode(outputDtype);
    if (!t || !QUANT_TYPES.includes(t)) fail(op, `output_dtype ${outputDtype} is not supported; Tessera quantizes to ${QUANT_TYPES.join(', ')}`, ctx);
    if (zp && zp.type !== t) fail(op, `output_dtype ${t} differs from y_zero_point type ${zp.type}`, ctx);
    return t;
  }
  return zp ? zp.type : 'uint8';
}

defineOp({
  name: 'QuantizeLinear',
  inputs: [
    { name: 'x', type: 'T1' },
    { name: 'y_scale', type: 'T2' },
    { name: 'y_zero_point', type: 'T3', optional: true },
  ],
  outputs: ['y'],
  types: { T1: ['float32', 'float16', 'float64', 'int32'], T2: ['float32', 'float16', 'int32'], T3: QUANT_TYPES },
  attributes: {
    axis: { kind: 'int', default: 1 },
    block_size: { kind: 'int', default: 0 },
    output_dtype: { kind: 'int', default: 0 },
    saturate: { kind: 'int', default: 1 },
    precision: { kind: 'int', default: 0 },
  },
  infer(inputs, attrs, ctx): OutputSpec[] {
    const x = req('QuantizeLinear', inputs, 0, 'x', ctx);
    const scale = req('QuantizeLinear', inputs, 1, 'y_scale', ctx);
    quantLayout('QuantizeLinear', x.dims, scale, inputs[2], attrs.axis as number, attrs.block_size as number, ctx);
    return [{ type: quantOutputType('QuantizeLinear', inputs[2], attrs.output_dtype as number, ctx), dims: x.dims }];
  },
});

defineOp({
  name: 'DequantizeLinear',
  inputs: [
    { name: 'x', type: 'T1' },
    { name: 'x_scale', type: 'T2' },
    { name: 'x_zero_point', type: 'T1', optional: true },
  ],
  outputs: ['y'],
  types: { T1: [...QUANT_TYPES, 'int32'], T2: SCALE_TYPES },
  attributes: {
    axis: { kind: 'int', default: 1 },
    block_size: { kind: 'int', default: 0 },
    output_dtype: { kind: 'int', default: 0 },
  },
  infer(inputs, attrs, ctx): OutputSpec[] {
    const x = req('DequantizeLinear', inputs, 0, 'x', ctx);
    const scale = req('DequantizeLinear', inputs, 1, 'x_scale', ctx);
    quantLayout('DequantizeLinear', x.dims, scale, inputs[2], attrs.axis as number, attrs.block_size as number, ctx);
    let type: DataType = scale.type;
    const od = attrs.output_dtype as number;
    if (od !== 0) {
      const t = dataTypeFromOnnx(od);
      if (!t || !SCALE_TYPES.includes(t)) fail('DequantizeLinear', `output_dtype ${od} is not supported; expected float32 or float16`, ctx);
      type = t;
    }
    return [{ type, dims: x.dims }];
  },
});

defineOp({
  name: 'DynamicQuantizeLinear',
  inputs: [{ name: 'x', type: 'T1' }],
  outputs: ['y', 'y_scale', 'y_zero_point'],
  types: { T1: ['float32'] },
  attributes: {},
  infer(inputs, _attrs, ctx): OutputSpec[] {
    const x = req('DynamicQuantizeLinear', inputs, 0, 'x', ctx);
    return [
      { type: 'uint8', dims: x.dims },
      { type: 'float32', dims: [] },
      { type: 'uint8', dims: [] },
    ];
  },
});

/** Batch-broadcast shapes of a numpy matmul; shared by MatMulInteger and QLinearMatMul. */
export interface MatmulShape {
  /** Output dims. */
  dims: number[];
  /** Broadcast batch dims. */
  batch: number[];
  m: number;
  k: number;
  n: number;
}

/** Shapes of numpy matmul(a, b) with 1-D promotion, or an error naming both shapes. */
export function matmulShape(op: string, a: readonly number[], b: readonly number[], ctx?: InferContext): MatmulShape {
  if (a.length === 0 || b.length === 0) fail(op, `inputs must have rank >= 1, got ${fmtShape(a)} and ${fmtShape(b)}`, ctx);
  const a2 = a.length === 1 ? [1, a[0]!] : [...a];
  const b2 = b.length === 1 ? [b[0]!, 1] : [...b];
  const m = a2[a2.length - 2]!;
  const k = a2[a2.length - 1]!;
  const kb = b2[b2.length - 2]!;
  const n = b2[b2.length - 1]!;
  if (k !== kb) fail(op, `inner dimensions differ: A ${fmtShape(a)} has K=${k}, B ${fmtShape(b)} has K=${kb}`, ctx);
  const batch = broadcastOrFail(op, ctx, a2.slice(0, -2), b2.slice(0, -2));
  const dims = [...batch];
  if (a.length > 1) dims.push(m);
  if (b.length > 1) dims.push(n);
  return { dims, batch, m, k, n };
}

function zpCheck(op: string, zp: Tensor | undefined, name: string, rowsOrCols: number, what: string, ctx: InferContext): void {
  if (!zp) return;
  if (zp.size !== 1 && !(zp.rank === 1 && zp.size === rowsOrCols)) {
    fail(op, `${name} has shape ${fmtShape(zp.dims)}; expected a scalar or a 1-D tensor of ${rowsOrCols} ${what}`, ctx);
  }
}

defineOp({
  name: 'MatMulInteger',
  inputs: [
    { name: 'A', type: 'T1' },
    { name: 'B', type: 'T2' },
    { name: 'a_zero_point', type: 'T1', optional: true },
    { name: 'b_zero_point', type: 'T2', optional: true },
  ],
  outputs: ['Y'],
  types: { T1: ['int8', 'uint8'], T2: ['int8', 'uint8'] },
  attributes: {},
  infer(inputs, _attrs, ctx): OutputSpec[] {
    const a = req('MatMulInteger', inputs, 0, 'A', ctx);
    const b = req('MatMulInteger', inputs, 1, 'B', ctx);
    const s = matmulShape('MatMulInteger', a.dims, b.dims, ctx);
    zpCheck('MatMulInteger', inputs[2], 'a_zero_point', s.m, 'rows', ctx);
    zpCheck('MatMulInteger', inputs[3], 'b_zero_point', s.n, 'columns', ctx);
    return [{ type: 'int32', dims: s.dims }];
  },
});

function qparamCheck(op: string, scale: Tensor, zp: Tensor, names: [string, string], count: number, what: string, ctx: InferContext): void {
  if (scale.size !== 1 && scale.size !== count) {
    fail(op, `${names[0]} has shape ${fmtShape(scale.dims)}; expected a scalar or ${count} values (one per ${what})`, ctx);
  }
  if (zp.size !== scale.size) fail(op, `${names[1]} has shape ${fmtShape(zp.dims)}; it must match ${names[0]} ${fmtShape(scale.dims)}`, ctx);
}

defineOp({
  name: 'QLinearMatMul',
  inputs: [
    { name: 'a', type: 'T1' },
    { name: 'a_scale', type: 'TS' },
    { name: 'a_zero_point', type: 'T1' },
    { name: 'b', type: 'T2' },
    { name: 'b_scale', type: 'TS' },
    { name: 'b_zero_point', type: 'T2' },
    { name: 'y_scale', type: 'TS' },
    { name: 'y_zero_point', type: 'T3' },
  ],
  outputs: ['y'],
  types: { T1: ['int8', 'uint8'], T2: ['int8', 'uint8'], T3: ['int8', 'uint8'], TS: SCALE_TYPES },
  attributes: {},
  infer(inputs, _attrs, ctx): OutputSpec[] {
    const op = 'QLinearMatMul';
    const a = req(op, inputs, 0, 'a', ctx);
    const b = req(op, inputs, 3, 'b', ctx);
    const s = matmulShape(op, a.dims, b.dims, ctx);
    qparamCheck(op, req(op, inputs, 1, 'a_scale', ctx), req(op, inputs, 2, 'a_zero_point', ctx), ['a_scale', 'a_zero_point'], s.m, 'row of a', ctx);
    qparamCheck(op, req(op, inputs, 4, 'b_scale', ctx), req(op, inputs, 5, 'b_zero_point', ctx), ['b_scale', 'b_zero_point'], s.n, 'column of b', ctx);
    const ys = req(op, inputs, 6, 'y_scale', ctx);
    const yz = req(op, inputs, 7, 'y_zero_point', ctx);
    if (ys.size !== 1 || yz.size !== 1) fail(op, `y_scale ${fmtShape(ys.dims)} and y_zero_point ${fmtShape(yz.dims)} must be scalars`, ctx);
    return [{ type: yz.type, dims: s.dims }];
  },
});

/** Options of quantizeLinear / dequantizeLinear. */
export interface QuantizeOptions {
  /** Axis for per-axis and blocked parameters (default 1). */
  axis?: number;
  /** Block size for blocked parameters (default 0 = not blocked). */
  blockSize?: number;
}

/** q = saturate(roundHalfEven(x / scale) + zeroPoint); the output type is zeroPoint's (uint8 when absent). */
export function quantizeLinear(x: Tensor, scale: Tensor, zeroPoint?: Tensor, opts: QuantizeOptions = {}): Tensor {
  return runOp1('QuantizeLinear', [x, scale, zeroPoint], { axis: opts.axis, block_size: opts.blockSize });
}

/** x = (q - zeroPoint) * scale, in the scale's float type. */
export function dequantizeLinear(q: Tensor, scale: Tensor, zeroPoint?: Tensor, opts: QuantizeOptions = {}): Tensor {
  return runOp1('DequantizeLinear', [q, scale, zeroPoint], { axis: opts.axis, block_size: opts.blockSize });
}

/** uint8 quantization of float32 x with a scale and zero point computed from its range. */
export function dynamicQuantizeLinear(x: Tensor): { y: Tensor; scale: Tensor; zeroPoint: Tensor } {
  const [y, scale, zeroPoint] = runOp('DynamicQuantizeLinear', [x]);
  return { y: y!, scale: scale!, zeroPoint: zeroPoint! };
}

/** int32 matmul of int8/uint8 tensors after subtracting zero points (per tensor, per row of a, per column of b). */
export function matMulInteger(a: Tensor, b: Tensor, aZeroPoint?: Tensor, bZeroPoint?: Tensor): Tensor {
  return runOp1('MatMulInteger', [a, b, aZeroPoint, bZeroPoint]);
}

/** Quantized matmul: dequantize a and b, multiply, requantize with (yScale, yZeroPoint), in integer arithmetic. */
export function qlinearMatMul(
  a: Tensor,
  aScale: Tensor,
  aZeroPoint: Tensor,
  b: Tensor,
  bScale: Tensor,
  bZeroPoint: Tensor,
  yScale: Tensor,
  yZeroPoint: Tensor,
): Tensor {
  return runOp1('QLinearMatMul', [a, aScale, aZeroPoint, b, bScale, bZeroPoint, yScale, yZeroPoint]);
}

// ---------------------------------------------------------------------------------------------------------
// ConvInteger and QLinearConv: the window geometry and shape rules are Conv's; this layer reuses Conv's
// schema for them and reports errors under the quantized operator's name.

function asConv<T>(op: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof OpValidationError && e.op.startsWith('Conv')) {
      throw new OpValidationError(op + e.op.slice(4), e.message.slice(e.op.length + 2));
    }
    throw e;
  }
}

function convSchema(): OpSchema {
  const s = findSchema('Conv');
  if (!s?.normalize) throw new OpValidationError('ConvInteger', 'the Conv schema is not loaded');
  return s;
}

const CONV_ATTRS = {
  auto_pad: { kind: 'string', default: 'NOTSET' },
  dilations: { kind: 'ints' },
  kernel_shape: { kind: 'ints' },
  pads: { kind: 'ints' },
  strides: { kind: 'ints' },
  group: { kind: 'int', default: 1 },
} as const;

/** Conv's normalize (kernel_shape from W, auto_pad resolved into pads) for a quantized conv with W at `wIndex`. */
function normalizeAsConv(op: string, wIndex: number): NonNullable<OpSchema['normalize']> {
  return (inputs, attrs, ctx): Normalized => {
    const x = req(op, inputs, 0, 'x', ctx);
    const w = req(op, inputs, wIndex, 'w', ctx);
    return { inputs, attrs: asConv(op, () => convSchema().normalize!([x, w], attrs, ctx).attrs) };
  };
}

function convIntegerCheck(op: string, x: Tensor, w: Tensor, attrs: Attrs, ctx: InferContext): readonly number[] {
  if (x.rank > 5) fail(op, `input 'x' has shape ${fmtShape(x.dims)}; Tessera supports 1 to 3 spatial axes`, ctx);
  return asConv(op, () => convSchema().infer([x, w], attrs, ctx)[0]!.dims);
}

defineOp({
  name: 'ConvInteger',
  inputs: [
    { name: 'x', type: 'T1' },
    { name: 'w', type: 'T2' },
    { name: 'x_zero_point', type: 'T1', optional: true },
    { name: 'w_zero_point', type: 'T2', optional: true },
  ],
  outputs: ['y'],
  types: { T1: ['int8', 'uint8'], T2: ['int8', 'uint8'] },
  attributes: CONV_ATTRS,
  normalize: normalizeAsConv('ConvInteger', 1),
  infer(inputs, attrs, ctx): OutputSpec[] {
    const op = 'ConvInteger';
    const x = inputs[0]!;
    const w = inputs[1]!;
    const dims = convIntegerCheck(op, x, w, attrs, ctx);
    const xz = inputs[2];
    if (xz && xz.size !== 1) fail(op, `x_zero_point has shape ${fmtShape(xz.dims)}; expected a scalar (per-tensor)`, ctx);
    zpCheck(op, inputs[3], 'w_zero_point', w.dims[0]!, 'output channels', ctx);
    return [{ type: 'int32', dims }];
  },
});

defineOp({
  name: 'QLinearConv',
  inputs: [
    { name: 'x', type: 'T1' },
    { name: 'x_scale', type: 'TS' },
    { name: 'x_zero_point', type: 'T1' },
    { name: 'w', type: 'T2' },
    { name: 'w_scale', type: 'TS' },
    { name: 'w_zero_point', type: 'T2' },
    { name: 'y_scale', type: 'TS' },
    { name: 'y_zero_point', type: 'T3' },
    { name: 'B', type: 'T4', optional: true },
  ],
  outputs: ['y'],
  types: { T1: ['int8', 'uint8'], T2: ['int8', 'uint8'], T3: ['int8', 'uint8'], T4: ['int32'], TS: ['float32'] },
  attributes: CONV_ATTRS,
  normalize: normalizeAsConv('QLinearConv', 3),
  infer(inputs, attrs, ctx): OutputSpec[] {
    const op = 'QLinearConv';
    const x = inputs[0]!;
    const w = inputs[3]!;
    const dims = convIntegerCheck(op, x, w, attrs, ctx);
    const m = w.dims[0]!;
    const xs = req(op, inputs, 1, 'x_scale', ctx);
    const xz = req(op, inputs, 2, 'x_zero_point', ctx);
    if (xs.size !== 1 || xz.size !== 1) fail(op, `x_scale ${fmtShape(xs.dims)} and x_zero_point ${fmtShape(xz.dims)} must be scalars`, ctx);
    qparamCheck(op, req(op, inputs, 4, 'w_scale', ctx), req(op, inputs, 5, 'w_zero_point', ctx), ['w_scale', 'w_zero_point'], m, 'output channel', ctx);
    const ys = req(op, inputs, 6, 'y_scale', ctx);
    const yz = req(op, inputs, 7, 'y_zero_point', ctx);
    if (ys.size !== 1 || yz.size !== 1) fail(op, `y_scale ${fmtShape(ys.dims)} and y_zero_point ${fmtShape(yz.dims)} must be scalars`, ctx);
    const b = inputs[8];
    if (b && (b.rank !== 1 || b.dims[0] !== m)) fail(op, `input 'B' has shape ${fmtShape(b.dims)}; expected [${m}] (one int32 bias per output channel)`, ctx);
    return [{ type: yz.type, dims }];
  },
});

/** Options of convInteger / qlinearConv: Conv's window attributes. */
export interface QuantConvOptions {
  strides?: number[];
  pads?: number[];
  dilations?: number[];
  group?: number;
  autoPad?: 'NOTSET' | 'SAME_UPPER' | 'SAME_LOWER' | 'VALID';
}

function convAttrs(o: QuantConvOptions): Record<string, AttrValue | undefined> {
  return { strides: o.strides, pads: o.pads, dilations: o.dilations, group: o.group, auto_pad: o.autoPad };
}

/** int32 convolution of int8/uint8 tensors after subtracting zero points (w's per output channel allowed). */
export function convInteger(x: Tensor, w: Tensor, xZeroPoint?: Tensor, wZeroPoint?: Tensor, options: QuantConvOptions = {}): Tensor {
  return runOp1('ConvInteger', [x, w, xZeroPoint, wZeroPoint], convAttrs(options));
}

/** Quantized convolution with requantized output (x, w, y each with scale and zero point; optional int32 bias). */
export function qlinearConv(
  x: Tensor,
  xScale: Tensor,
  xZeroPoint: Tensor,
  w: Tensor,
  wScale: Tensor,
  wZeroPoint: Tensor,
  yScale: Tensor,
  yZeroPoint: Tensor,
  bias?: Tensor,
  options: QuantConvOptions = {},
): Tensor {
  return runOp1('QLinearConv', [x, xScale, xZeroPoint, w, wScale, wZeroPoint, yScale, yZeroPoint, bias], convAttrs(options));
}
