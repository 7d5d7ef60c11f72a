/**
 * Quantize passes: graph -> graph rewrites that store weights in fewer bits, written as standard ONNX so the
 * result also loads in onnxruntime. All of them start from `loadForCompression` (constants as initializers,
 * BatchNormalization folded) and end at opset 13 (./opset.ts).
 *
 * - float16 weights (`quantizeFloat16`): every float32 initializer of at least `minElements` elements is stored
 *   as float16 and read through Cast(to=float) -> the original name. File and resident weights halve; the
 *   float32 copy exists only while a node uses it (constant folding leaves such casts alone).
 * - dynamic int8 (`quantizeDynamic`): Conv (4-D constant W) and MatMul (2-D constant B) get int8 weights,
 *   symmetric per output channel (zero point 0 for every channel, so one scalar zero point suffices), and
 *   their float input is quantized at run time:
 *       DynamicQuantizeLinear(x) -> (xq, xs, xz);  ConvInteger(xq, Wq, xz, 0) | MatMulInteger(xq, Bq, xz, 0)
 *       -> Cast(float) -> Mul(by xs * wscale[channel]) [-> Add(bias)]
 *   which is onnxruntime's dynamic-quantization graph; accumulation is exact int32.
 * - static int8 QDQ (`quantizeStatic`): weights of Conv, MatMul and Gemm become int8 per-channel symmetric
 *   initializers behind DequantizeLinear(axis); every float activation input of those ops gets a
 *   QuantizeLinear -> DequantizeLinear pair (uint8, asymmetric, per tensor) whose scale and zero point come
 *   from calibration on representative inputs (./calibrate.ts). Biases stay float32. This is ONNX's QDQ
 *   format: a runtime may fuse DQ -> op -> Q into integer kernels, or run the pairs as they are.
 */
import { TesseraError } from '../tensor/errors.js';
import { Tensor } from '../tensor/tensor.js';
import type { Node } from '../graph/ir.js';
import { GraphEditor, makeNode } from '../graph/passes/editor.js';
import type { RewriteRule, RuleContext } from '../graph/passes/rule.js';
import { calibrate, type CalibrationMethod, type CalibrationRanges } from './calibrate.js';
import { chooseQuantParams, quantizeTensor, toFloat16, type QuantScheme } from './math.js';
import { applyRules, freshName, type CompressModel } from './model.js';
import { upgradeOpset } from './opset.js';

const ONNX_FLOAT = 1;
const WEIGHT_SCHEME: QuantScheme = { type: 'int8', symmetric: true };
const ACTIVATION_SCHEME: QuantScheme = { type: 'uint8', symmetric: false };

/** Options of quantizeFloat16. */
export interface Float16Options {
  /** Smallest initializer (in elements) converted; smaller ones (scalars, shape vectors) stay float32. Default 16. */
  readonly minElements?: number;
}

/** Store float32 weights as float16 behind Casts (see the file comment). */
export function quantizeFloat16(model: CompressModel, options: Float16Options = {}): CompressModel {
  const up = upgradeOpset(model);
  const minElements = options.minElements ?? 16;
  const ed = new GraphEditor(up.graph, up.opsets, true);
  const casts: Node[] = [];
  for (const [name, t] of [...ed.initializers]) {
    if (t.type !== 'float32' || t.size < minElements || ed.isGraphInput(name) || ed.isGraphOutput(name)) continue;
    if (ed.consumers(name).length === 0) continue;
    const stored = freshName(ed, `${name}_fp16`);
    ed.setInitializer(stored, toFloat16(t));
    ed.deleteInitializer(name);
    casts.push(makeNode(freshName(ed, `${name}_cast`), 'Cast', '', [stored], [name], { to: ONNX_FLOAT }));
  }
  const first = ed.nodes[0];
  if (first && casts.length) ed.replaceNode(first, ...casts, first);
  return { ...up, graph: ed.build() };
}

/** A constant float32 weight of `n` at input `index` with the wanted rank, or undefined. */
function floatWeight(n: Node, index: number, rank: number, ctx: RuleContext): Tensor | undefined {
  const t = ctx.editor.constant(n.inputs[index] ?? '');
  return t && t.type === 'float32' && t.rank === rank ? t : undefined;
}

/** Add a constant initializer under a fresh name and return the name. */
function addConstant(ctx: RuleContext, base: string, t: Tensor): string {
  const name = freshName(ctx.editor, base);
  ctx.editor.setInitializer(name, t);
  return name;
}

