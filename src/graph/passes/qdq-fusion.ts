/**
 * QDQ fusion: run statically quantized (QDQ) models with their weights kept int8.
 *
 * A QDQ model stores each weight as an int8 initializer behind DequantizeLinear and fake-quantizes each
 * activation with a QuantizeLinear -> DequantizeLinear pair. Run literally, every call dequantizes every
 * weight into a fresh float tensor and makes two passes (and two allocations) over every activation. This
 * rule rewrites
 *
 *   x -> QuantizeLinear(s, z) -> DequantizeLinear(s, z) --\
 *   Wq (int8 const) -> DequantizeLinear(W_scale, axis) ----> Conv | MatMul | Gemm [| FusedConv/Gemm/MatMul]
 *
 * into one com.tessera QDQConv / QDQMatMul / QDQGemm node (src/ops/quant-fused.ts) reading x, Wq, W_scale,
 * s, z and the bias directly, carrying the fused activation if there is one. Its kernel fake-quantizes x in
 * one pass into scratch, dequantizes Wq per channel into scratch and runs the float kernel, so the result is
 * bit-identical to the literal graph while weights stay int8 in memory. The Q/DQ nodes left without readers
 * are removed by dead-node elimination.
 *
 * Conditions: the weight's DequantizeLinear reads a constant int8 tensor with a constant float32 scale (scalar
 * or one per output channel along the right axis) and no or an all-zero zero point; the data input is
 * fused only when it comes from DequantizeLinear(QuantizeLinear(x)) with the same constant scalar scale and
 * zero point (otherwise the float input is read as is). A plain Conv/MatMul/Gemm whose output is about to be
 * fused with an activation (ActivationFusion of the same level fires on a later node of this round) waits one
 * round, so the fused activation comes along. A written-out HardSwish after a QDQ node without activation,
 * y -> Add(y, 3) -> Clip(0, 6) -> Mul(y, .) -> Div(6) | Mul(1/6) (either Mul order), is folded into the node as
 * activation HardSwish by `qdqHardSwishFusion` (HardSwishFusion itself only knows plain Conv producers).
 *
 * int4 weights (`int4MatMulFusion`, `fusedInt4MatMulFusion`): a MatMul / Gemm (transA = 0, transB = 0,
 * alpha = beta = 1, C absent or a constant 1-D float32 [N]) or their Fused forms whose weight is
 * DequantizeLinear(constant int4/uint4 [K, N], constant float32 scale [ceil(K / block_size), N], optional
 * constant zero point of the same shape, axis 0, block_size > 0) becomes one com.tessera MatMulInt4 node
 * reading the codes packed two per byte (a new uint8 initializer of ceil(K * N / 2) bytes, made here once),
 * the scales, the zero points and the bias; the one-value-per-byte int4 initializer is then unread and
 * dropped, so the session holds 4 bits per weight plus the scales. The data input is read as it is.
 */
import { packInt4 } from '../../tensor/int4.js';
import { Tensor } from '../../tensor/tensor.js';
import type { Node } from '../ir.js';
import type { GraphEditor } from './editor.js';
import { makeNode } from './editor.js';
import { soleProducer } from './fusion.js';
import { activationFusion, FUSED_DOMAIN, FUSED_OPSET } from './fusion.js';
import type { RewriteRule, RuleContext } from './rule.js';

/** Base operator of a node this rule can fuse ('' domain Conv/MatMul/Gemm or their com.tessera Fused forms). */
function baseOf(n: Node): 'Conv' | 'MatMul' | 'Gemm' | undefined {
  const op = n.domain === FUSED_DOMAIN && n.opType.startsWith('Fused') ? n.opType.slice(5) : n.domain === '' ? n.opType : '';
  return op === 'Conv' || op === 'MatMul' || op === 'Gemm' ? op : undefined;
}

/** Output-channel axis of the weight for the base operator. */
function channelAxis(base: 'Conv' | 'MatMul' | 'Gemm', n: Node): number {
  if (base === 'Conv') return 0;
  if (base === 'Gemm' && n.attrs['transB']) return 0;
  return 1;
}

function isZero(t: Tensor): boolean {
  return t.numbers().every((v) => v === 0);
}

