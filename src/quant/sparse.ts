/**
 * Sparse execution of pruned convolutions: CSR storage of Conv weights, the pass that picks it where it pays,
 * and the measurement that says where it pays.
 *
 * - `toCsr`: a [M, C, kH, kW] weight as CSR over its [M, C*kH*kW] view (values, int32 columns, int32 row starts).
 * - `sparsifyWeights`: every plain 2-D Conv with group 1, a constant float32 weight and explicit or default
 *   geometry (auto_pad NOTSET) whose weight sparsity is at least `minSparsity` becomes a com.tessera SparseConv
 *   (src/ops/quant-fused.ts) reading the CSR initializers. Tessera-only (onnxruntime has no such op): run it in a
 *   session, save the dense pruned model for other runtimes.
 * - `measureSparseCrossover`: on one convolution shape, times the dense Conv kernel and SparseConv at a list of
 *   sparsities (same process, interleaved, medians) and reports the lowest sparsity from which the sparse
 *   kernel is faster at every measured point: the `minSparsity` to use.
 */
import { TesseraError } from '../tensor/errors.js';
import { Tensor } from '../tensor/tensor.js';
import { makeNode } from '../graph/passes/editor.js';
import type { RewriteRule } from '../graph/passes/rule.js';
import '../kernels/cpu/index.js';
import { conv } from '../ops/conv.js';
import '../ops/index.js';
import { sparseConv } from '../ops/quant-fused.js';
import { applyRules, freshName, type CompressModel } from './model.js';

/** CSR form of a weight's [rows, rest] view. */
export interface CsrWeight {
  readonly values: Float32Array;
  readonly columns: Int32Array;
  readonly rowStarts: Int32Array;
}

/** CSR of `w` viewed as [w.dims[0], size / dims[0]] (zeros dropped). */
export function toCsr(w: Tensor): CsrWeight {
  const v = w.numbers();
  const rows = w.dims[0]!;
  const cols = rows ? v.length / rows : 0;
  let nnz = 0;
  for (let i = 0; i < v.length; i++) if (v[i] !== 0) nnz++;
  const values = new Float32Array(nnz);
  const columns = new Int32Array(nnz);
  const rowStarts = new Int32Array(rows + 1);
  let p = 0;
  for (let r = 0; r < rows; r++) {
    rowStarts[r] = p;
    for (let c = 0; c < cols; c++) {
      const x = v[r * cols + c]!;
      if (x !== 0) {
        values[p] = x;
        columns[p++] = c;
      }
    }
  }
  rowStarts[rows] = p;
  return { values, columns, rowStarts };
}

function sparsityOf(t: Tensor): number {
  const v = t.numbers();
  let z = 0;
  for (let i = 0; i < v.length; i++) if (v[i] === 0) z++;
  return v.length ? z / v.length : 0;
}

function sparseRule(minSparsity: number): RewriteRule {
  return {
    name: 'SparseConv',
    opTypes: ['Conv'],
    condition(n, ctx) {
      const w = ctx.editor.constant(n.inputs[1] ?? '');
      if (!w || w.type !== 'float32' || w.rank !== 4 || !n.inputs[0] || ctx.editor.constant(n.inputs[0])) return false;
      if ((n.attrs['group'] ?? 1) !== 1 || (n.attrs['auto_pad'] ?? 'NOTSET') !== 'NOTSET') return false;
      if (n.inputs[2] && ctx.editor.constant(n.inputs[2])?.type !== 'float32') return false;
      return sparsityOf(w) >= minSparsity;
    },
    apply(n, ctx) {
      const ed = ctx.editor;
      const w = ed.constant(n.inputs[1]!)!;
      const csr = toCsr(w);
      const base = n.inputs[1]!;
      const names = ['values', 'columns', 'row_starts'].map((s) => freshName(ed, `${base}_csr_${s}`)) as [string, string, string];
      ed.setInitializer(names[0], new Tensor('float32', csr.values, [csr.values.length]));
      ed.setInitializer(names[1], new Tensor('int32', csr.columns, [csr.columns.length]));
      ed.setInitializer(names[2], new Tensor('int32', csr.rowStarts, [csr.rowStarts.length]));
      const attrs = {
        weight_shape: w.dims,
        strides: n.attrs['strides'] ?? [1, 1],
        pads: n.attrs['pads'] ?? [0, 0, 0, 0],
        dilations: n.attrs['dilations'] ?? [1, 1],
      };
      const inputs = [n.inputs[0]!, ...names, ...(n.inputs[2] ? [n.inputs[2]] : [])];
      ed.replaceNode(n, makeNode(n.name, 'SparseConv', 'com.tessera', inputs, n.outputs, attrs));
      ctx.useDomain('com.tessera', 1);
      return true;
    },
  };
}

