/**
 * Spatial sampling and detection operators.
 *
 * - GridSample (opsets 16, 20, 22): sample X [N, C, D1..Dr] at normalised grid positions [N, O1..Or, r]
 *   (innermost dim first) with linear / nearest / cubic interpolation and zeros / border / reflection padding.
 *   Opset 16 spells the modes bilinear / bicubic and takes 4-D X only; normalize maps them to linear / cubic.
 * - AffineGrid (opset 20): the sampling grid [N, H, W, 2] (or [N, D, H, W, 3]) of affine matrices theta.
 * - Col2Im (opset 18): sum column blocks [N, C*prod(block), L] back into an image [N, C, ...image_shape].
 * - NonMaxSuppression (opsets 10, 11): greedy per (batch, class) selection by score, suppressing boxes whose
 *   IoU with a selected one is strictly above iou_threshold; output [selected, 3] of (batch, class, box).
 * - MaxUnpool (opsets 9, 11, 22): scatter X into a zero tensor at the flat indices I.
 * - DeformConv (opsets 19, 22), 2-D: convolution whose taps sample X bilinearly (zero outside) at
 *   position + offset, optionally scaled by a mask; offsets are shared by offset_group channel groups.
 * - RoiAlign (opsets 10, 16, 22): per RoI and output bin, bilinear samples on a grid (sampling_ratio, or
 *   adaptive), averaged or maxed as onnxruntime does ('max' takes the largest weighted corner value); opset 10
 *   has no coordinate_transformation_mode and behaves as 'output_half_pixel'.
 *
 * Kernels: src/kernels/cpu/spatial.ts.
 */
import type { OutputSpec } from '../kernels/registry.js';
import { fmtShape, sizeOf } from '../tensor/shape.js';
import { UnsupportedFeatureError } from '../tensor/errors.js';
import type { Tensor } from '../tensor/tensor.js';
import { runOp1 } from './dispatch.js';
import { int64Tensor, withAttrs } from './reduce-axes.js';
import { defineOp, expectMinRank, expectRank, fail, FLOAT_TYPES, intValues, ints, NUMERIC_TYPES, req } from './schema.js';

// ---------------------------------------------------------------------------------------------------------
// GridSample

const GRID_MODES: Readonly<Record<string, string>> = { linear: 'linear', bilinear: 'linear', nearest: 'nearest', cubic: 'cubic', bicubic: 'cubic' };

defineOp({
  name: 'GridSample',
  inputs: [
    { name: 'X', type: 'T1' },
    { name: 'grid', type: 'T2' },
  ],
  outputs: ['Y'],
  types: { T1: NUMERIC_TYPES, T2: FLOAT_TYPES },
  attributes: {
    align_corners: { kind: 'int', default: 0 },
    mode: { kind: 'string', default: 'linear' },
    padding_mode: { kind: 'string', default: 'zeros' },
  },
  normalize(inputs, attrs, ctx) {
    const given = attrs.mode as string;
    const mode = GRID_MODES[given];
    const oldName = given === 'bilinear' || given === 'bicubic';
    if (!mode || (oldName && ctx.opset >= 20)) fail('GridSample', `attribute 'mode' is '${given}'; expected ${ctx.opset >= 20 ? "'linear', 'nearest' or 'cubic'" : "'bilinear', 'nearest' or 'bicubic'"} at opset ${ctx.opset}`, ctx);
    return { inputs, attrs: withAttrs(attrs, { mode }) };
  },
  infer(inputs, attrs, ctx): OutputSpec[] {
    const [x, grid] = inputs as [Tensor, Tensor];
    if (ctx.opset < 20) expectRank('GridSample', 'X', x, 4, ctx);
    else expectMinRank('GridSample', 'X', x, 3, ctx);
    if (ctx.opset < 20 && !FLOAT_TYPES.includes(x.type)) fail('GridSample', `input 'X' has type ${x.type}; opset ${ctx.opset} takes float types only`, ctx);
    const r = x.rank - 2;
    if (grid.rank !== x.rank || grid.dims[0] !== x.dims[0] || grid.dims[x.rank - 1] !== r) {
      fail('GridSample', `input 'grid' has shape ${fmtShape(grid.dims)}; expected [${x.dims[0]}, ${Array(r).fill('O').join(', ')}, ${r}] for 'X' ${fmtShape(x.dims)}`, ctx);
    }
    const pad = attrs.padding_mode as string;
    if (pad !== 'zeros' && pad !== 'border' && pad !== 'reflection') fail('GridSample', `attribute 'padding_mode' is '${pad}'; expected 'zeros', 'border' or 'reflection'`, ctx);
    if (attrs.align_corners !== 0 && attrs.align_corners !== 1) fail('GridSample', `attribute 'align_corners' is ${String(attrs.align_corners)}; expected 0 or 1`, ctx);
    return [{ type: x.type, dims: [x.dims[0]!, x.dims[1]!, ...grid.dims.slice(1, -1)] }];
  },
});