/** The weight's int8 initializer name and scale name, when input 1 is DequantizeLinear of a constant int8 tensor. */
function quantizedWeight(n: Node, ed: GraphEditor): { q: string; scale: string } | undefined {
  const base = baseOf(n);
  if (!base || n.functionBody) return undefined;
  const dq = ed.producer(n.inputs[1] ?? '');
  if (!dq || dq.opType !== 'DequantizeLinear' || dq.domain !== '') return undefined;
  if (dq.attrs['block_size']) return undefined;
  const [qName, sName, zName] = dq.inputs;
  const q = ed.constant(qName ?? '');
  const s = ed.constant(sName ?? '');
  if (!q || q.type !== 'int8' || !s || s.type !== 'float32') return undefined;
  if (zName) {
    const z = ed.constant(zName);
    if (!z || !isZero(z)) return undefined;
  }
  const wantRank = base === 'Conv' ? q.rank >= 3 : q.rank === 2;
  if (!wantRank) return undefined;
  if (base === 'Gemm' && n.attrs['transA']) return undefined;
  const axis = channelAxis(base, n);
  if (s.size !== 1) {
    const given = (dq.attrs['axis'] as number | undefined) ?? 1;
    const a = given < 0 ? given + q.rank : given;
    if (s.rank !== 1 || a !== axis || s.dims[0] !== q.dims[axis]) return undefined;
  }
  return { q: qName!, scale: sName! };
}

/** x, scale and zero point when `name` is DequantizeLinear(QuantizeLinear(x, s, z), s, z) per tensor. */
function fakeQuantizedInput(name: string, ed: GraphEditor): { x: string; scale: string; zeroPoint: string } | undefined {
  const dq = ed.producer(name);
  if (!dq || dq.opType !== 'DequantizeLinear' || dq.domain !== '') return undefined;
  const q = ed.producer(dq.inputs[0] ?? '');
  if (!q || q.opType !== 'QuantizeLinear' || q.domain !== '' || q.attrs['block_size'] || q.attrs['saturate'] === 0) return undefined;
  const [x, qs, qz] = q.inputs;
  const [, ds, dz] = dq.inputs;
  if (!x || !qs || !qz || qs !== ds || qz !== dz) return undefined;
  const s = ed.constant(qs);
  const z = ed.constant(qz);
  if (!s || s.type !== 'float32' || s.size !== 1 || !z || z.size !== 1 || (z.type !== 'uint8' && z.type !== 'int8')) return undefined;
  if (q.attrs['output_dtype'] && q.attrs['output_dtype'] !== (z.type === 'uint8' ? 2 : 3)) return undefined;
  if (ed.known(x)?.dtype !== undefined && ed.known(x)?.dtype !== 'float32') return undefined;
  return { x, scale: qs, zeroPoint: qz };
}

/** True when a fusion rule of the same level is about to fuse an activation into this plain Conv/MatMul/Gemm. */
function activationPending(n: Node, ctx: RuleContext): boolean {
  if (n.domain !== '') return false;
  const ed = ctx.editor;
  const y = n.outputs[0];
  if (!y) return false;
  const readers = ed.consumers(y);
  if (readers.length === 1 && activationFusion.opTypes.includes(readers[0]!.opType) && activationFusion.condition(readers[0]!, ctx)) return true;
  return false;
}

function qdqCondition(n: Node, ctx: RuleContext): boolean {
  if (!quantizedWeight(n, ctx.editor)) return false;
  if (!n.inputs[0] || ctx.editor.constant(n.inputs[0])) return false;
  return !activationPending(n, ctx);
}

function qdqApply(n: Node, ctx: RuleContext): boolean {
  const ed = ctx.editor;
  const base = baseOf(n)!;
  const w = quantizedWeight(n, ed)!;
  const input = fakeQuantizedInput(n.inputs[0]!, ed);
  const bias = base === 'MatMul' ? '' : (n.inputs[2] ?? '');
  const attrs: Record<string, unknown> = { ...n.attrs };
  if (n.domain === '') {
    attrs['activation'] = '';
    attrs['activation_params'] = Object.freeze([]);
  }
  const inputs = [input ? input.x : n.inputs[0]!, w.q, w.scale, input?.scale ?? '', input?.zeroPoint ?? '', bias];
  while (inputs.length && inputs[inputs.length - 1] === '') inputs.pop();
  ed.replaceNode(n, makeNode(n.name, `QDQ${base}`, FUSED_DOMAIN, inputs, n.outputs, attrs));
  ctx.useDomain(FUSED_DOMAIN, FUSED_OPSET);
  return true;
}

/** Plain Conv/MatMul/Gemm with a DequantizeLinear int8 weight -> QDQ<op>. */
export const qdqFusion: RewriteRule = {
  name: 'QdqFusion',
  opTypes: ['Conv', 'MatMul', 'Gemm'],
  condition: qdqCondition,
  apply: qdqApply,
};

/** FusedConv/FusedMatMul/FusedGemm (activation already fused) with a DequantizeLinear int8 weight -> QDQ<op>. */
export const fusedQdqFusion: RewriteRule = {
  name: 'FusedQdqFusion',
  opTypes: ['FusedConv', 'FusedMatMul', 'FusedGemm'],
  domain: FUSED_DOMAIN,
  condition: qdqCondition,
  apply: qdqApply,
};

