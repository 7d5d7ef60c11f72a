/**
 * Reference (naive) kernels of the further operators: LRN, CumProd, RMSNormalization, Swish, SwiGLU, Shrink,
 * EyeLike, TensorScatter, CausalConvWithState, NegativeLogLikelihoodLoss, SoftmaxCrossEntropyLoss, Attention and
 * LinearAttention. Each computes every output element from its multi-index with plain loops in double
 * precision, straight from the formulas in Operators.md, and rounds once to the output dtype. Slow by design; the fast kernels are tested against them.
 */
import { isFloat, type DataType, type NumericArray } from '../../../tensor/dtype.js';
import { sizeOf, stridesOf } from '../../../tensor/shape.js';
import { fromNumbers, Tensor } from '../../../tensor/tensor.js';

/** Values of any non-int64 tensor (or int64 within the safe range) as plain numbers. */
function valuesOf(t: Tensor): number[] {
  if (t.type === 'int64') return Array.from(t.data as BigInt64Array, Number);
  return Array.from(t.numbers() as NumericArray);
}

/** Multi-index of flat position `flat` in `dims`. */
function unravel(flat: number, dims: readonly number[]): number[] {
  const idx = new Array<number>(dims.length);
  for (let i = dims.length - 1; i >= 0; i--) {
    idx[i] = dims[i]! === 0 ? 0 : flat % dims[i]!;
    flat = dims[i]! === 0 ? 0 : Math.floor(flat / dims[i]!);
  }
  return idx;
}

/** Flat position of `idx` in `dims` (row-major). */
function ravel(idx: readonly number[], dims: readonly number[]): number {
  const st = stridesOf(dims);
  let p = 0;
  for (let i = 0; i < idx.length; i++) p += idx[i]! * st[i]!;
  return p;
}

/** Flat position in `dims` of the element that broadcasts to `idx` of a larger shape (right-aligned). */
function broadcastAt(idx: readonly number[], dims: readonly number[]): number {
  const lead = idx.length - dims.length;
  return ravel(
    dims.map((d, i) => (d === 1 ? 0 : idx[lead + i]!)),
    dims,
  );
}

/** Reference LRN. */
export function refLrn(x: Tensor, size: number, alpha = 0.0001, beta = 0.75, bias = 1): Tensor {
  const xs = valuesOf(x);
  const channels = x.dims[1]!;
  const out = xs.map((v, flat) => {
    const idx = unravel(flat, x.dims);
    const c = idx[1]!;
    let sum = 0;
    for (let i = Math.max(0, c - Math.floor((size - 1) / 2)); i <= Math.min(channels - 1, c + Math.ceil((size - 1) / 2)); i++) {
      const other = [...idx];
      other[1] = i;
      sum += xs[ravel(other, x.dims)]! ** 2;
    }
    return v / (bias + (alpha / size) * sum) ** beta;
  });
  return fromNumbers(x.type, out, x.dims);
}

/** Reference CumProd (integers wrap to the dtype's width through BigInt). */
export function refCumProd(x: Tensor, axis: number, exclusive = false, reverse = false): Tensor {
  const a = axis < 0 ? axis + x.rank : axis;
  const len = x.dims[a]!;
  const n = x.size;
  if (isFloat(x.type)) {
    const xs = valuesOf(x);
    const out = new Array<number>(n);
    for (let flat = 0; flat < n; flat++) {
      const idx = unravel(flat, x.dims);
      let p = 1;
      for (let j = 0; j < len; j++) {
        const included = reverse ? (exclusive ? j > idx[a]! : j >= idx[a]!) : exclusive ? j < idx[a]! : j <= idx[a]!;
        if (!included) continue;
        const other = [...idx];
        other[a] = j;
        p *= xs[ravel(other, x.dims)]!;
      }
      out[flat] = p;
    }
    return fromNumbers(x.type, out, x.dims);
  }
  const xs = x.type === 'int64' ? Array.from(x.data as BigInt64Array) : Array.from(x.data as NumericArray, (v) => BigInt(v));
  const bits = x.type === 'int64' ? 64 : 32;
  const wrap = (v: bigint): bigint => (x.type === 'uint32' ? BigInt.asUintN(bits, v) : BigInt.asIntN(bits, v));
  const out = new Array<bigint>(n);
  for (let flat = 0; flat < n; flat++) {
    const idx = unravel(flat, x.dims);
    let p = 1n;
    for (let j = 0; j < len; j++) {
      const included = reverse ? (exclusive ? j > idx[a]! : j >= idx[a]!) : exclusive ? j < idx[a]! : j <= idx[a]!;
      if (!included) continue;
      const other = [...idx];
      other[a] = j;
      p = wrap(p * xs[ravel(other, x.dims)]!);
    }
    out[flat] = p;
  }
  if (x.type === 'int64') return new Tensor('int64', BigInt64Array.from(out), x.dims);
  return fromNumbers(
    x.type,
    out.map((v) => Number(v)),
    x.dims,
  );
}

