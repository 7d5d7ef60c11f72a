/**
 * Prune passes: set weights of Conv / MatMul / Gemm to zero, or remove whole Conv output channels.
 *
 * - `pruneMagnitude`: unstructured magnitude pruning to a target sparsity, either `global` (one threshold on
 *   |w| over all pruned weights together, so layers with many small weights lose more) or per `layer` (each
 *   weight tensor loses the same share). Exactly round(sparsity * count) weights become zero: the smallest by
 *   |w|, ties broken by position. Weights smaller than `minElements` (biases, tiny heads) are left alone.
 * - `pruneNM`: N:M semi-structured pruning (2:4 by default): along the reduction axis of each weight (Conv:
 *   the C/g * kh * kw inputs of each output channel; MatMul: the K rows of each column; Gemm likewise), every
 *   group of M consecutive weights keeps its N largest |w| (ties to the first). Weights whose reduction length
 *   is not a multiple of M are left dense (the pattern would not hold on their tail).
 * - `pruneChannels` (./prune-channels.ts): structured removal of Conv output channels.
 *
 * The result is a normal float32 model (zeros stored densely; onnxruntime loads it). Sparse execution is a
 * separate choice: `sparsifyWeights` (./sparse.ts) stores weights above a measured sparsity in CSR form.
 */
import { TesseraError } from '../tensor/errors.js';
import { Tensor } from '../tensor/tensor.js';
import type { Node } from '../graph/ir.js';
import { Executor } from '../graph/executor.js';
import { GraphEditor, makeNode } from '../graph/passes/editor.js';
import type { CompressModel } from './model.js';
import { applyRules, freshName } from './model.js';

/** A prunable weight: the initializer name, its tensor, and how its reduction axis is laid out. */
export interface PrunableWeight {
  readonly name: string;
  readonly tensor: Tensor;
  /** Output channels (rows of the [outputs, reduction] view) and reduction length per output. */
  readonly outputs: number;
  readonly reduction: number;
  /** True when the reduction of output o is contiguous (Conv, Gemm transB); false for MatMul/Gemm B[K, N]. */
  readonly rowMajor: boolean;
}

/** Constant float32 weights of Conv / MatMul / Gemm (each initializer once), at least `minElements` large. */
export function prunableWeights(model: CompressModel, minElements = 64, groupedConvs = true): PrunableWeight[] {
  const ed = new GraphEditor(model.graph, model.opsets, true);
  const out = new Map<string, PrunableWeight>();
  const consider = (n: Node): void => {
    const name = n.inputs[1];
    if (!name || n.domain !== '') return;
    const t = ed.constant(name);
    if (!t || t.type !== 'float32' || t.size < minElements || out.has(name)) return;
    if (n.opType === 'Conv' && !groupedConvs && ((n.attrs['group'] as number | undefined) ?? 1) !== 1) return;
    if (n.opType === 'Conv' && t.rank >= 3) out.set(name, { name, tensor: t, outputs: t.dims[0]!, reduction: t.size / t.dims[0]!, rowMajor: true });
    else if (n.opType === 'MatMul' && t.rank === 2) out.set(name, { name, tensor: t, outputs: t.dims[1]!, reduction: t.dims[0]!, rowMajor: false });
    else if (n.opType === 'Gemm' && t.rank === 2) {
      const transB = !!n.attrs['transB'];
      out.set(name, { name, tensor: t, outputs: transB ? t.dims[0]! : t.dims[1]!, reduction: transB ? t.dims[1]! : t.dims[0]!, rowMajor: transB });
    }
  };
  for (const n of ed.nodes) if (n.opType === 'Conv' || n.opType === 'MatMul' || n.opType === 'Gemm') consider(n);
  return [...out.values()];
}

/** What a prune pass did. */
export interface PruneResult {
  readonly model: CompressModel;
  /** Weights considered, their elements, and how many of those are zero afterwards. */
  readonly tensors: number;
  readonly elements: number;
  readonly zeros: number;
}

/** The model with some initializers replaced (then cleaned like every pass's output). */
function withInitializers(model: CompressModel, replaced: ReadonlyMap<string, Tensor>): CompressModel {
  const ed = new GraphEditor(model.graph, model.opsets, true);
  for (const [name, t] of replaced) ed.setInitializer(name, t);
  return applyRules({ ...model, graph: ed.build() }, []).model;
}

/** Add `fix[o]` to the bias of each Conv (creating a bias when it has none; a shared bias is copied). */
function withBiasFixes(model: CompressModel, fixes: ReadonlyMap<Node, Float64Array>): CompressModel {
  const ed = new GraphEditor(model.graph, model.opsets, true);
  const byName = new Map([...fixes].map(([n, f]) => [n.name, f]));
  for (const n of [...ed.nodes]) {
    const fix = byName.get(n.name);
    if (!fix || n.opType !== 'Conv') continue;
    const old = n.inputs[2] ? ed.constant(n.inputs[2])?.numbers() : undefined;
    if (n.inputs[2] && !old) continue;
    const b = new Float32Array(fix.length);
    for (let o = 0; o < fix.length; o++) b[o] = (old ? old[o]! : 0) + fix[o]!;
    const name = freshName(ed, `${n.inputs[1]}_bias_corrected`);
    ed.setInitializer(name, new Tensor('float32', b, [fix.length]));
    ed.replaceNode(n, makeNode(n.name, n.opType, n.domain, [n.inputs[0]!, n.inputs[1]!, name], n.outputs, n.attrs));
  }
  return applyRules({ ...model, graph: ed.build() }, []).model;
}

