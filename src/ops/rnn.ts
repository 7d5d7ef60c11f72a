/**
 * Recurrent operators: LSTM, GRU and RNN (one layer each, ONNX opsets 7..22; the opset-14 `layout` attribute
 * included). Schemas, validation and eager functions live here; the loops live in src/kernels/cpu/rnn.ts.
 *
 * Shapes (H = hidden_size, G = gates: LSTM 4 (order i, o, f, c), GRU 3 (order z, r, h), RNN 1;
 * D = num_directions, 2 for 'bidirectional' else 1):
 *
 *   X          layout 0: [seq, batch, input]         layout 1: [batch, seq, input]
 *   W [D, G*H, input]   R [D, G*H, H]   B [D, 2*G*H] (Wb then Rb)   P [D, 3*H] (LSTM peepholes, order i, o, f)
 *   sequence_lens [batch] (int32, each in [0, seq])
 *   initial_h, initial_c, Y_h, Y_c   layout 0: [D, batch, H]         layout 1: [batch, D, H]
 *   Y                   layout 0: [seq, D, batch, H]      layout 1: [batch, seq, D, H]
 *
 * Activations: LSTM takes 3 per direction (f, g, h), GRU 2 (f, g), RNN 1 (f); a bidirectional op lists the
 * forward direction's first. `activation_alpha` / `activation_beta` are consumed in order by the activations
 * that take such a parameter (as onnxruntime does); an activation without a value gets the default of the
 * ONNX operator of that name (LeakyRelu alpha 0.01, ThresholdedRelu alpha 1, HardSigmoid 0.2 / 0.5, Elu 1,
 * Affine 1 / 0, ScaledTanh 1 / 1). Names are matched case-insensitively.
 *
 * sequence_lens: steps at or beyond a sequence's length produce zeros in Y; Y_h / Y_c hold the state after its
 * last valid step (zeros for a length-0 sequence, as onnxruntime does). seq_length 0 is accepted: Y is empty
 * and Y_h / Y_c are zeros.
 */
import type { Attrs, AttrValue, OutputSpec } from '../kernels/registry.js';
import { fmtShape } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { runOp } from './dispatch.js';
import { defineOp, expectRank, fail, FLOAT_TYPES, req, type AttrSpec, type InferContext } from './schema.js';

/** Activation names the recurrent operators accept (canonical spelling). */
export const RECURRENT_ACTIVATIONS: readonly string[] = [
  'Sigmoid',
  'Tanh',
  'Relu',
  'HardSigmoid',
  'LeakyRelu',
  'ThresholdedRelu',
  'ScaledTanh',
  'Affine',
  'Elu',
  'Softsign',
  'Softplus',
];

type RecurrentOp = 'LSTM' | 'GRU' | 'RNN';

/** Gates per direction in W/R, activations per direction, and which optional inputs exist. */
const LAYOUT: Record<RecurrentOp, { gates: number; activations: number }> = {
  LSTM: { gates: 4, activations: 3 },
  GRU: { gates: 3, activations: 2 },
  RNN: { gates: 1, activations: 1 },
};

const COMMON_ATTRIBUTES: Record<string, AttrSpec> = {
  activation_alpha: { kind: 'floats' },
  activation_beta: { kind: 'floats' },
  activations: { kind: 'strings' },
  clip: { kind: 'float' },
  direction: { kind: 'string', default: 'forward' },
  hidden_size: { kind: 'int' },
  layout: { kind: 'int', default: 0 },
  // opset 1 only: whether Y is produced. Outputs are optional anyway, so it does not change any value.
  output_sequence: { kind: 'int', ignored: true },
};

function numDirectionsOf(op: RecurrentOp, direction: string, ctx: InferContext): number {
  if (direction === 'forward' || direction === 'reverse') return 1;
  if (direction === 'bidirectional') return 2;
  fail(op, `attribute 'direction' is ${JSON.stringify(direction)}; expected 'forward', 'reverse' or 'bidirectional'`, ctx);
}

