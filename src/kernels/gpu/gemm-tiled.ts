/**
 * Register-tiled GEMM for the GPU backend: each fragment computes four consecutive outputs of one row.
 *
 * A WebGL fragment shader has no shared memory, so the tiling that compute-shader GEMMs do cooperatively
 * (stage a block of A and B in workgroup memory, reuse it across threads) does not exist here. What remains
 * is register tiling inside one fragment. Our tensors live in memory-optimized textures: texel t holds the
 * flat values 4t..4t+3 in RGBA. A kernel whose threads return `[v0, v1, v2, v3]` (gpu.js Array(4)) writes one
 * whole texel, i.e. four consecutive outputs, and the device hands its texture back as an ordinary
 * `size`-value texture (see GpuDevice.runQuad), so nothing downstream changes. On the input side the same
 * texture seen as vec4 texels (GpuDevice.texelView) gives four consecutive values in one fetch.
 *
 * With N a multiple of 4, thread t owns outputs C[row, 4c..4c+3] (one texel). For every four steps of k it
 * reads the A texel A[row, k..k+3] once (or four scalars when it is not texel-aligned: K % 4 != 0 or A
 * transposed) and either the four B texels B[k+i, 4c..4c+3] (B walked along its rows) or, for a transposed
 * B with K % 4 == 0, the four texels B^T[4c+j, k..k+3]: 5 fetches feed 16 multiply-adds into four
 * accumulators, one per output. The one-output kernel (./matmul.ts) fetches two scalars per multiply-add,
 * and with optimizeFloatMemory gpu.js runs its whole body four times per fragment (once per RGBA channel),
 * so the tiled kernel also does a quarter of the loop and index overhead. On Mesa llvmpipe (software) that
 * is 3-13x on GEMM-shaped calls (docs/gpu.md section 5, bench/gpu-tiling.ts).
 *
 * N not a multiple of 4: a row of C does not start on a texel boundary. We pad instead of branching: B
 * (when walked along its rows) is copied into [.., K, Np] with Np = N rounded up to 4 and zero columns, the
 * tiled kernel writes C into [.., M, Np], and a gather pass drops the padding columns. Both extra passes are
 * memory-bound (K*Np and M*N fetches, against 2*M*N*K flops); a transposed B is read with its column index
 * clamped, so it needs no copy.
 * Cost: 2*M*N*K flops per batch; (K/4)*(1 + 4) texel fetches per 4 outputs when both operands are aligned.
 */
import { fmtShape } from '../../tensor/shape.js';
import { KernelError } from '../../tensor/errors.js';
import type { Tensor } from '../../tensor/tensor.js';
import { checkIndexRange, dot, int, lit, splitIndex } from './codegen.js';
import type { GpuJsTexture } from './context.js';
import { wrapTexture, type CallScope } from './runtime.js';

/** How one GEMM operand is addressed: element strides (in values) per batch dim and per matrix dim. */
export interface OperandWalk {
  /** Element stride of the operand for each output batch dim (0 where broadcast). */
  readonly batch: readonly number[];
  /** Element stride along the output row (A) or output column (B). */
  readonly outer: number;
  /** Element stride along k. */
  readonly k: number;
}

/** A batched GEMM C[b, m, n] = alpha * sum_k A[b, m, k] * B[b, k, n] (+ epilogue), as the tiled kernel sees it. */
export interface TiledGemm {
  /** Output batch dims (C is [...batch, m, n], row-major). */
  readonly batch: readonly number[];
  readonly m: number;
  readonly n: number;
  readonly k: number;
  readonly a: OperandWalk;
  readonly b: OperandWalk;
  readonly alpha: number;
  /**
   * An extra term added to each output from a third texture `a2`: `beta * a2[index]`, where `index` is
   * written from the batch coordinates, the row and the column (all GLSL float expressions).
   */
  readonly epilogue?: {
    readonly beta: number;
    readonly index: (batch: readonly string[], row: string, col: string) => string;
  };
}

/** How the tiled kernel reads B. */
type BRead = 'rows' | 'cols' | 'scalar';

/** Whether A is read as texels along k: contiguous along k, rows and batch steps on texel boundaries. */
function aVectorizable(g: TiledGemm): boolean {
  return g.a.k === 1 && g.k % 4 === 0 && g.a.outer % 4 === 0 && g.a.batch.every((s) => s % 4 === 0);
}

