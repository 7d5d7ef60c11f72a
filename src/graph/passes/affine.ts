/**
 * Rules (level 'all') that fold per-channel affine steps into convolutions and spot HardSwish written out as
 * elementwise operators. Paddle-exported networks (PP-LCNetV3 in PP-OCRv4, MobileNetV3) wrap every Conv in
 * "learnable affine blocks", y * s + b with constant s and b, and write HardSwish as x * Clip(x + 3, 0, 6) / 6:
 * eight full passes over each activation map that the rules below reduce to none or two. Results change by
 * rounding only (weights are folded in double, then stored in the weight's type).
 *
 * - ConvOutputAffineFolding: Conv -> Mul(c) or Add(c), c a constant that is a scalar or holds one value per
 *   output channel (broadcasting along axis 1 only), becomes one Conv with W'[m] = W[m] * c[m], B'[m] = B[m] * c[m]
 *   (Mul) or B'[m] = B[m] + c[m] (Add). Only when the Conv's output feeds nothing but that node.
 * - ConvInputAffineFolding (Conv and com.tessera FusedConv): Mul(x, c) or Add(x, c) -> Conv without padding
 *   (explicit pads all 0, auto_pad NOTSET or VALID), c a scalar or one value per input channel, becomes a Conv
 *   of x with W'[m, j] = W[m, j] * c[ch] (Mul) or B'[m] = B[m] + sum over (j, kernel) of W[m, j, k] * c[ch] (Add),
 *   ch = the input channel that W[m, j] reads. Without padding every window element is a real input element,
 *   so the fold is exact up to rounding; with padding the padded zeros would become c and it is not applied.
 * - HardSwishFusion: Div(Mul(x, Clip(Add(x, 3), 0, 6)), 6) (or the product times 1/6, operands in any order)
 *   becomes FusedConv(activation HardSwish) when x comes from a Conv read by nothing but this pattern, else a
 *   HardSwish node where the model's ai.onnx opset has it (>= 14).
 *
 * Each rule needs constant W (and B when present) of a float type; the constant c must be finite and of the
 * same type. Folded or fused nodes keep the Conv's name and the last consumer's output name.
 */
import { fromNumbers, type Tensor } from '../../tensor/tensor.js';
import type { Node } from '../ir.js';
import type { GraphEditor } from './editor.js';
import { makeNode } from './editor.js';
import { freshName, FUSED_DOMAIN, FUSED_OPSET, soleProducer } from './fusion.js';
import type { RewriteRule, RuleContext } from './rule.js';

const FLOATS = new Set(['float32', 'float64', 'float16']);

/**
 * The values of `c` as one number per channel (`channels` of them) when `c` broadcasts against a rank-`rank`
 * tensor along axis 1 only (a scalar, or dims like [C, 1, 1] / [1, C, 1, 1]) without raising its rank, and
 * every value is finite; otherwise undefined.
 */
function perChannel(c: Tensor, rank: number, channels: number): Float64Array | undefined {
  if (c.rank > rank || !FLOATS.has(c.type)) return undefined;
  const offset = rank - c.rank;
  for (let i = 0; i < c.rank; i++) {
    const d = c.dims[i]!;
    if (d !== 1 && !(offset + i === 1 && d === channels)) return undefined;
  }
  const v = c.numbers();
  const out = new Float64Array(channels);
  for (let ch = 0; ch < channels; ch++) {
    const value = Number(v.length === 1 ? v[0] : v[ch]);
    if (!Number.isFinite(value)) return undefined;
    out[ch] = value;
  }
  return out;
}

/** Constant float weights of a Conv (and its bias, when it has one and it is constant too). */
function convWeights(ed: GraphEditor, conv: Node): { w: Tensor; b: Tensor | undefined } | undefined {
  const w = ed.constant(conv.inputs[1] ?? '');
  if (!w || !FLOATS.has(w.type) || w.rank < 3) return undefined;
  const bName = conv.inputs[2];
  const b = bName ? ed.constant(bName) : undefined;
  if (bName && (!b || b.type !== w.type || b.size !== w.dims[0])) return undefined;
  return { w, b };
}

