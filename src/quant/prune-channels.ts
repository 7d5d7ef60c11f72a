/**
 * Structured channel pruning: remove Conv output channels and rewrite everything that reads them, so the
 * graph really gets smaller (fewer weights, fewer FLOPs, smaller activations).
 *
 * Channels are tracked as "channel spaces". Every group-1 Conv with a constant weight starts a space on its
 * output (it is the space's producer). A space flows unchanged through channel-wise ops (activations, Clip,
 * pools incl. GlobalAveragePool, BatchNormalization, a depthwise Conv with multiplier 1, Add/Sub/Mul/Div with a
 * scalar or per-channel constant); an elementwise op joining two spaced tensors merges their spaces (residual
 * Adds, squeeze-excitation Muls), so channel k is removed on both sides or not at all. A group-1 Conv reading a
 * spaced tensor is a consumer (its input channels are sliced). A space that reaches anything else (Reshape,
 * Transpose, Concat, MatMul, a graph output, a non-constant operand of unknown layout, a grouped Conv...) is
 * left alone entirely, since some reader could not be rewritten consistently.
 *
 * In each prunable space with C channels, floor(ratio * C) channels (never all) with the smallest importance
 * are removed: importance = sum over producers of the channel's filter L1 norm divided by the producer's mean
 * filter L1 norm (so producers of different scale count alike). Then producers' weights and biases lose those
 * output channels, depthwise Convs lose them (weights, biases, `group`), consumers lose those input channels,
 * per-channel constants and BatchNormalization parameters are sliced. Declared value_info shapes of
 * rewritten values are dropped (shape inference recomputes them).
 *
 * With calibration inputs the removal is followed by a reconstruction (ChannelPruneOptions.refit): every Conv
 * whose input the removal changed is refit, in graph order, by the least-squares solve of ./refit.ts on its
 * input in the pruned (and already refit) network, toward the dense Conv's kept outputs on the dense input.
 */
import { TesseraError } from '../tensor/errors.js';
import { Tensor } from '../tensor/tensor.js';
import type { Node } from '../graph/ir.js';
import { GraphEditor, makeNode } from '../graph/passes/editor.js';
import { Executor } from '../graph/executor.js';
import { applyRules, freshName, type CompressModel } from './model.js';
import { accumulateConvMapped, accumulateMatMul, newRefitProblem, refitLayer } from './refit.js';

const CHANNELWISE_UNARY = new Set(['Relu', 'LeakyRelu', 'Clip', 'Sigmoid', 'HardSigmoid', 'HardSwish', 'Tanh', 'Identity', 'Dropout', 'MaxPool', 'AveragePool', 'GlobalAveragePool', 'GlobalMaxPool', 'Elu', 'Selu', 'Softplus', 'Neg', 'Abs', 'Exp', 'Sqrt']);
const ELEMENTWISE_BINARY = new Set(['Add', 'Sub', 'Mul', 'Div']);

/** What pruneChannels did. */
export interface ChannelPruneResult {
  readonly model: CompressModel;
  /** Spaces found, and how many of them could be pruned. */
  readonly spaces: number;
  readonly prunedSpaces: number;
  /** Channels in the prunable spaces before, and channels removed. */
  readonly channels: number;
  readonly removedChannels: number;
  /** With refit: each refit Conv's relative output error on the calibration rows before and after. */
  readonly refit?: readonly { readonly node: string; readonly errorBefore: number; readonly errorAfter: number }[];
}

interface Space {
  parent: number;
  channels: number;
  bad: boolean;
  producers: Node[];
  depthwise: Node[];
  consumers: Node[];
  /** (node, input index, channel axis of that constant) of per-channel constants. */
  constants: { node: Node; input: number; axis: number }[];
  batchNorms: Node[];
}

