/**
 * Resize (opsets 10, 11, 13, 18, 19) and Upsample (opsets 7 and 9): schemas, the opset-form normalisation
 * and the eager `resize` function. The loops live in src/kernels/cpu/resize.ts.
 *
 * Every opset form is turned into one canonical call that the kernel reads:
 *   inputs: [X] only.
 *   attrs:  mode ('nearest' | 'linear' | 'cubic'), coordinate_transformation_mode, nearest_mode,
 *           cubic_coeff_a, exclude_outside, extrapolation_value, antialias, and three resolved lists with
 *           one entry per axis of X (axes not resized get scale 1, roi [0, 1], size = input size):
 *           resolved_scales (floats: the scale the coordinate transform divides by),
 *           resolved_roi (floats: [start_0..start_r-1, end_0..end_r-1]),
 *           resolved_widths (floats: the spec's output_width, which the coordinate transforms of
 *             align_corners, tf_crop_and_resize and half_pixel_symmetric read: scale * in when the size
 *             came from a scale (fractional, e.g. 2.4), the size itself under 'stretch' sizes),
 *           resolved_sizes (ints: the output dims).
 *         Scales, widths and roi are float32 values (Math.fround): ONNX's scales and roi are float tensors
 *         and onnxruntime computes the coordinate transforms in float (see src/kernels/cpu/resize.ts).
 * The resolved_* names are not ONNX attributes and are not declared, so callers cannot pass them.
 *
 * How the forms map:
 * - scales given: out = floor(in * scale) per axis; the coordinate transform uses that scale.
 * - sizes given ('stretch'): out = sizes, scale = out / in. 'not_larger' / 'not_smaller' (opset 18):
 *   one common scale = min / max of sizes[i] / in over the listed axes, out = round_half_up(scale * in).
 * - empty tensors stand for absent scales / sizes / roi (the opset 11-13 placeholder idiom).
 * - Resize-10 and Upsample (7: scales attribute, 9: scales input): mode nearest or linear, transform
 *   'asymmetric'; nearest picks floor(x) when all resized axes upsample and ceil(x) when they downsample
 *   (what onnxruntime does for these opsets; Upsample only allows scales >= 1, where both agree with ONNX's
 *   repeat semantics).
 */
import type { AttrValue, Attrs, OutputSpec } from '../kernels/registry.js';
import type { DataType } from '../tensor/dtype.js';
import { fmtShape, sizeOf } from '../tensor/shape.js';
import { fromNumbers, Tensor } from '../tensor/tensor.js';
import { runOp1 } from './dispatch.js';
import { ALL_TYPES, defineOp, fail, FLOAT_TYPES, req, type InferContext, type Normalized } from './schema.js';

const MODES = ['nearest', 'linear', 'cubic'] as const;
const COORDINATE_MODES = [
  'half_pixel',
  'half_pixel_symmetric',
  'pytorch_half_pixel',
  'align_corners',
  'asymmetric',
  'tf_crop_and_resize',
  'tf_half_pixel_for_nn',
] as const;
const NEAREST_MODES = ['round_prefer_floor', 'round_prefer_ceil', 'floor', 'ceil'] as const;
const ASPECT_POLICIES = ['stretch', 'not_larger', 'not_smaller'] as const;

/** Interpolation mode of Resize. */
export type ResizeMode = (typeof MODES)[number];
/** How an output coordinate maps back to an input coordinate. */
export type CoordinateTransformationMode = (typeof COORDINATE_MODES)[number];
/** How nearest mode rounds a fractional input coordinate. */
export type NearestMode = (typeof NEAREST_MODES)[number];
/** How `sizes` is interpreted with respect to the input's aspect ratio (opset 18). */
export type KeepAspectRatioPolicy = (typeof ASPECT_POLICIES)[number];

function oneOf<T extends string>(op: string, name: string, v: AttrValue | undefined, allowed: readonly T[], ctx: InferContext): T {
  if (!allowed.includes(v as T)) fail(op, `attribute '${name}' is ${JSON.stringify(v)}; expected one of ${allowed.join(', ')}`, ctx);
  return v as T;
}

