/**
 * int4 weight-only quantization pass: MatMul with a constant 2-D float32 weight B[K, N] (and Gemm with
 * transA = 0, alpha = beta = 1 and a constant B and a 1-D or absent C) becomes onnxruntime's
 * com.microsoft.MatMulNBits(bits = 4, block_size = 32) reading B in the INT4_BLOCK layout of ./math.ts:
 * per output column, blocks of 32 weights along K, 16 bytes of codes and one float32 scale each (20 bytes per
 * 32 weights). The data input stays float32; the kernel (src/kernels/cpu/quant-fused.ts) unpacks column panels
 * into a row buffer inside the GEMM, so the weights stay 4-bit in memory. Activations and every other op are
 * untouched. The result also loads in onnxruntime (MatMulNBits is one of its contrib operators).
 *
 * Bytes: ceil(K / 32) * 20 per column against 4 * K float32 bytes, i.e. 15.6% when K is a multiple of 32; a
 * partial last block is padded (K = 120: 4 blocks hold 128 slots, 80 / 480 bytes = 16.7%).
 */
import { Tensor } from '../tensor/tensor.js';
import type { Node } from '../graph/ir.js';
import { makeNode } from '../graph/passes/editor.js';
import type { RewriteRule, RuleContext } from '../graph/passes/rule.js';
import { INT4_BLOCK, int4WeightBytes, quantizeInt4 } from './math.js';
import { applyRules, freshName, type CompressModel } from './model.js';

const MICROSOFT_DOMAIN = 'com.microsoft';

/** Options of quantizeInt4Weights. */
export interface Int4Options {
  /** Smallest weight (K * N elements) converted; default 1024. */
  readonly minElements?: number;
}

/** What quantizeInt4Weights did. */
export interface Int4Result {
  readonly model: CompressModel;
  readonly quantizedNodes: number;
  /** float32 bytes of the weights it converted, and the bytes they take as int4 blocks. */
  readonly float32Bytes: number;
  readonly int4Bytes: number;
}

/** B as a row-major [K, N] float32 array (transposing Gemm's transB form), or undefined when not convertible. */
function weightOf(n: Node, ctx: RuleContext, minElements: number): { values: Float32Array; k: number; n: number; bias?: string } | undefined {
  const ed = ctx.editor;
  if (!n.inputs[0] || ed.constant(n.inputs[0]) || n.functionBody) return undefined;
  const b = ed.constant(n.inputs[1] ?? '');
  if (!b || b.type !== 'float32' || b.rank !== 2 || b.size < minElements) return undefined;
  if (n.opType === 'MatMul') {
    // MatMulNBits treats A as [..., K]; a 1-D A is a vector there too, matching MatMul's promotion
    return { values: b.numbers() as Float32Array, k: b.dims[0]!, n: b.dims[1]! };
  }
  const num = (name: string, dflt: number): number => (n.attrs[name] as number | undefined) ?? dflt;
  if (num('transA', 0) !== 0 || num('alpha', 1) !== 1 || num('beta', 1) !== 1) return undefined;
  const a = ed.known(n.inputs[0])?.dims;
  if (a && a.length !== 2) return undefined;
  const transB = num('transB', 0) !== 0;
  const [k, cols] = transB ? [b.dims[1]!, b.dims[0]!] : [b.dims[0]!, b.dims[1]!];
  const c = n.inputs[2];
  if (c) {
    const ct = ed.constant(c);
    if (!ct || ct.type !== 'float32' || ct.rank !== 1 || ct.dims[0] !== cols) return undefined;
  }
  let values = b.numbers() as Float32Array;
  if (transB) {
    const t = new Float32Array(k * cols);
    for (let r = 0; r < cols; r++) for (let j = 0; j < k; j++) t[j * cols + r] = values[r * k + j]!;
    values = t;
  }
  return { values, k, n: cols, bias: c || undefined };
}

function int4Rule(minElements: number, tally: { float32Bytes: number; int4Bytes: number }): RewriteRule {
  return {
    name: 'Int4Weights',
    opTypes: ['MatMul', 'Gemm'],
    condition: (n, ctx) => weightOf(n, ctx, minElements) !== undefined,
    apply(n, ctx) {
      const ed = ctx.editor;
      const w = weightOf(n, ctx, minElements)!;
      const q = quantizeInt4(w.values, w.k, w.n);
      const codes = freshName(ed, `${n.inputs[1]}_int4`);
      const scales = freshName(ed, `${n.inputs[1]}_int4_scales`);
      ed.setInitializer(codes, new Tensor('uint8', q.codes, [w.n, q.blocksPerColumn, INT4_BLOCK.codeBytes]));
      ed.setInitializer(scales, new Tensor('float32', q.scales, [w.n * q.blocksPerColumn]));
      const inputs = [n.inputs[0]!, codes, scales, ...(w.bias ? ['', '', w.bias] : [])];
      ed.replaceNode(n, makeNode(n.name, 'MatMulNBits', MICROSOFT_DOMAIN, inputs, n.outputs, { K: w.k, N: w.n, bits: 4, block_size: INT4_BLOCK.weights }));
      ctx.useDomain(MICROSOFT_DOMAIN, 1);
      tally.float32Bytes += 4 * w.k * w.n;
      tally.int4Bytes += int4WeightBytes(w.k, w.n);
      return true;
    },
  };
}

/** int4 weight-only quantization of MatMul/Gemm weights (see the file comment). */
export function quantizeInt4Weights(model: CompressModel, options: Int4Options = {}): Int4Result {
  const tally = { float32Bytes: 0, int4Bytes: 0 };
  const run = applyRules(model, [int4Rule(options.minElements ?? 1024, tally)]);
  return { model: run.model, quantizedNodes: run.rewrites['Int4Weights'] ?? 0, ...tally };
}
