/**
 * Operator family 'matmul': MatMul (numpy.matmul semantics) and Gemm (C = alpha op(A) op(B) + beta C).
 *
 * Schemas, validation and shape inference live here; the loops live in src/kernels/cpu/matmul.ts (float32
 * through the packed, multi-threaded sgemm of src/kernels/cpu/gemm.ts).
 *
 * Opset forms:
 *   - MatMul 1 (float types), 9 (+ int32/int64/uint32/uint64), 13 (+ bfloat16): one schema covers them;
 *     Tessera has no uint64 or bfloat16 tensors.
 *   - Gemm 1/6 (attribute `broadcast`, C required), 7/9 (C unidirectionally broadcast, integer types from 9),
 *     11/13 (C optional). `broadcast` is accepted and ignored: C always broadcasts unidirectionally, which
 *     agrees with every model those opsets accept (broadcast = 0 required C to be exactly M x N already).
 *     A missing C is accepted at every opset (it means C = 0).
 */
import type { OutputSpec } from '../kernels/registry.js';
import type { DataType } from '../tensor/dtype.js';
import { fmtShape } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { runOp1 } from './dispatch.js';
import { broadcastOrFail, defineOp, expectMinRank, expectRank, fail, req, type InferContext } from './schema.js';

/** Element types MatMul and Gemm accept in Tessera (the ONNX constraint minus uint64/bfloat16, not stored here). */
export const MATMUL_TYPES: readonly DataType[] = ['float32', 'float16', 'float64', 'int32', 'int64', 'uint32'];

/** The shapes of one MatMul call after numpy's 1-D promotion. */
export interface MatMulShapes {
  /** Broadcast batch dims of the output. */
  batch: number[];
  /** Batch dims of A and B (A/B dims without the last two, after promotion). */
  aBatch: number[];
  bBatch: number[];
  m: number;
  k: number;
  n: number;
  /** Output dims (promoted axes removed again). */
  out: number[];
}

/** Validate and describe a MatMul of dims `a` and `b` (numpy.matmul rules). */
export function matmulShapes(op: string, a: readonly number[], b: readonly number[], ctx?: InferContext): MatMulShapes {
  const a2 = a.length === 1 ? [1, a[0]!] : [...a];
  const b2 = b.length === 1 ? [b[0]!, 1] : [...b];
  const m = a2[a2.length - 2]!;
  const k = a2[a2.length - 1]!;
  const kb = b2[b2.length - 2]!;
  const n = b2[b2.length - 1]!;
  if (k !== kb) {
    fail(op, `inner dimensions differ: A has shape ${fmtShape(a)} (K = ${k}) and B has shape ${fmtShape(b)} (K = ${kb}); expected equal`, ctx);
  }
  const aBatch = a2.slice(0, -2);
  const bBatch = b2.slice(0, -2);
  const batch = broadcastOrFail(op, ctx, aBatch, bBatch);
  const out = [...batch];
  if (a.length > 1) out.push(m);
  if (b.length > 1) out.push(n);
  return { batch, aBatch, bBatch, m, k, n, out };
}

defineOp({
  name: 'MatMul',
  inputs: [
    { name: 'A', type: 'T' },
    { name: 'B', type: 'T' },
  ],
  outputs: ['Y'],
  types: { T: MATMUL_TYPES },
  attributes: {},
  infer(inputs, _attrs, ctx): OutputSpec[] {
    const a = req('MatMul', inputs, 0, 'A', ctx);
    const b = req('MatMul', inputs, 1, 'B', ctx);
    expectMinRank('MatMul', 'A', a, 1, ctx);
    expectMinRank('MatMul', 'B', b, 1, ctx);
    return [{ type: a.type, dims: matmulShapes('MatMul', a.dims, b.dims, ctx).out }];
  },
});

defineOp({
  name: 'Gemm',
  inputs: [
    { name: 'A', type: 'T' },
    { name: 'B', type: 'T' },
    { name: 'C', type: 'T', optional: true },
  ],
  outputs: ['Y'],
  types: { T: MATMUL_TYPES },
  attributes: {
    alpha: { kind: 'float', default: 1 },
    beta: { kind: 'float', default: 1 },
    transA: { kind: 'int', default: 0 },
    transB: { kind: 'int', default: 0 },
    broadcast: { kind: 'int', ignored: true },
  },
  infer(inputs, attrs, ctx): OutputSpec[] {
    const a = req('Gemm', inputs, 0, 'A', ctx);
    const b = req('Gemm', inputs, 1, 'B', ctx);
    expectRank('Gemm', 'A', a, 2, ctx);
    expectRank('Gemm', 'B', b, 2, ctx);
    const transA = attrs.transA !== 0;
    const transB = attrs.transB !== 0;
    const [m, k] = transA ? [a.dims[1]!, a.dims[0]!] : [a.dims[0]!, a.dims[1]!];
    const [kb, n] = transB ? [b.dims[1]!, b.dims[0]!] : [b.dims[0]!, b.dims[1]!];
    if (k !== kb) {
      fail(
        'Gemm',
        `inner dimensions differ: A has shape ${fmtShape(a.dims)}${transA ? ' (transA)' : ''} giving K = ${k} and B has shape ${fmtShape(b.dims)}${transB ? ' (transB)' : ''} giving K = ${kb}; expected equal`,
        ctx,
      );
    }
    const c = inputs[2];
    if (c) {
      const ok = c.rank <= 2 && c.dims.every((d, i) => d === 1 || d === [m, n][i + 2 - c.rank]);
      if (!ok) fail('Gemm', `input 'C' has shape ${fmtShape(c.dims)}; expected a shape unidirectionally broadcastable to [${m}, ${n}]`, ctx);
    }
    return [{ type: a.type, dims: [m, n] }];
  },
});

/**
 * Matrix product with numpy.matmul semantics: 1-D A is a row vector, 1-D B a column vector (the promoted
 * axis is dropped from the result); leading batch dims broadcast.
 */
export function matmul(a: Tensor, b: Tensor): Tensor {
  return runOp1('MatMul', [a, b]);
}

/** Options of `gemm`. */
export interface GemmOptions {
  /** Scale of op(A) op(B) (default 1). */
  alpha?: number;
  /** Scale of C (default 1). */
  beta?: number;
  /** Use A transposed (A stored K x M). */
  transA?: boolean;
  /** Use B transposed (B stored N x K). */
  transB?: boolean;
}

/** Y = alpha * op(A) op(B) + beta * C for 2-D A and B; C (optional) broadcasts to [M, N]. */
export function gemm(a: Tensor, b: Tensor, c?: Tensor, options: GemmOptions = {}): Tensor {
  return runOp1('Gemm', [a, b, c], {
    alpha: options.alpha,
    beta: options.beta,
    transA: options.transA === undefined ? undefined : options.transA ? 1 : 0,
    transB: options.transB === undefined ? undefined : options.transB ? 1 : 0,
  });
}
