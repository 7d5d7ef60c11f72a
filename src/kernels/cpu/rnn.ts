/**
 * CPU kernels of the recurrent family: LSTM, GRU and RNN (ONNX semantics; shapes and attributes are
 * described and validated in src/ops/rnn.ts, the naive twin is reference/rnn.ts).
 *
 * Gate order. ONNX stacks the gates of one direction along W's and R's rows (and B's two halves) in a fixed
 * order, which is NOT the PyTorch/cuDNN order:
 *   LSTM  i, o, f, c   (input, output, forget, cell)   rows [0,H) [H,2H) [2H,3H) [3H,4H); peepholes P: i, o, f
 *   GRU   z, r, h      (update, reset, hidden)
 *   RNN   one gate
 * B holds [Wb (G*H) | Rb (G*H)] per direction.
 *
 * Algorithm, per direction d (G gates, H hidden, I input, S steps, N batch):
 *   1. Input projection for every timestep at once: one GEMM  XW[S*N, G*H] = X[S*N, I] x W_d^T, with the
 *      biases that sit outside any gate product (Wb + Rb, except GRU's Rb_h when linear_before_reset) preloaded
 *      into XW and accumulated with beta = 1. Layout 1 only changes which XW row holds (t, b).
 *   2. For each step s: gather each active sequence's XW row into a gate buffer [N, G*H] (a reverse
 *      direction reads t = len_b - 1 - s, so sequences of different lengths stay aligned on their own ends),
 *      then one GEMM adds the recurrent projection H_{t-1}[N, H] x R_d^T. GRU without linear_before_reset
 *      needs r_t before its hidden-gate product, so it does two GEMMs (z,r rows, then (r . H_{t-1}) x R_h^T).
 *      With fewer than 4 batch rows (streaming models such as silero_vad run batch 1, seq 1) a product is a
 *      few matrix-vector products and packing R for sgemm would cost as much as the arithmetic, so those rows
 *      are dotted directly with R's (contiguous) rows instead.
 *   3. Fused gate loops per batch row: clip, activations (one loop per activation kind over a whole gate
 *      vector, no per-element callback), state update, Y write. The default LSTM (sigmoid, tanh, tanh, no
 *      clip, no input_forget) runs one fused loop with the activations inlined.
 *   Rows past a sequence's length are skipped: Y stays zero there and the state is frozen, so Y_h / Y_c end
 *   as the state after its last valid step (zero for a length-0 sequence, as onnxruntime does).
 *
 * Cost per direction: 2*S*N*I*G*H FLOPs for the input GEMM plus 2*S*N*H*G*H for the recurrent GEMMs and
 * O(S*N*G*H) elementwise work; bytes: X, W, R read once per direction (R once per step from cache), XW
 * buffer of S*N*G*H values. float32 goes through sgemm (or the dot loop for small row counts); float64 uses
 * the dot loop; float16 is decoded to float32, computed, and encoded back.
 */
import { fromNumbers, Tensor } from '../../tensor/tensor.js';
import { registerKernel, type Attrs, type Kernel, type KernelContext, type OutputSpec } from '../registry.js';
import { allocate } from '../../tensor/dtype.js';
import { sgemm } from './gemm.js';
import { ScratchSlot } from './scratch.js';

/** Per-call work rows (XW, gates, state, ...) by role number, and float32 outputs of float16 cells (./scratch.ts). */
const WORK_SLOTS = Array.from({ length: 8 }, () => new ScratchSlot());
const HALF_OUTPUT_SLOTS = Array.from({ length: 3 }, () => new ScratchSlot());
const SEQUENCE_LENGTHS = new ScratchSlot();

type FloatArray = Float32Array | Float64Array;

// ---------------------------------------------------------------------------------------------------------
// Activations.

const SIGMOID = 0;
const TANH = 1;
const RELU = 2;
const HARD_SIGMOID = 3;
const LEAKY_RELU = 4;
const THRESHOLDED_RELU = 5;
const SCALED_TANH = 6;
const AFFINE = 7;
const ELU = 8;
const SOFTSIGN = 9;
const SOFTPLUS = 10;