/** Reference RMSNormalization: X / sqrt(mean(X^2 over [axis, rank)) + eps) * scale, output in scale's dtype. */
export function refRmsNormalization(x: Tensor, scale: Tensor, axis = -1, epsilon = 1e-5): Tensor {
  const a = axis < 0 ? axis + x.rank : axis;
  const xs = valuesOf(x);
  const ss = valuesOf(scale);
  const m = sizeOf(x.dims.slice(a));
  const out = xs.map((v, flat) => {
    const row = Math.floor(flat / m) * m;
    let sum = 0;
    for (let i = 0; i < m; i++) sum += xs[row + i]! * xs[row + i]!;
    return (v / Math.sqrt(sum / m + epsilon)) * ss[broadcastAt(unravel(flat, x.dims), scale.dims)]!;
  });
  return fromNumbers(scale.type, out, x.dims);
}

/** Reference Swish: x * sigmoid(alpha x). */
export function refSwish(x: Tensor, alpha = 1): Tensor {
  return fromNumbers(
    x.type,
    valuesOf(x).map((v) => v * (1 / (1 + Math.exp(-alpha * v)))),
    x.dims,
  );
}

/** Reference SwiGLU: Swish(a) * b. */
export function refSwiGLU(a: Tensor, b: Tensor, alpha = 1): Tensor {
  const bs = valuesOf(b);
  return fromNumbers(
    a.type,
    valuesOf(a).map((v, i) => v * (1 / (1 + Math.exp(-alpha * v))) * bs[i]!),
    a.dims,
  );
}

/** Reference Shrink (integer results truncated toward zero). */
export function refShrink(x: Tensor, lambd = 0.5, bias = 0): Tensor {
  const out = valuesOf(x).map((v) => (v < -lambd ? v + bias : v > lambd ? v - bias : 0));
  return fromNumbers(x.type, isFloat(x.type) ? out : out.map(Math.trunc), x.dims);
}

/** Reference EyeLike. */
export function refEyeLike(dims: readonly number[], type: DataType, k = 0): Tensor {
  const out = new Array<number>(sizeOf(dims)).fill(0).map((_, flat) => {
    const [i, j] = unravel(flat, dims) as [number, number];
    return j - i === k ? 1 : 0;
  });
  return fromNumbers(type, out, dims);
}

/** Reference TensorScatter. */
export function refTensorScatter(past: Tensor, update: Tensor, writeIndices: readonly number[] | undefined, axis = -2, mode = 'linear'): Tensor {
  const a = axis < 0 ? axis + past.rank : axis;
  const max = past.dims[a]!;
  const out = past.contiguous().data.slice() as unknown as { [i: number]: number | bigint };
  const src = update.data as unknown as ArrayLike<number | bigint>;
  for (let flat = 0; flat < update.size; flat++) {
    const idx = unravel(flat, update.dims);
    let at = (writeIndices ? writeIndices[idx[0]!]! : 0) + idx[a]!;
    if (mode === 'circular') at = ((at % max) + max) % max;
    const dst = [...idx];
    dst[a] = at;
    out[ravel(dst, past.dims)] = src[flat]!;
  }
  return new Tensor(past.type, out as unknown as Tensor['data'], past.dims);
}