/** Options of pruneChannels. */
export interface ChannelPruneOptions {
  /** Share of each prunable space's channels removed, in [0, 1). */
  readonly ratio: number;
  /** Representative input feeds (calibration split) for the refit. */
  readonly calibration?: readonly ReadonlyMap<string, Tensor>[];
  /**
   * Reconstruction after the removal (needs `calibration`; see ./refit.ts): every Conv whose input is changed
   * by the pruning (consumers of pruned spaces and everything downstream of them; group-1 and depthwise Convs)
   * gets its kept weights and bias re-solved in graph order, on its input as the pruned and already refit
   * network computes it, so that its kept outputs match the dense Conv's outputs on the dense input (the
   * channel-pruning-with-reconstruction method; with BatchNormalization folded into the Convs this is also
   * the re-estimation of each channel's affine statistics). `true` uses the defaults. Default: on when
   * `calibration` is given.
   */
  readonly refit?: boolean | ChannelRefitOptions;
}

/** Options of pruneChannels' refit. */
export interface ChannelRefitOptions {
  /** Ridge strength relative to the mean diagonal of each layer's input Gram matrix (default 0.03, chosen on a calibration holdout: bench/prune-rec-channels.ts --split holdout). */
  readonly damp?: number;
  /** Also refit MatMuls with a constant [K, N] weight whose input the pruning changed (no bias). Default false. */
  readonly matMul?: boolean;
  /** Called after each refit layer: layers done, in total, the node, its relative output error before and after. */
  readonly onLayer?: (done: number, total: number, node: string, errorBefore: number, errorAfter: number) => void;
}