/** How B is read: texels along its rows (B[k, 4c..4c+3]), along k (B^T rows), or scalars. */
function bReadOf(g: TiledGemm): BRead {
  // (when C is padded, the texels of B past column N feed only padding outputs, which are dropped)
  if (g.b.outer === 1 && g.b.k % 4 === 0 && g.b.batch.every((s) => s % 4 === 0)) return 'rows';
  if (g.b.k === 1 && g.k % 4 === 0 && g.b.outer % 4 === 0 && g.b.batch.every((s) => s % 4 === 0)) return 'cols';
  return 'scalar';
}

/**
 * Source of the tiled kernel for `g` with `cols` output columns (a multiple of 4; C is [...batch, m, cols],
 * columns >= g.n being padding whose B reads are clamped to column g.n - 1).
 * Arguments: a0 = A (texel view when vectorized along k), a1 = B (texel view unless read as scalars), a2 =
 * the epilogue's texture. Returns the source and how each operand must be passed.
 */
export function tiledGemmSource(g: TiledGemm, cols: number): { source: string; aTexels: boolean; bTexels: boolean } {
  if (cols % 4 !== 0 || cols < g.n) throw new KernelError(`tiledGemmSource: ${cols} output columns must be a multiple of 4 and at least N = ${g.n}`);
  const aVec = aVectorizable(g);
  const bRead = bReadOf(g);
  const split = splitIndex('t', [...g.batch, g.m, cols / 4], 'q');
  const bc = split.coords.slice(0, g.batch.length);
  const row = split.coords[g.batch.length]!;
  const c4 = split.coords[g.batch.length + 1]!;
  const lines = [split.code, `var col = ${c4} * 4.0;`];
  const aBase = `${dot(bc, g.a.batch)} + ${row} * ${int(g.a.outer)}`;
  lines.push(aVec ? `var aT = (${aBase}) * 0.25;` : `var aB = ${aBase};`);
  // B column j of the tile (clamped into the valid columns when C is padded)
  // (if-clamps: gpu.js types whole-number literals as integers, which GLSL's min(float, int) rejects)
  const colJ = (j: number): string => (cols === g.n ? `(col + ${int(j)})` : `cl${j}`);
  if (cols !== g.n) for (let j = 0; j < 4; j++) lines.push(`var cl${j} = col + ${int(j)};`, `if (cl${j} > ${int(g.n - 1)}) { cl${j} = ${int(g.n - 1)}; }`);
  const bBatch = dot(bc, g.b.batch);
  if (bRead === 'rows') lines.push(`var bT = (${bBatch} + col) * 0.25;`);
  else {
    for (let j = 0; j < 4; j++) {
      const base = `${bBatch} + ${colJ(j)} * ${int(g.b.outer)}`;
      lines.push(bRead === 'cols' ? `var bT${j} = (${base}) * 0.25;` : `var bB${j} = ${base};`);
    }
  }
  lines.push('var s0 = 0.0;', 'var s1 = 0.0;', 'var s2 = 0.0;', 'var s3 = 0.0;');
  const kStep = (k: string, step: number): string => (step === 1 ? k : `${k} * ${int(step)}`);
  /** Statements for one k step whose A value is `av` and whose index is the GLSL expression `k`. */
  const scalarStep = (av: string, k: string, tag: string): string[] => {
    if (bRead === 'rows') {
      const out = [`var br${tag} = a1[bT + ${kStep(k, g.b.k / 4)}];`];
      for (let j = 0; j < 4; j++) out.push(`s${j} = s${j} + ${av} * br${tag}[${j}];`);
      return out;
    }
    return [0, 1, 2, 3].map((j) => `s${j} = s${j} + ${av} * a1[bB${j} + ${kStep(k, g.b.k)}];`);
  };
  const quads = Math.floor(g.k / 4);
  if (quads > 0) {
    lines.push(`for (var kq = 0; kq < ${quads}; kq++) {`, '  var k0 = kq * 4.0;');
    const av: string[] = [];
    if (aVec) {
      lines.push('  var av = a0[aT + kq];');
      for (let i = 0; i < 4; i++) av.push(`av[${i}]`);
    } else {
      for (let i = 0; i < 4; i++) {
        lines.push(`  var x${i} = a0[aB + ${kStep(`(k0 + ${int(i)})`, g.a.k)}];`);
        av.push(`x${i}`);
      }
    }
    if (bRead === 'cols') {
      for (let j = 0; j < 4; j++) lines.push(`  var bc${j} = a1[bT${j} + kq];`);
      for (let j = 0; j < 4; j++) lines.push(`  s${j} = s${j} + ${av.map((a, i) => `${a} * bc${j}[${i}]`).join(' + ')};`);
    } else if (bRead === 'rows') {
      // one texel of B per k: row k0 + i, columns col..col+3
      for (let i = 0; i < 4; i++) lines.push(`  var br${i} = a1[bT + ${kStep(`(k0 + ${int(i)})`, g.b.k / 4)}];`);
      for (let j = 0; j < 4; j++) lines.push(`  s${j} = s${j} + ${av.map((a, i) => `${a} * br${i}[${j}]`).join(' + ')};`);
    } else {
      for (let i = 0; i < 4; i++) lines.push(...scalarStep(av[i]!, `(k0 + ${int(i)})`, `q${i}`).map((l) => `  ${l}`));
    }
    lines.push('}');
  }
  // the K % 4 tail (never with texel reads along k, which need K % 4 == 0)
  for (let r = quads * 4; r < g.k; r++) {
    lines.push(`var xr${r} = a0[aB + ${int(r * g.a.k)}];`);
    lines.push(...scalarStep(`xr${r}`, int(r), `t${r}`));
  }
  const ys: string[] = [];
  for (let j = 0; j < 4; j++) {
    let y = g.alpha === 1 ? `s${j}` : `s${j} * ${lit(g.alpha)}`;
    if (g.epilogue) {
      const idx = g.epilogue.index(bc, row, colJ(j));
      y = `${y} + ${g.epilogue.beta === 1 ? '' : `${lit(g.epilogue.beta)} * `}a2[${idx}]`;
    }
    ys.push(y);
  }
  lines.push(`return [${ys.join(', ')}];`);
  const args = g.epilogue ? ['a0', 'a1', 'a2'] : ['a0', 'a1'];
  const source = `function (${args.join(', ')}) {\nvar t = this.thread.x + 0.0;\n${lines.join('\n')}\n}`;
  return { source, aTexels: aVec, bTexels: bRead !== 'scalar' };
}