/** Values of a float tensor (float16/32/64) as numbers, or fail naming the input. */
function floatValues(op: string, name: string, t: Tensor, ctx: InferContext): number[] {
  if (!FLOAT_TYPES.includes(t.type)) fail(op, `input '${name}' has type ${t.type}; expected float32 (or float16/float64)`, ctx);
  if (t.rank !== 1) fail(op, `input '${name}' has shape ${fmtShape(t.dims)}; expected a 1-D tensor`, ctx);
  return Array.from(t.numbers());
}

/** Values of an int64 (or int32) 1-D tensor, or fail naming the input. */
function intValuesOf(op: string, name: string, t: Tensor, ctx: InferContext): number[] {
  if (t.type !== 'int64' && t.type !== 'int32') fail(op, `input '${name}' has type ${t.type}; expected int64`, ctx);
  if (t.rank !== 1) fail(op, `input '${name}' has shape ${fmtShape(t.dims)}; expected a 1-D tensor`, ctx);
  return Array.from(t.data as ArrayLike<number | bigint>, (v) => {
    const n = Number(v);
    return n > Number.MAX_SAFE_INTEGER ? Number.MAX_SAFE_INTEGER : n < -Number.MAX_SAFE_INTEGER ? -Number.MAX_SAFE_INTEGER : n;
  });
}

/** An input that is absent or an empty placeholder tensor counts as not given. */
function given(t: Tensor | undefined): Tensor | undefined {
  return t && t.size > 0 ? t : undefined;
}

interface Resolved {
  scales: number[];
  roi: number[];
  widths: number[];
  sizes: number[];
}

/** Turn scales-or-sizes (listed for `axes`) into full-rank scales, roi and output dims. */
function resolveGeometry(
  op: string,
  x: Tensor,
  axes: readonly number[],
  scalesList: readonly number[] | undefined,
  sizesList: readonly number[] | undefined,
  roiList: readonly number[] | undefined,
  policy: KeepAspectRatioPolicy,
  ctx: InferContext,
): Resolved {
  const rank = x.rank;
  const n = axes.length;
  const scales = new Array<number>(rank).fill(1);
  const sizes = [...x.dims];
  const widths = [...x.dims];
  const roi = [...new Array<number>(rank).fill(0), ...new Array<number>(rank).fill(1)];
  const what = n === rank ? `the rank of 'X' ${fmtShape(x.dims)}` : `the length of 'axes' [${axes.join(', ')}]`;
  if (scalesList && sizesList) fail(op, `'scales' and 'sizes' are both given; give exactly one (use an empty name for the other)`, ctx);
  if (!scalesList && !sizesList) fail(op, `neither 'scales' nor 'sizes' is given; exactly one is required`, ctx);
  if (roiList) {
    if (roiList.length !== 2 * n) fail(op, `input 'roi' has ${roiList.length} values; expected ${2 * n} (2 x ${what})`, ctx);
    axes.forEach((d, i) => {
      roi[d] = Math.fround(roiList[i]!);
      roi[rank + d] = Math.fround(roiList[n + i]!);
    });
  }
  if (scalesList) {
    if (scalesList.length !== n) fail(op, `input 'scales' has ${scalesList.length} values; expected ${n} (${what})`, ctx);
    axes.forEach((d, i) => {
      const s = scalesList[i]!;
      if (!(s > 0) || !Number.isFinite(s)) fail(op, `scale ${s} for axis ${d} must be a positive finite number`, ctx);
      const scale = Math.fround(s);
      if (!(scale > 0) || !Number.isFinite(scale)) fail(op, `scale ${s} for axis ${d} is outside the float32 range (scales are float)`, ctx);
      scales[d] = scale;
      sizes[d] = Math.floor(scale * x.dims[d]!);
      widths[d] = Math.fround(scale * x.dims[d]!);
    });
  } else {
    const list = sizesList!;
    if (list.length !== n) fail(op, `input 'sizes' has ${list.length} values; expected ${n} (${what})`, ctx);
    axes.forEach((d, i) => {
      const s = list[i]!;
      if (s < 0) fail(op, `size ${s} for axis ${d} must be non-negative`, ctx);
      if (x.dims[d] === 0 && s !== 0) fail(op, `cannot resize axis ${d} of 'X' ${fmtShape(x.dims)} from 0 to ${s} elements`, ctx);
    });
    if (policy === 'stretch') {
      axes.forEach((d, i) => {
        sizes[d] = list[i]!;
        widths[d] = list[i]!;
        scales[d] = x.dims[d] === 0 ? 1 : Math.fround(list[i]! / x.dims[d]!);
      });
    } else {
      const ratios = axes.map((d, i) => (x.dims[d] === 0 ? 1 : list[i]! / x.dims[d]!));
      const common = policy === 'not_larger' ? Math.min(...ratios) : Math.max(...ratios);
      const scale = Math.fround(common);
      for (const d of axes) {
        scales[d] = scale;
        sizes[d] = Math.floor(common * x.dims[d]! + 0.5);
        widths[d] = Math.fround(scale * x.dims[d]!);
      }
    }
    axes.forEach((d) => {
      if (sizes[d]! > 0 && !(scales[d]! > 0)) fail(op, `size 0 on axis ${d} with keep_aspect_ratio_policy '${policy}' leaves no scale to resize by`, ctx);
    });
  }
  sizeOf(sizes, `${op} output`);
  return { scales, roi, widths, sizes };
}

