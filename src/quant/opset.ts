/**
 * Opset upgrade to 13 for models that are quantized: per-channel QuantizeLinear/DequantizeLinear (the `axis`
 * attribute) exist from opset 13, and many exported models (PP-OCR's are opset 9) are older. Raising the
 * version is only sound when every node means the same thing at 13, so each node is either
 *   - rewritten into its opset-13 form: Clip (min/max attributes -> inputs, opset 11), Slice (starts/ends/axes
 *     attributes -> int64 inputs, opset 10), Squeeze/Unsqueeze (axes -> input, 13), ReduceSum (axes -> input,
 *     13), Split (split -> input, 13), Softmax/LogSoftmax/Hardmax (opset 13 normalizes over `axis` only, older
 *     opsets over every axis from `axis` on: the same node when `axis` is the last one of a known rank, else
 *     Flatten(axis) -> op(axis=-1) -> Reshape to the input's shape, which is the old definition), Dropout (its ignored `ratio` attribute became an input in 12: dropped, inference ignores it);
 *   - or on a list of operators whose semantics did not change between the model's opset and 13;
 *   - or refused with the operator's name, so no model is silently changed.
 */
import { TesseraError } from '../tensor/errors.js';
import { Tensor, fromNumbers } from '../tensor/tensor.js';
import type { Node } from '../graph/ir.js';
import { makeNode } from '../graph/passes/editor.js';
import type { RewriteRule } from '../graph/passes/rule.js';
import { applyRules, freshName, type CompressModel } from './model.js';

/** Operators whose meaning is the same from opset 7 to 13 for inference (newer opsets only added types). */
const UNCHANGED = new Set([
  'Abs', 'Add', 'And', 'AveragePool', 'BatchNormalization', 'Cast', 'Ceil', 'Concat', 'Constant', 'ConstantOfShape', 'Conv',
  'ConvTranspose', 'Cos', 'DepthToSpace', 'Div', 'Elu', 'Equal', 'Erf', 'Exp', 'Expand', 'Flatten', 'Floor', 'Gather',
  'Gemm', 'GlobalAveragePool', 'GlobalMaxPool', 'Greater', 'HardSigmoid', 'Identity', 'InstanceNormalization',
  'LeakyRelu', 'Less', 'Log', 'LRN', 'MatMul', 'Max', 'MaxPool', 'Mean', 'Min', 'Mul', 'Neg', 'Not', 'Or', 'Pow', 'PRelu',
  'Reciprocal', 'ReduceL1', 'ReduceL2', 'ReduceLogSum', 'ReduceLogSumExp', 'ReduceMax', 'ReduceMean', 'ReduceMin',
  'ReduceProd', 'ReduceSumSquare', 'Relu', 'Reshape', 'Selu', 'Shape', 'Sigmoid', 'Sign', 'Sin', 'Size', 'Softplus',
  'Softsign', 'SpaceToDepth', 'Sqrt', 'Sub', 'Sum', 'Tanh', 'Tile', 'Transpose', 'Where', 'Xor',
  // already in their opset-13 form or quantization operators the passes emit
  'QuantizeLinear', 'DequantizeLinear', 'DynamicQuantizeLinear', 'MatMulInteger', 'ConvInteger', 'QLinearConv', 'QLinearMatMul',
]);

/** Target version of the default domain. */
export const QUANT_OPSET = 13;

function int64(values: readonly number[]): Tensor<'int64'> {
  return new Tensor('int64', BigInt64Array.from(values.map((v) => BigInt(v))), [values.length]);
}

/** A copy of `n` with new inputs and attributes. */
function rebuilt(n: Node, inputs: readonly string[], attrs: Record<string, unknown>): Node {
  return makeNode(n.name, n.opType, n.domain, inputs, n.outputs, attrs);
}

function without(attrs: Node['attrs'], ...names: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(attrs)) if (!names.includes(k)) out[k] = v;
  return out;
}

const upgradeClip: RewriteRule = {
  name: 'UpgradeClip',
  opTypes: ['Clip'],
  condition: (n) => n.attrs['min'] !== undefined || n.attrs['max'] !== undefined,
  apply(n, ctx) {
    const ed = ctx.editor;
    const dtype = ed.known(n.inputs[0]!)?.dtype ?? 'float32';
    if (dtype !== 'float32' && dtype !== 'float16' && dtype !== 'float64') throw new TesseraError(`upgradeOpset: Clip ${n.label} clips a ${dtype} value`);
    const bound = (attr: 'min' | 'max'): string => {
      const v = n.attrs[attr] as number | undefined;
      if (v === undefined) return '';
      const name = freshName(ed, `${n.name}_${attr}`);
      ed.setInitializer(name, fromNumbers(dtype, [v], []));
      return name;
    };
    ed.replaceNode(n, rebuilt(n, [n.inputs[0]!, bound('min'), bound('max')], without(n.attrs, 'min', 'max', 'consumed_inputs')));
    return true;
  },
};