/** Source of the pass that copies B [rows, n] into [rows, cols] with zero columns n..cols-1 (a quad kernel). */
export function padColumnsSource(rows: number, n: number, cols: number): string {
  const split = splitIndex('t', [rows, cols / 4], 'p');
  const [r, c4] = split.coords as [string, string];
  const vals: string[] = [];
  const lines = [split.code, `var base = ${r} * ${int(n)};`];
  for (let j = 0; j < 4; j++) {
    lines.push(`var c${j} = ${c4} * 4.0 + ${int(j)};`, `var v${j} = 0.0;`, `if (c${j} < ${int(n)}) { v${j} = a0[base + c${j}]; }`);
    vals.push(`v${j}`);
  }
  lines.push(`return [${vals.join(', ')}];`);
  return `function (a0) {\nvar t = this.thread.x + 0.0;\n${lines.join('\n')}\n}`;
}

/** Source of the pass that drops padding columns: out [rows, n] from src [rows, cols]. */
export function dropColumnsSource(rows: number, n: number, cols: number): string {
  const split = splitIndex('i', [rows, n], 'd');
  const [r, c] = split.coords as [string, string];
  return `function (a0) {\nvar i = this.thread.x + 0.0;\n${split.code}\nreturn a0[${r} * ${int(cols)} + ${c}];\n}`;
}

/** How many calls took each tiled path since the process started (tests check which kernel ran). */
export const tiledCalls = { gemm: 0, conv: 0 };

/** Tiling policy of MatMul, Gemm and 1x1 Conv: 'auto' (when it pays), 'always' (when it applies), 'never'. */
export type GemmTiling = 'auto' | 'always' | 'never';