/** Store folded W and B as new initializers and return the Conv (or FusedConv) rewritten to use them. */
function rebuildConv(ed: GraphEditor, conv: Node, w: Tensor, weights: Float64Array, bias: Float64Array | undefined, input: string, output: string): Node {
  const wName = freshName(ed, `${conv.name}_W_affine`);
  ed.setInitializer(wName, fromNumbers(w.type, weights, w.dims));
  const inputs = [input, wName];
  if (bias) {
    const bName = freshName(ed, `${conv.name}_B_affine`);
    ed.setInitializer(bName, fromNumbers(w.type, bias, [w.dims[0]!]));
    inputs.push(bName);
  }
  return makeNode(conv.name, conv.opType, conv.domain, inputs, [output], conv.attrs);
}

/** The Conv feeding a Mul/Add node and the constant on the other side, when the output fold applies. */
function outputFoldCandidate(node: Node, ctx: RuleContext): { conv: Node; c: Float64Array } | undefined {
  const ed = ctx.editor;
  if (node.inputs.length !== 2 || !node.outputs[0] || node.inputs[0] === node.inputs[1]) return undefined;
  for (const side of [0, 1]) {
    const conv = soleProducer(ed, node.inputs[side]!, node, ['Conv']);
    if (!conv) continue;
    const weights = convWeights(ed, conv);
    const constant = ed.constant(node.inputs[1 - side]!);
    if (!weights || !constant || constant.type !== weights.w.type) continue;
    const c = perChannel(constant, weights.w.rank, weights.w.dims[0]!);
    if (c) return { conv, c };
  }
  return undefined;
}

export const convOutputAffineFolding: RewriteRule = {
  name: 'ConvOutputAffineFolding',
  opTypes: ['Mul', 'Add'],
  condition: (node, ctx) => outputFoldCandidate(node, ctx) !== undefined,
  apply(node, ctx) {
    const ed = ctx.editor;
    const { conv, c } = outputFoldCandidate(node, ctx)!;
    const { w, b } = convWeights(ed, conv)!;
    const m = w.dims[0]!;
    const per = w.size / m;
    const wv = w.numbers();
    const bv = b?.numbers();
    const weights = new Float64Array(w.size);
    let bias: Float64Array | undefined;
    if (node.opType === 'Mul') {
      for (let i = 0; i < w.size; i++) weights[i] = Number(wv[i]) * c[Math.floor(i / per)]!;
      if (bv) bias = Float64Array.from({ length: m }, (_, ch) => Number(bv[ch]) * c[ch]!);
    } else {
      for (let i = 0; i < w.size; i++) weights[i] = Number(wv[i]);
      bias = Float64Array.from({ length: m }, (_, ch) => (bv ? Number(bv[ch]) : 0) + c[ch]!);
    }
    const folded = rebuildConv(ed, conv, w, weights, bias, conv.inputs[0]!, node.outputs[0]!);
    ed.removeNodes(node);
    ed.replaceNode(conv, folded);
    return true;
  },
};

/** True when a Conv reads no padding: explicit pads all zero (or absent) and auto_pad NOTSET or VALID. */
function unpadded(conv: Node): boolean {
  const autoPad = conv.attrs['auto_pad'];
  if (autoPad !== undefined && autoPad !== 'NOTSET' && autoPad !== 'VALID') return false;
  const pads = conv.attrs['pads'];
  return pads === undefined || (Array.isArray(pads) && pads.every((p) => Number(p) === 0));
}