function countZeros(v: Float32Array): number {
  let z = 0;
  for (let i = 0; i < v.length; i++) if (v[i] === 0) z++;
  return z;
}

/** Indices of `values` sorted by |value| ascending, ties by index (a stable order). */
function byMagnitude(values: Float32Array): Uint32Array {
  const idx = new Uint32Array(values.length);
  for (let i = 0; i < idx.length; i++) idx[i] = i;
  return idx.sort((a, b) => Math.abs(values[a]!) - Math.abs(values[b]!) || a - b);
}

/** Options of pruneMagnitude. */
export interface MagnitudeOptions {
  /** Share of weights set to zero, in [0, 1). */
  readonly sparsity: number;
  /** 'global' (one threshold) or 'layer' (the same share in every weight). Default 'global'. */
  readonly scope?: 'global' | 'layer';
  /** Smallest weight considered (elements). Default 64. */
  readonly minElements?: number;
  /** Also prune grouped (e.g. depthwise) Conv weights. Default true. */
  readonly groupedConvs?: boolean;
  /**
   * Representative input feeds. When given, Conv weights are ranked by |w| * rms(x_c) (the weight times the
   * root-mean-square of the input channel it multiplies, so weights on quiet channels go first), and each
   * pruned Conv's bias absorbs the mean of what the removed weights contributed:
   * b[o] += sum over removed (c, k) of w[o, c, k] * mean(x_c) (padding ignored).
   */
  readonly calibration?: readonly ReadonlyMap<string, Tensor>[];
}

/** Per input channel mean and root-mean-square of each Conv input over the calibration feeds. */
function convInputMoments(model: CompressModel, convs: readonly Node[], feeds: readonly ReadonlyMap<string, Tensor>[]): Map<Node, { mean: Float64Array; rms: Float64Array }> {
  const names = [...new Set(convs.map((n) => n.inputs[0]!))];
  const sums = new Map<string, { sum: Float64Array; sq: Float64Array; count: number }>();
  const executor = new Executor(model.opsets, { backend: 'cpu' });
  for (const f of feeds) {
    const { outputs } = executor.run(model.graph, f, names);
    outputs.forEach((t, i) => {
      const [n, c] = [t.dims[0] ?? 1, t.dims[1] ?? 1];
      const plane = t.size / Math.max(1, n * c);
      let e = sums.get(names[i]!);
      if (!e) sums.set(names[i]!, (e = { sum: new Float64Array(c), sq: new Float64Array(c), count: 0 }));
      const v = t.numbers();
      for (let b = 0; b < n; b++) {
        for (let ch = 0; ch < c; ch++) {
          const base = (b * c + ch) * plane;
          for (let p = 0; p < plane; p++) {
            const x = v[base + p]!;
            e.sum[ch]! += x;
            e.sq[ch]! += x * x;
          }
        }
      }
      e.count += n * plane;
      t.dispose();
    });
  }
  const out = new Map<Node, { mean: Float64Array; rms: Float64Array }>();
  for (const n of convs) {
    const e = sums.get(n.inputs[0]!)!;
    out.set(n, { mean: e.sum.map((x) => x / Math.max(1, e.count)), rms: e.sq.map((x) => Math.sqrt(x / Math.max(1, e.count))) });
  }
  return out;
}