function canonical(attrs: Record<string, AttrValue>, extra: Record<string, AttrValue>, r: Resolved): Record<string, AttrValue> {
  const out = Object.create(null) as Record<string, AttrValue>;
  for (const k of Object.keys(attrs)) if (k !== 'axes' && k !== 'keep_aspect_ratio_policy' && k !== 'scales') out[k] = attrs[k]!;
  Object.assign(out, extra);
  out.resolved_scales = Object.freeze(r.scales);
  out.resolved_roi = Object.freeze(r.roi);
  out.resolved_widths = Object.freeze(r.widths);
  out.resolved_sizes = Object.freeze(r.sizes);
  return out;
}

/** Canonical attrs for the opset 7-10 forms: asymmetric transform; nearest rounds down when upsampling. */
function legacyAttrs(r: Resolved): Record<string, AttrValue> {
  const down = r.scales.some((s) => s < 1);
  return {
    coordinate_transformation_mode: 'asymmetric',
    nearest_mode: down ? 'ceil' : 'floor',
    cubic_coeff_a: -0.75,
    exclude_outside: 0,
    extrapolation_value: 0,
    antialias: 0,
  };
}

function normalizeResize(inputs: (Tensor | undefined)[], attrs: Record<string, AttrValue>, ctx: InferContext): Normalized {
  const op = 'Resize';
  const x = req(op, inputs, 0, 'X', ctx);
  if (x.rank < 1) fail(op, `input 'X' has shape ${fmtShape(x.dims)} (rank 0); expected rank >= 1`, ctx);
  if (ctx.opset < 11) {
    if (inputs.length > 2) fail(op, `got ${inputs.length} inputs; Resize-10 takes (X, scales)`, ctx);
    const scalesT = req(op, inputs, 1, 'scales', ctx);
    const axes = [...x.dims.keys()];
    const r = resolveGeometry(op, x, axes, floatValues(op, 'scales', scalesT, ctx), undefined, undefined, 'stretch', ctx);
    return { inputs: [x], attrs: canonical(attrs, legacyAttrs(r), r) };
  }
  if (inputs.length > 4) fail(op, `got ${inputs.length} inputs; expected at most 4 (X, roi, scales, sizes)`, ctx);
  let axes: number[] = [...x.dims.keys()];
  if (attrs.axes !== undefined) {
    const list = attrs.axes as readonly number[];
    axes = list.map((a) => {
      if (a < -x.rank || a >= x.rank) fail(op, `attribute 'axes' [${list.join(', ')}] has axis ${a} out of range for 'X' ${fmtShape(x.dims)}`, ctx);
      return a < 0 ? a + x.rank : a;
    });
    if (new Set(axes).size !== axes.length) fail(op, `attribute 'axes' [${list.join(', ')}] repeats an axis`, ctx);
  }
  const roiT = given(inputs[1]);
  const scalesT = given(inputs[2]);
  const sizesT = given(inputs[3]);
  const policy = oneOf(op, 'keep_aspect_ratio_policy', attrs.keep_aspect_ratio_policy, ASPECT_POLICIES, ctx);
  const r = resolveGeometry(
    op,
    x,
    axes,
    scalesT && floatValues(op, 'scales', scalesT, ctx),
    sizesT && intValuesOf(op, 'sizes', sizesT, ctx),
    roiT && floatValues(op, 'roi', roiT, ctx),
    policy,
    ctx,
  );
  return { inputs: [x], attrs: canonical(attrs, {}, r) };
}

