/**
 * FakeQuantFusion (GPU target only): QuantizeLinear(x, s, z) -> DequantizeLinear(q, s, z) becomes one
 * com.tessera FakeQuantize(x, s, z) (src/ops/fake-quant.ts), float32 in and out.
 *
 * Why. Static int8 QDQ models carry such a pair on every activation. On the CPU the pair folds into the
 * quantized-weight kernels (./qdq-fusion.ts). A GPU texture holds float32 only, so the pair as written would
 * run QuantizeLinear on the host (an integer output) and download and re-upload the activation around it;
 * as one operator it is one shader. The weights' DequantizeLinear (an int8 constant) is left alone: it runs in
 * the shader with the weight kept as int8 values in a texture.
 *
 * When. The DequantizeLinear reads the QuantizeLinear's output; both are per-tensor (one scale, one zero
 * point, no blocks), the scales and zero points are constants of equal value (or the same names), the zero
 * point is uint8 or int8 (or absent on both: uint8 0), and x is float32. The QuantizeLinear stays while any
 * other node reads its integer output; dead-node removal drops it otherwise.
 */
import type { Node } from '../ir.js';
import type { GraphEditor } from './editor.js';
import { makeNode } from './editor.js';
import { FUSED_DOMAIN, FUSED_OPSET } from './fusion.js';
import type { RewriteRule } from './rule.js';

/** The constant scalar behind `name` (undefined name = absent, returned as null), or undefined if not one. */
function scalarConstant(ed: GraphEditor, name: string | undefined): { type: string; value: number } | null | undefined {
  if (!name) return null;
  const t = ed.constant(name);
  if (!t || t.size !== 1) return undefined;
  return { type: t.type, value: t.numbers()[0]! };
}

function sameParam(ed: GraphEditor, a: string | undefined, b: string | undefined): boolean {
  if ((a ?? '') === (b ?? '')) return true;
  const x = scalarConstant(ed, a);
  const y = scalarConstant(ed, b);
  if (x === undefined || y === undefined) return false;
  if (x === null || y === null) return x === y;
  return x.type === y.type && Object.is(x.value, y.value);
}

function blocked(n: Node): boolean {
  return ((n.attrs['block_size'] as number | undefined) ?? 0) !== 0;
}

/** The QuantizeLinear a DequantizeLinear can fuse with, or undefined. */
function pairOf(dq: Node, ed: GraphEditor): Node | undefined {
  const q = dq.inputs[0] ? ed.producer(dq.inputs[0]) : undefined;
  if (!q || q.opType !== 'QuantizeLinear' || q.domain !== '' || !q.inputs[0]) return undefined;
  if (blocked(q) || blocked(dq)) return undefined;
  const od = (dq.attrs['output_dtype'] as number | undefined) ?? 0;
  if (od !== 0 && od !== 1) return undefined; // 1 = FLOAT
  const scale = scalarConstant(ed, q.inputs[1]);
  if (!scale || scale.type !== 'float32') return undefined;
  const zero = scalarConstant(ed, q.inputs[2]);
  if (zero === undefined || (zero !== null && zero.type !== 'uint8' && zero.type !== 'int8')) return undefined;
  const qod = (q.attrs['output_dtype'] as number | undefined) ?? 0;
  // output_dtype (opset 21) must agree with the zero point's type: 2 = UINT8, 3 = INT8
  if (qod !== 0 && qod !== (zero?.type === 'int8' ? 3 : 2)) return undefined;
  if (!sameParam(ed, q.inputs[1], dq.inputs[1]) || !sameParam(ed, q.inputs[2], dq.inputs[2])) return undefined;
  if (ed.known(q.inputs[0])?.dtype !== 'float32') return undefined;
  return q;
}

export const fakeQuantFusion: RewriteRule = {
  name: 'FakeQuantFusion',
  opTypes: ['DequantizeLinear'],
  targets: ['gpu'],
  condition(n, ctx) {
    return n.outputs.length === 1 && pairOf(n, ctx.editor) !== undefined;
  },
  apply(n, ctx) {
    const q = pairOf(n, ctx.editor)!;
    const inputs = q.inputs[2] ? [q.inputs[0]!, q.inputs[1]!, q.inputs[2]] : [q.inputs[0]!, q.inputs[1]!];
    ctx.editor.replaceNode(n, makeNode(n.name, 'FakeQuantize', FUSED_DOMAIN, inputs, n.outputs, {}));
    ctx.useDomain(FUSED_DOMAIN, FUSED_OPSET);
    return true;
  },
};