/** Reference NLL loss on log-probabilities `input` [N, C, d...]. */
export function refNegativeLogLikelihoodLoss(input: Tensor, target: Tensor, weight?: Tensor, reduction = 'mean', ignoreIndex?: number): Tensor {
  const xs = valuesOf(input);
  const ts = valuesOf(target);
  const ws = weight ? valuesOf(weight) : undefined;
  const losses: number[] = [];
  let wsum = 0;
  for (let flat = 0; flat < target.size; flat++) {
    const idx = unravel(flat, target.dims);
    const c = ts[flat]!;
    if (c === ignoreIndex) {
      losses.push(0);
      continue;
    }
    const w = ws ? ws[c]! : 1;
    wsum += w;
    losses.push(-xs[ravel([idx[0]!, c, ...idx.slice(1)], input.dims)]! * w);
  }
  if (reduction === 'none') return fromNumbers(input.type, losses, target.dims);
  const sum = losses.reduce((p, v) => p + v, 0);
  return fromNumbers(input.type, [reduction === 'sum' ? sum : sum / wsum], []);
}

/** Reference log-softmax over axis 1. */
export function refLogSoftmaxAxis1(x: Tensor): Tensor {
  const xs = valuesOf(x);
  const out = xs.map((v, flat) => {
    const idx = unravel(flat, x.dims);
    let max = -Infinity;
    for (let c = 0; c < x.dims[1]!; c++) max = Math.max(max, xs[ravel([idx[0]!, c, ...idx.slice(2)], x.dims)]!);
    let sum = 0;
    for (let c = 0; c < x.dims[1]!; c++) sum += Math.exp(xs[ravel([idx[0]!, c, ...idx.slice(2)], x.dims)]! - max);
    return v - max - Math.log(sum);
  });
  return fromNumbers('float64', out, x.dims);
}

/** Reference SoftmaxCrossEntropyLoss: NLL of the log-softmax; returns the loss and log_prob. */
export function refSoftmaxCrossEntropyLoss(scores: Tensor, labels: Tensor, weights?: Tensor, reduction = 'mean', ignoreIndex?: number): { loss: Tensor; logProb: Tensor } {
  const logp = refLogSoftmaxAxis1(scores);
  const loss64 = refNegativeLogLikelihoodLoss(logp, labels, weights && weights.type !== 'float64' ? fromNumbers('float64', valuesOf(weights), weights.dims) : weights, reduction, ignoreIndex);
  return { loss: fromNumbers(scores.type, valuesOf(loss64), loss64.dims), logProb: fromNumbers(scores.type, valuesOf(logp), logp.dims) };
}

/** Options of refAttention (ONNX attribute semantics). */
export interface RefAttentionOptions {
  attnMask?: Tensor;
  pastKey?: Tensor;
  pastValue?: Tensor;
  nonpadKvSeqlen?: readonly number[];
  isCausal?: boolean;
  qNumHeads?: number;
  kvNumHeads?: number;
  scale?: number;
  softcap?: number;
  qkMatmulOutputMode?: number;
}

/**
 * Reference Attention: every element from its indices. Q/K/V are viewed as 4-D [B, H, S, D] (3-D inputs
 * [B, S, H*D] are split by head); returns Y, present_key, present_value and the qk_matmul_output stage.
 */