function inferResize(op: string) {
  return (inputs: readonly (Tensor | undefined)[], attrs: Attrs, ctx: InferContext): OutputSpec[] => {
    const x = req(op, inputs, 0, 'X', ctx);
    const mode = oneOf(op, 'mode', attrs.mode, ctx.opset < 11 ? MODES.slice(0, 2) : MODES, ctx);
    oneOf(op, 'coordinate_transformation_mode', attrs.coordinate_transformation_mode, COORDINATE_MODES, ctx);
    oneOf(op, 'nearest_mode', attrs.nearest_mode, NEAREST_MODES, ctx);
    for (const flag of ['exclude_outside', 'antialias']) {
      if (attrs[flag] !== 0 && attrs[flag] !== 1) fail(op, `attribute '${flag}' is ${String(attrs[flag])}; expected 0 or 1`, ctx);
    }
    if (mode !== 'nearest' && x.type === 'bool') fail(op, `input 'X' has type bool; mode '${mode}' needs a numeric type (bool resizes only with mode 'nearest')`, ctx);
    return [{ type: x.type, dims: attrs.resolved_sizes as readonly number[] }];
  };
}

const RESIZE_TYPES: readonly DataType[] = ALL_TYPES;

defineOp({
  name: 'Resize',
  inputs: [
    { name: 'X', type: 'T1' },
    { name: 'roi', type: 'T2', optional: true },
    { name: 'scales', type: 'tensor(float)', optional: true },
    { name: 'sizes', type: 'tensor(int64)', optional: true },
  ],
  outputs: ['Y'],
  types: { T1: RESIZE_TYPES, T2: FLOAT_TYPES, 'tensor(float)': FLOAT_TYPES, 'tensor(int64)': ['int64', 'int32'] },
  attributes: {
    antialias: { kind: 'int', default: 0 },
    axes: { kind: 'ints' },
    coordinate_transformation_mode: { kind: 'string', default: 'half_pixel' },
    cubic_coeff_a: { kind: 'float', default: -0.75 },
    exclude_outside: { kind: 'int', default: 0 },
    extrapolation_value: { kind: 'float', default: 0 },
    keep_aspect_ratio_policy: { kind: 'string', default: 'stretch' },
    mode: { kind: 'string', default: 'nearest' },
    nearest_mode: { kind: 'string', default: 'round_prefer_floor' },
  },
  normalize: normalizeResize,
  infer: inferResize('Resize'),
});