/** Dynamic int8 for Conv with a 4-D (or 3-D/5-D) constant weight and MatMul with a 2-D constant B. */
const dynamicQuantizeRule: RewriteRule = {
  name: 'DynamicQuantize',
  opTypes: ['Conv', 'MatMul'],
  condition(n, ctx) {
    if (!n.inputs[0] || ctx.editor.constant(n.inputs[0])) return false;
    if (n.opType === 'MatMul') return floatWeight(n, 1, 2, ctx) !== undefined;
    const w = ctx.editor.constant(n.inputs[1] ?? '');
    return !!w && w.type === 'float32' && w.rank >= 3 && (!n.inputs[2] || ctx.editor.constant(n.inputs[2])?.type === 'float32');
  },
  apply(n, ctx) {
    const ed = ctx.editor;
    const x = n.inputs[0]!;
    const w = ed.constant(n.inputs[1]!)!;
    const conv = n.opType === 'Conv';
    const channelAxis = conv ? 0 : 1;
    const qw = quantizeTensor(w, WEIGHT_SCHEME, channelAxis);
    const channels = w.dims[channelAxis]!;
    const p = n.name;
    const wq = addConstant(ctx, `${n.inputs[1]}_int8`, qw.q);
    const wzp = addConstant(ctx, `${p}_w_zero_point`, new Tensor('int8', new Int8Array(1), []));
    // per-channel weight scales shaped to broadcast over the output: [M, 1, ...] for Conv, [N] for MatMul
    const scaleDims = conv ? [channels, ...new Array<number>(w.rank - 2).fill(1)] : [channels];
    const ws = addConstant(ctx, `${p}_w_scale`, new Tensor('float32', qw.scale.data as Float32Array, scaleDims));
    const [xq, xs, xz, acc, accF, scale] = ['x_quant', 'x_scale', 'x_zero_point', 'int32', 'float', 'scale'].map((s) => freshName(ed, `${p}_${s}`)) as [string, string, string, string, string, string];
    const bias = conv ? n.inputs[2] : undefined;
    const out = n.outputs[0]!;
    const scaled = bias ? freshName(ed, `${p}_unbiased`) : out;
    const nodes = [
      makeNode(`${p}_quantize_input`, 'DynamicQuantizeLinear', '', [x], [xq, xs, xz], {}),
      conv
        ? makeNode(`${p}_integer`, 'ConvInteger', '', [xq, wq, xz, wzp], [acc], n.attrs)
        : makeNode(`${p}_integer`, 'MatMulInteger', '', [xq, wq, xz, wzp], [acc], {}),
      makeNode(`${p}_to_float`, 'Cast', '', [acc], [accF], { to: ONNX_FLOAT }),
      makeNode(`${p}_scale`, 'Mul', '', [xs, ws], [scale], {}),
      makeNode(`${p}_rescale`, 'Mul', '', [accF, scale], [scaled], {}),
    ];
    if (bias) {
      const b = ed.constant(bias)!;
      const b3 = addConstant(ctx, `${bias}_broadcast`, new Tensor('float32', b.numbers() as Float32Array, scaleDims));
      nodes.push(makeNode(`${p}_bias`, 'Add', '', [scaled, b3], [out], {}));
    }
    ed.replaceNode(n, ...nodes);
    return true;
  },
};

/** Dynamic int8 quantization (see the file comment). */
export function quantizeDynamic(model: CompressModel): { model: CompressModel; quantizedNodes: number } {
  const run = applyRules(upgradeOpset(model), [dynamicQuantizeRule]);
  return { model: run.model, quantizedNodes: run.rewrites['DynamicQuantize'] ?? 0 };
}

// ---------------------------------------------------------------------------------------------------------
// static QDQ

/** Options of quantizeStatic. */
export interface StaticOptions {
  /** Input feeds to calibrate on (name -> tensor per run). */
  readonly calibration: readonly ReadonlyMap<string, Tensor>[];
  readonly method?: CalibrationMethod;
  readonly percentile?: number;
  readonly onProgress?: (done: number, total: number) => void;
}

/** The weight input index and its channel axis for a quantizable node, or undefined. */
function weightSlot(n: Node, ed: GraphEditor): { index: number; axis: number } | undefined {
  const c = (i: number): Tensor | undefined => {
    const t = ed.constant(n.inputs[i] ?? '');
    return t && t.type === 'float32' ? t : undefined;
  };
  if (n.opType === 'Conv') return c(1) && c(1)!.rank >= 3 ? { index: 1, axis: 0 } : undefined;
  if (n.opType === 'MatMul') return c(1)?.rank === 2 ? { index: 1, axis: 1 } : undefined;
  if (n.opType === 'Gemm' && !n.attrs['transA']) return c(1)?.rank === 2 ? { index: 1, axis: n.attrs['transB'] ? 0 : 1 } : undefined;
  return undefined;
}

