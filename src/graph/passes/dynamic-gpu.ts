/**
 * DynamicQuantToFloat (GPU target only): the dynamic int8 pattern of src/quant quantizeDynamic
 *
 *   x -> DynamicQuantizeLinear -> (xq, xs, xz);  ConvInteger/MatMulInteger(xq, wq, xz, wzp) -> acc;
 *   Cast(acc, to = FLOAT) -> accF   [Mul(xs, ws) -> scale; Mul(accF, scale) -> out; Add bias: untouched]
 *
 * becomes float operators the GPU runs:
 *
 *   x -> com.tessera DynamicFakeQuantize -> (xc, xs)        xc = q - z as float32, integers in [-255, 255]
 *   wq -> DequantizeLinear(wq, 1.0, wzp) -> wc              wc = wq - wzp, in the shader (wq stays int8)
 *   Conv/MatMul(xc, wc) -> accF                             the same attributes; the Cast disappears
 *
 * Why. A texture holds float32, so the uint8/int32 tensors of the integer chain cannot live on the GPU: as
 * written, the chain runs on the host with a download and an upload around it. (xq - xz)(wq - wzp) summed is
 * what ConvInteger/MatMulInteger compute, so the float operators compute the same accumulator.
 *
 * Exactness. |q - z| <= 255, and with the weight zero point 0 (what quantizeDynamic writes) |wq| <= 128, so
 * each product is an integer of magnitude at most 255 * 128 (255 * 255 with another zero point or uint8
 * weights). float32 adds integers exactly while partial sums stay below 2^24, so with K products per output
 * (K = C/group * kh * kw for Conv, the inner dim for MatMul) the sums are exact for K <= 514 (K <= 258 in
 * the 255 * 255 case) whatever the data, and in practice much further since activations rarely sit at the
 * range ends together. Beyond the bound a float32 sum may round (relative error about 2^-24 per add), which
 * stays far inside the 1e-3 tolerance the tests allow on the rescaled outputs.
 *
 * When. The DynamicQuantizeLinear reads a float32 x; every consumer of xq and xz is a ConvInteger or
 * MatMulInteger reading xq in slot 0 and xz in slot 2 (and nowhere else); neither is a graph output; each
 * consumer's weight wq is a constant int8/uint8 with a per-tensor constant zero point (or none) of the same
 * type; and each accumulator is read only by one Cast to float32 (and is not a graph output). Otherwise the
 * chain is left as it is.
 */
import type { Node } from '../ir.js';
import { Tensor } from '../../tensor/tensor.js';
import type { GraphEditor } from './editor.js';
import { makeNode } from './editor.js';
import { FUSED_DOMAIN, FUSED_OPSET } from './fusion.js';
import type { RewriteRule } from './rule.js';

const ONNX_FLOAT = 1;

interface Use {
  readonly integer: Node;
  readonly cast: Node;
}

function freshName(ed: GraphEditor, base: string): string {
  const taken = (n: string): boolean => ed.definesLocally(n) || ed.consumers(n).length > 0 || ed.isGraphOutput(n);
  if (!taken(base)) return base;
  for (let i = 1; ; i++) if (!taken(`${base}_${i}`)) return `${base}_${i}`;
}

/** The integer ops and their Casts when the whole pattern around `dq` matches, else undefined. */
function matchPattern(dq: Node, ed: GraphEditor): Use[] | undefined {
  if (dq.domain !== '' || dq.outputs.length < 3 || !dq.inputs[0]) return undefined;
  const [xq, xs, xz] = dq.outputs as [string, string, string];
  if (!xq || !xs || !xz) return undefined;
  if (ed.isGraphOutput(xq) || ed.isGraphOutput(xz)) return undefined;
  // DynamicQuantizeLinear takes float32 only (its schema checks); the dtype may be unknown here once an earlier
  // rewrite put a com.tessera node upstream, so only a known other type refuses
  const dtype = ed.known(dq.inputs[0])?.dtype;
  if (dtype !== undefined && dtype !== 'float32') return undefined;
  const users = new Set([...ed.consumers(xq), ...ed.consumers(xz)]);
  if (users.size === 0) return undefined;
  const uses: Use[] = [];
  for (const u of users) {
    if (u.domain !== '' || (u.opType !== 'ConvInteger' && u.opType !== 'MatMulInteger')) return undefined;
    if (u.inputs[0] !== xq || u.inputs[2] !== xz || u.subgraphs().length) return undefined;
    if (u.inputs.some((name, i) => i !== 0 && i !== 2 && (name === xq || name === xz))) return undefined;
    const w = ed.constant(u.inputs[1] ?? '');
    if (!w || (w.type !== 'int8' && w.type !== 'uint8')) return undefined;
    if (u.inputs[3]) {
      const wz = ed.constant(u.inputs[3]);
      if (!wz || wz.size !== 1 || wz.type !== w.type) return undefined;
    }
    const acc = u.outputs[0];
    if (!acc || u.outputs.length !== 1 || ed.isGraphOutput(acc)) return undefined;
    const readers = ed.consumers(acc);
    const cast = readers[0];
    if (readers.length !== 1 || !cast || cast.opType !== 'Cast' || cast.domain !== '' || cast.inputs[0] !== acc) return undefined;
    if (cast.attrs['to'] !== ONNX_FLOAT || !cast.outputs[0]) return undefined;
    uses.push({ integer: u, cast });
  }
  return uses;
}

export const dynamicQuantToFloat: RewriteRule = {
  name: 'DynamicQuantToFloat',
  opTypes: ['DynamicQuantizeLinear'],
  targets: ['gpu'],
  condition(n, ctx) {
    return matchPattern(n, ctx.editor) !== undefined;
  },
  apply(n, ctx) {
    const ed = ctx.editor;
    const uses = matchPattern(n, ed)!;
    const xc = freshName(ed, `${n.outputs[0]}_centred`);
    ed.replaceNode(n, makeNode(n.name, 'DynamicFakeQuantize', FUSED_DOMAIN, [n.inputs[0]!], [xc, n.outputs[1]!], {}));
    const one = freshName(ed, `${n.name}_unit_scale`);
    ed.setInitializer(one, new Tensor('float32', new Float32Array([1]), []));
    for (const { integer, cast } of uses) {
      const wc = freshName(ed, `${integer.inputs[1]}_centred`);
      const dqInputs = integer.inputs[3] ? [integer.inputs[1]!, one, integer.inputs[3]] : [integer.inputs[1]!, one];
      const dequant = makeNode(`${integer.name}_weight`, 'DequantizeLinear', '', dqInputs, [wc], {});
      const op = integer.opType === 'ConvInteger' ? 'Conv' : 'MatMul';
      const float = makeNode(integer.name, op, '', [xc, wc], [cast.outputs[0]!], op === 'Conv' ? integer.attrs : {});
      ed.replaceNode(integer, dequant, float);
      ed.removeNodes(cast);
    }
    ctx.useDomain(FUSED_DOMAIN, FUSED_OPSET);
    return true;
  },
};