/** Activation code, whether it takes alpha / beta, and the defaults of the ONNX operator of that name. */
const ACTIVATION_TABLE: Readonly<Record<string, { code: number; usesAlpha: boolean; usesBeta: boolean; alpha: number; beta: number }>> = {
  sigmoid: { code: SIGMOID, usesAlpha: false, usesBeta: false, alpha: 0, beta: 0 },
  tanh: { code: TANH, usesAlpha: false, usesBeta: false, alpha: 0, beta: 0 },
  relu: { code: RELU, usesAlpha: false, usesBeta: false, alpha: 0, beta: 0 },
  hardsigmoid: { code: HARD_SIGMOID, usesAlpha: true, usesBeta: true, alpha: 0.2, beta: 0.5 },
  leakyrelu: { code: LEAKY_RELU, usesAlpha: true, usesBeta: false, alpha: 0.01, beta: 0 },
  thresholdedrelu: { code: THRESHOLDED_RELU, usesAlpha: true, usesBeta: false, alpha: 1, beta: 0 },
  scaledtanh: { code: SCALED_TANH, usesAlpha: true, usesBeta: true, alpha: 1, beta: 1 },
  affine: { code: AFFINE, usesAlpha: true, usesBeta: true, alpha: 1, beta: 0 },
  elu: { code: ELU, usesAlpha: true, usesBeta: false, alpha: 1, beta: 0 },
  softsign: { code: SOFTSIGN, usesAlpha: false, usesBeta: false, alpha: 0, beta: 0 },
  softplus: { code: SOFTPLUS, usesAlpha: false, usesBeta: false, alpha: 0, beta: 0 },
};

interface Activation {
  readonly code: number;
  readonly alpha: number;
  readonly beta: number;
}

/**
 * The activations of each direction. `perDirection` holds the defaults of one direction; `names` (already
 * validated by the schema) lists perDirection * numDirections names, or for a one-direction RNN possibly two,
 * of which the first counts. Alphas and betas are consumed in order by the activations that take them.
 */
function resolveActivations(attrs: Attrs, perDirection: readonly string[], numDirections: number): Activation[][] {
  const given = attrs.activations as readonly string[] | undefined;
  const count = perDirection.length * numDirections;
  const names = given === undefined ? Array.from({ length: count }, (_, i) => perDirection[i % perDirection.length]!) : given.slice(0, count);
  const alphas = (attrs.activation_alpha as readonly number[] | undefined) ?? [];
  const betas = (attrs.activation_beta as readonly number[] | undefined) ?? [];
  let nextAlpha = 0;
  let nextBeta = 0;
  const out: Activation[][] = [];
  for (let d = 0; d < numDirections; d++) {
    const list: Activation[] = [];
    for (let k = 0; k < perDirection.length; k++) {
      const entry = ACTIVATION_TABLE[names[d * perDirection.length + k]!.toLowerCase()]!;
      let alpha = entry.alpha;
      let beta = entry.beta;
      if (entry.usesAlpha && nextAlpha < alphas.length) alpha = alphas[nextAlpha++]!;
      if (entry.usesBeta && nextBeta < betas.length) beta = betas[nextBeta++]!;
      list.push({ code: entry.code, alpha, beta });
    }
    out.push(list);
  }
  return out;
}

/** v[start .. start+n) = act(v[...]) in place; one loop per activation kind. */
function applyActivation(act: Activation, v: FloatArray, start: number, n: number): void {
  const end = start + n;
  const { alpha, beta } = act;
  switch (act.code) {
    case SIGMOID:
      for (let i = start; i < end; i++) v[i] = 1 / (1 + Math.exp(-v[i]!));
      return;
    case TANH:
      for (let i = start; i < end; i++) v[i] = Math.tanh(v[i]!);
      return;
    case RELU:
      for (let i = start; i < end; i++) {
        const x = v[i]!;
        v[i] = (x + Math.abs(x)) * 0.5;
      }
      return;
    case HARD_SIGMOID:
      for (let i = start; i < end; i++) v[i] = Math.min(Math.max(alpha * v[i]! + beta, 0), 1);
      return;
    case LEAKY_RELU:
      for (let i = start; i < end; i++) {
        const x = v[i]!;
        v[i] = x >= 0 ? x : alpha * x;
      }
      return;
    case THRESHOLDED_RELU:
      for (let i = start; i < end; i++) {
        const x = v[i]!;
        v[i] = x >= alpha ? x : 0;
      }
      return;
    case SCALED_TANH:
      for (let i = start; i < end; i++) v[i] = alpha * Math.tanh(beta * v[i]!);
      return;
    case AFFINE:
      for (let i = start; i < end; i++) v[i] = alpha * v[i]! + beta;
      return;
    case ELU:
      for (let i = start; i < end; i++) {
        const x = v[i]!;
        v[i] = x >= 0 ? x : alpha * Math.expm1(x);
      }
      return;
    case SOFTSIGN:
      for (let i = start; i < end; i++) {
        const x = v[i]!;
        v[i] = x / (1 + Math.abs(x));
      }
      return;
    case SOFTPLUS:
      // log(1 + e^x) without overflow: max(x, 0) + log1p(e^-|x|)
      for (let i = start; i < end; i++) {
        const x = v[i]!;
        v[i] = Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
      }
      return;
  }
}