// ---------------------------------------------------------------------------------------------------------
// AffineGrid

defineOp({
  name: 'AffineGrid',
  inputs: [
    { name: 'theta', type: 'T1' },
    { name: 'size', type: 'T2' },
  ],
  outputs: ['grid'],
  types: { T1: FLOAT_TYPES, T2: ['int64'] },
  attributes: { align_corners: { kind: 'int', default: 0 } },
  infer(inputs, _attrs, ctx): OutputSpec[] {
    const [theta, sizeT] = inputs as [Tensor, Tensor];
    const size = intValues('AffineGrid', 'size', sizeT, ctx);
    if (size.length !== 4 && size.length !== 5) fail('AffineGrid', `input 'size' has ${size.length} values; expected [N, C, H, W] or [N, C, D, H, W]`, ctx);
    if (size.some((d) => d < 0)) fail('AffineGrid', `input 'size' is [${size.join(', ')}]; sizes must be non-negative`, ctx);
    const r = size.length - 2;
    const want = [size[0]!, r, r + 1];
    if (theta.rank !== 3 || theta.dims.some((d, i) => d !== want[i])) fail('AffineGrid', `input 'theta' has shape ${fmtShape(theta.dims)}; expected ${fmtShape(want)} for size [${size.join(', ')}]`, ctx);
    return [{ type: theta.type, dims: [size[0]!, ...size.slice(2), r] }];
  },
});

// ---------------------------------------------------------------------------------------------------------
// Col2Im

/** Number of block positions along each spatial dim of a Col2Im call. */
export function col2imBlockCounts(image: readonly number[], block: readonly number[], dilations: readonly number[], pads: readonly number[], strides: readonly number[]): number[] {
  const r = image.length;
  return image.map((d, i) => Math.floor((d + pads[i]! + pads[i + r]! - (dilations[i]! * (block[i]! - 1) + 1)) / strides[i]!) + 1);
}