/** Float activation inputs of a quantizable node (non-constant data inputs). */
function activationInputs(n: Node, ed: GraphEditor): string[] {
  const slots = n.opType === 'Conv' ? [0] : [0, 1];
  return slots.map((i) => n.inputs[i] ?? '').filter((name) => name && !ed.constant(name));
}

const QUANTIZABLE = new Set(['Conv', 'MatMul', 'Gemm']);

/**
 * Static int8 QDQ quantization with calibration (see the file comment). Returns the model, the calibrated
 * ranges and how many nodes got quantized weights.
 */
export function quantizeStatic(model: CompressModel, options: StaticOptions): { model: CompressModel; ranges: CalibrationRanges; quantizedNodes: number } {
  const up = upgradeOpset(model);
  const scan = new GraphEditor(up.graph, up.opsets, true);
  const targets = scan.nodes.filter((n) => n.domain === '' && QUANTIZABLE.has(n.opType) && weightSlot(n, scan));
  const activations = [...new Set(targets.flatMap((n) => activationInputs(n, scan)))];
  for (const a of activations) {
    const dtype = scan.known(a)?.dtype;
    if (dtype !== undefined && dtype !== 'float32') throw new TesseraError(`quantizeStatic: activation '${a}' is ${dtype}; only float32 activations are quantized`);
  }
  const ranges = calibrate(up.graph, up.opsets, options.calibration, activations, { method: options.method ?? 'minmax', percentile: options.percentile, onProgress: options.onProgress });
  const ed = new GraphEditor(up.graph, up.opsets, true);
  // one Q -> DQ pair per activation, placed right after its producer (or first, for graph inputs)
  const dequantized = new Map<string, string>();
  for (const a of activations) {
    const r = ranges.get(a)!;
    const { scale, zeroPoint } = chooseQuantParams(r.lo, r.hi, ACTIVATION_SCHEME);
    const s = freshName(ed, `${a}_scale`);
    const z = freshName(ed, `${a}_zero_point`);
    ed.setInitializer(s, new Tensor('float32', new Float32Array([scale]), []));
    ed.setInitializer(z, new Tensor('uint8', new Uint8Array([zeroPoint]), []));
    const q = freshName(ed, `${a}_quantized`);
    const dq = freshName(ed, `${a}_dequantized`);
    const pair = [makeNode(`${q}_node`, 'QuantizeLinear', '', [a, s, z], [q], {}), makeNode(`${dq}_node`, 'DequantizeLinear', '', [q, s, z], [dq], {})];
    const producer = ed.producer(a);
    if (producer) ed.replaceNode(producer, producer, ...pair);
    else ed.replaceNode(ed.nodes[0]!, ...pair, ed.nodes[0]!);
    dequantized.set(a, dq);
  }
  let quantizedNodes = 0;
  const weightDq = new Map<string, string>();
  for (const n of targets) {
    const current = ed.nodes.find((m) => m.name === n.name && m.opType === n.opType)!;
    const slot = weightSlot(current, ed)!;
    const wName = current.inputs[slot.index]!;
    let wdq = weightDq.get(wName);
    if (!wdq) {
      const qt = quantizeTensor(ed.constant(wName)!, WEIGHT_SCHEME, slot.axis);
      const wq = freshName(ed, `${wName}_int8`);
      const ws = freshName(ed, `${wName}_scale`);
      ed.setInitializer(wq, qt.q);
      ed.setInitializer(ws, qt.scale);
      wdq = freshName(ed, `${wName}_dequantized`);
      // symmetric int8: every zero point is 0, which is DequantizeLinear's default, so none is stored
      ed.replaceNode(ed.nodes[0]!, makeNode(`${wdq}_node`, 'DequantizeLinear', '', [wq, ws], [wdq], { axis: slot.axis }), ed.nodes[0]!);
      weightDq.set(wName, wdq);
    }
    const inputs = current.inputs.map((name, i) => (i === slot.index ? wdq! : (activationInputs(current, ed).includes(name) ? dequantized.get(name) ?? name : name)));
    ed.replaceNode(current, makeNode(current.name, current.opType, current.domain, inputs, current.outputs, current.attrs));
    quantizedNodes++;
  }
  const run = applyRules({ ...up, graph: ed.build() }, []);
  return { model: run.model, ranges, quantizedNodes };
}