/** The Mul/Add feeding a Conv's input, its non-constant operand and the per-input-channel constant. */
function inputFoldCandidate(conv: Node, ctx: RuleContext): { producer: Node; source: string; c: Float64Array } | undefined {
  const ed = ctx.editor;
  const x = conv.inputs[0];
  if (!x || !conv.outputs[0] || !unpadded(conv)) return undefined;
  const weights = convWeights(ed, conv);
  if (!weights) return undefined;
  const p = soleProducer(ed, x, conv, ['Mul', 'Add']);
  if (!p || p.inputs.length !== 2 || p.inputs[0] === p.inputs[1]) return undefined;
  const group = (conv.attrs['group'] as number | undefined) ?? 1;
  const channels = weights.w.dims[1]! * group;
  for (const side of [0, 1]) {
    const constant = ed.constant(p.inputs[side]!);
    const source = p.inputs[1 - side]!;
    if (!constant || constant.type !== weights.w.type || ed.constant(source)) continue;
    const c = perChannel(constant, weights.w.rank, channels);
    if (!c) continue;
    // a per-channel constant could broadcast a one-channel source up to `channels`: then the source alone is no Conv input
    if (constant.size > 1) {
      const dims = ed.known(source)?.dims;
      if (!dims || dims.length !== weights.w.rank || dims[1] !== channels) continue;
    }
    return { producer: p, source, c };
  }
  return undefined;
}

function convInputAffineRule(opType: 'Conv' | 'FusedConv'): RewriteRule {
  return {
    name: opType === 'Conv' ? 'ConvInputAffineFolding' : 'FusedConvInputAffineFolding',
    opTypes: [opType],
    domain: opType === 'Conv' ? '' : FUSED_DOMAIN,
    condition: (conv, ctx) => inputFoldCandidate(conv, ctx) !== undefined,
    apply(conv, ctx) {
      const ed = ctx.editor;
      const { producer, source, c } = inputFoldCandidate(conv, ctx)!;
      const { w, b } = convWeights(ed, conv)!;
      const m = w.dims[0]!;
      const cg = w.dims[1]!;
      const kernel = w.size / (m * cg);
      const group = (conv.attrs['group'] as number | undefined) ?? 1;
      const mg = m / group;
      const wv = w.numbers();
      const bv = b?.numbers();
      const weights = new Float64Array(w.size);
      for (let i = 0; i < w.size; i++) weights[i] = Number(wv[i]);
      let bias: Float64Array | undefined = bv ? Float64Array.from({ length: m }, (_, ch) => Number(bv[ch])) : undefined;
      if (producer.opType === 'Add') bias ??= new Float64Array(m);
      for (let oc = 0; oc < m; oc++) {
        const firstChannel = Math.floor(oc / mg) * cg;
        let shift = 0;
        for (let j = 0; j < cg; j++) {
          const cv = c[firstChannel + j]!;
          const start = (oc * cg + j) * kernel;
          for (let k = start; k < start + kernel; k++) {
            if (producer.opType === 'Mul') weights[k] = weights[k]! * cv;
            else shift += weights[k]! * cv;
          }
        }
        if (producer.opType === 'Add') bias![oc] = bias![oc]! + shift;
      }
      const folded = rebuildConv(ed, conv, w, weights, bias, source, conv.outputs[0]!);
      ed.removeNodes(producer);
      ed.replaceNode(conv, folded);
      return true;
    },
  };
}

export const convInputAffineFolding = convInputAffineRule('Conv');
export const fusedConvInputAffineFolding = convInputAffineRule('FusedConv');

/** The single value of a constant scalar-like float tensor, or undefined. */
function scalarValue(ed: GraphEditor, name: string | undefined): number | undefined {
  const t = name ? ed.constant(name) : undefined;
  if (!t || t.size !== 1 || !FLOATS.has(t.type)) return undefined;
  return Number(t.numbers()[0]);
}

/** True when a Clip node clamps to exactly [lo, hi] (attribute bounds before opset 11, constant inputs after). */
function clipsTo(ed: GraphEditor, clip: Node, lo: number, hi: number): boolean {
  if (clip.attrs['min'] !== undefined || clip.attrs['max'] !== undefined) {
    if (clip.inputs.slice(1).some((i) => i)) return false;
    return clip.attrs['min'] === lo && clip.attrs['max'] === hi;
  }
  return scalarValue(ed, clip.inputs[1]) === lo && scalarValue(ed, clip.inputs[2]) === hi;
}

