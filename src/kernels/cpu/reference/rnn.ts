/**
 * Reference (naive) recurrent kernels: LSTM, GRU and RNN written straight from the equations of ONNX's
 * Operators.md, one sequence, one timestep and one hidden unit at a time, every matrix product spelled out as
 * a dot product in float64. They define the semantics the fast kernels in ../rnn.ts are tested against.
 *
 * Inputs are the ONNX inputs in order (X, W, R, B, sequence_lens, initial_h[, initial_c, P]); attributes use
 * the ONNX names and may be absent (defaults applied here). Outputs: [Y, Y_h] (and Y_c for LSTM) in the
 * dtype of X. Gate orders: LSTM i, o, f, c (peepholes i, o, f); GRU z, r, h.
 */
import { fromNumbers, type Tensor } from '../../../tensor/tensor.js';

/** ONNX attributes of the recurrent operators, all optional. */
export interface ReferenceRecurrentAttrs {
  hidden_size?: number;
  direction?: string;
  activations?: readonly string[];
  activation_alpha?: readonly number[];
  activation_beta?: readonly number[];
  clip?: number;
  layout?: number;
  input_forget?: number;
  linear_before_reset?: number;
}

type Activation = (x: number) => number;

/** One activation function by ONNX name, with this activation's alpha/beta (or the operator defaults). */
function activationByName(name: string, alpha: number | undefined, beta: number | undefined): Activation {
  switch (name.toLowerCase()) {
    case 'sigmoid':
      return (x) => 1 / (1 + Math.exp(-x));
    case 'tanh':
      return (x) => Math.tanh(x);
    case 'relu':
      return (x) => Math.max(0, x);
    case 'hardsigmoid': {
      const a = alpha ?? 0.2;
      const b = beta ?? 0.5;
      return (x) => Math.min(Math.max(a * x + b, 0), 1);
    }
    case 'leakyrelu': {
      const a = alpha ?? 0.01;
      return (x) => (x >= 0 ? x : a * x);
    }
    case 'thresholdedrelu': {
      const a = alpha ?? 1;
      return (x) => (x >= a ? x : 0);
    }
    case 'scaledtanh': {
      const a = alpha ?? 1;
      const b = beta ?? 1;
      return (x) => a * Math.tanh(b * x);
    }
    case 'affine': {
      const a = alpha ?? 1;
      const b = beta ?? 0;
      return (x) => a * x + b;
    }
    case 'elu': {
      const a = alpha ?? 1;
      return (x) => (x >= 0 ? x : a * (Math.exp(x) - 1));
    }
    case 'softsign':
      return (x) => x / (1 + Math.abs(x));
    case 'softplus':
      return (x) => Math.log(1 + Math.exp(x));
    default:
      throw new Error(`reference RNN: unknown activation ${name}`);
  }
}

const TAKES_ALPHA = ['hardsigmoid', 'leakyrelu', 'thresholdedrelu', 'scaledtanh', 'affine', 'elu'];
const TAKES_BETA = ['hardsigmoid', 'scaledtanh', 'affine'];

/** The activation functions of every direction; alpha/beta lists are consumed in order by their users. */
function activationsOf(attrs: ReferenceRecurrentAttrs, defaults: readonly string[], numDirections: number): Activation[][] {
  const n = defaults.length;
  let names: readonly string[] = attrs.activations ?? [];
  if (names.length === 0) {
    names = [];
    for (let d = 0; d < numDirections; d++) names = [...names, ...defaults];
  }
  const alphas = attrs.activation_alpha ?? [];
  const betas = attrs.activation_beta ?? [];
  let ai = 0;
  let bi = 0;
  const out: Activation[][] = [];
  for (let d = 0; d < numDirections; d++) {
    const fns: Activation[] = [];
    for (let k = 0; k < n; k++) {
      const name = names[d * n + k]!;
      const lower = name.toLowerCase();
      const alpha = TAKES_ALPHA.includes(lower) && ai < alphas.length ? alphas[ai++] : undefined;
      const beta = TAKES_BETA.includes(lower) && bi < betas.length ? betas[bi++] : undefined;
      fns.push(activationByName(name, alpha, beta));
    }
    out.push(fns);
  }
  return out;
}