function expectDims(op: string, name: string, t: Tensor, want: readonly number[], meaning: string, ctx: InferContext): void {
  const ok = t.rank === want.length && t.dims.every((d, i) => d === want[i]);
  if (!ok) fail(op, `input '${name}' has shape ${fmtShape(t.dims)}; expected ${fmtShape(want)} (${meaning})`, ctx);
}

/** Validation shared by the three operators; returns the output specs. */
function inferRecurrent(op: RecurrentOp, inputs: readonly (Tensor | undefined)[], attrs: Attrs, ctx: InferContext): OutputSpec[] {
  const { gates, activations: actsPerDirection } = LAYOUT[op];
  const x = req(op, inputs, 0, 'X', ctx);
  const w = req(op, inputs, 1, 'W', ctx);
  const r = req(op, inputs, 2, 'R', ctx);
  const b = inputs[3];
  const sequenceLens = inputs[4];
  const initialH = inputs[5];
  const initialC = op === 'LSTM' ? inputs[6] : undefined;
  const p = op === 'LSTM' ? inputs[7] : undefined;

  const layout = attrs.layout as number;
  if (layout !== 0 && layout !== 1) fail(op, `attribute 'layout' is ${layout}; expected 0 or 1`, ctx);
  const numDirections = numDirectionsOf(op, attrs.direction as string, ctx);

  expectRank(op, 'X', x, 3, ctx);
  expectRank(op, 'W', w, 3, ctx);
  expectRank(op, 'R', r, 3, ctx);
  const [seq, batch] = layout === 0 ? [x.dims[0]!, x.dims[1]!] : [x.dims[1]!, x.dims[0]!];
  const inputSize = x.dims[2]!;

  const given = attrs.hidden_size as number | undefined;
  if (given !== undefined && given <= 0) fail(op, `attribute 'hidden_size' is ${given}; expected a positive integer`, ctx);
  const hidden = given ?? r.dims[2]!;
  if (hidden <= 0) fail(op, `input 'R' has shape ${fmtShape(r.dims)}; its last dim (hidden_size) must be positive`, ctx);
  const g = gates === 1 ? '' : `${gates}*`;
  expectDims(op, 'W', w, [numDirections, gates * hidden, inputSize], `[num_directions, ${g}hidden_size, input_size] with hidden_size ${hidden}, input_size ${inputSize} from X`, ctx);
  expectDims(op, 'R', r, [numDirections, gates * hidden, hidden], `[num_directions, ${g}hidden_size, hidden_size] with hidden_size ${hidden}`, ctx);
  if (b) expectDims(op, 'B', b, [numDirections, 2 * gates * hidden], `[num_directions, ${2 * gates}*hidden_size]`, ctx);
  if (p) expectDims(op, 'P', p, [numDirections, 3 * hidden], '[num_directions, 3*hidden_size]', ctx);
  const stateDims = layout === 0 ? [numDirections, batch, hidden] : [batch, numDirections, hidden];
  const stateMeaning = layout === 0 ? '[num_directions, batch_size, hidden_size]' : '[batch_size, num_directions, hidden_size] (layout 1)';
  if (initialH) expectDims(op, 'initial_h', initialH, stateDims, stateMeaning, ctx);
  if (initialC) expectDims(op, 'initial_c', initialC, stateDims, stateMeaning, ctx);
  if (sequenceLens) {
    expectDims(op, 'sequence_lens', sequenceLens, [batch], '[batch_size]', ctx);
    const lens = sequenceLens.data as Int32Array;
    for (let i = 0; i < lens.length; i++) {
      const len = lens[i]!;
      if (len < 0 || len > seq) fail(op, `input 'sequence_lens' has value ${len} at batch ${i}; expected a length in [0, ${seq}] (seq_length)`, ctx);
    }
  }

  const clip = attrs.clip as number | undefined;
  if (clip !== undefined && !(clip > 0)) fail(op, `attribute 'clip' is ${clip}; expected a positive threshold`, ctx);

  const names = attrs.activations as readonly string[] | undefined;
  if (names !== undefined) {
    const want = actsPerDirection * numDirections;
    // RNN's documented default is ['Tanh', 'Tanh']; a one-direction RNN given two names uses the first.
    const rnnDefaultForm = op === 'RNN' && numDirections === 1 && names.length === 2;
    if (names.length !== want && !rnnDefaultForm) {
      fail(op, `attribute 'activations' has ${names.length} entries [${names.join(', ')}]; expected ${want} (${actsPerDirection} per direction, ${numDirections} direction${numDirections > 1 ? 's' : ''})`, ctx);
    }
    for (const name of names) {
      if (!RECURRENT_ACTIVATIONS.some((a) => a.toLowerCase() === name.toLowerCase())) {
        fail(op, `attribute 'activations' names unknown activation '${name}'; expected one of ${RECURRENT_ACTIVATIONS.join(', ')}`, ctx);
      }
    }
  }

  const y = layout === 0 ? [seq, numDirections, batch, hidden] : [batch, seq, numDirections, hidden];
  const outputs: OutputSpec[] = [
    { type: x.type, dims: y },
    { type: x.type, dims: stateDims },
  ];
  if (op === 'LSTM') outputs.push({ type: x.type, dims: stateDims });
  return outputs;
}