/** For the final Div/Mul of a written-out HardSwish: its input x and the nodes of the pattern. */
function hardSwishPattern(last: Node, ctx: RuleContext): { x: string; nodes: Node[] } | undefined {
  const ed = ctx.editor;
  if (last.inputs.length !== 2 || !last.outputs[0]) return undefined;
  let productName: string | undefined;
  if (last.opType === 'Div') {
    if (scalarValue(ed, last.inputs[1]) === 6) productName = last.inputs[0];
  } else {
    for (const side of [0, 1]) {
      const v = scalarValue(ed, last.inputs[1 - side]);
      if (v !== undefined && v === Math.fround(1 / 6)) productName = last.inputs[side];
    }
  }
  if (!productName) return undefined;
  const product = soleProducer(ed, productName, last, ['Mul']);
  if (!product || product.inputs.length !== 2) return undefined;
  for (const side of [0, 1]) {
    const x = product.inputs[side]!;
    const clip = soleProducer(ed, product.inputs[1 - side]!, product, ['Clip']);
    if (!clip || !clipsTo(ed, clip, 0, 6)) continue;
    const add = soleProducer(ed, clip.inputs[0] ?? '', clip, ['Add']);
    if (!add || add.inputs.length !== 2) continue;
    const shiftSide = add.inputs.indexOf(x) === 0 ? 1 : 0;
    if (add.inputs[1 - shiftSide] !== x || scalarValue(ed, add.inputs[shiftSide]) !== 3) continue;
    // x must be float and must not be broadcast by the constants (they are scalars, so only a rank rise
    // matters); a Conv's output has the rank of its weights even when the other dims are unknown
    const known = ed.known(x);
    const producer = ed.producer(x);
    const weights = producer?.opType === 'Conv' && producer.domain === '' ? ed.constant(producer.inputs[1] ?? '') : undefined;
    const rank = known?.dims?.length ?? weights?.rank;
    const dtype = known?.dtype ?? weights?.type;
    if (rank === undefined || !dtype || !FLOATS.has(dtype)) continue;
    const constants = [add.inputs[shiftSide]!, last.opType === 'Div' ? last.inputs[1]! : last.inputs.find((i) => i !== productName)!];
    if (constants.some((name) => ed.constant(name)!.rank > rank)) continue;
    return { x, nodes: [add, clip, product, last] };
  }
  return undefined;
}

/** The Conv producing x when nothing but the pattern's Add and Mul read it. */
function convFeeding(ed: GraphEditor, x: string, nodes: readonly Node[]): Node | undefined {
  const p = ed.producer(x);
  if (!p || p.opType !== 'Conv' || p.domain !== '' || ed.isGraphOutput(x)) return undefined;
  const readers = ed.consumers(x);
  if (readers.length !== 2 || !readers.every((r) => nodes.includes(r))) return undefined;
  return p;
}

export const hardSwishFusion: RewriteRule = {
  name: 'HardSwishFusion',
  opTypes: ['Div', 'Mul'],
  condition(last, ctx) {
    const m = hardSwishPattern(last, ctx);
    if (!m) return false;
    return convFeeding(ctx.editor, m.x, m.nodes) !== undefined || (ctx.opset('') ?? 0) >= 14;
  },
  apply(last, ctx) {
    const ed = ctx.editor;
    const { x, nodes } = hardSwishPattern(last, ctx)!;
    const conv = convFeeding(ed, x, nodes);
    const output = last.outputs[0]!;
    ed.removeNodes(...nodes.slice(0, 3));
    if (conv) {
      ed.removeNodes(last);
      ed.replaceNode(conv, makeNode(conv.name, 'FusedConv', FUSED_DOMAIN, conv.inputs, [output], { ...conv.attrs, activation: 'HardSwish', activation_params: Object.freeze([]) }));
      ctx.useDomain(FUSED_DOMAIN, FUSED_OPSET);
    } else {
      ed.replaceNode(last, makeNode(`${last.name}_hardswish`, 'HardSwish', '', [x], [output], {}));
    }
    return true;
  },
};