/** Dims, accessors and output buffers shared by the three references. */
function setup(inputs: readonly (Tensor | undefined)[], attrs: ReferenceRecurrentAttrs, gates: number) {
  const x = inputs[0]!;
  const layout = attrs.layout ?? 0;
  const direction = attrs.direction ?? 'forward';
  const numDirections = direction === 'bidirectional' ? 2 : 1;
  const seq = layout === 0 ? x.dims[0]! : x.dims[1]!;
  const batch = layout === 0 ? x.dims[1]! : x.dims[0]!;
  const inputSize = x.dims[2]!;
  const hidden = attrs.hidden_size ?? inputs[2]!.dims[2]!;
  const X = Array.from(x.numbers());
  const W = Array.from(inputs[1]!.numbers());
  const R = Array.from(inputs[2]!.numbers());
  const B = inputs[3] ? Array.from(inputs[3].numbers()) : undefined;
  const lens = inputs[4] ? Array.from(inputs[4].numbers()) : new Array<number>(batch).fill(seq);
  const H0 = inputs[5] ? Array.from(inputs[5].numbers()) : undefined;
  const clip = attrs.clip;
  const stateIndex = (d: number, b: number, j: number) => (layout === 0 ? (d * batch + b) * hidden + j : (b * numDirections + d) * hidden + j);
  return {
    x,
    seq,
    batch,
    hidden,
    numDirections,
    lens,
    reversed: (d: number) => direction === 'reverse' || d === 1,
    /** Row `row` of W_d dotted with X[t, b, :]. */
    xDotW: (d: number, row: number, t: number, b: number) => {
      let s = 0;
      for (let k = 0; k < inputSize; k++) s += X[(layout === 0 ? t * batch + b : b * seq + t) * inputSize + k]! * W[(d * gates * hidden + row) * inputSize + k]!;
      return s;
    },
    /** Row `row` of R_d dotted with a hidden vector. */
    hDotR: (d: number, row: number, h: readonly number[]) => {
      let s = 0;
      for (let k = 0; k < hidden; k++) s += h[k]! * R[(d * gates * hidden + row) * hidden + k]!;
      return s;
    },
    wBias: (d: number, row: number) => (B ? B[d * 2 * gates * hidden + row]! : 0),
    rBias: (d: number, row: number) => (B ? B[d * 2 * gates * hidden + gates * hidden + row]! : 0),
    clipValue: (v: number) => (clip === undefined ? v : Math.min(Math.max(v, -clip), clip)),
    initialState: (values: number[] | undefined, d: number, b: number) =>
      Array.from({ length: hidden }, (_, j) => (values ? values[stateIndex(d, b, j)]! : 0)),
    initialH: H0,
    yIndex: (t: number, d: number, b: number, j: number) =>
      layout === 0 ? ((t * numDirections + d) * batch + b) * hidden + j : ((b * seq + t) * numDirections + d) * hidden + j,
    stateIndex,
    yDims: layout === 0 ? [seq, numDirections, batch, hidden] : [batch, seq, numDirections, hidden],
    stateDims: layout === 0 ? [numDirections, batch, hidden] : [batch, numDirections, hidden],
  };
}

/** LSTM by the Operators.md equations. Returns [Y, Y_h, Y_c]. */
export function referenceLstm(inputs: readonly (Tensor | undefined)[], attrs: ReferenceRecurrentAttrs = {}): Tensor[] {
  const s = setup(inputs, attrs, 4);
  const { hidden, batch, numDirections } = s;
  const acts = activationsOf(attrs, ['Sigmoid', 'Tanh', 'Tanh'], numDirections);
  const C0 = inputs[6] ? Array.from(inputs[6].numbers()) : undefined;
  const P = inputs[7] ? Array.from(inputs[7].numbers()) : undefined;
  const inputForget = (attrs.input_forget ?? 0) !== 0;
  const Y = new Array<number>(s.seq * numDirections * batch * hidden).fill(0);
  const YH = new Array<number>(numDirections * batch * hidden).fill(0);
  const YC = new Array<number>(numDirections * batch * hidden).fill(0);
  // gate row offsets in W/R/B: i, o, f, c
  const I = 0;
  const O = hidden;
  const F = 2 * hidden;
  const Cg = 3 * hidden;
  for (let d = 0; d < numDirections; d++) {
    const [f, g, h] = acts[d]!;
    const peep = (gate: number, j: number) => (P ? P[d * 3 * hidden + gate * hidden + j]! : 0); // gate 0 i, 1 o, 2 f
    for (let b = 0; b < batch; b++) {
      let hPrev = s.initialState(s.initialH, d, b);
      let cPrev = s.initialState(C0, d, b);
      const len = s.lens[b]!;
      for (let step = 0; step < len; step++) {
        const t = s.reversed(d) ? len - 1 - step : step;
        const pre = (base: number, j: number) => s.xDotW(d, base + j, t, b) + s.hDotR(d, base + j, hPrev) + s.wBias(d, base + j) + s.rBias(d, base + j);
        const hNext: number[] = [];
        const cNext: number[] = [];
        for (let j = 0; j < hidden; j++) {
          const it = f!(s.clipValue(pre(I, j) + peep(0, j) * cPrev[j]!));
          const ft = inputForget ? 1 - it : f!(s.clipValue(pre(F, j) + peep(2, j) * cPrev[j]!));
          const ct = g!(s.clipValue(pre(Cg, j)));
          const Ct = ft * cPrev[j]! + it * ct;
          const ot = f!(s.clipValue(pre(O, j) + peep(1, j) * Ct));
          const Ht = ot * h!(Ct);
          hNext.push(Ht);
          cNext.push(Ct);
          Y[s.yIndex(t, d, b, j)] = Ht;
        }
        hPrev = hNext;
        cPrev = cNext;
      }
      if (len > 0) {
        for (let j = 0; j < hidden; j++) {
          YH[s.stateIndex(d, b, j)] = hPrev[j]!;
          YC[s.stateIndex(d, b, j)] = cPrev[j]!;
        }
      }
    }
  }
  return [fromNumbers(s.x.type, Y, s.yDims), fromNumbers(s.x.type, YH, s.stateDims), fromNumbers(s.x.type, YC, s.stateDims)];
}