/** The policy at startup: TESSERA_GPU_TILING=auto|always|never in Node (before/after runs), else 'auto'. */
function initialTiling(): GemmTiling {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.['TESSERA_GPU_TILING'];
  if (env === undefined || env === '') return 'auto';
  if (env === 'auto' || env === 'always' || env === 'never') return env;
  throw new KernelError(`TESSERA_GPU_TILING must be auto, always or never, got '${env}'`);
}

let tiling: GemmTiling = initialTiling();

/** Set the tiling policy (tests and benchmarks compare the tiled and one-output kernels); returns the previous one. */
export function setGemmTiling(mode: GemmTiling): GemmTiling {
  const prev = tiling;
  tiling = mode;
  return prev;
}

/** The current tiling policy. */
export function gemmTilingMode(): GemmTiling {
  return tiling;
}

/**
 * Whether `g` runs tiled. 'auto' skips tiny products, where the extra passes of a padded N or the fragment
 * overhead dominate: at least 4 output columns, K >= 4 and 2*M*N*K >= 2^14 flops; a padded N (not a
 * multiple of 4) also needs M >= 4 so the copy of B stays small against the product.
 */
export function useTiledGemm(g: TiledGemm): boolean {
  if (tiling === 'never' || g.n === 0 || g.m === 0 || g.k === 0) return false;
  if (tiling === 'always') return true;
  const batch = g.batch.reduce((p, d) => p * d, 1);
  if (g.n < 4 || g.k < 4 || 2 * batch * g.m * g.n * g.k < 1 << 14) return false;
  return g.n % 4 === 0 || g.m >= 4;
}

/**
 * Run `g` tiled: A and B are the operands' tensors (flat layouts as `g` addresses them), `extra` the
 * epilogue's tensor, `outDims` the result's dims (any dims with [...batch, m, n] element order).
 */
export function runTiledGemm(scope: CallScope, g: TiledGemm, a: Tensor, b: Tensor, extra: Tensor | undefined, outDims: readonly number[]): Tensor {
  const batch = g.batch.reduce((p, d) => p * d, 1);
  const size = batch * g.m * g.n;
  if (size !== outDims.reduce((p, d) => p * d, 1)) throw new KernelError(`${scope.ctx.op}: tiled GEMM of ${batch}x${g.m}x${g.n} cannot fill an output of dims ${fmtShape(outDims)}`);
  if (g.epilogue && !extra) throw new KernelError(`${scope.ctx.op}: tiled GEMM epilogue without its tensor`);
  const device = scope.device;
  const cols = Math.ceil(g.n / 4) * 4;
  tiledCalls.gemm++;
  const temps: Tensor[] = [];
  const views: GpuJsTexture[] = [];
  try {
    let gemm = g;
    let bTensor = b;
    if (cols !== g.n && g.b.outer === 1 && g.b.k === g.n) {
      // B walked along contiguous rows of length N: copy it with zero columns up to a texel boundary
      const rows = b.size / g.n;
      checkIndexRange(scope.ctx.op, [rows, cols]);
      const padded = wrapTexture(device, device.runQuad(padColumnsSource(rows, g.n, cols), rows * cols, [scope.texture(b)]), [rows * cols]);
      temps.push(padded);
      bTensor = padded;
      gemm = { ...g, b: { batch: g.b.batch.map((s) => (s / g.n) * cols), outer: 1, k: cols } };
    }
    checkIndexRange(scope.ctx.op, [batch * g.m, cols]);
    const { source, aTexels, bTexels } = tiledGemmSource(gemm, cols);
    const arg = (t: Tensor, texels: boolean): GpuJsTexture => {
      const tex = scope.texture(t);
      if (!texels) return tex;
      const view = device.texelView(tex, t.size);
      views.push(view);
      return view;
    };
    const args = [arg(a, aTexels), arg(bTensor, bTexels)];
    if (extra) args.push(scope.texture(extra));
    const rendered = device.runQuad(source, batch * g.m * cols, args);
    if (cols === g.n) return wrapTexture(device, rendered, outDims);
    const wide = wrapTexture(device, rendered, [batch * g.m * cols]);
    temps.push(wide);
    return wrapTexture(device, device.run(dropColumnsSource(batch * g.m, g.n, cols), size, [wide.texture]), outDims);
  } finally {
    for (const v of views) v.delete();
    for (const t of temps) t.dispose();
  }
}
