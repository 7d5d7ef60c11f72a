/**
 * int4 weight-only quantization pass, in standard ONNX: a MatMul with a constant 2-D float32 weight B[K, N]
 * (and a Gemm with transA = 0, alpha = beta = 1, a constant B and a 1-D or absent C) gets its weight as
 *
 *   W (INT4 initializer [K, N], packed two per byte in the file) --\
 *   W_scale (float32 [ceil(K / 32), N]) ---------------------------> DequantizeLinear(axis = 0, block_size = 32) -> MatMul | Gemm
 *
 * i.e. the INT4_BLOCKED layout below: per output column n, blocks of 32 consecutive weights along K share one
 * float32 scale = max|w| / 7 (the last block of a column is shorter when 32 does not divide K: no padding),
 * codes = clamp(roundHalfEven(fround(w / scale)), -7, 7) (the symmetric grid; -8 is never produced), no zero
 * point. onnxruntime (opset 21) runs the file as it is; Tessera's QDQ fusion (src/graph/passes/qdq-fusion.ts)
 * rewrites DequantizeLinear(int4 blocked) -> MatMul/Gemm into com.tessera MatMulInt4, whose kernel
 * (src/kernels/cpu/int4-matmul.ts) holds the weight as the packed bytes and the scales, and dequantizes column
 * panels inside the call. The model is first upgraded to opset 21 / IR version 10 (./opset21.ts), the versions
 * that define INT4 and blocked DequantizeLinear. Activations and every other op are untouched.
 *
 * Bytes: ceil(K * N / 2) + 4 * ceil(K / 32) * N against 4 * K * N float32 bytes: 4 bits per weight plus 32
 * bits per block, 15.6% when 32 divides K, and 15.8% for PP-OCR rec's K = 120 and 240 (4 blocks of 32, 32,
 * 32, 24 weights) where padded 32-weight blocks (the com.microsoft.MatMulNBits layout) took 16.7%.
 * ./reference-int4.ts holds the plain-loop twin of `quantizeInt4Blocked` that the property tests compare with.
 */
import { packedInt4Bytes } from '../tensor/int4.js';
import { roundHalfEven } from '../tensor/numeric.js';
import { TesseraError } from '../tensor/errors.js';
import { Tensor } from '../tensor/tensor.js';
import type { Node } from '../graph/ir.js';
import { makeNode } from '../graph/passes/editor.js';
import type { RewriteRule, RuleContext } from '../graph/passes/rule.js';
import { applyRules, freshName, type CompressModel } from './model.js';
import { upgradeOpsetTo21 } from './opset21.js';

/**
 * The int4 weight layout this pass writes, declared with its sizes: one float32 scale per block of
 * `blockWeights` weights along K per column, codes of `codeBits` bits packed two per byte over the whole
 * row-major [K, N] weight (ONNX INT4 packing), no zero point.
 */
export const INT4_BLOCKED = Object.freeze({
  blockWeights: 32,
  codeBits: 4,
  scaleBytes: 4,
  /** Smallest and largest code written (symmetric grid). */
  codeMin: -7,
  codeMax: 7,
  /** Scale blocks of a [K, N] weight. */
  blocks(k: number, n: number): number {
    return Math.ceil(k / 32) * n;
  },
  /** Bytes of a [K, N] weight in this layout: packed codes plus scales. */
  bytes(k: number, n: number): number {
    return packedInt4Bytes(k * n) + 4 * Math.ceil(k / 32) * n;
  },
});

/** A [K, N] weight quantized to INT4_BLOCKED. */
export interface Int4BlockedWeight {
  /** Codes in [-7, 7], one per weight, row-major [K, N] (an int4 tensor holds them one per byte). */
  readonly codes: Int8Array;
  /** Scales, row-major [ceil(K / blockSize), N]. */
  readonly scales: Float32Array;
  readonly k: number;
  readonly n: number;
  readonly blockSize: number;
}

/**
 * Quantize a row-major float32 B[K, N] into int4 blocks of `blockSize` along K (see the file comment): per
 * (block, column), scale = fround(max|w| / 7) (1 for an all-zero or subnormal block) and codes
 * clamp(roundHalfEven(fround(w / scale)), -7, 7), exactly what QuantizeLinear(axis 0, block_size) gives with
 * those scales. Non-finite weights are refused.
 */
