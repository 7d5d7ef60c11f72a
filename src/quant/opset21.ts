/**
 * Opset upgrade to 21 (and IR version 10) for models that get int4 weights: the INT4/UINT4 tensor types exist
 * from IR version 10 / opset 21, and so does blocked DequantizeLinear (`block_size`). The model is first moved
 * to opset 13 by ./opset.ts's `upgradeOpset` (which refuses what it cannot move faithfully), then from 13 to 21:
 *   - ReduceMean, ReduceMax, ReduceMin, ReduceProd, ReduceL1, ReduceL2, ReduceLogSum, ReduceLogSumExp and
 *     ReduceSumSquare take `axes` as an int64 input from opset 18 on: the attribute becomes an initializer;
 *   - the operators of UNCHANGED_13_TO_21 only gained types or optional attributes/inputs whose defaults keep
 *     the opset-13 meaning between 13 and 21 (Reshape's allowzero = 0, Shape's start/end, Pad's axes, Split's
 *     num_outputs, Resize's antialias/axes/keep_aspect_ratio, AveragePool's dilations, Scatter* reduction =
 *     'none', ...);
 *   - anything else in the default domain is refused by name (GridSample renamed its modes in 20, GroupNormalization
 *     changed in 21, ...), so no model is silently changed.
 */
import { TesseraError } from '../tensor/errors.js';
import { Tensor } from '../tensor/tensor.js';
import { makeNode } from '../graph/passes/editor.js';
import type { RewriteRule } from '../graph/passes/rule.js';
import { applyRules, freshName, type CompressModel } from './model.js';
import { upgradeOpset } from './opset.js';

/** Default-domain version the int4 models are written at. */
export const INT4_OPSET = 21;
/** IR version that introduced INT4/UINT4. */
export const INT4_IR_VERSION = 10;

/** Reductions whose `axes` attribute became an input in opset 18. */
const AXES_INPUT_SINCE_18 = ['ReduceMean', 'ReduceMax', 'ReduceMin', 'ReduceProd', 'ReduceL1', 'ReduceL2', 'ReduceLogSum', 'ReduceLogSumExp', 'ReduceSumSquare'];

/** Operators whose inference meaning is the same at opset 13 and 21 (see the file comment). */
const UNCHANGED_13_TO_21 = new Set([
  'Abs', 'Add', 'And', 'ArgMax', 'ArgMin', 'AveragePool', 'BatchNormalization', 'Cast', 'Ceil', 'Clip', 'Concat', 'Constant',
  'ConstantOfShape', 'Conv', 'ConvTranspose', 'Cos', 'CumSum', 'DepthToSpace', 'Div', 'Dropout', 'Einsum', 'Elu', 'Equal', 'Erf',
  'Exp', 'Expand', 'Flatten', 'Floor', 'Gather', 'GatherElements', 'GatherND', 'Gemm', 'GlobalAveragePool', 'GlobalMaxPool',
  'Greater', 'GreaterOrEqual', 'HardSigmoid', 'HardSwish', 'Hardmax', 'Identity', 'InstanceNormalization', 'LeakyRelu', 'Less',
  'LessOrEqual', 'Log', 'LogSoftmax', 'LRN', 'MatMul', 'Max', 'MaxPool', 'Mean', 'Min', 'Mod', 'Mul', 'Neg', 'NonZero', 'Not',
  'OneHot', 'Or', 'Pad', 'Pow', 'PRelu', 'Range', 'Reciprocal', 'ReduceSum', 'Relu', 'Reshape', 'Resize', 'Round', 'Selu',
  'Shape', 'Sigmoid', 'Sign', 'Sin', 'Size', 'Slice', 'Softmax', 'Softplus', 'Softsign', 'SpaceToDepth', 'Split', 'Sqrt',
  'Squeeze', 'Sub', 'Sum', 'Tanh', 'Tile', 'TopK', 'Transpose', 'Trilu', 'Unsqueeze', 'Where', 'Xor',
  'QuantizeLinear', 'DequantizeLinear', 'DynamicQuantizeLinear', 'MatMulInteger', 'ConvInteger', 'QLinearConv', 'QLinearMatMul',
]);

/** Reduce* (not ReduceSum) with an `axes` attribute -> the same reduction reading axes from an int64 initializer. */
const reduceAxesToInput: RewriteRule = {
  name: 'UpgradeReduceAxes',
  opTypes: AXES_INPUT_SINCE_18,
  condition: (n) => n.attrs['axes'] !== undefined,
  apply(n, ctx) {
    const ed = ctx.editor;
    const axes = n.attrs['axes'] as readonly number[];
    const name = freshName(ed, `${n.name}_axes`);
    ed.setInitializer(name, new Tensor('int64', BigInt64Array.from(axes.map((a) => BigInt(a))), [axes.length]));
    const attrs: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(n.attrs)) if (k !== 'axes') attrs[k] = v;
    ed.replaceNode(n, makeNode(n.name, n.opType, n.domain, [n.inputs[0]!, name], n.outputs, attrs));
    return true;
  },
};

/**
 * The model at opset 21 of the default domain and IR version >= 10 (see the file comment). Models already at
 * 21 or later are returned as they are (IR version raised if needed); what cannot be moved faithfully is a
 * TesseraError naming the operators.
 */
export function upgradeOpsetTo21(model: CompressModel): CompressModel {
  const from = model.opsets.get('') ?? 1;
  if (from >= INT4_OPSET) return { ...model, irVersion: Math.max(model.irVersion, INT4_IR_VERSION) };
  const at13 = upgradeOpset(model);
  const refused = [...new Set(at13.graph.nodes.filter((n) => n.domain === '' && !UNCHANGED_13_TO_21.has(n.opType) && !AXES_INPUT_SINCE_18.includes(n.opType)).map((n) => n.opType))];
  if (refused.length) throw new TesseraError(`upgradeOpsetTo21: cannot move ${refused.join(', ')} from opset ${Math.max(from, 13)} to ${INT4_OPSET} (their meaning changed in between, or Tessera does not know that it did not)`);
  const run = applyRules(at13, [reduceAxesToInput]);
  const opsets = new Map(run.model.opsets);
  opsets.set('', INT4_OPSET);
  return { ...run.model, opsets, irVersion: Math.max(run.model.irVersion, INT4_IR_VERSION) };
}