defineOp({
  name: 'Col2Im',
  inputs: [
    { name: 'input', type: 'T' },
    { name: 'image_shape', type: 'I' },
    { name: 'block_shape', type: 'I' },
  ],
  outputs: ['output'],
  types: { T: NUMERIC_TYPES, I: ['int64'] },
  attributes: { dilations: { kind: 'ints' }, pads: { kind: 'ints' }, strides: { kind: 'ints' } },
  normalize(inputs, attrs, ctx) {
    const image = intValues('Col2Im', 'image_shape', req('Col2Im', inputs, 1, 'image_shape', ctx), ctx);
    const block = intValues('Col2Im', 'block_shape', req('Col2Im', inputs, 2, 'block_shape', ctx), ctx);
    const r = image.length;
    if (r < 1 || block.length !== r) fail('Col2Im', `inputs 'image_shape' [${image.join(', ')}] and 'block_shape' [${block.join(', ')}] must have the same non-zero length`, ctx);
    const fill = (name: string, n: number, v: number): number[] => {
      const given = ints(attrs, name);
      if (attrs[name] === undefined) return new Array<number>(n).fill(v);
      if (given.length !== n) fail('Col2Im', `attribute '${name}' has ${given.length} values; expected ${n} for ${r} spatial dims`, ctx);
      return given;
    };
    return {
      inputs,
      attrs: withAttrs(attrs, { image_shape: image, block_shape: block, dilations: fill('dilations', r, 1), pads: fill('pads', 2 * r, 0), strides: fill('strides', r, 1) }),
    };
  },
  infer(inputs, attrs, ctx): OutputSpec[] {
    const x = inputs[0]!;
    const image = attrs.image_shape as readonly number[];
    const block = attrs.block_shape as readonly number[];
    const dil = attrs.dilations as readonly number[];
    const pads = attrs.pads as readonly number[];
    const strides = attrs.strides as readonly number[];
    expectRank('Col2Im', 'input', x, 3, ctx);
    if (image.some((d) => d < 0) || block.some((d) => d < 1)) fail('Col2Im', `image_shape [${image.join(', ')}] must be >= 0 and block_shape [${block.join(', ')}] >= 1`, ctx);
    if (dil.some((d) => d < 1) || strides.some((s) => s < 1) || pads.some((p) => p < 0)) fail('Col2Im', `dilations and strides must be positive and pads non-negative (got dilations [${dil.join(', ')}], strides [${strides.join(', ')}], pads [${pads.join(', ')}])`, ctx);
    const blockSize = sizeOf(block);
    if (x.dims[1]! % blockSize !== 0) fail('Col2Im', `input 'input' has shape ${fmtShape(x.dims)}; dim 1 (${x.dims[1]}) must be a multiple of the block size ${blockSize}`, ctx);
    const counts = col2imBlockCounts(image, block, dil, pads, strides);
    const blocks = counts.reduce((p, c) => p * Math.max(c, 0), 1);
    if (counts.some((c) => c < 1) || x.dims[2] !== blocks) fail('Col2Im', `input 'input' has shape ${fmtShape(x.dims)}; dim 2 must be ${blocks}, the number of blocks (${counts.join(' x ')}) of image_shape [${image.join(', ')}]`, ctx);
    return [{ type: x.type, dims: [x.dims[0]!, x.dims[1]! / blockSize, ...image] }];
  },
});

// ---------------------------------------------------------------------------------------------------------
// NonMaxSuppression

/** Corner extents [yMin, xMin, yMax, xMax] of box `b` in `boxes` (center format when `center` is set). */
export function boxExtents(boxes: ArrayLike<number>, b: number, center: boolean): [number, number, number, number] {
  const o = 4 * b;
  if (center) {
    const [cx, cy, w, h] = [boxes[o]!, boxes[o + 1]!, boxes[o + 2]!, boxes[o + 3]!];
    return [cy - h / 2, cx - w / 2, cy + h / 2, cx + w / 2];
  }
  const [y1, x1, y2, x2] = [boxes[o]!, boxes[o + 1]!, boxes[o + 2]!, boxes[o + 3]!];
  return [Math.min(y1, y2), Math.min(x1, x2), Math.max(y1, y2), Math.max(x1, x2)];
}

/** True when two boxes' IoU is strictly above `threshold` (empty or degenerate overlaps never suppress). */
export function iouAbove(a: readonly number[], b: readonly number[], threshold: number): boolean {
  const ih = Math.min(a[2]!, b[2]!) - Math.max(a[0]!, b[0]!);
  const iw = Math.min(a[3]!, b[3]!) - Math.max(a[1]!, b[1]!);
  if (ih <= 0 || iw <= 0) return false;
  const inter = ih * iw;
  const areaA = (a[2]! - a[0]!) * (a[3]! - a[1]!);
  const areaB = (b[2]! - b[0]!) * (b[3]! - b[1]!);
  const union = areaA + areaB - inter;
  if (areaA <= 0 || areaB <= 0 || union <= 0) return false;
  return inter / union > threshold;
}

