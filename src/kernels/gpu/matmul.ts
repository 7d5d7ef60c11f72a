/**
 * GPU kernels for MatMul and Gemm.
 *
 * Two kernels. The tiled one (./gemm-tiled.ts) is used whenever it pays (useTiledGemm): each fragment writes
 * one RGBA texel = four consecutive outputs of a row and reads its operands as vec4 texels, about 8x fewer
 * fetches per multiply-add. The one-output kernel below is the fallback for tiny products (N < 4, K < 4, a
 * few thousand flops) and the reference twin the tiled one is tested against: one thread per output element
 * computes a full dot product over K, its loop unrolled by four with the operands' row and column walks
 * written as literal strides. MatMul broadcasts batch dims (numpy rules, 1-D operands promoted and the
 * promoted dim dropped by inference); Gemm applies transA/transB, alpha, and beta * C with C broadcast to [M, N].
 * Cost: 2*M*N*K flops per batch; the one-output kernel does 2*K texture fetches per output element.
 */
import type { Tensor } from '../../tensor/tensor.js';
import { broadcastStridesTo, checkIndexRange, dot, int, kernelSource, lit, splitIndex } from './codegen.js';
import { runTiledGemm, useTiledGemm, type TiledGemm } from './gemm-tiled.js';
import { registerGpuKernel, runOnHost } from './runtime.js';

/**
 * Statements accumulating `acc += a[aBase + k*aStep] * b[bBase + k*bStep]` for k < K, unrolled by four.
 */
export function dotLoop(aBase: string, aStep: number, bBase: string, bStep: number, k: number): string {
  const lines = [`var acc = 0.0;`];
  const quads = Math.floor(k / 4);
  const at = (base: string, step: number, off: string): string => (step === 1 ? `${base} + ${off}` : `${base} + (${off}) * ${int(step)}`);
  if (quads > 0) {
    lines.push(
      `for (var kq = 0; kq < ${quads}; kq++) {`,
      `  var k0 = kq * 4.0;`,
      `  acc = acc + a0[${at(aBase, aStep, 'k0')}] * a1[${at(bBase, bStep, 'k0')}]`,
      `            + a0[${at(aBase, aStep, 'k0 + 1.0')}] * a1[${at(bBase, bStep, 'k0 + 1.0')}]`,
      `            + a0[${at(aBase, aStep, 'k0 + 2.0')}] * a1[${at(bBase, bStep, 'k0 + 2.0')}]`,
      `            + a0[${at(aBase, aStep, 'k0 + 3.0')}] * a1[${at(bBase, bStep, 'k0 + 3.0')}];`,
      `}`,
    );
  }
  for (let r = quads * 4; r < k; r++) lines.push(`acc = acc + a0[${at(aBase, aStep, int(r))}] * a1[${at(bBase, bStep, int(r))}];`);
  return lines.join('\n');
}

