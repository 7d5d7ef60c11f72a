/**
 * Rules that merge operators (level 'all'). They may change results by rounding (folded weights, one
 * rounding instead of two), never by more.
 *
 * - ConvBatchNormFolding: Conv -> BatchNormalization (inference, per-channel statistics) becomes one Conv
 *   with W'[m] = W[m] * s[m] and B'[m] = (B[m] - mean[m]) * s[m] + beta[m], s = gamma / sqrt(var + eps),
 *   computed in double. Only when the Conv's output feeds nothing but the BN, and W, B and all BN
 *   parameters are constants.
 * - MatMulAddToGemm: MatMul(A, B) + C becomes Gemm(A, B, C) when A has rank 2, B is a rank-2 constant, and
 *   C broadcasts to [M, N] the way Gemm's C does (rank <= 2, each dim 1 or the full size), so the Add's
 *   result has exactly the Gemm's shape. Opset >= 7 (unidirectional broadcast of C).
 * - ActivationFusion: Conv/Gemm/MatMul followed by Relu, LeakyRelu, Clip (constant bounds), Sigmoid,
 *   HardSigmoid, Tanh or HardSwish becomes FusedConv/FusedGemm/FusedMatMul (domain 'com.tessera'), named
 *   after the Conv/Gemm/MatMul, when the producer's output feeds only the activation. Float types only.
 *
 * Fused or folded nodes keep the producer's name and the consumer's output name, so graph outputs and value
 * names downstream do not change.
 */
import { fromNumbers, type Tensor } from '../../tensor/tensor.js';
import type { Node } from '../ir.js';
import type { GraphEditor } from './editor.js';
import { makeNode } from './editor.js';
import type { RewriteRule, RuleContext } from './rule.js';

/** Domain and opset version of the fused operators. */
export const FUSED_DOMAIN = 'com.tessera';
export const FUSED_OPSET = 1;

const FLOATS = new Set(['float32', 'float64', 'float16']);

/** The node producing `name` when its output `name` is read only by `consumer` (and is not a graph output). */
export function soleProducer(ed: GraphEditor, name: string, consumer: Node, opTypes: readonly string[]): Node | undefined {
  const p = ed.producer(name);
  if (!p || p.domain !== '' || p.functionBody || !opTypes.includes(p.opType)) return undefined;
  if (ed.isGraphOutput(name)) return undefined;
  const readers = ed.consumers(name);
  if (readers.length !== 1 || readers[0] !== consumer) return undefined;
  // the consumer must read it once, as a plain input (not also through a subgraph)
  if (consumer.inputs.filter((i) => i === name).length !== 1 || consumer.subgraphs().length > 0) return undefined;
  return p;
}

/** A name not used anywhere in the scope (for new initializers). */
export function freshName(ed: GraphEditor, base: string): string {
  const taken = (n: string): boolean => ed.definesLocally(n) || ed.consumers(n).length > 0 || ed.isGraphOutput(n);
  if (!taken(base)) return base;
  for (let i = 1; ; i++) if (!taken(`${base}_${i}`)) return `${base}_${i}`;
}

export const convBatchNormFolding: RewriteRule = {
  name: 'ConvBatchNormFolding',
  opTypes: ['BatchNormalization'],
  condition(bn, ctx) {
    const ed = ctx.editor;
    const x = bn.inputs[0];
    if (!x || bn.inputs.length < 5 || !bn.outputs[0]) return false;
    if ((bn.attrs['training_mode'] ?? 0) !== 0 || (bn.attrs['spatial'] ?? 1) !== 1) return false;
    if (bn.outputs.slice(1).some((o) => o && !ed.isUnused(o))) return false;
    const conv = soleProducer(ed, x, bn, ['Conv']);
    if (!conv) return false;
    const w = ed.constant(conv.inputs[1] ?? '');
    if (!w || !FLOATS.has(w.type) || w.rank < 3) return false;
    if (conv.inputs[2] && !ed.constant(conv.inputs[2])) return false;
    const m = w.dims[0]!;
    return bn.inputs.slice(1, 5).every((name) => {
      const t = ed.constant(name);
      return t !== undefined && FLOATS.has(t.type) && t.size === m && t.rank === 1;
    });
  },
  apply(bn, ctx) {
    const ed = ctx.editor;
    const conv = ed.producer(bn.inputs[0]!)!;
    const w = ed.constant(conv.inputs[1]!)!;
    const b = conv.inputs[2] ? ed.constant(conv.inputs[2]) : undefined;
    const [gamma, beta, mean, variance] = bn.inputs.slice(1, 5).map((name) => ed.constant(name)!.numbers()) as ArrayLike<number>[];
    const eps = (bn.attrs['epsilon'] as number | undefined) ?? 1e-5;
    const m = w.dims[0]!;
    const perChannel = w.size / m;
    const wv = w.numbers();
    const bv = b?.numbers();
    const folded = new Float64Array(w.size);
    const bias = new Float64Array(m);
    for (let c = 0; c < m; c++) {
      const s = gamma![c]! / Math.sqrt(variance![c]! + eps);
      for (let i = c * perChannel; i < (c + 1) * perChannel; i++) folded[i] = wv[i]! * s;
      bias[c] = ((bv ? bv[c]! : 0) - mean![c]!) * s + beta![c]!;
    }
    const wName = freshName(ed, `${conv.name}_W_bn`);
    const bName = freshName(ed, `${conv.name}_B_bn`);
    ed.setInitializer(wName, fromNumbers(w.type, folded, w.dims));
    ed.setInitializer(bName, fromNumbers(w.type, bias, [m]));
    const merged = makeNode(conv.name, 'Conv', '', [conv.inputs[0]!, wName, bName], [bn.outputs[0]!], conv.attrs);
    ed.removeNodes(bn);
    ed.replaceNode(conv, merged);
    return true;
  },
};