/** GRU by the Operators.md equations. Returns [Y, Y_h]. */
export function referenceGru(inputs: readonly (Tensor | undefined)[], attrs: ReferenceRecurrentAttrs = {}): Tensor[] {
  const s = setup(inputs, attrs, 3);
  const { hidden, batch, numDirections } = s;
  const acts = activationsOf(attrs, ['Sigmoid', 'Tanh'], numDirections);
  const linearBeforeReset = (attrs.linear_before_reset ?? 0) !== 0;
  const Y = new Array<number>(s.seq * numDirections * batch * hidden).fill(0);
  const YH = new Array<number>(numDirections * batch * hidden).fill(0);
  // gate row offsets: z, r, h
  const Z = 0;
  const Rg = hidden;
  const Hg = 2 * hidden;
  for (let d = 0; d < numDirections; d++) {
    const [f, g] = acts[d]!;
    for (let b = 0; b < batch; b++) {
      let hPrev = s.initialState(s.initialH, d, b);
      const len = s.lens[b]!;
      for (let step = 0; step < len; step++) {
        const t = s.reversed(d) ? len - 1 - step : step;
        const zt: number[] = [];
        const rt: number[] = [];
        for (let j = 0; j < hidden; j++) {
          zt.push(f!(s.clipValue(s.xDotW(d, Z + j, t, b) + s.hDotR(d, Z + j, hPrev) + s.wBias(d, Z + j) + s.rBias(d, Z + j))));
          rt.push(f!(s.clipValue(s.xDotW(d, Rg + j, t, b) + s.hDotR(d, Rg + j, hPrev) + s.wBias(d, Rg + j) + s.rBias(d, Rg + j))));
        }
        const rTimesH = hPrev.map((v, k) => rt[k]! * v);
        const hNext: number[] = [];
        for (let j = 0; j < hidden; j++) {
          const xPart = s.xDotW(d, Hg + j, t, b) + s.wBias(d, Hg + j);
          const ht = linearBeforeReset
            ? g!(s.clipValue(xPart + rt[j]! * (s.hDotR(d, Hg + j, hPrev) + s.rBias(d, Hg + j))))
            : g!(s.clipValue(xPart + s.hDotR(d, Hg + j, rTimesH) + s.rBias(d, Hg + j)));
          const Ht = (1 - zt[j]!) * ht + zt[j]! * hPrev[j]!;
          hNext.push(Ht);
          Y[s.yIndex(t, d, b, j)] = Ht;
        }
        hPrev = hNext;
      }
      if (len > 0) for (let j = 0; j < hidden; j++) YH[s.stateIndex(d, b, j)] = hPrev[j]!;
    }
  }
  return [fromNumbers(s.x.type, Y, s.yDims), fromNumbers(s.x.type, YH, s.stateDims)];
}

/** RNN by the Operators.md equation H_t = f(X_t W^T + H_{t-1} R^T + Wb + Rb). Returns [Y, Y_h]. */
export function referenceRnn(inputs: readonly (Tensor | undefined)[], attrs: ReferenceRecurrentAttrs = {}): Tensor[] {
  const s = setup(inputs, attrs, 1);
  const { hidden, batch, numDirections } = s;
  const acts = activationsOf(attrs, ['Tanh'], numDirections);
  const Y = new Array<number>(s.seq * numDirections * batch * hidden).fill(0);
  const YH = new Array<number>(numDirections * batch * hidden).fill(0);
  for (let d = 0; d < numDirections; d++) {
    const [f] = acts[d]!;
    for (let b = 0; b < batch; b++) {
      let hPrev = s.initialState(s.initialH, d, b);
      const len = s.lens[b]!;
      for (let step = 0; step < len; step++) {
        const t = s.reversed(d) ? len - 1 - step : step;
        const hNext: number[] = [];
        for (let j = 0; j < hidden; j++) {
          const Ht = f!(s.clipValue(s.xDotW(d, j, t, b) + s.hDotR(d, j, hPrev) + s.wBias(d, j) + s.rBias(d, j)));
          hNext.push(Ht);
          Y[s.yIndex(t, d, b, j)] = Ht;
        }
        hPrev = hNext;
      }
      if (len > 0) for (let j = 0; j < hidden; j++) YH[s.stateIndex(d, b, j)] = hPrev[j]!;
    }
  }
  return [fromNumbers(s.x.type, Y, s.yDims), fromNumbers(s.x.type, YH, s.stateDims)];
}