/** Unstructured magnitude pruning (see the file comment). */
export function pruneMagnitude(model: CompressModel, options: MagnitudeOptions): PruneResult {
  const { sparsity } = options;
  if (!(sparsity >= 0 && sparsity < 1)) throw new TesseraError(`pruneMagnitude: sparsity must be in [0, 1), got ${sparsity}`);
  const weights = prunableWeights(model, options.minElements ?? 64, options.groupedConvs ?? true);
  const copies = weights.map((w) => Float32Array.from(w.tensor.numbers()));
  // the Conv reading each weight (for activation-aware scores and bias correction)
  const convOf = new Map<string, Node>();
  for (const n of model.graph.nodes) if (n.opType === 'Conv' && n.domain === '' && n.inputs[1] && !convOf.has(n.inputs[1])) convOf.set(n.inputs[1], n);
  const moments = options.calibration?.length ? convInputMoments(model, weights.map((w) => convOf.get(w.name)).filter((n): n is Node => !!n), options.calibration) : undefined;
  /** Per-element input channel of a Conv weight (group-aware), or undefined for MatMul/Gemm. */
  const channelOf = (w: PrunableWeight): ((i: number) => number) | undefined => {
    const conv = convOf.get(w.name);
    if (!conv || !moments) return undefined;
    const [m, cg] = [w.tensor.dims[0]!, w.tensor.dims[1]!];
    const k = w.tensor.size / (m * cg);
    const group = (conv.attrs['group'] as number | undefined) ?? 1;
    const mg = m / group;
    return (i) => Math.floor(i / (cg * k) / mg) * cg + (Math.floor(i / k) % cg);
  };
  const scores = weights.map((w, t) => {
    const v = copies[t]!;
    const ch = channelOf(w);
    const rms = ch ? moments!.get(convOf.get(w.name)!)!.rms : undefined;
    const out = new Float32Array(v.length);
    for (let i = 0; i < v.length; i++) out[i] = Math.abs(v[i]!) * (ch ? rms![ch(i)]! : 1);
    return out;
  });
  const removedMask = copies.map((v) => new Uint8Array(v.length));
  if ((options.scope ?? 'global') === 'layer') {
    scores.forEach((sc, t) => {
      const order = byMagnitude(sc);
      const drop = Math.round(sparsity * sc.length);
      for (let i = 0; i < drop; i++) removedMask[t]![order[i]!] = 1;
    });
  } else {
    // one ranking over all weights: (tensor, index) pairs ordered by score
    const total = copies.reduce((p, v) => p + v.length, 0);
    const owner = new Uint32Array(total);
    const local = new Uint32Array(total);
    const all = new Float32Array(total);
    let at = 0;
    scores.forEach((sc, t) => {
      for (let i = 0; i < sc.length; i++, at++) {
        owner[at] = t;
        local[at] = i;
        all[at] = sc[i]!;
      }
    });
    const order = byMagnitude(all);
    const drop = Math.round(sparsity * total);
    for (let i = 0; i < drop; i++) removedMask[owner[order[i]!]!]![local[order[i]!]!] = 1;
  }
  const biasFixes = new Map<Node, Float64Array>();
  weights.forEach((w, t) => {
    const v = copies[t]!;
    const mask = removedMask[t]!;
    const ch = channelOf(w);
    if (ch) {
      const mean = moments!.get(convOf.get(w.name)!)!.mean;
      const per = v.length / w.tensor.dims[0]!;
      const fix = new Float64Array(w.tensor.dims[0]!);
      for (let i = 0; i < v.length; i++) if (mask[i]) fix[Math.floor(i / per)]! += v[i]! * mean[ch(i)]!;
      biasFixes.set(convOf.get(w.name)!, fix);
    }
    for (let i = 0; i < v.length; i++) if (mask[i]) v[i] = 0;
  });
  const replaced = new Map(weights.map((w, i) => [w.name, new Tensor('float32', copies[i]!, w.tensor.dims)]));
  let pruned = withInitializers(model, replaced);
  if (biasFixes.size) pruned = withBiasFixes(pruned, biasFixes);
  return {
    model: pruned,
    tensors: weights.length,
    elements: copies.reduce((p, v) => p + v.length, 0),
    zeros: copies.reduce((p, v) => p + countZeros(v), 0),
  };
}

/** Options of pruneNM. */
export interface NMOptions {
  /** Weights kept per group (default 2). */
  readonly n?: number;
  /** Group length along the reduction axis (default 4). */
  readonly m?: number;
  readonly minElements?: number;
}

/** Keep the n largest |w| of every m consecutive reduction weights of each output, in place. */
export function applyNM(v: Float32Array, w: Pick<PrunableWeight, 'outputs' | 'reduction' | 'rowMajor'>, n: number, m: number): void {
  const at = (o: number, r: number): number => (w.rowMajor ? o * w.reduction + r : r * w.outputs + o);
  const group = new Array<number>(m);
  for (let o = 0; o < w.outputs; o++) {
    for (let g = 0; g < w.reduction; g += m) {
      for (let j = 0; j < m; j++) group[j] = j;
      // order the group's positions by |w| descending, ties to the earlier position; zero all but the first n
      group.sort((a, b) => Math.abs(v[at(o, g + b)]!) - Math.abs(v[at(o, g + a)]!) || a - b);
      for (let j = n; j < m; j++) v[at(o, g + group[j]!)] = 0;
    }
  }
}

/** N:M semi-structured pruning (see the file comment). */
export function pruneNM(model: CompressModel, options: NMOptions = {}): PruneResult {
  const n = options.n ?? 2;
  const m = options.m ?? 4;
  if (!Number.isInteger(n) || !Number.isInteger(m) || n < 0 || m < 1 || n > m) throw new TesseraError(`pruneNM: need integers 0 <= n <= m and m >= 1, got n = ${n}, m = ${m}`);
  const weights = prunableWeights(model, options.minElements ?? 64).filter((w) => w.reduction % m === 0);
  const replaced = new Map<string, Tensor>();
  let elements = 0;
  let zeros = 0;
  for (const w of weights) {
    const v = Float32Array.from(w.tensor.numbers());
    applyNM(v, w, n, m);
    replaced.set(w.name, new Tensor('float32', v, w.tensor.dims));
    elements += v.length;
    zeros += countZeros(v);
  }
  return { model: withInitializers(model, replaced), tensors: weights.length, elements, zeros };
}