/** The single value of a constant scalar float32 tensor, or undefined. */
function scalarOf(ed: GraphEditor, name: string | undefined): number | undefined {
  const t = name ? ed.constant(name) : undefined;
  if (!t || t.size !== 1 || t.rank > 1 || (t.type !== 'float32' && t.type !== 'float64' && t.type !== 'float16')) return undefined;
  return Number(t.numbers()[0]);
}

/** Clip to exactly [0, 6] (attribute bounds of old opsets or constant inputs). */
function isRelu6(ed: GraphEditor, clip: Node): boolean {
  if (clip.attrs['min'] !== undefined || clip.attrs['max'] !== undefined) {
    return !clip.inputs.slice(1).some((i) => i) && clip.attrs['min'] === 0 && clip.attrs['max'] === 6;
  }
  return scalarOf(ed, clip.inputs[1]) === 0 && scalarOf(ed, clip.inputs[2]) === 6;
}

/** For the last Div/Mul of a written-out HardSwish whose x comes from a QDQ node without activation: that node and the pattern nodes. */
function qdqHardSwish(last: Node, ed: GraphEditor): { producer: Node; nodes: Node[] } | undefined {
  if (last.domain !== '' || last.inputs.length !== 2 || !last.outputs[0]) return undefined;
  let productName: string | undefined;
  if (last.opType === 'Div') {
    if (scalarOf(ed, last.inputs[1]) === 6) productName = last.inputs[0];
  } else {
    for (const side of [0, 1]) if (scalarOf(ed, last.inputs[1 - side]) === Math.fround(1 / 6)) productName = last.inputs[side];
  }
  if (!productName) return undefined;
  const product = soleProducer(ed, productName, last, ['Mul']);
  if (!product || product.inputs.length !== 2) return undefined;
  for (const side of [0, 1]) {
    const x = product.inputs[side]!;
    const clip = soleProducer(ed, product.inputs[1 - side]!, product, ['Clip']);
    if (!clip || !isRelu6(ed, clip)) continue;
    const add = soleProducer(ed, clip.inputs[0] ?? '', clip, ['Add']);
    if (!add || add.inputs.length !== 2) continue;
    const shift = add.inputs[0] === x ? add.inputs[1] : add.inputs[1] === x ? add.inputs[0] : undefined;
    if (scalarOf(ed, shift) !== 3) continue;
    const producer = ed.producer(x);
    if (!producer || producer.domain !== FUSED_DOMAIN || !producer.opType.startsWith('QDQ') || producer.attrs['activation'] !== '') continue;
    if (ed.isGraphOutput(x)) continue;
    const readers = ed.consumers(x);
    if (readers.length !== 2 || !readers.includes(add) || !readers.includes(product)) continue;
    return { producer, nodes: [add, clip, product, last] };
  }
  return undefined;
}

/** Written-out HardSwish after a QDQ node -> the node's activation (exact up to float rounding of x/6 vs (x+3)/6 forms). */
export const qdqHardSwishFusion: RewriteRule = {
  name: 'QdqHardSwishFusion',
  opTypes: ['Div', 'Mul'],
  condition: (last, ctx) => qdqHardSwish(last, ctx.editor) !== undefined,
  apply(last, ctx) {
    const ed = ctx.editor;
    const { producer, nodes } = qdqHardSwish(last, ed)!;
    ed.removeNodes(...nodes.slice(0, 3));
    ed.removeNodes(last);
    ed.replaceNode(producer, makeNode(producer.name, producer.opType, producer.domain, producer.inputs, [last.outputs[0]!], { ...producer.attrs, activation: 'HardSwish', activation_params: Object.freeze([]) }));
    return true;
  },
};