/** Greedy NMS of one (batch, class): indices of the kept boxes in selection order. */
export function selectBoxes(scores: ArrayLike<number>, extents: readonly (readonly number[])[], maxOut: number, iou: number, scoreThreshold: number | undefined): number[] {
  const candidates: number[] = [];
  for (let i = 0; i < scores.length; i++) if (scoreThreshold === undefined || scores[i]! > scoreThreshold) candidates.push(i);
  // highest score first; equal scores keep the lower box index first
  candidates.sort((p, q) => scores[q]! - scores[p]! || p - q);
  const kept: number[] = [];
  for (const c of candidates) {
    if (kept.length >= maxOut) break;
    if (!kept.some((k) => iouAbove(extents[c]!, extents[k]!, iou))) kept.push(c);
  }
  return kept;
}

/** Scalar thresholds of a NonMaxSuppression call. */
export interface NmsParams {
  maxOut: number;
  iou: number;
  scoreThreshold: number | undefined;
}

/** The scalar inputs of a NonMaxSuppression call (absent or empty inputs take the defaults). */
export function nmsParams(inputs: readonly (Tensor | undefined)[]): NmsParams {
  const [, , maxT, iouT, scoreT] = inputs;
  const maxOut = maxT && maxT.size > 0 ? Math.max(0, Number((maxT.data as BigInt64Array)[0]!)) : 0;
  const iou = iouT && iouT.size > 0 ? iouT.numbers()[0]! : 0;
  const scoreThreshold = scoreT && scoreT.size > 0 ? scoreT.numbers()[0]! : undefined;
  return { maxOut, iou, scoreThreshold };
}

defineOp({
  name: 'NonMaxSuppression',
  inputs: [
    { name: 'boxes', type: 'T' },
    { name: 'scores', type: 'T' },
    { name: 'max_output_boxes_per_class', type: 'I', optional: true },
    { name: 'iou_threshold', type: 'T', optional: true },
    { name: 'score_threshold', type: 'T', optional: true },
  ],
  outputs: ['selected_indices'],
  types: { T: ['float32'], I: ['int64'] },
  attributes: { center_point_box: { kind: 'int', default: 0 } },
  infer(inputs, attrs, ctx): OutputSpec[] {
    const op = 'NonMaxSuppression';
    const [boxes, scores] = inputs as [Tensor, Tensor];
    if (boxes.rank !== 3 || boxes.dims[2] !== 4) fail(op, `input 'boxes' has shape ${fmtShape(boxes.dims)}; expected [num_batches, num_boxes, 4]`, ctx);
    if (scores.rank !== 3 || scores.dims[0] !== boxes.dims[0] || scores.dims[2] !== boxes.dims[1]) {
      fail(op, `input 'scores' has shape ${fmtShape(scores.dims)}; expected [${boxes.dims[0]}, num_classes, ${boxes.dims[1]}] to match 'boxes' ${fmtShape(boxes.dims)}`, ctx);
    }
    ['max_output_boxes_per_class', 'iou_threshold', 'score_threshold'].forEach((name, k) => {
      const t = inputs[k + 2];
      if (t && t.size > 1) fail(op, `input '${name}' has shape ${fmtShape(t.dims)}; expected a scalar`, ctx);
    });
    const center = attrs.center_point_box as number;
    if (center !== 0 && center !== 1) fail(op, `attribute 'center_point_box' is ${center}; expected 0 or 1`, ctx);
    const p = nmsParams(inputs);
    if (p.iou < 0 || p.iou > 1) fail(op, `input 'iou_threshold' is ${p.iou}; expected a value in [0, 1]`, ctx);
    // the output length depends on the data: run the selection once here to count it
    const [batches, classes, count] = scores.dims as [number, number, number];
    const bs = boxes.data as Float32Array;
    const ss = scores.data as Float32Array;
    let selected = 0;
    for (let b = 0; b < batches; b++) {
      const ext = Array.from({ length: count }, (_, i) => boxExtents(bs.subarray(b * count * 4, (b + 1) * count * 4), i, center === 1));
      for (let c = 0; c < classes; c++) selected += selectBoxes(ss.subarray((b * classes + c) * count, (b * classes + c + 1) * count), ext, p.maxOut, p.iou, p.scoreThreshold).length;
    }
    return [{ type: 'int64', dims: [selected, 3] }];
  },
});