function normalizeRecurrent(op: RecurrentOp) {
  return (inputs: (Tensor | undefined)[], attrs: Record<string, AttrValue>, ctx: InferContext) => {
    if (ctx.opset < 14 && attrs.layout !== 0) fail(op, `attribute 'layout' exists from opset 14; this model uses opset ${ctx.opset}`, ctx);
    return { inputs, attrs };
  };
}

const RECURRENT_TYPES = { T: FLOAT_TYPES, T1: ['int32'] } as const;

defineOp({
  name: 'LSTM',
  inputs: [
    { name: 'X', type: 'T' },
    { name: 'W', type: 'T' },
    { name: 'R', type: 'T' },
    { name: 'B', type: 'T', optional: true },
    { name: 'sequence_lens', type: 'T1', optional: true },
    { name: 'initial_h', type: 'T', optional: true },
    { name: 'initial_c', type: 'T', optional: true },
    { name: 'P', type: 'T', optional: true },
  ],
  outputs: ['Y', 'Y_h', 'Y_c'],
  types: RECURRENT_TYPES,
  attributes: { ...COMMON_ATTRIBUTES, input_forget: { kind: 'int', default: 0 } },
  normalize: normalizeRecurrent('LSTM'),
  infer: (inputs, attrs, ctx) => inferRecurrent('LSTM', inputs, attrs, ctx),
});

defineOp({
  name: 'GRU',
  inputs: [
    { name: 'X', type: 'T' },
    { name: 'W', type: 'T' },
    { name: 'R', type: 'T' },
    { name: 'B', type: 'T', optional: true },
    { name: 'sequence_lens', type: 'T1', optional: true },
    { name: 'initial_h', type: 'T', optional: true },
  ],
  outputs: ['Y', 'Y_h'],
  types: RECURRENT_TYPES,
  attributes: { ...COMMON_ATTRIBUTES, linear_before_reset: { kind: 'int', default: 0 } },
  normalize: normalizeRecurrent('GRU'),
  infer: (inputs, attrs, ctx) => inferRecurrent('GRU', inputs, attrs, ctx),
});

defineOp({
  name: 'RNN',
  inputs: [
    { name: 'X', type: 'T' },
    { name: 'W', type: 'T' },
    { name: 'R', type: 'T' },
    { name: 'B', type: 'T', optional: true },
    { name: 'sequence_lens', type: 'T1', optional: true },
    { name: 'initial_h', type: 'T', optional: true },
  ],
  outputs: ['Y', 'Y_h'],
  types: RECURRENT_TYPES,
  attributes: COMMON_ATTRIBUTES,
  normalize: normalizeRecurrent('RNN'),
  infer: (inputs, attrs, ctx) => inferRecurrent('RNN', inputs, attrs, ctx),
});