/** Rewrite sparse-enough Convs to SparseConv (see the file comment). */
export function sparsifyWeights(model: CompressModel, options: { minSparsity: number }): { model: CompressModel; sparseNodes: number } {
  if (!(options.minSparsity >= 0 && options.minSparsity <= 1)) throw new TesseraError(`sparsifyWeights: minSparsity must be in [0, 1], got ${options.minSparsity}`);
  const run = applyRules(model, [sparseRule(options.minSparsity)]);
  return { model: run.model, sparseNodes: run.rewrites['SparseConv'] ?? 0 };
}

/** One measured point of the crossover. */
export interface CrossoverPoint {
  readonly sparsity: number;
  readonly denseMs: number;
  readonly sparseMs: number;
}

/** Shape of the convolution the crossover is measured on. */
export interface CrossoverShape {
  readonly outChannels: number;
  readonly inChannels: number;
  readonly kernel: number;
  readonly height: number;
  readonly width: number;
}

/** Deterministic pseudo-random floats in [-1, 1). */
function noise(n: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = ((s >>> 0) / 4294967296) * 2 - 1;
  }
  return out;
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

/**
 * Time dense Conv against SparseConv on `shape` at each sparsity (unstructured, random positions), `runs`
 * interleaved rounds, medians. `crossover` is the lowest measured sparsity from which SparseConv is faster
 * at every higher measured point too (undefined when it never is).
 */
export function measureSparseCrossover(shape: CrossoverShape, sparsities: readonly number[] = [0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95], runs = 9): { points: CrossoverPoint[]; crossover: number | undefined } {
  const { outChannels: m, inChannels: c, kernel: k, height: h, width: w } = shape;
  const pad = (k - 1) >> 1;
  const x = new Tensor('float32', noise(c * h * w, 7), [1, c, h, w]);
  const dense = noise(m * c * k * k, 11);
  const rank = noise(dense.length, 13);
  const cases = sparsities.map((sp) => {
    const v = Float32Array.from(dense);
    for (let i = 0; i < v.length; i++) if ((rank[i]! + 1) / 2 < sp) v[i] = 0;
    const wt = new Tensor('float32', v, [m, c, k, k]);
    const csr = toCsr(wt);
    return {
      sparsity: sp,
      dense: () => conv(x, wt, undefined, { pads: [pad, pad, pad, pad] }),
      sparse: () =>
        sparseConv(x, new Tensor('float32', csr.values, [csr.values.length]), new Tensor('int32', csr.columns, [csr.columns.length]), new Tensor('int32', csr.rowStarts, [m + 1]), undefined, {
          weightShape: [m, c, k, k],
          pads: [pad, pad, pad, pad],
        }),
    };
  });
  const times = cases.map(() => ({ dense: [] as number[], sparse: [] as number[] }));
  for (const cs of cases) {
    cs.dense().dispose();
    cs.sparse().dispose();
  }
  for (let r = 0; r < runs; r++) {
    cases.forEach((cs, i) => {
      let t0 = performance.now();
      cs.dense().dispose();
      times[i]!.dense.push(performance.now() - t0);
      t0 = performance.now();
      cs.sparse().dispose();
      times[i]!.sparse.push(performance.now() - t0);
    });
  }
  const points = cases.map((cs, i) => ({ sparsity: cs.sparsity, denseMs: median(times[i]!.dense), sparseMs: median(times[i]!.sparse) }));
  let crossover: number | undefined;
  for (let i = points.length - 1; i >= 0 && points[i]!.sparseMs < points[i]!.denseMs; i--) crossover = points[i]!.sparsity;
  return { points, crossover };
}