// ---------------------------------------------------------------------------------------------------------
// MaxUnpool

defineOp({
  name: 'MaxUnpool',
  inputs: [
    { name: 'X', type: 'T1' },
    { name: 'I', type: 'T2' },
    { name: 'output_shape', type: 'T2', optional: true },
  ],
  outputs: ['output'],
  types: { T1: FLOAT_TYPES, T2: ['int64'] },
  attributes: { kernel_shape: { kind: 'ints', required: true }, pads: { kind: 'ints' }, strides: { kind: 'ints' } },
  infer(inputs, attrs, ctx): OutputSpec[] {
    const op = 'MaxUnpool';
    const [x, idx, shapeT] = inputs as [Tensor, Tensor, Tensor | undefined];
    expectMinRank(op, 'X', x, 3, ctx);
    const r = x.rank - 2;
    const kernel = ints(attrs, 'kernel_shape');
    const pads = attrs.pads === undefined ? new Array<number>(2 * r).fill(0) : ints(attrs, 'pads');
    const strides = attrs.strides === undefined ? new Array<number>(r).fill(1) : ints(attrs, 'strides');
    if (kernel.length !== r || pads.length !== 2 * r || strides.length !== r) {
      fail(op, `kernel_shape [${kernel.join(', ')}], strides [${strides.join(', ')}] and pads [${pads.join(', ')}] must have ${r}, ${r} and ${2 * r} values for 'X' ${fmtShape(x.dims)}`, ctx);
    }
    if (idx.rank !== x.rank || idx.dims.some((d, i) => d !== x.dims[i])) fail(op, `input 'I' has shape ${fmtShape(idx.dims)}; expected the shape of 'X' ${fmtShape(x.dims)}`, ctx);
    const dims = [x.dims[0]!, x.dims[1]!, ...x.dims.slice(2).map((d, i) => (d - 1) * strides[i]! - pads[i]! - pads[i + r]! + kernel[i]!)];
    if (shapeT) {
      const given = intValues(op, 'output_shape', shapeT, ctx);
      if (given.length !== x.rank || given[0] !== x.dims[0] || given[1] !== x.dims[1] || given.slice(2).some((d, i) => d < dims[i + 2]!)) {
        fail(op, `input 'output_shape' is [${given.join(', ')}]; expected ${x.rank} values starting ${x.dims[0]}, ${x.dims[1]} and at least the default ${fmtShape(dims)}`, ctx);
      }
    }
    if (dims.some((d) => d < 0)) fail(op, `the output shape ${fmtShape(dims)} of 'X' ${fmtShape(x.dims)} is negative; check kernel_shape, strides and pads`, ctx);
    // indices address the default-shaped result, which a larger output_shape holds in its leading corner
    const total = sizeOf(dims);
    const iv = idx.data as BigInt64Array;
    for (let i = 0; i < iv.length; i++) {
      if (iv[i]! < 0n || iv[i]! >= BigInt(total)) fail(op, `input 'I' holds ${iv[i]} at flat index ${i}; expected [0, ${total}) for output shape ${fmtShape(dims)}`, ctx);
    }
    return [{ type: x.type, dims: shapeT ? intValues(op, 'output_shape', shapeT, ctx) : dims }];
  },
});

// ---------------------------------------------------------------------------------------------------------
// DeformConv (opsets 19, 22), 2-D