// ---------------------------------------------------------------------------------------------------------
// Eager API.

/** Options shared by lstm, gru and rnn (ONNX attribute and optional-input names in camelCase). */
export interface RecurrentOptions {
  /** Biases [num_directions, 2*G*hidden] (W biases then R biases). Default zeros. */
  b?: Tensor;
  /** int32 [batch] lengths, each in [0, seq]. Default: every sequence is seq long. */
  sequenceLens?: Tensor;
  /** Initial hidden state (layout 0: [num_directions, batch, hidden]; layout 1: [batch, num_directions, hidden]). */
  initialH?: Tensor;
  /** Hidden size; default: taken from R's last dim. */
  hiddenSize?: number;
  /** 'forward' (default), 'reverse' or 'bidirectional'. */
  direction?: 'forward' | 'reverse' | 'bidirectional';
  /** Activation names, per direction (see the file header for the count and the accepted names). */
  activations?: readonly string[];
  /** Parameters consumed in order by the activations that take an alpha. */
  activationAlpha?: readonly number[];
  /** Parameters consumed in order by the activations that take a beta. */
  activationBeta?: readonly number[];
  /** Clip pre-activations to [-clip, clip]. */
  clip?: number;
  /** 0 (default): sequence-major tensors; 1: batch-major (opset 14). */
  layout?: 0 | 1;
}

/** LSTM-only options. */
export interface LstmOptions extends RecurrentOptions {
  /** Initial cell state, same shape as initialH. */
  initialC?: Tensor;
  /** Peephole weights [num_directions, 3*hidden] in order i, o, f. */
  p?: Tensor;
  /** 1: couple the gates, f = 1 - i. */
  inputForget?: 0 | 1;
}

/** GRU-only options. */
export interface GruOptions extends RecurrentOptions {
  /** 1: apply R_h (and its bias) to H before multiplying by the reset gate. */
  linearBeforeReset?: 0 | 1;
}

function commonAttrs(o: RecurrentOptions) {
  return {
    hidden_size: o.hiddenSize,
    direction: o.direction,
    activations: o.activations,
    activation_alpha: o.activationAlpha,
    activation_beta: o.activationBeta,
    clip: o.clip,
    layout: o.layout,
  };
}

/**
 * One LSTM layer over a sequence (ONNX LSTM). Returns every step's hidden state `y`, the last hidden state
 * `yH` and the last cell state `yC`. Gate order in W, R and B is i, o, f, c.
 */
export function lstm(x: Tensor, w: Tensor, r: Tensor, options: LstmOptions = {}): { y: Tensor; yH: Tensor; yC: Tensor } {
  const [y, yH, yC] = runOp('LSTM', [x, w, r, options.b, options.sequenceLens, options.initialH, options.initialC, options.p], {
    ...commonAttrs(options),
    input_forget: options.inputForget,
  });
  return { y: y!, yH: yH!, yC: yC! };
}

/** One GRU layer over a sequence (ONNX GRU). Gate order in W, R and B is z, r, h. */
export function gru(x: Tensor, w: Tensor, r: Tensor, options: GruOptions = {}): { y: Tensor; yH: Tensor } {
  const [y, yH] = runOp('GRU', [x, w, r, options.b, options.sequenceLens, options.initialH], {
    ...commonAttrs(options),
    linear_before_reset: options.linearBeforeReset,
  });
  return { y: y!, yH: yH! };
}

/** One simple (Elman) RNN layer over a sequence (ONNX RNN): H_t = f(X_t W^T + H_{t-1} R^T + Wb + Rb). */
export function rnn(x: Tensor, w: Tensor, r: Tensor, options: RecurrentOptions = {}): { y: Tensor; yH: Tensor } {
  const [y, yH] = runOp('RNN', [x, w, r, options.b, options.sequenceLens, options.initialH], commonAttrs(options));
  return { y: y!, yH: yH! };
}