/** Clamp v[start .. start+n) to [-clip, clip] (no-op for an infinite clip). */
function clipRange(v: FloatArray, start: number, n: number, clip: number): void {
  if (clip === Infinity) return;
  const end = start + n;
  for (let i = start; i < end; i++) {
    const x = v[i]!;
    v[i] = x < -clip ? -clip : x > clip ? clip : x;
  }
}

// ---------------------------------------------------------------------------------------------------------
// GEMM with B transposed (all recurrent products are rows x weight-rows^T).

/**
 * Below this many rows of A, a product is a handful of matrix-vector products: packing B (the whole weight
 * matrix) for sgemm would cost as much as the arithmetic, so rows are dotted with B's rows directly (B is
 * stored [n, k], each row contiguous).
 */
const SMALL_M = 4;

/**
 * C[m, n] (+)= A[m, k] x B[n, k]^T. float32 with m >= SMALL_M goes through sgemm; small m and float64 use
 * dot products with four partial sums.
 */
function matmulTransB(
  m: number,
  n: number,
  k: number,
  a: FloatArray,
  aOffset: number,
  lda: number,
  b: FloatArray,
  bOffset: number,
  ldb: number,
  c: FloatArray,
  cOffset: number,
  ldc: number,
  accumulate: boolean,
  threads: number,
): void {
  if (m === 0 || n === 0) return;
  if (k === 0) {
    if (!accumulate) for (let i = 0; i < m; i++) c.fill(0, cOffset + i * ldc, cOffset + i * ldc + n);
    return;
  }
  if (c instanceof Float32Array && m >= SMALL_M) {
    sgemm({
      m,
      n,
      k,
      a: a as Float32Array,
      aOffset,
      lda,
      transA: false,
      b: b as Float32Array,
      bOffset,
      ldb,
      transB: true,
      c,
      cOffset,
      ldc,
      alpha: 1,
      beta: accumulate ? 1 : 0,
      threads,
    });
    return;
  }
  const k4 = k & ~3;
  for (let i = 0; i < m; i++) {
    const aRow = aOffset + i * lda;
    const cRow = cOffset + i * ldc;
    for (let j = 0; j < n; j++) {
      const bRow = bOffset + j * ldb;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      let p = 0;
      for (; p < k4; p += 4) {
        s0 += a[aRow + p]! * b[bRow + p]!;
        s1 += a[aRow + p + 1]! * b[bRow + p + 1]!;
        s2 += a[aRow + p + 2]! * b[bRow + p + 2]!;
        s3 += a[aRow + p + 3]! * b[bRow + p + 3]!;
      }
      for (; p < k; p++) s0 += a[aRow + p]! * b[bRow + p]!;
      const s = s0 + s1 + (s2 + s3);
      c[cRow + j] = accumulate ? c[cRow + j]! + s : s;
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// What the three kernels share: dims, layout index maps, converted inputs, outputs.

interface RecurrentProblem {
  readonly seq: number;
  readonly batch: number;
  readonly inputSize: number;
  readonly hidden: number;
  readonly numDirections: number;
  readonly layout: number;
  readonly direction: string;
  /** Per-batch sequence lengths (seq for all when sequence_lens is absent). */
  readonly lens: Int32Array;
  readonly clip: number;
  readonly threads: number;
  readonly x: FloatArray;
  readonly w: FloatArray;
  readonly r: FloatArray;
  readonly b: FloatArray | undefined;
  readonly initialH: FloatArray | undefined;
  /** Allocate a zeroed work array of the compute type (float64 for float64 inputs, float32 otherwise). */
  /** Output number `slot` (0 Y, 1 Y_h, 2 Y_c): a zeroed buffer from `allocate` (float32 scratch for float16). */
  readonly output: (slot: number, n: number) => FloatArray;
  /** Zeroed work buffer number `slot` (each live buffer of a call uses its own slot; see WORK_SLOTS). */
  readonly work: (slot: number, n: number) => FloatArray;
}

/** Values of a float tensor in the compute type: float16 decoded to float32, others as stored. */
function floatValues(t: Tensor | undefined): FloatArray | undefined {
  if (!t) return undefined;
  if (t.type === 'float16') return t.numbers() as Float32Array;
  return t.data as FloatArray;
}

function describeProblem(inputs: readonly (Tensor | undefined)[], attrs: Attrs, ctx: KernelContext): RecurrentProblem {
  const x = inputs[0]!;
  const r = inputs[2]!;
  const layout = attrs.layout as number;
  const direction = attrs.direction as string;
  const seq = layout === 0 ? x.dims[0]! : x.dims[1]!;
  const batch = layout === 0 ? x.dims[1]! : x.dims[0]!;
  const lens = SEQUENCE_LENGTHS.take('int32', batch).fill(seq);
  const seqLens = inputs[4];
  if (seqLens) lens.set(seqLens.data as Int32Array);
  const f64 = x.type === 'float64';
  const f16 = x.type === 'float16';
  return {
    seq,
    batch,
    inputSize: x.dims[2]!,
    hidden: r.dims[2]!,
    numDirections: direction === 'bidirectional' ? 2 : 1,
    layout,
    direction,
    lens,
    clip: attrs.clip === undefined ? Infinity : (attrs.clip as number),
    threads: ctx.threads,
    x: floatValues(x)!,
    w: floatValues(inputs[1])!,
    r: floatValues(r)!,
    b: floatValues(inputs[3]),
    initialH: floatValues(inputs[5]),
    output: (slot, n) => (f64 ? allocate('float64', n) : f16 ? HALF_OUTPUT_SLOTS[slot]!.take('float32', n, true) : allocate('float32', n)),
    work: (slot, n) => WORK_SLOTS[slot]!.take(f64 ? 'float64' : 'float32', n, true),
  };
}

/** True when direction d walks each sequence from its end. */
function isReversed(p: RecurrentProblem, d: number): boolean {
  return p.direction === 'reverse' || (p.direction === 'bidirectional' && d === 1);
}

/** Row of X (and of the projected XW) holding timestep t of sequence b. */
function inputRow(p: RecurrentProblem, t: number, b: number): number {
  return p.layout === 0 ? t * p.batch + b : b * p.seq + t;
}

/** Offset in Y of the hidden vector of (t, d, b). */
function outputOffset(p: RecurrentProblem, t: number, d: number, b: number): number {
  return p.layout === 0 ? ((t * p.numDirections + d) * p.batch + b) * p.hidden : ((b * p.seq + t) * p.numDirections + d) * p.hidden;
}

/** Offset in initial_h / Y_h (and the c variants) of the state vector of (d, b). */
function stateOffset(p: RecurrentProblem, d: number, b: number): number {
  return p.layout === 0 ? (d * p.batch + b) * p.hidden : (b * p.numDirections + d) * p.hidden;
}

/**
 * XW[S*N, G*H] = X x W_d^T + bias, where bias (G*H values, or undefined for none) is added to every row.
 */
function projectInputs(p: RecurrentProblem, d: number, gateRows: number, bias: FloatArray | undefined, xw: FloatArray): void {
  const rows = p.seq * p.batch;
  if (bias) for (let row = 0; row < rows; row++) xw.set(bias, row * gateRows);
  matmulTransB(rows, gateRows, p.inputSize, p.x, 0, p.inputSize, p.w, d * gateRows * p.inputSize, p.inputSize, xw, 0, gateRows, bias !== undefined, p.threads);
}

/** Load direction d's initial state (or zeros) into state[N, H]. */
function loadState(p: RecurrentProblem, initial: FloatArray | undefined, d: number, state: FloatArray): void {
  const H = p.hidden;
  for (let b = 0; b < p.batch; b++) {
    if (initial) {
      const o = stateOffset(p, d, b);
      state.set(initial.subarray(o, o + H), b * H);
    } else state.fill(0, b * H, b * H + H);
  }
}

/** Copy the XW row of each sequence active at step s into gates[N, G*H] (zeros for finished ones). */
function gatherStepInputs(p: RecurrentProblem, d: number, s: number, xw: FloatArray, gates: FloatArray, gateRows: number): void {
  const reversed = isReversed(p, d);
  for (let b = 0; b < p.batch; b++) {
    const len = p.lens[b]!;
    if (s >= len) {
      gates.fill(0, b * gateRows, (b + 1) * gateRows);
      continue;
    }
    const t = reversed ? len - 1 - s : s;
    const src = inputRow(p, t, b) * gateRows;
    gates.set(xw.subarray(src, src + gateRows), b * gateRows);
  }
}

/** Store the final state of each sequence (zeros for a length-0 sequence) into out. */
function storeFinalState(p: RecurrentProblem, d: number, state: FloatArray, out: FloatArray): void {
  const H = p.hidden;
  for (let b = 0; b < p.batch; b++) {
    if (p.lens[b]! > 0) out.set(state.subarray(b * H, b * H + H), stateOffset(p, d, b));
  }
}

/** Wrap a computed array as an output tensor of the spec's dtype (float16 encoded). */
function toOutput(values: FloatArray, spec: OutputSpec): Tensor {
  if (spec.type === 'float16') return fromNumbers('float16', values, spec.dims);
  return new Tensor(spec.type, values, spec.dims);
}

/** B's W-bias and R-bias halves for direction d summed per gate row (gates in `foldR` get Rb too). */
function foldedBias(p: RecurrentProblem, d: number, gateRows: number, foldR: (row: number) => boolean): FloatArray | undefined {
  if (!p.b) return undefined;
  const base = d * 2 * gateRows;
  const out = p.work(7, gateRows);
  for (let j = 0; j < gateRows; j++) out[j] = p.b[base + j]! + (foldR(j) ? p.b[base + gateRows + j]! : 0);
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// LSTM.

const lstm: Kernel = (inputs, attrs, outputs, ctx) => {
  const p = describeProblem(inputs, attrs, ctx);
  const { seq, batch, hidden: H, numDirections, clip } = p;
  const G = 4 * H;
  const activations = resolveActivations(attrs, ['Sigmoid', 'Tanh', 'Tanh'], numDirections);
  const inputForget = (attrs.input_forget as number) !== 0;
  const initialC = floatValues(inputs[6]);
  const peepholes = floatValues(inputs[7]);
  const y = p.output(0, seq * numDirections * batch * H);
  const yH = p.output(1, numDirections * batch * H);
  const yC = p.output(2, numDirections * batch * H);
  const xw = p.work(0, seq * batch * G);
  const gates = p.work(1, batch * G);
  const h = p.work(2, batch * H);
  const c = p.work(3, batch * H);
  const cellActivated = p.work(4, H);
  const zeroPeephole = p.work(5, H);

  for (let d = 0; d < numDirections; d++) {
    const [f, g, hAct] = activations[d]!;
    const reversed = isReversed(p, d);
    projectInputs(p, d, G, foldedBias(p, d, G, () => true), xw);
    loadState(p, p.initialH, d, h);
    loadState(p, initialC, d, c);
    const pi = peepholes ? peepholes.subarray(d * 3 * H, d * 3 * H + H) : zeroPeephole;
    const po = peepholes ? peepholes.subarray(d * 3 * H + H, d * 3 * H + 2 * H) : zeroPeephole;
    const pf = peepholes ? peepholes.subarray(d * 3 * H + 2 * H, d * 3 * H + 3 * H) : zeroPeephole;
    const fused = f!.code === SIGMOID && g!.code === TANH && hAct!.code === TANH && clip === Infinity && !inputForget;
    const rOffset = d * G * H;

    for (let s = 0; s < seq; s++) {
      gatherStepInputs(p, d, s, xw, gates, G);
      matmulTransB(batch, G, H, h, 0, H, p.r, rOffset, H, gates, 0, G, true, p.threads);
      for (let b = 0; b < batch; b++) {
        const len = p.lens[b]!;
        if (s >= len) continue;
        const t = reversed ? len - 1 - s : s;
        const gi = b * G; // gate rows: i at +0, o at +H, f at +2H, c at +3H
        const st = b * H;
        if (fused) {
          for (let j = 0; j < H; j++) {
            const cPrev = c[st + j]!;
            const i = 1 / (1 + Math.exp(-(gates[gi + j]! + pi[j]! * cPrev)));
            const fg = 1 / (1 + Math.exp(-(gates[gi + 2 * H + j]! + pf[j]! * cPrev)));
            const cand = Math.tanh(gates[gi + 3 * H + j]!);
            const cNew = fg * cPrev + i * cand;
            c[st + j] = cNew;
            const o = 1 / (1 + Math.exp(-(gates[gi + H + j]! + po[j]! * cNew)));
            h[st + j] = o * Math.tanh(cNew);
          }
        } else {
          for (let j = 0; j < H; j++) {
            const cPrev = c[st + j]!;
            gates[gi + j] += pi[j]! * cPrev;
            gates[gi + 2 * H + j] += pf[j]! * cPrev;
          }
          clipRange(gates, gi, H, clip);
          applyActivation(f!, gates, gi, H);
          if (inputForget) {
            for (let j = 0; j < H; j++) gates[gi + 2 * H + j] = 1 - gates[gi + j]!;
          } else {
            clipRange(gates, gi + 2 * H, H, clip);
            applyActivation(f!, gates, gi + 2 * H, H);
          }
          clipRange(gates, gi + 3 * H, H, clip);
          applyActivation(g!, gates, gi + 3 * H, H);
          for (let j = 0; j < H; j++) {
            const cNew = gates[gi + 2 * H + j]! * c[st + j]! + gates[gi + j]! * gates[gi + 3 * H + j]!;
            c[st + j] = cNew;
            cellActivated[j] = cNew;
            gates[gi + H + j] += po[j]! * cNew;
          }
          clipRange(gates, gi + H, H, clip);
          applyActivation(f!, gates, gi + H, H);
          applyActivation(hAct!, cellActivated, 0, H);
          for (let j = 0; j < H; j++) h[st + j] = gates[gi + H + j]! * cellActivated[j]!;
        }
        y.set(h.subarray(st, st + H), outputOffset(p, t, d, b));
      }
    }
    storeFinalState(p, d, h, yH);
    storeFinalState(p, d, c, yC);
  }
  return [toOutput(y, outputs[0]!), toOutput(yH, outputs[1]!), toOutput(yC, outputs[2]!)];
};

// ---------------------------------------------------------------------------------------------------------
// GRU.

const gru: Kernel = (inputs, attrs, outputs, ctx) => {
  const p = describeProblem(inputs, attrs, ctx);
  const { seq, batch, hidden: H, numDirections, clip } = p;
  const G = 3 * H;
  const activations = resolveActivations(attrs, ['Sigmoid', 'Tanh'], numDirections);
  const linearBeforeReset = (attrs.linear_before_reset as number) !== 0;
  const y = p.output(0, seq * numDirections * batch * H);
  const yH = p.output(1, numDirections * batch * H);
  const xw = p.work(0, seq * batch * G);
  const gates = p.work(1, batch * G);
  const h = p.work(2, batch * H);
  // linear_before_reset: H_{t-1} x R^T for all three gates; otherwise (r . H_{t-1}) rows for the second GEMM
  const recurrent = p.work(3, linearBeforeReset ? batch * G : batch * H);

  for (let d = 0; d < numDirections; d++) {
    const [f, g] = activations[d]!;
    const reversed = isReversed(p, d);
    // Rb_h stays out of XW when it has to be multiplied by r
    projectInputs(p, d, G, foldedBias(p, d, G, (row) => !linearBeforeReset || row < 2 * H), xw);
    const hiddenBias = p.b && linearBeforeReset ? p.b.subarray(d * 2 * G + G + 2 * H, d * 2 * G + 2 * G) : undefined;
    loadState(p, p.initialH, d, h);
    const rOffset = d * G * H;

    for (let s = 0; s < seq; s++) {
      gatherStepInputs(p, d, s, xw, gates, G);
      if (linearBeforeReset) {
        matmulTransB(batch, G, H, h, 0, H, p.r, rOffset, H, recurrent, 0, G, false, p.threads);
      } else {
        matmulTransB(batch, 2 * H, H, h, 0, H, p.r, rOffset, H, gates, 0, G, true, p.threads);
      }
      for (let b = 0; b < batch; b++) {
        const gz = b * G; // gate rows: z at +0, r at +H, h at +2H
        const st = b * H;
        if (s >= p.lens[b]!) {
          if (!linearBeforeReset) recurrent.fill(0, st, st + H);
          continue;
        }
        if (linearBeforeReset) {
          const rr = b * G;
          for (let j = 0; j < 2 * H; j++) gates[gz + j] += recurrent[rr + j]!;
          clipRange(gates, gz, 2 * H, clip);
          applyActivation(f!, gates, gz, 2 * H);
          for (let j = 0; j < H; j++) {
            const linear = recurrent[rr + 2 * H + j]! + (hiddenBias ? hiddenBias[j]! : 0);
            gates[gz + 2 * H + j] += gates[gz + H + j]! * linear;
          }
        } else {
          clipRange(gates, gz, 2 * H, clip);
          applyActivation(f!, gates, gz, 2 * H);
          for (let j = 0; j < H; j++) recurrent[st + j] = gates[gz + H + j]! * h[st + j]!;
        }
      }
      if (!linearBeforeReset) {
        matmulTransB(batch, H, H, recurrent, 0, H, p.r, rOffset + 2 * H * H, H, gates, 2 * H, G, true, p.threads);
      }
      for (let b = 0; b < batch; b++) {
        const len = p.lens[b]!;
        if (s >= len) continue;
        const t = reversed ? len - 1 - s : s;
        const gz = b * G;
        const st = b * H;
        clipRange(gates, gz + 2 * H, H, clip);
        applyActivation(g!, gates, gz + 2 * H, H);
        for (let j = 0; j < H; j++) {
          const z = gates[gz + j]!;
          h[st + j] = (1 - z) * gates[gz + 2 * H + j]! + z * h[st + j]!;
        }
        y.set(h.subarray(st, st + H), outputOffset(p, t, d, b));
      }
    }
    storeFinalState(p, d, h, yH);
  }
  return [toOutput(y, outputs[0]!), toOutput(yH, outputs[1]!)];
};

// ---------------------------------------------------------------------------------------------------------
// RNN.

const rnn: Kernel = (inputs, attrs, outputs, ctx) => {
  const p = describeProblem(inputs, attrs, ctx);
  const { seq, batch, hidden: H, numDirections, clip } = p;
  const activations = resolveActivations(attrs, ['Tanh'], numDirections);
  const y = p.output(0, seq * numDirections * batch * H);
  const yH = p.output(1, numDirections * batch * H);
  const xw = p.work(0, seq * batch * H);
  const gates = p.work(1, batch * H);
  const h = p.work(2, batch * H);

  for (let d = 0; d < numDirections; d++) {
    const [f] = activations[d]!;
    const reversed = isReversed(p, d);
    projectInputs(p, d, H, foldedBias(p, d, H, () => true), xw);
    loadState(p, p.initialH, d, h);
    for (let s = 0; s < seq; s++) {
      gatherStepInputs(p, d, s, xw, gates, H);
      matmulTransB(batch, H, H, h, 0, H, p.r, d * H * H, H, gates, 0, H, true, p.threads);
      for (let b = 0; b < batch; b++) {
        const len = p.lens[b]!;
        if (s >= len) continue;
        const t = reversed ? len - 1 - s : s;
        const st = b * H;
        clipRange(gates, st, H, clip);
        applyActivation(f!, gates, st, H);
        h.set(gates.subarray(st, st + H), st);
        y.set(gates.subarray(st, st + H), outputOffset(p, t, d, b));
      }
    }
    storeFinalState(p, d, h, yH);
  }
  return [toOutput(y, outputs[0]!), toOutput(yH, outputs[1]!)];
};

registerKernel('LSTM', 'cpu', lstm);
registerKernel('GRU', 'cpu', gru);
registerKernel('RNN', 'cpu', rnn);