/** The int4 weight of a MatMul/Gemm (or Fused form): DequantizeLinear(int4/uint4 [K, N], blocked along axis 0). */
function int4Weight(n: Node, ed: GraphEditor): { q: string; scale: string; zeroPoint: string; blockSize: number; k: number; n: number } | undefined {
  const base = baseOf(n);
  if ((base !== 'MatMul' && base !== 'Gemm') || n.functionBody) return undefined;
  if (!n.inputs[0] || ed.constant(n.inputs[0])) return undefined;
  if (base === 'Gemm') {
    const num = (name: string, dflt: number): number => (n.attrs[name] as number | undefined) ?? dflt;
    if (num('transA', 0) !== 0 || num('transB', 0) !== 0 || num('alpha', 1) !== 1 || num('beta', 1) !== 1) return undefined;
  }
  const dq = ed.producer(n.inputs[1] ?? '');
  if (!dq || dq.opType !== 'DequantizeLinear' || dq.domain !== '') return undefined;
  const blockSize = (dq.attrs['block_size'] as number | undefined) ?? 0;
  const axis = (dq.attrs['axis'] as number | undefined) ?? 1;
  const od = (dq.attrs['output_dtype'] as number | undefined) ?? 0;
  if (blockSize <= 0 || (axis !== 0 && axis !== -2) || (od !== 0 && od !== 1)) return undefined;
  const [qName, sName, zName] = dq.inputs;
  const q = ed.constant(qName ?? '');
  const s = ed.constant(sName ?? '');
  if (!q || (q.type !== 'int4' && q.type !== 'uint4') || q.rank !== 2 || !s || s.type !== 'float32') return undefined;
  const [k, cols] = q.dims as [number, number];
  if (s.rank !== 2 || s.dims[0] !== Math.ceil(k / blockSize) || s.dims[1] !== cols) return undefined;
  if (zName) {
    const z = ed.constant(zName);
    if (!z || z.type !== q.type || z.rank !== 2 || z.dims[0] !== s.dims[0] || z.dims[1] !== cols) return undefined;
  }
  const c = base === 'Gemm' ? n.inputs[2] : undefined;
  if (c) {
    const ct = ed.constant(c);
    if (!ct || ct.type !== 'float32' || ct.rank !== 1 || ct.dims[0] !== cols) return undefined;
  }
  if (base === 'Gemm' && ed.known(n.inputs[0])?.dims?.length !== undefined && ed.known(n.inputs[0])!.dims!.length !== 2) return undefined;
  return { q: qName!, scale: sName!, zeroPoint: zName ?? '', blockSize, k, n: cols };
}

function int4Apply(n: Node, ctx: RuleContext): boolean {
  const ed = ctx.editor;
  const w = int4Weight(n, ed)!;
  const q = ed.constant(w.q)!;
  const signed = q.type === 'int4';
  // one packed copy per int4 initializer (named after it), shared by every node that reads it; a name taken by
  // anything else gets a numeric suffix
  const bytes = Math.ceil((w.k * w.n) / 2);
  let packedName = `${w.q}_packed_int4`;
  for (let i = 1; ; i++) {
    const existing = ed.constant(packedName);
    if (existing && existing.type === 'uint8' && existing.rank === 1 && existing.size === bytes) break;
    if (!existing && !ed.definesLocally(packedName) && ed.consumers(packedName).length === 0 && !ed.isGraphOutput(packedName)) {
      ed.setInitializer(packedName, new Tensor('uint8', packInt4(q.data as Int8Array | Uint8Array, signed), [bytes]));
      break;
    }
    packedName = `${w.q}_packed_int4_${i}`;
  }
  const bias = baseOf(n) === 'Gemm' ? (n.inputs[2] ?? '') : '';
  const fused = n.domain === FUSED_DOMAIN;
  const attrs: Record<string, unknown> = {
    K: w.k,
    N: w.n,
    block_size: w.blockSize,
    signed: signed ? 1 : 0,
    activation: fused ? n.attrs['activation'] : '',
    activation_params: fused ? n.attrs['activation_params'] : Object.freeze([]),
  };
  const inputs = [n.inputs[0]!, packedName, w.scale, w.zeroPoint, bias];
  while (inputs.length && inputs[inputs.length - 1] === '') inputs.pop();
  ed.replaceNode(n, makeNode(n.name, 'MatMulInt4', FUSED_DOMAIN, inputs, n.outputs, attrs));
  ctx.useDomain(FUSED_DOMAIN, FUSED_OPSET);
  return true;
}

/** Plain MatMul/Gemm with a DequantizeLinear int4/uint4 blocked weight -> com.tessera MatMulInt4 (packed weight). */
export const int4MatMulFusion: RewriteRule = {
  name: 'Int4MatMulFusion',
  opTypes: ['MatMul', 'Gemm'],
  condition: (n, ctx) => int4Weight(n, ctx.editor) !== undefined && !activationPending(n, ctx),
  apply: int4Apply,
};

/** FusedMatMul/FusedGemm (activation already fused) with a DequantizeLinear int4/uint4 blocked weight -> MatMulInt4. */
export const fusedInt4MatMulFusion: RewriteRule = {
  name: 'FusedInt4MatMulFusion',
  opTypes: ['FusedMatMul', 'FusedGemm'],
  domain: FUSED_DOMAIN,
  condition: (n, ctx) => int4Weight(n, ctx.editor) !== undefined,
  apply: int4Apply,
};