defineOp({
  name: 'DeformConv',
  inputs: [
    { name: 'X', type: 'T' },
    { name: 'W', type: 'T' },
    { name: 'offset', type: 'T' },
    { name: 'B', type: 'T', optional: true },
    { name: 'mask', type: 'T', optional: true },
  ],
  outputs: ['Y'],
  types: { T: FLOAT_TYPES },
  attributes: { dilations: { kind: 'ints' }, group: { kind: 'int', default: 1 }, kernel_shape: { kind: 'ints' }, offset_group: { kind: 'int', default: 1 }, pads: { kind: 'ints' }, strides: { kind: 'ints' } },
  normalize(inputs, attrs, ctx) {
    const x = req('DeformConv', inputs, 0, 'X', ctx);
    const w = req('DeformConv', inputs, 1, 'W', ctx);
    if (x.rank !== 4) {
      if (x.rank > 4) throw new UnsupportedFeatureError(ctx.node ? `DeformConv (node '${ctx.node}')` : 'DeformConv', `input 'X' has shape ${fmtShape(x.dims)}; Tessera implements 2-D DeformConv only`);
      fail('DeformConv', `input 'X' has shape ${fmtShape(x.dims)} (rank ${x.rank}); expected rank 4 [N, C, H, W]`, ctx);
    }
    expectRank('DeformConv', 'W', w, 4, ctx);
    const list = (name: string, n: number, v: number): number[] => {
      if (attrs[name] === undefined) return new Array<number>(n).fill(v);
      const given = ints(attrs, name);
      if (given.length !== n) fail('DeformConv', `attribute '${name}' has ${given.length} values; expected ${n}`, ctx);
      return given;
    };
    const kernel = attrs.kernel_shape === undefined ? w.dims.slice(2) : list('kernel_shape', 2, 1);
    return { inputs, attrs: withAttrs(attrs, { kernel_shape: kernel, dilations: list('dilations', 2, 1), pads: list('pads', 4, 0), strides: list('strides', 2, 1) }) };
  },
  infer(inputs, attrs, ctx): OutputSpec[] {
    const op = 'DeformConv';
    const [x, w, offset, b, mask] = inputs as [Tensor, Tensor, Tensor, Tensor?, Tensor?];
    const [n, c, h, wd] = x.dims as [number, number, number, number];
    const group = attrs.group as number;
    const og = attrs.offset_group as number;
    const [kh, kw] = attrs.kernel_shape as [number, number];
    const [dh, dw] = attrs.dilations as [number, number];
    const [sh, sw] = attrs.strides as [number, number];
    const pads = attrs.pads as readonly number[];
    if (group < 1 || og < 1 || c % group !== 0 || w.dims[0]! % group !== 0 || c % og !== 0) fail(op, `group ${group} and offset_group ${og} must divide the ${c} input channels (and group the ${w.dims[0]} output channels)`, ctx);
    if (w.dims[1] !== c / group || w.dims[2] !== kh || w.dims[3] !== kw) fail(op, `input 'W' has shape ${fmtShape(w.dims)}; expected [oC, ${c / group}, ${kh}, ${kw}]`, ctx);
    if ([dh, dw, sh, sw].some((v) => v < 1) || pads.some((p) => p < 0)) fail(op, `strides [${sh}, ${sw}] and dilations [${dh}, ${dw}] must be positive and pads [${pads.join(', ')}] non-negative`, ctx);
    const oh = Math.floor((h + pads[0]! + pads[2]! - (dh * (kh - 1) + 1)) / sh) + 1;
    const ow = Math.floor((wd + pads[1]! + pads[3]! - (dw * (kw - 1) + 1)) / sw) + 1;
    if (oh < 0 || ow < 0) fail(op, `input 'X' ${fmtShape(x.dims)} is smaller than the dilated kernel [${kh}, ${kw}]`, ctx);
    const wantOffset = [n, og * kh * kw * 2, oh, ow];
    if (offset.rank !== 4 || offset.dims.some((d, i) => d !== wantOffset[i])) fail(op, `input 'offset' has shape ${fmtShape(offset.dims)}; expected ${fmtShape(wantOffset)}`, ctx);
    const wantMask = [n, og * kh * kw, oh, ow];
    if (mask && (mask.rank !== 4 || mask.dims.some((d, i) => d !== wantMask[i]))) fail(op, `input 'mask' has shape ${fmtShape(mask.dims)}; expected ${fmtShape(wantMask)}`, ctx);
    if (b && (b.rank !== 1 || b.dims[0] !== w.dims[0])) fail(op, `input 'B' has shape ${fmtShape(b.dims)}; expected [${w.dims[0]}]`, ctx);
    return [{ type: x.type, dims: [n, w.dims[0]!, oh, ow] }];
  },
});