/** Remove `ratio` of the output channels of each prunable Conv channel space (see the file comment). */
export function pruneChannels(model: CompressModel, options: ChannelPruneOptions): ChannelPruneResult {
  const { ratio } = options;
  if (!(ratio >= 0 && ratio < 1)) throw new TesseraError(`pruneChannels: ratio must be in [0, 1), got ${ratio}`);
  const ed = new GraphEditor(model.graph, model.opsets, true);
  const spaces: Space[] = [];
  const find = (i: number): number => {
    while (spaces[i]!.parent !== i) i = spaces[i]!.parent = spaces[spaces[i]!.parent]!.parent;
    return i;
  };
  const union = (a: number, b: number): number => {
    const [ra, rb] = [find(a), find(b)];
    if (ra === rb) return ra;
    const A = spaces[ra]!;
    const B = spaces[rb]!;
    B.parent = ra;
    if (A.channels !== B.channels) A.bad = true;
    A.bad ||= B.bad;
    A.producers.push(...B.producers);
    A.depthwise.push(...B.depthwise);
    A.consumers.push(...B.consumers);
    A.constants.push(...B.constants);
    A.batchNorms.push(...B.batchNorms);
    return ra;
  };
  const spaceOf = new Map<string, number>();
  const get = (name: string | undefined): Space | undefined => {
    const i = name ? spaceOf.get(name) : undefined;
    return i === undefined ? undefined : spaces[find(i)];
  };
  const newSpace = (channels: number): number => {
    spaces.push({ parent: spaces.length, channels, bad: false, producers: [], depthwise: [], consumers: [], constants: [], batchNorms: [] });
    return spaces.length - 1;
  };
  const constW = (n: Node): Tensor | undefined => {
    const w = ed.constant(n.inputs[1] ?? '');
    return w && w.type === 'float32' && w.rank === 4 ? w : undefined;
  };
  const constBiasOk = (n: Node): boolean => !n.inputs[2] || ed.constant(n.inputs[2])?.type === 'float32';
  const markBad = (name: string | undefined): void => {
    const s = get(name);
    if (s) s.bad = true;
  };

  for (const n of ed.nodes) {
    const spaced = n.inputs.map((name) => (name ? spaceOf.get(name) : undefined));
    const anySpaced = spaced.some((s) => s !== undefined);
    const isConv = n.domain === '' && n.opType === 'Conv' && !n.functionBody;
    const w = isConv ? constW(n) : undefined;
    const group = (n.attrs['group'] as number | undefined) ?? 1;
    if (isConv && w && group === 1 && constBiasOk(n)) {
      // consumer of its input's space (if any), producer of a new space
      const s = get(n.inputs[0]);
      if (s) s.consumers.push(n);
      if (spaced.slice(1).some((x) => x !== undefined)) markBad(n.inputs[0]);
      const id = newSpace(w.dims[0]!);
      spaces[id]!.producers.push(n);
      spaceOf.set(n.outputs[0]!, id);
      continue;
    }
    if (!anySpaced) continue;
    const s0 = spaced[0];
    if (isConv && w && s0 !== undefined && constBiasOk(n) && group === w.dims[0] && w.dims[1] === 1 && group === spaces[find(s0)]!.channels) {
      spaces[find(s0)]!.depthwise.push(n);
      spaceOf.set(n.outputs[0]!, find(s0));
      continue;
    }
    if (n.domain === '' && CHANNELWISE_UNARY.has(n.opType) && s0 !== undefined && spaced.slice(1).every((x) => x === undefined) && n.inputs.slice(1).every((i) => !i || ed.constant(i)?.size === 1)) {
      spaceOf.set(n.outputs[0]!, find(s0));
      continue;
    }
    if (n.domain === '' && n.opType === 'BatchNormalization' && s0 !== undefined && n.inputs.slice(1).every((i) => ed.constant(i)?.rank === 1) && n.outputs.filter((o) => o).length === 1) {
      spaces[find(s0)]!.batchNorms.push(n);
      spaceOf.set(n.outputs[0]!, find(s0));
      continue;
    }
    if (n.domain === '' && ELEMENTWISE_BINARY.has(n.opType) && n.inputs.length === 2) {
      const [a, b] = spaced;
      if (a !== undefined && b !== undefined) {
        spaceOf.set(n.outputs[0]!, union(a, b));
        continue;
      }
      const side = a !== undefined ? 0 : 1;
      const id = find((a ?? b)!);
      const other = ed.constant(n.inputs[1 - side]!);
      const C = spaces[id]!.channels;
      if (other && other.size === 1) {
        spaceOf.set(n.outputs[0]!, id);
        continue;
      }
      // a per-channel constant: [C, 1, 1] or [1, C, 1, 1] (broadcast against NCHW)
      if (other && other.size === C && ((other.rank === 3 && other.dims[0] === C) || (other.rank === 4 && other.dims[1] === C))) {
        spaces[id]!.constants.push({ node: n, input: 1 - side, axis: other.rank === 3 ? 0 : 1 });
        spaceOf.set(n.outputs[0]!, id);
        continue;
      }
    }
    for (const name of n.inputs) markBad(name);
  }
  for (const o of ed.outputs) markBad(o.name);

  // choose and remove channels per prunable root space
  const roots = [...new Set(spaces.map((_, i) => find(i)))].map((i) => spaces[i]!);
  const keepOf = new Map<Space, number[]>();
  let channels = 0;
  let removed = 0;
  for (const s of roots) {
    const drop = Math.min(Math.floor(ratio * s.channels), s.channels - 1);
    if (s.bad || s.producers.length === 0 || drop <= 0) continue;
    const importance = new Float64Array(s.channels);
    for (const p of s.producers) {
      const v = constW(p)!.numbers();
      const per = v.length / s.channels;
      const norms = new Float64Array(s.channels);
      for (let c = 0; c < s.channels; c++) for (let i = 0; i < per; i++) norms[c]! += Math.abs(v[c * per + i]!);
      const mean = norms.reduce((a, b) => a + b, 0) / s.channels || 1;
      for (let c = 0; c < s.channels; c++) importance[c]! += norms[c]! / mean;
    }
    const order = [...importance.keys()].sort((a, b) => importance[a]! - importance[b]! || a - b);
    const dropped = new Set(order.slice(0, drop));
    keepOf.set(s, [...importance.keys()].filter((c) => !dropped.has(c)));
    channels += s.channels;
    removed += drop;
  }

  const sliceAxis = (t: Tensor, axis: number, keep: readonly number[]): Tensor => {
    const v = t.numbers();
    const dims = [...t.dims];
    const outer = dims.slice(0, axis).reduce((p, d) => p * d, 1);
    const inner = dims.slice(axis + 1).reduce((p, d) => p * d, 1);
    const out = new Float32Array(outer * keep.length * inner);
    let at = 0;
    for (let o = 0; o < outer; o++) for (const k of keep) for (let i = 0; i < inner; i++) out[at++] = v[(o * dims[axis]! + k) * inner + i]!;
    dims[axis] = keep.length;
    return new Tensor('float32', out, dims);
  };
  // every rewrite of a node accumulates here: input index -> new tensor, plus attribute changes
  const edits = new Map<Node, { inputs: Map<number, Tensor>; attrs: Record<string, unknown> }>();
  const edit = (n: Node): { inputs: Map<number, Tensor>; attrs: Record<string, unknown> } => {
    let e = edits.get(n);
    if (!e) edits.set(n, (e = { inputs: new Map(), attrs: {} }));
    return e;
  };
  const current = (n: Node, i: number): Tensor => edits.get(n)?.inputs.get(i) ?? ed.constant(n.inputs[i]!)!;
  for (const [s, keep] of keepOf) {
    for (const p of s.producers) {
      edit(p).inputs.set(1, sliceAxis(current(p, 1), 0, keep));
      if (p.inputs[2]) edit(p).inputs.set(2, sliceAxis(current(p, 2), 0, keep));
    }
    for (const d of s.depthwise) {
      edit(d).inputs.set(1, sliceAxis(current(d, 1), 0, keep));
      if (d.inputs[2]) edit(d).inputs.set(2, sliceAxis(current(d, 2), 0, keep));
      edit(d).attrs['group'] = keep.length;
    }
    for (const c of s.consumers) edit(c).inputs.set(1, sliceAxis(current(c, 1), 1, keep));
    for (const { node, input, axis } of s.constants) edit(node).inputs.set(input, sliceAxis(current(node, input), axis, keep));
    for (const b of s.batchNorms) for (let i = 1; i < 5; i++) edit(b).inputs.set(i, sliceAxis(current(b, i), 0, keep));
  }
  for (const [n, e] of edits) {
    const inputs = n.inputs.map((name, i) => {
      const t = e.inputs.get(i);
      if (!t) return name;
      const fresh = freshName(ed, `${name}_pruned`);
      ed.setInitializer(fresh, t);
      return fresh;
    });
    ed.replaceNode(n, makeNode(n.name, n.opType, n.domain, inputs, n.outputs, { ...n.attrs, ...e.attrs }));
  }
  // declared shapes of values whose channel count changed are stale
  for (const [name, id] of spaceOf) if (keepOf.has(spaces[find(id)]!)) ed.valueInfo.delete(name);
  const run = applyRules({ ...model, graph: ed.build() }, []);
  const refit = options.refit ?? !!options.calibration?.length;
  let result = run.model;
  let layers: ChannelPruneResult['refit'];
  if (refit && keepOf.size) {
    if (!options.calibration?.length) throw new TesseraError('pruneChannels: refit needs calibration inputs (options.calibration)');
    // the dense channels each pruned node reads and writes
    const inKeep = new Map<string, readonly number[]>();
    const outKeep = new Map<string, readonly number[]>();
    for (const [s, keep] of keepOf) {
      for (const p of s.producers) outKeep.set(p.name, keep);
      for (const d of s.depthwise) {
        inKeep.set(d.name, keep);
        outKeep.set(d.name, keep);
      }
      for (const c of s.consumers) inKeep.set(c.name, keep);
    }
    const r = refitChannelPruned(model, run.model, [...edits.keys()].map((n) => n.name), inKeep, outKeep, options.calibration, refit === true ? {} : refit);
    result = r.model;
    layers = r.layers;
  }
  return { model: result, spaces: roots.length, prunedSpaces: keepOf.size, channels, removedChannels: removed, ...(layers ? { refit: layers } : {}) };
}