defineOp({
  name: 'Upsample',
  inputs: [
    { name: 'X', type: 'T' },
    { name: 'scales', type: 'tensor(float)', optional: true },
  ],
  outputs: ['Y'],
  types: { T: RESIZE_TYPES, 'tensor(float)': FLOAT_TYPES },
  attributes: {
    mode: { kind: 'string', default: 'nearest' },
    scales: { kind: 'floats' },
  },
  normalize(inputs, attrs, ctx): Normalized {
    const op = 'Upsample';
    const x = req(op, inputs, 0, 'X', ctx);
    if (inputs.length > 2) fail(op, `got ${inputs.length} inputs; expected at most 2 (X, scales)`, ctx);
    const fromAttr = attrs.scales as readonly number[] | undefined;
    const fromInput = inputs[1];
    if (fromAttr && fromInput) fail(op, `scales given both as attribute (opset 7) and as input (opset 9); give one`, ctx);
    if (!fromAttr && !fromInput) fail(op, ctx.opset < 9 ? `attribute 'scales' is required` : `input 1 'scales' is required but missing`, ctx);
    const list = fromAttr ? [...fromAttr] : floatValues(op, 'scales', fromInput!, ctx);
    list.forEach((s, i) => {
      if (!(s >= 1)) fail(op, `scale ${s} for axis ${i} must be >= 1 (Upsample only enlarges)`, ctx);
    });
    const r = resolveGeometry(op, x, [...x.dims.keys()], list, undefined, undefined, 'stretch', ctx);
    return { inputs: [x], attrs: canonical(attrs, legacyAttrs(r), r) };
  },
  infer: (inputs, attrs, ctx) => inferResize('Upsample')(inputs, attrs, { ...ctx, opset: Math.min(ctx.opset, 10) }),
});

// ---------------------------------------------------------------------------------------------------------
// Eager API.

/** Options of `resize`. Give exactly one of `scales` and `sizes`, listed for `axes` (default: every axis). */
export interface ResizeOptions {
  /** Scale per listed axis (> 0); output dim = floor(input dim * scale). */
  scales?: readonly number[];
  /** Output size per listed axis (interpreted through `keepAspectRatioPolicy`). */
  sizes?: readonly number[];
  /** Axes that scales/sizes/roi refer to (negative counts from the end). */
  axes?: readonly number[];
  /** [starts..., ends...] in normalized input coordinates, used by 'tf_crop_and_resize'. */
  roi?: readonly number[];
  /** 'nearest' (default), 'linear' (N-linear) or 'cubic' (N-cubic). */
  mode?: ResizeMode;
  /** Default 'half_pixel'. */
  coordinateTransformationMode?: CoordinateTransformationMode;
  /** Rounding of nearest mode (default 'round_prefer_floor'). */
  nearestMode?: NearestMode;
  /** The cubic kernel's a (default -0.75). */
  cubicCoeffA?: number;
  /** Give taps outside the input zero weight and renormalize (default false). */
  excludeOutside?: boolean;
  /** Value for samples outside the input with 'tf_crop_and_resize' (default 0). */
  extrapolationValue?: number;
  /** Widen the linear/cubic filter by 1/scale when downscaling (default false). */
  antialias?: boolean;
  /** How `sizes` treats the aspect ratio (default 'stretch'). */
  keepAspectRatioPolicy?: KeepAspectRatioPolicy;
}

/** Resize `x` (ONNX Resize, opset 19 semantics): nearest, N-linear or N-cubic interpolation. */
export function resize(x: Tensor, opts: ResizeOptions): Tensor {
  const roi = opts.roi ? fromNumbers('float32', opts.roi, [opts.roi.length]) : undefined;
  const scales = opts.scales ? fromNumbers('float32', opts.scales, [opts.scales.length]) : undefined;
  const sizes = opts.sizes ? fromNumbers('int64', opts.sizes, [opts.sizes.length]) : undefined;
  try {
    return runOp1('Resize', [x, roi, scales, sizes], {
      axes: opts.axes,
      mode: opts.mode,
      coordinate_transformation_mode: opts.coordinateTransformationMode,
      nearest_mode: opts.nearestMode,
      cubic_coeff_a: opts.cubicCoeffA,
      exclude_outside: opts.excludeOutside === undefined ? undefined : opts.excludeOutside ? 1 : 0,
      extrapolation_value: opts.extrapolationValue,
      antialias: opts.antialias === undefined ? undefined : opts.antialias ? 1 : 0,
      keep_aspect_ratio_policy: opts.keepAspectRatioPolicy,
    });
  } finally {
    roi?.dispose();
    scales?.dispose();
    sizes?.dispose();
  }
}
