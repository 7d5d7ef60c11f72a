/**
 * Prune passes: set weights of Conv / MatMul / Gemm to zero, or remove whole Conv output channels.
 *
 * - `pruneMagnitude`: unstructured magnitude pruning to a target sparsity, either `global` (one threshold on
 *   |w| over all pruned weights together, so layers with many small weights lose more), per `layer` (each
 *   weight tensor loses the same share) or `error` (a share per layer chosen on calibration inputs by the
 *   layers' measured reconstruction error; see MagnitudeOptions.scope). Exactly round(sparsity * count)
 *   weights become zero: the smallest by score (|w|, or |w| * rms(input channel) with calibration inputs),
 *   ties broken by position. Weights smaller than `minElements` (biases, tiny heads) are left alone. With
 *   calibration inputs, biases are corrected for the removed weights' mean contribution and then (default)
 *   every pruned layer's surviving weights and bias are refit by least squares to the dense layer's output
 *   (./refit.ts, `refitPruned`); the mask is never changed by the refit.
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
import { accumulateConv, accumulateMatMul, newRefitProblem, refitLayer, type ConvGeometry, type RefitProblem } from './refit.js';

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
  /** pruneMagnitude with refit: each refit layer's relative output error on the calibration rows before and after. */
  readonly refit?: readonly LayerRefit[];
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
  /**
   * 'global' (one threshold), 'layer' (the same share in every weight) or 'error' (needs `calibration`): a
   * share per weight chosen so that the sum over layers of the relative output error after a least-squares
   * refit, measured on the calibration inputs for shares 0, 5%, ..., 95%, is smallest for the requested total
   * (greedy on the error added per weight removed), then the lowest-scored weights of each layer go.
   * Default 'global'.
   */
  readonly scope?: 'global' | 'layer' | 'error';
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
  /**
   * Layer-wise least-squares reconstruction after masking (needs `calibration`; see ./refit.ts): each pruned
   * Conv / MatMul / Gemm gets its surviving weights and bias re-solved so its output on the calibration
   * inputs matches the dense layer's. `true` uses the defaults. Default: on when `calibration` is given.
   */
  readonly refit?: boolean | RefitOptions;
}