export function refAttention(q: Tensor, k: Tensor, v: Tensor, o: RefAttentionOptions = {}): { y: Tensor; presentKey: Tensor; presentValue: Tensor; qk: Tensor } {
  const three = q.rank === 3;
  const to4 = (t: Tensor, heads: number): { vals: number[]; dims: number[] } => {
    const vals = valuesOf(t);
    if (!three) return { vals, dims: [...t.dims] };
    const [b, s, hidden] = t.dims as [number, number, number];
    const d = hidden / heads;
    const dims = [b, heads, s, d];
    const out = new Array<number>(vals.length);
    for (let flat = 0; flat < vals.length; flat++) {
      const [bi, hi, si, di] = unravel(flat, dims) as [number, number, number, number];
      out[flat] = vals[ravel([bi, si, hi * d + di], t.dims)]!;
    }
    return { vals: out, dims };
  };
  const qh = three ? o.qNumHeads! : q.dims[1]!;
  const kvh = three ? o.kvNumHeads! : k.dims[1]!;
  const Q = to4(q, qh);
  const K = to4(k, kvh);
  const V = to4(v, kvh);
  const [B, , Sq, D] = Q.dims as [number, number, number, number];
  const Skv = K.dims[2]!;
  const Dv = V.dims[3]!;
  const P = o.pastKey ? o.pastKey.dims[2]! : 0;
  const T = P + Skv;
  const pk = o.pastKey ? valuesOf(o.pastKey) : [];
  const pv = o.pastValue ? valuesOf(o.pastValue) : [];
  const key = (b: number, h: number, t: number, d: number): number => (t < P ? pk[ravel([b, h, t, d], [B, kvh, P, D])]! : K.vals[ravel([b, h, t - P, d], K.dims)]!);
  const value = (b: number, h: number, t: number, d: number): number => (t < P ? pv[ravel([b, h, t, d], [B, kvh, P, Dv])]! : V.vals[ravel([b, h, t - P, d], V.dims)]!);
  const scale = o.scale ?? 1 / Math.sqrt(D);
  const softcap = o.softcap ?? 0;
  const mode = o.qkMatmulOutputMode ?? 0;
  const mask = o.attnMask;
  const maskVals = mask ? valuesOf(mask) : [];
  const y = new Array<number>(B * qh * Sq * Dv).fill(0);
  const qk = new Array<number>(B * qh * Sq * T).fill(0);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < qh; h++) {
      const kh = Math.floor(h / (qh / kvh));
      for (let i = 0; i < Sq; i++) {
        const s: number[] = [];
        for (let t = 0; t < T; t++) {
          let dot = 0;
          for (let d = 0; d < D; d++) dot += Q.vals[ravel([b, h, i, d], Q.dims)]! * key(b, kh, t, d);
          let score = scale * dot;
          const raw = score;
          if (softcap > 0) score = softcap * Math.tanh(score / softcap);
          const capped = score;
          let allowed = true;
          let add = 0;
          if (o.nonpadKvSeqlen && t >= o.nonpadKvSeqlen[b]!) allowed = false;
          const offset = o.pastKey ? P : o.nonpadKvSeqlen ? o.nonpadKvSeqlen[b]! - Sq : 0;
          if (o.isCausal && t > i + offset) allowed = false;
          if (mask) {
            if (t >= mask.dims[mask.rank - 1]!) allowed = false;
            else {
              const m = maskVals[broadcastAt([b, h, i, t], mask.dims)]!;
              if (mask.type === 'bool') allowed = allowed && m !== 0;
              else add = m;
            }
          }
          score = allowed ? score + add : -Infinity;
          const at = ravel([b, h, i, t], [B, qh, Sq, T]);
          qk[at] = mode === 0 ? raw : mode === 1 ? capped : score;
          s.push(score);
        }
        const max = Math.max(...s);
        const e = s.map((x) => (max === -Infinity ? 0 : Math.exp(x - max)));
        const sum = e.reduce((p, x) => p + x, 0);
        const p = e.map((x) => (max === -Infinity ? 0 : x / sum));
        if (mode === 3) for (let t = 0; t < T; t++) qk[ravel([b, h, i, t], [B, qh, Sq, T])] = p[t]!;
        for (let d = 0; d < Dv; d++) {
          let acc = 0;
          for (let t = 0; t < T; t++) acc += p[t]! * value(b, kh, t, d);
          y[ravel([b, h, i, d], [B, qh, Sq, Dv])] = acc;
        }
      }
    }
  }
  let yOut = fromNumbers(q.type, y, [B, qh, Sq, Dv]);
  if (three) {
    const t = yOut.transpose([0, 2, 1, 3]).contiguous();
    yOut.dispose();
    yOut = t.reshape([B, Sq, qh * Dv]);
  }
  const presentKey: number[] = [];
  const presentValue: number[] = [];
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < kvh; h++) {
      for (let t = 0; t < T; t++) {
        for (let d = 0; d < D; d++) presentKey.push(key(b, h, t, d));
        for (let d = 0; d < Dv; d++) presentValue.push(value(b, h, t, d));
      }
    }
  }
  return {
    y: yOut,
    presentKey: fromNumbers(q.type, presentKey, [B, kvh, T, D]),
    presentValue: fromNumbers(v.type, presentValue, [B, kvh, T, Dv]),
    qk: fromNumbers(q.type, qk, [B, qh, Sq, T]),
  };
}