// ---------------------------------------------------------------------------------------------------------
// RoiAlign

defineOp({
  name: 'RoiAlign',
  inputs: [
    { name: 'X', type: 'T1' },
    { name: 'rois', type: 'T1' },
    { name: 'batch_indices', type: 'T2' },
  ],
  outputs: ['Y'],
  types: { T1: FLOAT_TYPES, T2: ['int64'] },
  attributes: {
    coordinate_transformation_mode: { kind: 'string' },
    mode: { kind: 'string', default: 'avg' },
    output_height: { kind: 'int', default: 1 },
    output_width: { kind: 'int', default: 1 },
    sampling_ratio: { kind: 'int', default: 0 },
    spatial_scale: { kind: 'float', default: 1 },
  },
  normalize(inputs, attrs, ctx) {
    // opset 10 has no coordinate_transformation_mode and behaves as 'output_half_pixel'; 16+ defaults to 'half_pixel'
    const given = attrs.coordinate_transformation_mode as string | undefined;
    if (given !== undefined && ctx.opset < 16) fail('RoiAlign', `attribute 'coordinate_transformation_mode' exists from opset 16 (opset in effect: ${ctx.opset})`, ctx);
    return { inputs, attrs: withAttrs(attrs, { coordinate_transformation_mode: given ?? (ctx.opset < 16 ? 'output_half_pixel' : 'half_pixel') }) };
  },
  infer(inputs, attrs, ctx): OutputSpec[] {
    const op = 'RoiAlign';
    const [x, rois, idx] = inputs as [Tensor, Tensor, Tensor];
    expectRank(op, 'X', x, 4, ctx);
    if (rois.rank !== 2 || rois.dims[1] !== 4) fail(op, `input 'rois' has shape ${fmtShape(rois.dims)}; expected [num_rois, 4]`, ctx);
    if (idx.rank !== 1 || idx.dims[0] !== rois.dims[0]) fail(op, `input 'batch_indices' has shape ${fmtShape(idx.dims)}; expected [${rois.dims[0]}] (one per roi)`, ctx);
    const mode = attrs.mode as string;
    const ctm = attrs.coordinate_transformation_mode as string;
    if (mode !== 'avg' && mode !== 'max') fail(op, `attribute 'mode' is '${mode}'; expected 'avg' or 'max'`, ctx);
    if (ctm !== 'half_pixel' && ctm !== 'output_half_pixel') fail(op, `attribute 'coordinate_transformation_mode' is '${ctm}'; expected 'half_pixel' or 'output_half_pixel'`, ctx);
    const oh = attrs.output_height as number;
    const ow = attrs.output_width as number;
    if (oh < 1 || ow < 1 || (attrs.sampling_ratio as number) < 0) fail(op, `output_height ${oh} and output_width ${ow} must be positive and sampling_ratio ${String(attrs.sampling_ratio)} non-negative`, ctx);
    const iv = idx.data as BigInt64Array;
    for (let i = 0; i < iv.length; i++) if (iv[i]! < 0n || iv[i]! >= BigInt(x.dims[0]!)) fail(op, `input 'batch_indices'[${i}] is ${iv[i]}; expected [0, ${x.dims[0]}) (batch of 'X' ${fmtShape(x.dims)})`, ctx);
    return [{ type: x.type, dims: [rois.dims[0]!, x.dims[1]!, oh, ow] }];
  },
});

// ---------------------------------------------------------------------------------------------------------
// Eager API