export const matMulAddToGemm: RewriteRule = {
  name: 'MatMulAddToGemm',
  opTypes: ['Add'],
  condition(add, ctx) {
    if ((ctx.opset('') ?? 0) < 7) return false;
    return gemmCandidate(add, ctx) !== undefined;
  },
  apply(add, ctx) {
    const { matmul, c } = gemmCandidate(add, ctx)!;
    const gemm = makeNode(matmul.name, 'Gemm', '', [matmul.inputs[0]!, matmul.inputs[1]!, c], [add.outputs[0]!], {});
    ctx.editor.removeNodes(add);
    ctx.editor.replaceNode(matmul, gemm);
    return true;
  },
};

function gemmCandidate(add: Node, ctx: RuleContext): { matmul: Node; c: string } | undefined {
  const ed = ctx.editor;
  if (add.inputs.length !== 2 || !add.outputs[0] || add.inputs[0] === add.inputs[1]) return undefined;
  for (const side of [0, 1]) {
    const mm = soleProducer(ed, add.inputs[side]!, add, ['MatMul']);
    if (!mm) continue;
    const c = add.inputs[1 - side]!;
    const a = ed.known(mm.inputs[0] ?? '');
    const b = ed.constant(mm.inputs[1] ?? '');
    if (!a?.dims || a.dims.length !== 2 || !b || b.rank !== 2) continue;
    const m = a.dims[0];
    const n = b.dims[1]!;
    const cDims = ed.known(c)?.dims;
    if (!cDims || cDims.length > 2) continue;
    const full = [m, n].slice(2 - cDims.length);
    const ok = cDims.every((d, i) => d === 1 || (d !== null && d === full[i]));
    if (ok) return { matmul: mm, c };
  }
  return undefined;
}

/** The activation and its parameters for a fusable activation node, or undefined. */
function activationOf(node: Node, ctx: RuleContext): { activation: string; params: number[] } | undefined {
  const num = (name: string, dflt: number): number => (node.attrs[name] as number | undefined) ?? dflt;
  switch (node.opType) {
    case 'Relu':
    case 'Sigmoid':
    case 'Tanh':
    case 'HardSwish':
      return { activation: node.opType, params: [] };
    case 'LeakyRelu':
      return { activation: 'LeakyRelu', params: [num('alpha', 0.01)] };
    case 'HardSigmoid':
      return { activation: 'HardSigmoid', params: [num('alpha', 0.2), num('beta', 0.5)] };
    case 'Clip': {
      let lo = -Infinity;
      let hi = Infinity;
      if (node.attrs['min'] !== undefined || node.attrs['max'] !== undefined) {
        if (node.inputs.length > 1 && node.inputs.slice(1).some((i) => i)) return undefined;
        lo = num('min', -Infinity);
        hi = num('max', Infinity);
      } else {
        const bound = (name: string | undefined): number | undefined | null => {
          if (!name) return undefined;
          const t: Tensor | undefined = ctx.editor.constant(name);
          if (!t || t.size !== 1 || !FLOATS.has(t.type)) return null;
          return Number(t.numbers()[0]);
        };
        const l = bound(node.inputs[1]);
        const h = bound(node.inputs[2]);
        if (l === null || h === null) return undefined;
        if (l !== undefined) lo = l;
        if (h !== undefined) hi = h;
      }
      if (Number.isNaN(lo) || Number.isNaN(hi)) return undefined;
      return { activation: 'Clip', params: [lo, hi] };
    }
    default:
      return undefined;
  }
}

/** Activations that accept only float inputs (so a model that has them is float already). */
const FLOAT_ONLY_ACTIVATIONS = new Set(['LeakyRelu', 'Sigmoid', 'HardSigmoid', 'Tanh', 'HardSwish']);

export const activationFusion: RewriteRule = {
  name: 'ActivationFusion',
  opTypes: ['Relu', 'LeakyRelu', 'Clip', 'Sigmoid', 'HardSigmoid', 'Tanh', 'HardSwish'],
  condition(act, ctx) {
    const x = act.inputs[0];
    if (!x || !act.outputs[0]) return false;
    const p = soleProducer(ctx.editor, x, act, ['Conv', 'Gemm', 'MatMul']);
    if (!p) return false;
    if (p.opType !== 'Conv' && !FLOAT_ONLY_ACTIVATIONS.has(act.opType)) {
      // MatMul/Gemm inputs and output share one type: any known one tells it
      const dtype = [x, ...p.inputs].map((name) => (name ? ctx.editor.known(name)?.dtype : undefined)).find((d) => d !== undefined);
      if (!dtype || !FLOATS.has(dtype)) return false;
    }
    return activationOf(act, ctx) !== undefined;
  },
  apply(act, ctx) {
    const ed = ctx.editor;
    const p = ed.producer(act.inputs[0]!)!;
    const { activation, params } = activationOf(act, ctx)!;
    const fused = makeNode(p.name, `Fused${p.opType}`, FUSED_DOMAIN, p.inputs, [act.outputs[0]!], {
      ...p.attrs,
      activation,
      activation_params: Object.freeze(params),
    });
    ed.removeNodes(act);
    ed.replaceNode(p, fused);
    ctx.useDomain(FUSED_DOMAIN, FUSED_OPSET);
    return true;
  },
};