registerGpuKernel('MatMul', (scope, inputs, attrs, outputs) => {
  const a = inputs[0]!;
  const b = inputs[1]!;
  const spec = outputs[0]!;
  checkIndexRange('MatMul', spec.dims);
  const aDims = a.rank === 1 ? [1, a.dims[0]!] : [...a.dims];
  const bDims = b.rank === 1 ? [b.dims[0]!, 1] : [...b.dims];
  const m = aDims[aDims.length - 2]!;
  const k = aDims[aDims.length - 1]!;
  const n = bDims[bDims.length - 1]!;
  const batchA = aDims.slice(0, -2);
  const batchB = bDims.slice(0, -2);
  const rank = Math.max(batchA.length, batchB.length);
  const batch: number[] = [];
  for (let d = 0; d < rank; d++) {
    const da = batchA[d - (rank - batchA.length)] ?? 1;
    const db = batchB[d - (rank - batchB.length)] ?? 1;
    batch.push(Math.max(da, db));
  }
  // strides of A and B per batch dim, in elements of whole matrices
  const sa = broadcastStridesTo(batchA, batch).map((s) => s * m * k);
  const sb = broadcastStridesTo(batchB, batch).map((s) => s * k * n);
  const split = splitIndex('i', [...batch, m, n], 'c');
  const c = split.coords;
  const bc = c.slice(0, rank);
  const row = c[rank]!;
  const col = c[rank + 1]!;
  const body = [
    split.code,
    `var aBase = ${dot(bc, sa)} + ${row} * ${int(k)};`,
    `var bBase = ${dot(bc, sb)} + ${col};`,
    dotLoop('aBase', 1, 'bBase', n, k),
    'return acc;',
  ].join('\n');
  // an empty reduction (K = 0) has no texture to read: the host writes the zeros
  if (k === 0) return runOnHost(scope.device, inputs, attrs, outputs, scope.ctx);
  if (spec.dims.includes(0)) return [scope.run('', spec, [])];
  const tiled: TiledGemm = { batch, m, n, k, a: { batch: sa, outer: k, k: 1 }, b: { batch: sb, outer: 1, k: n }, alpha: 1 };
  if (useTiledGemm(tiled)) return [runTiledGemm(scope, tiled, a, b, undefined, spec.dims)];
  return [scope.run(kernelSource(['a0', 'a1'], body), spec, [a, b])];
});

registerGpuKernel('Gemm', (scope, inputs, attrs, outputs) => {
  const a = inputs[0]!;
  const b = inputs[1]!;
  const c = inputs[2];
  const spec = outputs[0]!;
  const transA = attrs['transA'] !== 0 && attrs['transA'] !== undefined;
  const transB = attrs['transB'] !== 0 && attrs['transB'] !== undefined;
  const alpha = (attrs['alpha'] as number | undefined) ?? 1;
  const beta = (attrs['beta'] as number | undefined) ?? 1;
  const [m, n] = spec.dims as [number, number];
  const k = transA ? a.dims[0]! : a.dims[1]!;
  checkIndexRange('Gemm', spec.dims);
  if (k === 0) return runOnHost(scope.device, inputs, attrs, outputs, scope.ctx);
  if (m === 0 || n === 0) return [scope.run('', spec, [])];
  const withC = !!c && beta !== 0 && c.size > 0;
  const cs = withC ? broadcastStridesTo(c.dims, [m, n]) : [];
  const tiled: TiledGemm = {
    batch: [],
    m,
    n,
    k,
    a: transA ? { batch: [], outer: 1, k: m } : { batch: [], outer: k, k: 1 },
    b: transB ? { batch: [], outer: k, k: 1 } : { batch: [], outer: 1, k: n },
    alpha,
    ...(withC ? { epilogue: { beta, index: (_b: readonly string[], row: string, col: string) => dot([row, col], cs) } } : {}),
  };
  if (useTiledGemm(tiled)) return [runTiledGemm(scope, tiled, a, b, withC ? c : undefined, spec.dims)];
  const split = splitIndex('i', [m, n], 'c');
  const [row, col] = split.coords as [string, string];
  // A[row, kk] at row*K + kk (or kk*M + row when transposed); B[kk, col] likewise
  const aBase = transA ? row : `${row} * ${int(k)}`;
  const aStep = transA ? m : 1;
  const bBase = transB ? `${col} * ${int(k)}` : col;
  const bStep = transB ? 1 : n;
  const lines = [split.code, `var aBase = ${aBase};`, `var bBase = ${bBase};`, dotLoop('aBase', aStep, 'bBase', bStep, k), `var y = acc * ${lit(alpha)};`];
  const args: Tensor[] = [a, b];
  const names = ['a0', 'a1'];
  if (withC) {
    names.push(`a${names.length}`);
    lines.push(`y = y + ${lit(beta)} * ${names[names.length - 1]}[${dot(split.coords, cs)}];`);
    args.push(c);
  }
  lines.push('return y;');
  return [scope.run(kernelSource(names, lines.join('\n')), spec, args)];
});