/**
 * The refit of pruneChannels (see ChannelPruneOptions.refit): `edited` names the rewritten nodes, `inKeep` /
 * `outKeep` the dense channels that each pruned node's input / output channels are (identity when absent).
 */
function refitChannelPruned(dense: CompressModel, pruned: CompressModel, edited: readonly string[], inKeep: ReadonlyMap<string, readonly number[]>, outKeep: ReadonlyMap<string, readonly number[]>, feeds: readonly ReadonlyMap<string, Tensor>[], options: ChannelRefitOptions): { model: CompressModel; layers: { node: string; errorBefore: number; errorAfter: number }[] } {
  const damp = options.damp ?? 0.03;
  // values the pruning changed: outputs of edited nodes and everything computed from them
  const affected = new Set<string>();
  const editedSet = new Set(edited);
  for (const n of pruned.graph.nodes) if (editedSet.has(n.name) || n.inputs.some((i) => i && affected.has(i))) for (const o of n.outputs) if (o) affected.add(o);
  const denseNodes = new Map(dense.graph.nodes.map((n) => [n.name, n]));
  const readers = new Map<string, number>();
  for (const n of pruned.graph.nodes) for (const i of n.inputs) if (i) readers.set(i, (readers.get(i) ?? 0) + 1);
  const layers = pruned.graph.nodes.filter((n) => {
    const w = n.inputs[1] ? pruned.graph.initializers.get(n.inputs[1]) : undefined;
    const d = denseNodes.get(n.name);
    if (options.matMul && n.opType === 'MatMul' && n.domain === '' && w && w.rank === 2 && d && affected.has(n.inputs[0]!) && readers.get(n.inputs[1]!) === 1) return true;
    if (n.opType !== 'Conv' || n.domain !== '' || !w || w.rank !== 4 || !d || !affected.has(n.inputs[0]!) || readers.get(n.inputs[1]!) !== 1) return false;
    if (n.inputs[2] && (!pruned.graph.initializers.get(n.inputs[2]) || readers.get(n.inputs[2]) !== 1)) return false;
    const group = (n.attrs['group'] as number | undefined) ?? 1;
    return (group === 1 || (w.dims[1] === 1 && w.dims[0] === group)) && !n.attrs['auto_pad'];
  });
  const executor = new Executor(dense.opsets, { backend: 'cpu' });
  const names = [...new Set(layers.map((n) => n.inputs[0]!))];
  const denseInputs = new Map<string, { data: Float32Array; dims: readonly number[] }[]>(names.map((n) => [n, []]));
  for (const f of feeds) {
    const { outputs } = executor.run(dense.graph, f, names);
    outputs.forEach((t, i) => {
      denseInputs.get(names[i]!)!.push({ data: Float32Array.from(t.numbers()), dims: t.dims });
      t.dispose();
    });
  }
  const overrides = new Map<string, Tensor>();
  const done: { node: string; errorBefore: number; errorAfter: number }[] = [];
  for (const n of layers) {
    const d = denseNodes.get(n.name)!;
    const w = overrides.get(n.inputs[1]!) ?? pruned.graph.initializers.get(n.inputs[1]!)!;
    if (n.opType === 'MatMul') {
      // channels reaching a MatMul are never pruned (the space is left alone): identity map, no bias
      const [K, N] = w.dims as [number, number];
      const problem = newRefitProblem(1, N, K, false);
      const wDense = dense.graph.initializers.get(d.inputs[1]!)!.numbers();
      const dIn = denseInputs.get(n.inputs[0]!)!;
      feeds.forEach((f, i) => {
        const run = new Map<string, Tensor>(f);
        for (const [k, v] of overrides) run.set(k, v);
        const { outputs } = executor.run(pruned.graph, run, [n.inputs[0]!]);
        const xp = outputs[0]!;
        accumulateMatMul(problem, xp.numbers(), dIn[i]!.data, xp.size / K, wDense, false, undefined);
        xp.dispose();
      });
      const r = refitLayer(problem, { outputs: N, reduction: K, rowMajor: false }, Float32Array.from(w.numbers()), undefined, new Uint8Array(w.size), damp);
      overrides.set(n.inputs[1]!, new Tensor('float32', r.weights, w.dims));
      done.push({ node: n.name, errorBefore: r.errorBefore, errorAfter: r.errorAfter });
      options.onLayer?.(done.length, layers.length, n.name, r.errorBefore, r.errorAfter);
      continue;
    }
    const b = n.inputs[2] ? (overrides.get(n.inputs[2]) ?? pruned.graph.initializers.get(n.inputs[2])!) : undefined;
    const wDense = dense.graph.initializers.get(d.inputs[1]!)!;
    const bDense = d.inputs[2] ? dense.graph.initializers.get(d.inputs[2])?.numbers() : undefined;
    const group = (n.attrs['group'] as number | undefined) ?? 1;
    const [M, cg, kh, kw] = w.dims as [number, number, number, number];
    const strides = ((n.attrs['strides'] as number[] | undefined) ?? [1, 1]) as [number, number];
    const pads = ((n.attrs['pads'] as number[] | undefined) ?? [0, 0, 0, 0]) as [number, number, number, number];
    const dilations = ((n.attrs['dilations'] as number[] | undefined) ?? [1, 1]) as [number, number];
    const geo = { group, kernel: [kh, kw] as [number, number], strides, pads, dilations };
    const problem = newRefitProblem(group, M / group, cg * kh * kw, !!b);
    const dIn = denseInputs.get(n.inputs[0]!)!;
    const denseC = dIn[0]!.dims[1]!;
    const identity = (k: number): number[] => Array.from({ length: k }, (_, i) => i);
    const map = { denseDims: dIn[0]!.dims, denseGroup: (d.attrs['group'] as number | undefined) ?? 1, inputs: inKeep.get(n.name) ?? identity(denseC), outputs: outKeep.get(n.name) ?? identity(wDense.dims[0]!) };
    feeds.forEach((f, i) => {
      const run = new Map<string, Tensor>(f);
      for (const [k, v] of overrides) run.set(k, v);
      const { outputs } = executor.run(pruned.graph, run, [n.inputs[0]!]);
      const xp = outputs[0]!;
      accumulateConvMapped(problem, xp.numbers(), xp.dims, geo, dIn[i]!.data, { ...map, denseDims: dIn[i]!.dims }, wDense.numbers(), b ? bDense ?? new Float32Array(wDense.dims[0]!) : undefined);
      xp.dispose();
    });
    const r = refitLayer(problem, { outputs: M, reduction: cg * kh * kw, rowMajor: true }, Float32Array.from(w.numbers()), b ? Float32Array.from(b.numbers()) : undefined, new Uint8Array(w.size), damp);
    overrides.set(n.inputs[1]!, new Tensor('float32', r.weights, w.dims));
    if (b && r.bias) overrides.set(n.inputs[2]!, new Tensor('float32', r.bias, b.dims));
    done.push({ node: n.name, errorBefore: r.errorBefore, errorAfter: r.errorAfter });
    options.onLayer?.(done.length, layers.length, n.name, r.errorBefore, r.errorAfter);
  }
  const ed = new GraphEditor(pruned.graph, pruned.opsets, true);
  for (const [name, t] of overrides) ed.setInitializer(name, t);
  return { model: applyRules({ ...pruned, graph: ed.build() }, []).model, layers: done };
}