export function quantizeInt4Blocked(b: ArrayLike<number>, k: number, n: number, blockSize: number = INT4_BLOCKED.blockWeights): Int4BlockedWeight {
  if (!(Number.isInteger(k) && k >= 1 && Number.isInteger(n) && n >= 1 && Number.isInteger(blockSize) && blockSize >= 1)) {
    throw new TesseraError(`quantizeInt4Blocked: K = ${k}, N = ${n} and block size ${blockSize} must be positive integers`);
  }
  if (b.length !== k * n) throw new TesseraError(`quantizeInt4Blocked: ${b.length} weights given; [${k}, ${n}] needs ${k * n}`);
  const blocks = Math.ceil(k / blockSize);
  const scales = new Float32Array(blocks * n);
  const codes = new Int8Array(k * n);
  const amax = new Float64Array(n);
  for (let blk = 0; blk < blocks; blk++) {
    const r0 = blk * blockSize;
    const r1 = Math.min(k, r0 + blockSize);
    amax.fill(0);
    // rows of the block in order: each row is a contiguous run of N weights
    for (let r = r0; r < r1; r++) {
      const row = r * n;
      for (let c = 0; c < n; c++) {
        const v = b[row + c]!;
        if (!Number.isFinite(v)) throw new TesseraError(`quantizeInt4Blocked: weight [${r}, ${c}] is ${v}; int4 blocks need finite weights`);
        const a = v < 0 ? -v : v;
        if (a > amax[c]!) amax[c] = a;
      }
    }
    const srow = blk * n;
    for (let c = 0; c < n; c++) {
      let s = Math.fround(amax[c]! / 7);
      if (!(s >= 1.1754943508222875e-38)) s = 1;
      scales[srow + c] = s;
    }
    for (let r = r0; r < r1; r++) {
      const row = r * n;
      for (let c = 0; c < n; c++) {
        const q = roundHalfEven(Math.fround(b[row + c]! / scales[srow + c]!));
        codes[row + c] = q < -7 ? -7 : q > 7 ? 7 : q;
      }
    }
  }
  return { codes, scales, k, n, blockSize };
}

/** Options of quantizeInt4Weights. */
export interface Int4Options {
  /** Smallest weight (K * N elements) converted; default 1024. */
  readonly minElements?: number;
}

/** What quantizeInt4Weights did. */
export interface Int4Result {
  readonly model: CompressModel;
  readonly quantizedNodes: number;
  /** float32 bytes of the weights it converted, and the bytes they take in INT4_BLOCKED (codes + scales). */
  readonly float32Bytes: number;
  readonly int4Bytes: number;
}

/** B as a row-major [K, N] float32 array (transposing Gemm's transB form), or undefined when not convertible. */
function weightOf(n: Node, ctx: RuleContext, minElements: number): { values: Float32Array; k: number; n: number } | undefined {
  const ed = ctx.editor;
  if (n.domain !== '' || !n.inputs[0] || ed.constant(n.inputs[0]) || n.functionBody) return undefined;
  const b = ed.constant(n.inputs[1] ?? '');
  if (!b || b.type !== 'float32' || b.rank !== 2 || b.size < minElements) return undefined;
  if (n.opType === 'MatMul') return { values: b.numbers() as Float32Array, k: b.dims[0]!, n: b.dims[1]! };
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
  return { values, k, n: cols };
}

function int4Rule(minElements: number, tally: { float32Bytes: number; int4Bytes: number }): RewriteRule {
  return {
    name: 'Int4Weights',
    opTypes: ['MatMul', 'Gemm'],
    condition: (n, ctx) => weightOf(n, ctx, minElements) !== undefined,
    apply(n, ctx) {
      const ed = ctx.editor;
      const w = weightOf(n, ctx, minElements)!;
      const q = quantizeInt4Blocked(w.values, w.k, w.n);
      const codes = freshName(ed, `${n.inputs[1]}_int4`);
      const scales = freshName(ed, `${n.inputs[1]}_int4_scale`);
      const weight = freshName(ed, `${n.inputs[1]}_dequantized`);
      ed.setInitializer(codes, new Tensor('int4', q.codes, [w.k, w.n]));
      ed.setInitializer(scales, new Tensor('float32', q.scales, [Math.ceil(w.k / q.blockSize), w.n]));
      const dq = makeNode(`${n.name}_weight_dq`, 'DequantizeLinear', '', [codes, scales], [weight], { axis: 0, block_size: q.blockSize });
      const inputs = [n.inputs[0]!, weight, ...n.inputs.slice(2)];
      // a Gemm keeps its C; its weight is now [K, N], so transB is dropped
      const attrs: Record<string, unknown> = {};
      for (const [key, v] of Object.entries(n.attrs)) if (key !== 'transB') attrs[key] = v;
      ed.replaceNode(n, dq, makeNode(n.name, n.opType, '', inputs, n.outputs, attrs));
      tally.float32Bytes += 4 * w.k * w.n;
      tally.int4Bytes += INT4_BLOCKED.bytes(w.k, w.n);
      return true;
    },
  };
}

/** int4 weight-only quantization of MatMul/Gemm weights (see the file comment); the result is at opset 21. */
export function quantizeInt4Weights(model: CompressModel, options: Int4Options = {}): Int4Result {
  const tally = { float32Bytes: 0, int4Bytes: 0 };
  const run = applyRules(upgradeOpsetTo21(model), [int4Rule(options.minElements ?? 1024, tally)]);
  return { model: run.model, quantizedNodes: run.rewrites['Int4Weights'] ?? 0, ...tally };
}