const upgradeSlice: RewriteRule = {
  name: 'UpgradeSlice',
  opTypes: ['Slice'],
  condition: (n) => n.attrs['starts'] !== undefined,
  apply(n, ctx) {
    const ed = ctx.editor;
    const starts = n.attrs['starts'] as readonly number[];
    const ends = n.attrs['ends'] as readonly number[];
    const axes = (n.attrs['axes'] as readonly number[] | undefined) ?? starts.map((_, i) => i);
    const names = (['starts', 'ends', 'axes'] as const).map((k, i) => {
      const name = freshName(ed, `${n.name}_${k}`);
      ed.setInitializer(name, int64([starts, ends, axes][i]!));
      return name;
    });
    ed.replaceNode(n, rebuilt(n, [n.inputs[0]!, ...names], {}));
    return true;
  },
};

/** Squeeze/Unsqueeze/ReduceSum `axes` and Split `split`: attribute -> int64 input at position `inputIndex`. */
function attributeToInput(opType: string, attr: string, inputIndex: number): RewriteRule {
  return {
    name: `Upgrade${opType}`,
    opTypes: [opType],
    condition: (n) => n.attrs[attr] !== undefined,
    apply(n, ctx) {
      const ed = ctx.editor;
      const name = freshName(ed, `${n.name}_${attr}`);
      ed.setInitializer(name, int64(n.attrs[attr] as readonly number[]));
      const inputs = [...n.inputs];
      while (inputs.length < inputIndex) inputs.push('');
      inputs[inputIndex] = name;
      ed.replaceNode(n, rebuilt(n, inputs, without(n.attrs, attr)));
      return true;
    },
  };
}

const upgradeSoftmax: RewriteRule = {
  name: 'UpgradeSoftmax',
  opTypes: ['Softmax', 'LogSoftmax', 'Hardmax'],
  condition: (n) => n.attrs['axis'] !== -1,
  apply(n, ctx) {
    const ed = ctx.editor;
    const x = n.inputs[0]!;
    const rank = ed.known(x)?.dims?.length;
    const axis = (n.attrs['axis'] as number | undefined) ?? 1;
    if (rank !== undefined && (axis + rank) % rank === rank - 1) {
      ed.replaceNode(n, rebuilt(n, n.inputs, { ...n.attrs, axis: -1 }));
      return true;
    }
    // the old meaning in general: Reshape(op13(Flatten(x, axis), axis=-1), Shape(x))
    const flat = freshName(ed, `${n.name}_flat`);
    const normalized = freshName(ed, `${n.name}_2d`);
    const shape = freshName(ed, `${n.name}_shape`);
    ed.replaceNode(
      n,
      makeNode(`${n.name}_flatten`, 'Flatten', '', [x], [flat], { axis }),
      makeNode(n.name, n.opType, '', [flat], [normalized], { axis: -1 }),
      makeNode(`${n.name}_shape`, 'Shape', '', [x], [shape], {}),
      makeNode(`${n.name}_restore`, 'Reshape', '', [normalized, shape], [n.outputs[0]!], {}),
    );
    return true;
  },
};

const upgradeDropout: RewriteRule = {
  name: 'UpgradeDropout',
  opTypes: ['Dropout'],
  condition: (n) => n.attrs['ratio'] !== undefined || n.attrs['is_test'] !== undefined,
  apply(n, ctx) {
    ctx.editor.replaceNode(n, rebuilt(n, [n.inputs[0]!], without(n.attrs, 'ratio', 'is_test', 'consumed_inputs')));
    return true;
  },
};

/**
 * The model at opset 13 of the default domain (see the file comment). Models already at 13 or later are
 * returned as they are; anything that cannot be upgraded faithfully is a TesseraError naming the node.
 */
export function upgradeOpset(model: CompressModel): CompressModel {
  const from = model.opsets.get('') ?? 1;
  if (from >= QUANT_OPSET) return model;
  if (from < 7) throw new TesseraError(`upgradeOpset: the model imports opset ${from}; Tessera upgrades from opset 7 or later`);
  const rewrites = new Set(['Clip', 'Slice', 'Squeeze', 'Unsqueeze', 'ReduceSum', 'Split', 'Softmax', 'LogSoftmax', 'Hardmax', 'Dropout']);
  const refused = [...new Set(model.graph.nodes.filter((n) => n.domain === '' && !UNCHANGED.has(n.opType) && !rewrites.has(n.opType)).map((n) => n.opType))];
  if (refused.length) throw new TesseraError(`upgradeOpset: cannot move ${refused.join(', ')} from opset ${from} to ${QUANT_OPSET} (their meaning changed in between)`);
  const split = model.graph.nodes.find((n) => n.opType === 'Split' && from < 2);
  if (split) throw new TesseraError(`upgradeOpset: ${split.label} is Split-1`);
  // Softmax first, in a run of its own: it reads the input rank from shapes propagated at the old opset
  const softmaxDone = applyRules(model, [upgradeSoftmax]).model;
  const rules = [
    upgradeClip,
    upgradeSlice,
    attributeToInput('Squeeze', 'axes', 1),
    attributeToInput('Unsqueeze', 'axes', 1),
    attributeToInput('ReduceSum', 'axes', 1),
    attributeToInput('Split', 'split', 1),
    upgradeDropout,
  ];
  const run = applyRules(softmaxDone, rules);
  const opsets = new Map(run.model.opsets);
  opsets.set('', QUANT_OPSET);
  return { ...run.model, opsets, irVersion: Math.max(run.model.irVersion, 7) };
}