/** Options of the layer-wise refit of pruneMagnitude. */
export interface RefitOptions {
  /** Ridge strength relative to the mean diagonal of the layer's input Gram matrix, pulling toward the masked weights. Default 0.1 (chosen on a held-out half of the calibration split, bench/prune-cls.ts --split holdout). */
  readonly damp?: number;
  /**
   * true: layers are refit in graph order, each on its input as computed by the network whose earlier layers
   * are already pruned and refit (so it also absorbs the error arriving from upstream); false: every layer on
   * the dense network's input (one pass, cheaper). Default true.
   */
  readonly sequential?: boolean;
  /** Called after each refit layer: layers done, layers in total, the layer's node name, relative output error before and after. */
  readonly onLayer?: (done: number, total: number, node: string, errorBefore: number, errorAfter: number) => void;
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
  const scope = options.scope ?? 'global';
  if (scope === 'layer' || scope === 'error') {
    let drops = scores.map((sc) => Math.round(sparsity * sc.length));
    if (scope === 'error') {
      if (!options.calibration?.length) throw new TesseraError("pruneMagnitude: scope 'error' needs calibration inputs (options.calibration)");
      const damp = typeof options.refit === 'object' ? options.refit.damp : undefined;
      drops = errorAllocation(model, weights, scores, options.calibration, sparsity, damp ?? DEFAULT_DAMP);
    }
    scores.forEach((sc, t) => {
      const order = byMagnitude(sc);
      for (let i = 0; i < drops[t]!; i++) removedMask[t]![order[i]!] = 1;
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
  const refit = options.refit ?? !!options.calibration?.length;
  let layerErrors: readonly LayerRefit[] | undefined;
  if (refit) {
    if (!options.calibration?.length) throw new TesseraError('pruneMagnitude: refit needs calibration inputs (options.calibration)');
    const masks = new Map(weights.map((w, t) => [w.name, removedMask[t]!]));
    const r = refitPruned(model, pruned, masks, options.calibration, refit === true ? {} : refit);
    pruned = r.model;
    layerErrors = r.layers;
    weights.forEach((w, t) => {
      const v = pruned.graph.initializers.get(w.name)?.numbers();
      if (v) copies[t] = Float32Array.from(v);
    });
  }
  return {
    model: pruned,
    tensors: weights.length,
    elements: copies.reduce((p, v) => p + v.length, 0),
    zeros: copies.reduce((p, v) => p + countZeros(v), 0),
    ...(layerErrors ? { refit: layerErrors } : {}),
  };
}

/** Default ridge strength of the refit (relative to the mean diagonal of the input Gram matrix). */
const DEFAULT_DAMP = 0.1;

/** Shares tried per layer by the 'error' allocation. */
const ERROR_GRID = Array.from({ length: 20 }, (_, i) => i * 0.05);

/**
 * Removed weights per prunable weight for scope 'error' (see MagnitudeOptions.scope): for each layer and each
 * share of ERROR_GRID, the layer's relative output error after masking its lowest-scored weights and refitting
 * the rest on the dense network's calibration inputs; then, from all layers dense, repeatedly take the grid
 * step with the smallest added error per removed weight until the total reaches round(sparsity * count) (the
 * last step only partly). Weights whose layer cannot be refit are pruned at the plain share.
 */
function errorAllocation(model: CompressModel, weights: readonly PrunableWeight[], scores: readonly Float32Array[], feeds: readonly ReadonlyMap<string, Tensor>[], sparsity: number, damp: number): number[] {
  const masks = new Map(weights.map((w) => [w.name, new Uint8Array(w.tensor.size)]));
  const layers = refitLayers(model, model, masks);
  const executor = new Executor(model.opsets, { backend: 'cpu' });
  const inputs = denseLayerInputs(executor, model, layers, feeds);
  const index = new Map(weights.map((w, t) => [w.name, t]));
  const curves = new Map<number, number[]>();
  for (const l of layers) {
    const t = index.get(l.node.inputs[1]!)!;
    const w = model.graph.initializers.get(l.node.inputs[1]!)!.numbers();
    const b = l.node.inputs[2] ? model.graph.initializers.get(l.node.inputs[2])!.numbers() : undefined;
    const dInputs = inputs.get(l.node.inputs[0]!)!;
    const problem = layerProblem(model, l, !!b, dInputs.map((x) => x.data), dInputs);
    if (!problem) continue;
    const order = byMagnitude(scores[t]!);
    curves.set(
      t,
      ERROR_GRID.map((share) => {
        const removed = new Uint8Array(w.length);
        const w0 = Float32Array.from(w);
        for (let i = 0; i < Math.round(share * w.length); i++) {
          removed[order[i]!] = 1;
          w0[order[i]!] = 0;
        }
        return refitLayer(problem, l.layout, w0, b ? Float32Array.from(b) : undefined, removed, damp).errorAfter;
      }),
    );
  }
  const drops = weights.map((w, t) => (curves.has(t) ? 0 : Math.round(sparsity * w.tensor.size)));
  const target = Math.round(sparsity * weights.reduce((p, w) => p + w.tensor.size, 0));
  let total = drops.reduce((p, d) => p + d, 0);
  const step = new Map([...curves.keys()].map((t) => [t, 0]));
  while (total < target) {
    let best = -1;
    let bestCost = Infinity;
    for (const [t, at] of step) {
      if (at + 1 >= ERROR_GRID.length) continue;
      const n = weights[t]!.tensor.size;
      const more = Math.round(ERROR_GRID[at + 1]! * n) - Math.round(ERROR_GRID[at]! * n);
      if (more <= 0) continue;
      const c = curves.get(t)!;
      const cost = Math.max(0, c[at + 1]! - c[at]!) / more;
      if (cost < bestCost) [best, bestCost] = [t, cost];
    }
    if (best < 0) throw new TesseraError(`pruneMagnitude: scope 'error' cannot reach sparsity ${sparsity} with layers capped at ${ERROR_GRID.at(-1)! * 100}%`);
    const at = step.get(best)!;
    const n = weights[best]!.tensor.size;
    const more = Math.min(Math.round(ERROR_GRID[at + 1]! * n) - Math.round(ERROR_GRID[at]! * n), target - total);
    drops[best]! += more;
    total += more;
    step.set(best, at + 1);
  }
  return drops;
}

/** One refit layer: its node, and its relative output error on the calibration rows before and after. */
export interface LayerRefit {
  readonly node: string;
  readonly errorBefore: number;
  readonly errorAfter: number;
}

/** The refit model and what each layer's refit did. */
export interface RefitRun {
  readonly model: CompressModel;
  readonly layers: readonly LayerRefit[];
}

/** A 2-D Conv's geometry for an input of `dims`, or undefined when the Conv is not 2-D. */
function convGeometry(n: Node, wDims: readonly number[], dims: readonly number[]): ConvGeometry | undefined {
  if (wDims.length !== 4 || dims.length !== 4) return undefined;
  const kernel: [number, number] = [wDims[2]!, wDims[3]!];
  const a = n.attrs;
  const strides = ((a['strides'] as number[] | undefined) ?? [1, 1]) as [number, number];
  const dilations = ((a['dilations'] as number[] | undefined) ?? [1, 1]) as [number, number];
  const autoPad = (a['auto_pad'] as string | undefined) ?? 'NOTSET';
  let pads = ((a['pads'] as number[] | undefined) ?? [0, 0, 0, 0]) as [number, number, number, number];
  if (autoPad === 'VALID') pads = [0, 0, 0, 0];
  else if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
    const p = [0, 0, 0, 0] as [number, number, number, number];
    for (let d = 0; d < 2; d++) {
      const size = dims[2 + d]!;
      const total = Math.max(0, (Math.ceil(size / strides[d]!) - 1) * strides[d]! + (kernel[d]! - 1) * dilations[d]! + 1 - size);
      const small = Math.floor(total / 2);
      p[d] = autoPad === 'SAME_UPPER' ? small : total - small;
      p[d + 2] = total - p[d]!;
    }
    pads = p;
  }
  return { group: (a['group'] as number | undefined) ?? 1, kernel, strides, pads, dilations };
}

/** A layer the refit can handle: its node in the pruned and the dense model, its mask and layout. */
interface RefitTarget {
  readonly node: Node;
  readonly denseNode: Node;
  readonly mask: Uint8Array;
  readonly layout: Pick<PrunableWeight, 'outputs' | 'reduction' | 'rowMajor'>;
}

/** The layers of `pruned` (in graph order) whose weight has a mask and that refitPruned can solve. */
function refitLayers(dense: CompressModel, pruned: CompressModel, masks: ReadonlyMap<string, Uint8Array>): RefitTarget[] {
  const readers = new Map<string, number>();
  for (const n of pruned.graph.nodes) for (const i of n.inputs) if (i) readers.set(i, (readers.get(i) ?? 0) + 1);
  const denseNodes = new Map(dense.graph.nodes.map((n) => [n.name, n]));
  const layers: RefitTarget[] = [];
  for (const n of pruned.graph.nodes) {
    const wName = n.inputs[1];
    const mask = wName ? masks.get(wName) : undefined;
    const d = denseNodes.get(n.name);
    if (!mask || !d || readers.get(wName!) !== 1 || n.domain !== '') continue;
    const w = pruned.graph.initializers.get(wName!);
    if (!w || (n.inputs[2] && !pruned.graph.initializers.get(n.inputs[2]))) continue;
    if (n.opType === 'Conv' && w.rank === 4) layers.push({ node: n, denseNode: d, mask, layout: { outputs: w.dims[0]!, reduction: w.size / w.dims[0]!, rowMajor: true } });
    else if (n.opType === 'MatMul' && w.rank === 2) layers.push({ node: n, denseNode: d, mask, layout: { outputs: w.dims[1]!, reduction: w.dims[0]!, rowMajor: false } });
    else if (n.opType === 'Gemm' && w.rank === 2 && !n.attrs['transA'] && ((n.attrs['alpha'] as number | undefined) ?? 1) === 1 && ((n.attrs['beta'] as number | undefined) ?? 1) === 1) {
      const c = n.inputs[2] ? pruned.graph.initializers.get(n.inputs[2]) : undefined;
      const transB = !!n.attrs['transB'];
      const N = transB ? w.dims[0]! : w.dims[1]!;
      if (c && c.size !== N) continue; // only a per-output bias is refit
      layers.push({ node: n, denseNode: d, mask, layout: { outputs: N, reduction: transB ? w.dims[1]! : w.dims[0]!, rowMajor: transB } });
    }
  }
  return layers;
}

/** One layer input per feed, as data and dims. */
type LayerInputs = Map<string, { data: Float32Array; dims: readonly number[] }[]>;

/** The dense network's input of every layer, per feed (one run per feed). */
function denseLayerInputs(executor: Executor, dense: CompressModel, layers: readonly RefitTarget[], feeds: readonly ReadonlyMap<string, Tensor>[]): LayerInputs {
  const inputNames = [...new Set(layers.map((l) => l.denseNode.inputs[0]!))];
  const out: LayerInputs = new Map(inputNames.map((n) => [n, []]));
  for (const f of feeds) {
    const { outputs } = executor.run(dense.graph, f, inputNames);
    outputs.forEach((t, i) => {
      out.get(inputNames[i]!)!.push({ data: Float32Array.from(t.numbers()), dims: t.dims });
      t.dispose();
    });
  }
  return out;
}

/** The refit statistics of one layer: rows from `pInputs` (pruned network), targets from the dense layer on `dInputs`. */
function layerProblem(dense: CompressModel, l: RefitTarget, bias: boolean, pInputs: readonly ArrayLike<number>[], dInputs: readonly { data: Float32Array; dims: readonly number[] }[]): RefitProblem | undefined {
  const dn = l.denseNode;
  const wDense = dense.graph.initializers.get(dn.inputs[1]!)!;
  const bDense = dn.inputs[2] ? dense.graph.initializers.get(dn.inputs[2])?.numbers() : undefined;
  if (l.node.opType === 'Conv') {
    const geo = convGeometry(l.node, wDense.dims, dInputs[0]!.dims);
    if (!geo) return undefined;
    const problem = newRefitProblem(geo.group, l.layout.outputs / geo.group, l.layout.reduction, bias);
    dInputs.forEach((x, i) => accumulateConv(problem, pInputs[i]!, x.data, x.dims, geo, wDense.numbers(), bias ? bDense ?? new Float32Array(l.layout.outputs) : undefined));
    return problem;
  }
  const problem = newRefitProblem(1, l.layout.outputs, l.layout.reduction, bias);
  dInputs.forEach((x, i) => accumulateMatMul(problem, pInputs[i]!, x.data, x.data.length / l.layout.reduction, wDense.numbers(), l.layout.rowMajor, bias ? bDense ?? new Float32Array(l.layout.outputs) : undefined));
  return problem;
}

/**
 * Layer-wise least-squares refit of a masked model (see ./refit.ts and RefitOptions): `dense` is the model
 * before pruning, `pruned` the masked one (same node names and weight names; biases may be renamed), `masks`
 * the removed positions per weight name. Layers whose weight is read by more than one node, Gemms with
 * transA / alpha / beta, and non-2-D Convs keep their masked weights. Removed weights stay zero.
 */
export function refitPruned(dense: CompressModel, pruned: CompressModel, masks: ReadonlyMap<string, Uint8Array>, feeds: readonly ReadonlyMap<string, Tensor>[], options: RefitOptions = {}): RefitRun {
  const damp = options.damp ?? DEFAULT_DAMP;
  const sequential = options.sequential ?? true;
  const layers = refitLayers(dense, pruned, masks);
  const executor = new Executor(dense.opsets, { backend: 'cpu' });
  const denseInputs = denseLayerInputs(executor, dense, layers, feeds);
  const graphInputs = new Set(pruned.graph.inputs.map((i) => i.name));
  const overrides = new Map<string, Tensor>();
  const done: LayerRefit[] = [];
  for (const l of layers) {
    const n = l.node;
    const dn = l.denseNode;
    const wPruned = overrides.get(n.inputs[1]!) ?? pruned.graph.initializers.get(n.inputs[1]!)!;
    const bPruned = n.inputs[2] ? (overrides.get(n.inputs[2]) ?? pruned.graph.initializers.get(n.inputs[2])!) : undefined;
    const dInputs = denseInputs.get(dn.inputs[0]!)!;
    // the pruned network's input (earlier layers refit) or, when not sequential or the input is a graph input, the dense one
    const pInputs = sequential && !graphInputs.has(n.inputs[0]!)
      ? feeds.map((f) => {
          const run = new Map<string, Tensor>(f);
          for (const [k, v] of overrides) run.set(k, v);
          const { outputs } = executor.run(pruned.graph, run, [n.inputs[0]!]);
          const data = Float32Array.from(outputs[0]!.numbers());
          outputs[0]!.dispose();
          return data;
        })
      : dInputs.map((x) => x.data);
    const problem = layerProblem(dense, l, !!bPruned, pInputs, dInputs);
    if (!problem) continue;
    const r = refitLayer(problem, l.layout, Float32Array.from(wPruned.numbers()), bPruned ? Float32Array.from(bPruned.numbers()) : undefined, l.mask, damp);
    overrides.set(n.inputs[1]!, new Tensor('float32', r.weights, wPruned.dims));
    if (bPruned && r.bias) overrides.set(n.inputs[2]!, new Tensor('float32', r.bias, bPruned.dims));
    done.push({ node: n.name, errorBefore: r.errorBefore, errorAfter: r.errorAfter });
    options.onLayer?.(done.length, layers.length, n.name, r.errorBefore, r.errorAfter);
  }
  return { model: withInitializers(pruned, overrides), layers: done };
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