/** Reference CausalConvWithState: output and present_state from the formula over the padded sequence. */
export function refCausalConvWithState(x: Tensor, w: Tensor, bias?: Tensor, past?: Tensor, activation = 'none'): { output: Tensor; state: Tensor } {
  const [B, C, L] = x.dims as [number, number, number];
  const k = w.dims[2]!;
  const xs = valuesOf(x);
  const ws = valuesOf(w);
  const bs = bias ? valuesOf(bias) : undefined;
  const ps = past ? valuesOf(past) : undefined;
  // padded[b][c][p] for p in [0, k - 1 + L)
  const padded = (b: number, c: number, p: number): number => (p < k - 1 ? (ps ? ps[ravel([b, c, p], [B, C, k - 1])]! : 0) : xs[ravel([b, c, p - (k - 1)], x.dims)]!);
  const out = new Array<number>(B * C * L).fill(0).map((_, flat) => {
    const [b, c, t] = unravel(flat, x.dims) as [number, number, number];
    let s = bs ? bs[c]! : 0;
    for (let j = 0; j < k; j++) s += ws[ravel([c, 0, j], w.dims)]! * padded(b, c, t + j);
    return activation === 'none' ? s : s * (1 / (1 + Math.exp(-s)));
  });
  const state = new Array<number>(B * C * (k - 1)).fill(0).map((_, flat) => {
    const [b, c, j] = unravel(flat, [B, C, k - 1]) as [number, number, number];
    return padded(b, c, L + j);
  });
  return { output: fromNumbers(x.type, out, x.dims), state: fromNumbers(x.type, state, [B, C, k - 1]) };
}

/** Reference LinearAttention: the recurrence written with explicit matrices per (batch, kv head, step). */
export function refLinearAttention(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  o: { qHeads: number; kvHeads: number; rule: string; past?: Tensor; decay?: Tensor; beta?: Tensor; scale?: number },
): { output: Tensor; state: Tensor } {
  const [B, T] = q.dims as [number, number];
  const dk = q.dims[2]! / o.qHeads;
  const dv = v.dims[2]! / o.kvHeads;
  const scale = o.scale || 1 / Math.sqrt(dk);
  const qs = valuesOf(q);
  const ks = valuesOf(k);
  const vs = valuesOf(v);
  const gs = o.decay ? valuesOf(o.decay) : [];
  const bts = o.beta ? valuesOf(o.beta) : [];
  const ps = o.past ? valuesOf(o.past) : undefined;
  const out = new Array<number>(B * T * o.qHeads * dv).fill(0);
  const finalState: number[] = [];
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < o.kvHeads; h++) {
      let S: number[][] = [...Array(dk).keys()].map((i) => [...Array(dv).keys()].map((j) => (ps ? ps[ravel([b, h, i, j], [B, o.kvHeads, dk, dv])]! : 0)));
      for (let t = 0; t < T; t++) {
        const kt = [...Array(dk).keys()].map((i) => ks[ravel([b, t, h * dk + i], k.dims)]!);
        const vt = [...Array(dv).keys()].map((j) => vs[ravel([b, t, h * dv + j], v.dims)]!);
        if (o.rule === 'gated' || o.rule === 'gated_delta') {
          const perKey = o.decay!.dims[2] === o.kvHeads * dk;
          S = S.map((row, i) => row.map((x) => x * Math.exp(gs[ravel([b, t, perKey ? h * dk + i : h], o.decay!.dims)]!)));
        }
        let upd = vt;
        if (o.rule === 'delta' || o.rule === 'gated_delta') {
          const beta = bts[ravel([b, t, o.beta!.dims[2] === 1 ? 0 : h], o.beta!.dims)]!;
          const stk = vt.map((_, j) => kt.reduce((s, ki, i) => s + S[i]![j]! * ki, 0));
          upd = vt.map((x, j) => beta * (x - stk[j]!));
        }
        S = S.map((row, i) => row.map((x, j) => x + kt[i]! * upd[j]!));
        for (let qh = h * (o.qHeads / o.kvHeads); qh < (h + 1) * (o.qHeads / o.kvHeads); qh++) {
          for (let j = 0; j < dv; j++) {
            let acc = 0;
            for (let i = 0; i < dk; i++) acc += qs[ravel([b, t, qh * dk + i], q.dims)]! * S[i]![j]!;
            out[ravel([b, t, qh * dv + j], [B, T, o.qHeads * dv])] = scale * acc;
          }
        }
      }
      finalState.push(...S.flat());
    }
  }
  return { output: fromNumbers(q.type, out, [B, T, o.qHeads * dv]), state: fromNumbers(o.past ? o.past.type : q.type, finalState, [B, o.kvHeads, dk, dv]) };
}