/** Sample `x` at the normalised positions of `grid`. */
export function gridSample(x: Tensor, grid: Tensor, options: { mode?: 'linear' | 'nearest' | 'cubic'; paddingMode?: 'zeros' | 'border' | 'reflection'; alignCorners?: boolean } = {}): Tensor {
  return runOp1('GridSample', [x, grid], { mode: options.mode, padding_mode: options.paddingMode, align_corners: options.alignCorners === undefined ? undefined : options.alignCorners ? 1 : 0 });
}

/** The affine sampling grid of `theta` for an output of `size` ([N, C, H, W] or [N, C, D, H, W]). */
export function affineGrid(theta: Tensor, size: readonly number[], alignCorners = false): Tensor {
  const s = int64Tensor(size);
  try {
    return runOp1('AffineGrid', [theta, s], { align_corners: alignCorners ? 1 : 0 });
  } finally {
    s.dispose();
  }
}

/** Fold column blocks back into an image of `imageShape`. */
export function col2Im(x: Tensor, imageShape: readonly number[], blockShape: readonly number[], options: { dilations?: number[]; pads?: number[]; strides?: number[] } = {}): Tensor {
  const image = int64Tensor(imageShape);
  const block = int64Tensor(blockShape);
  try {
    return runOp1('Col2Im', [x, image, block], { dilations: options.dilations, pads: options.pads, strides: options.strides });
  } finally {
    image.dispose();
    block.dispose();
  }
}

/** Greedy non-maximum suppression; returns [selected, 3] rows of (batch, class, box). */
export function nonMaxSuppression(
  boxes: Tensor,
  scores: Tensor,
  options: { maxOutputBoxesPerClass?: Tensor; iouThreshold?: Tensor; scoreThreshold?: Tensor; centerPointBox?: boolean } = {},
): Tensor {
  return runOp1('NonMaxSuppression', [boxes, scores, options.maxOutputBoxesPerClass, options.iouThreshold, options.scoreThreshold], {
    center_point_box: options.centerPointBox === undefined ? undefined : options.centerPointBox ? 1 : 0,
  });
}

/** RoI Align pooling of `x` [N, C, H, W] over `rois` [R, 4] (x1, y1, x2, y2) of images `batchIndices` [R]. */
export function roiAlign(
  x: Tensor,
  rois: Tensor,
  batchIndices: Tensor,
  options: { mode?: 'avg' | 'max'; outputHeight?: number; outputWidth?: number; samplingRatio?: number; spatialScale?: number; coordinateTransformationMode?: 'half_pixel' | 'output_half_pixel' } = {},
): Tensor {
  return runOp1('RoiAlign', [x, rois, batchIndices], {
    mode: options.mode,
    output_height: options.outputHeight,
    output_width: options.outputWidth,
    sampling_ratio: options.samplingRatio,
    spatial_scale: options.spatialScale,
    coordinate_transformation_mode: options.coordinateTransformationMode,
  });
}

/** 2-D deformable convolution: each kernel tap samples X bilinearly at its offset position (times the mask). */
export function deformConv(
  x: Tensor,
  w: Tensor,
  offset: Tensor,
  options: { bias?: Tensor; mask?: Tensor; strides?: number[]; pads?: number[]; dilations?: number[]; group?: number; offsetGroup?: number } = {},
): Tensor {
  return runOp1('DeformConv', [x, w, offset, options.bias, options.mask], { strides: options.strides, pads: options.pads, dilations: options.dilations, group: options.group, offset_group: options.offsetGroup });
}

/** Scatter `x` into zeros at the flat indices `indices` (the partial inverse of MaxPool). */
export function maxUnpool(x: Tensor, indices: Tensor, options: { kernelShape: number[]; pads?: number[]; strides?: number[]; outputShape?: Tensor }): Tensor {
  return runOp1('MaxUnpool', [x, indices, options.outputShape], { kernel_shape: options.kernelShape, pads: options.pads, strides: options.strides });
}
