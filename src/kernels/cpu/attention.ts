/**
 * CPU kernels of Attention and LinearAttention (semantics and validation in src/ops/attention.ts); the
 * LinearAttention recurrence is described at its kernel at the end of this file.
 *
 * Algorithm, per (batch b, query head h), with kv head kh = floor(h / (Hq / Hkv)):
 *   1. present K/V: past and current K/V copied once into contiguous [B, Hkv, T, D] buffers (3-D inputs are
 *      read as [B, S, H, D], so this copy is also the head transpose); they double as the present outputs.
 *   2. S = scale * Q_bh K_bkh^T with sgemm (m = Sq, n = T, k = D). 3-D Q is read in place through lda = Hq*D.
 *   3. per row: softcap, additive bias (float mask, bool mask / causal frontier / nonpad padding / mask
 *      columns past its last dim as -inf), softmax in double (a row with no allowed key becomes zeros);
 *      the qk_matmul_output stage the mode asks for is copied out on the way.
 *   4. Y_bh = P V_bkh with sgemm (m = Sq, n = Dv, k = T), written in place into Y's layout (ldc = Hq*Dv for 3-D).
 * float16 inputs are decoded to float32; float64 inputs take the same steps with a double-precision loop
 * product instead of sgemm (which is float32 only).
 *
 * Cost: 2*B*Hq*Sq*T*(D + Dv) flops for the two products, plus O(B*Hq*Sq*T) for bias and softmax (one exp per
 * score) and O(B*Hkv*T*(D + Dv)) for the present copies. Memory: one Sq x T score block at a time.
 */
import type { Tensor } from '../../tensor/tensor.js';
import { registerKernel, type Kernel } from '../registry.js';
import { sgemm } from './gemm.js';
import { floatTensor, readFloats } from './misc-util.js';

type Floats = Float32Array | Float64Array;

/** One product C = alpha * A * op(B) over row-major blocks: sgemm for float32, a double loop otherwise. */
function blockProduct(
  m: number,
  n: number,
  k: number,
  a: Floats,
  aOffset: number,
  lda: number,
  b: Floats,
  bOffset: number,
  ldb: number,
  transB: boolean,
  c: Floats,
  cOffset: number,
  ldc: number,
  alpha: number,
  threads: number,
): void {
  if (a instanceof Float32Array && b instanceof Float32Array && c instanceof Float32Array) {
    sgemm({ m, n, k, a, aOffset, lda, b, bOffset, ldb, transB, c, cOffset, ldc, alpha, beta: 0, threads });
    return;
  }
  for (let i = 0; i < m; i++) {
    const cRow = cOffset + i * ldc;
    for (let j = 0; j < n; j++) c[cRow + j] = 0;
    const aRow = aOffset + i * lda;
    if (transB) {
      for (let j = 0; j < n; j++) {
        const bRow = bOffset + j * ldb;
        let sum = 0;
        for (let p = 0; p < k; p++) sum += a[aRow + p]! * b[bRow + p]!;
        c[cRow + j] = alpha * sum;
      }
    } else {
      for (let p = 0; p < k; p++) {
        const av = alpha * a[aRow + p]!;
        const bRow = bOffset + p * ldb;
        for (let j = 0; j < n; j++) c[cRow + j]! += av * b[bRow + j]!;
      }
    }
  }
}

/** Copy past [B, H, P, D] and current K/V (4-D [B, H, S, D] or 3-D [B, S, H*D]) into [B, H, P+S, D]. */
function presentCache(past: Floats | undefined, cur: Floats, rank: number, batch: number, heads: number, pastSeq: number, seq: number, size: number, out: Floats): void {
  const total = pastSeq + seq;
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < heads; h++) {
      const dst = (b * heads + h) * total * size;
      if (past && pastSeq > 0) out.set(past.subarray((b * heads + h) * pastSeq * size, (b * heads + h + 1) * pastSeq * size), dst);
      for (let s = 0; s < seq; s++) {
        const from = rank === 4 ? ((b * heads + h) * seq + s) * size : (b * seq + s) * heads * size + h * size;
        out.set(cur.subarray(from, from + size), dst + (pastSeq + s) * size);
      }
    }
  }
}

const attention: Kernel = (inputs, attrs, outputs, ctx) => {
  const [q, k, v, mask, pastKey, pastValue, nonpad] = inputs as (Tensor | undefined)[] as [Tensor, Tensor, Tensor, Tensor?, Tensor?, Tensor?, Tensor?];
  // sizes from the validated shapes: 4-D [B, H, S, D]; 3-D [B, S, H*D] with the head counts as attributes
  const batch = q.dims[0]!;
  const four = q.rank === 4;
  const qHeads = four ? q.dims[1]! : (attrs.q_num_heads as number);
  const kvHeads = four ? k.dims[1]! : (attrs.kv_num_heads as number);
  const qSeq = four ? q.dims[2]! : q.dims[1]!;
  const kvSeq = four ? k.dims[2]! : k.dims[1]!;
  const pastSeq = pastKey ? pastKey.dims[2]! : 0;
  const headSize = four ? q.dims[3]! : q.dims[2]! / qHeads;
  const vHeadSize = four ? v.dims[3]! : v.dims[2]! / kvHeads;
  const total = pastSeq + kvSeq;
  const double = q.type === 'float64' || k.type === 'float64' || v.type === 'float64';
  const work = (t: Tensor): Floats => {
    const f = readFloats(t);
    return double && !(f instanceof Float64Array) ? Float64Array.from(f) : f;
  };
  const qs = work(q);
  const keys = double ? new Float64Array(batch * kvHeads * total * headSize) : new Float32Array(batch * kvHeads * total * headSize);
  const values = double ? new Float64Array(batch * kvHeads * total * vHeadSize) : new Float32Array(batch * kvHeads * total * vHeadSize);
  presentCache(pastKey ? work(pastKey) : undefined, work(k), k.rank, batch, kvHeads, pastSeq, kvSeq, headSize, keys);
  presentCache(pastValue ? work(pastValue) : undefined, work(v), v.rank, batch, kvHeads, pastSeq, kvSeq, vHeadSize, values);

  const scale = attrs.scale === undefined ? 1 / Math.sqrt(headSize) : (attrs.scale as number);
  const softcap = attrs.softcap as number;
  const causal = attrs.is_causal === 1;
  const mode = attrs.qk_matmul_output_mode as number;
  const wantQk = outputs.length > 3;
  const qkOut = wantQk ? (double ? new Float64Array(batch * qHeads * qSeq * total) : new Float32Array(batch * qHeads * qSeq * total)) : undefined;
  const y = double ? new Float64Array(batch * qHeads * qSeq * vHeadSize) : new Float32Array(batch * qHeads * qSeq * vHeadSize);
  const scores = double ? new Float64Array(qSeq * total) : new Float32Array(qSeq * total);

  // mask broadcast strides over [B, Hq, Sq, Tm] (Tm = the mask's last dim, <= T)
  const maskVals = mask ? (mask.type === 'bool' ? (mask.data as Uint8Array) : readFloats(mask)) : undefined;
  const isBoolMask = mask?.type === 'bool';
  const mdims = mask ? [...new Array<number>(4 - mask.rank).fill(1), ...mask.dims] : [1, 1, 1, 0];
  const mstr = [mdims[1]! * mdims[2]! * mdims[3]!, mdims[2]! * mdims[3]!, mdims[3]!, 1].map((s, i) => (mdims[i] === 1 ? 0 : s));
  const maskCols = mask ? mdims[3]! : total;
  const lens = nonpad ? Array.from(nonpad.data as BigInt64Array, Number) : undefined;
  const group = qHeads / kvHeads;
  const qRowStride = q.rank === 4 ? headSize : qHeads * headSize;
  const yRowStride = q.rank === 4 ? vHeadSize : qHeads * vHeadSize;

  for (let b = 0; b < batch; b++) {
    const valid = lens ? lens[b]! : total;
    const offset = pastKey ? pastSeq : lens ? lens[b]! - qSeq : 0;
    for (let h = 0; h < qHeads; h++) {
      const kh = Math.floor(h / group);
      const qOffset = q.rank === 4 ? (b * qHeads + h) * qSeq * headSize : b * qSeq * qHeads * headSize + h * headSize;
      blockProduct(qSeq, total, headSize, qs, qOffset, qRowStride, keys, (b * kvHeads + kh) * total * headSize, headSize, true, scores, 0, total, scale, ctx.threads);
      for (let i = 0; i < qSeq; i++) {
        const row = i * total;
        const qkRow = ((b * qHeads + h) * qSeq + i) * total;
        if (qkOut && mode === 0) qkOut.set(scores.subarray(row, row + total), qkRow);
        if (softcap > 0) for (let j = 0; j < total; j++) scores[row + j] = softcap * Math.tanh(scores[row + j]! / softcap);
        if (qkOut && mode === 1) qkOut.set(scores.subarray(row, row + total), qkRow);
        const maskRow = b * mstr[0]! + h * mstr[1]! + i * mstr[2]!;
        for (let j = 0; j < total; j++) {
          let blocked = j >= valid || (causal && j > i + offset) || j >= maskCols;
          let add = 0;
          if (maskVals && !blocked) {
            const m = maskVals[maskRow + j * mstr[3]!]!;
            if (isBoolMask) blocked = m === 0;
            else add = m;
          }
          scores[row + j] = blocked ? -Infinity : scores[row + j]! + add;
        }
        if (qkOut && mode === 2) qkOut.set(scores.subarray(row, row + total), qkRow);
        let max = -Infinity;
        for (let j = 0; j < total; j++) if (scores[row + j]! > max || Number.isNaN(scores[row + j]!)) max = scores[row + j]!;
        if (max === -Infinity) {
          // no key is allowed: a zero row (not NaN), as the operator's errata specify
          scores.fill(0, row, row + total);
        } else {
          let sum = 0;
          for (let j = 0; j < total; j++) {
            const e = Math.exp(scores[row + j]! - max);
            scores[row + j] = e;
            sum += e;
          }
          const inv = 1 / sum;
          for (let j = 0; j < total; j++) scores[row + j]! *= inv;
        }
        if (qkOut && mode === 3) qkOut.set(scores.subarray(row, row + total), qkRow);
      }
      const yOffset = q.rank === 4 ? (b * qHeads + h) * qSeq * vHeadSize : b * qSeq * qHeads * vHeadSize + h * vHeadSize;
      blockProduct(qSeq, vHeadSize, total, scores, 0, total, values, (b * kvHeads + kh) * total * vHeadSize, vHeadSize, false, y, yOffset, yRowStride, 1, ctx.threads);
    }
  }
  const result = [floatTensor(outputs[0]!.type, y, outputs[0]!.dims)];
  if (outputs.length > 1) result.push(floatTensor(outputs[1]!.type, keys, outputs[1]!.dims));
  if (outputs.length > 2) result.push(floatTensor(outputs[2]!.type, values, outputs[2]!.dims));
  if (qkOut) result.push(floatTensor(outputs[3]!.type, qkOut, outputs[3]!.dims));
  return result;
};

registerKernel('Attention', 'cpu', attention);


/**
 * LinearAttention: the recurrence run token by token per (batch, kv head) on a double [dk, dv] state:
 * decay (row scaling by exp(g)), the delta correction u = beta * (v - S^T k), the rank-1 update S += k u^T
 * (u = v for the non-delta rules), then for each query head of the group o = scale * q^T S.
 * Cost: O(B * T * Hkv * dk * dv * (2 + group)).
 */
const linearAttention: Kernel = (inputs, attrs, outputs) => {
  const [q, k, v, past, decay, beta] = inputs as (Tensor | undefined)[] as [Tensor, Tensor, Tensor, Tensor?, Tensor?, Tensor?];
  const hq = attrs.q_num_heads as number;
  const hkv = attrs.kv_num_heads as number;
  const rule = attrs.update_rule as string;
  const gated = rule === 'gated' || rule === 'gated_delta';
  const delta = rule === 'delta' || rule === 'gated_delta';
  const [batch, steps] = q.dims as [number, number];
  const dk = q.dims[2]! / hq;
  const dv = v.dims[2]! / hkv;
  const scale = (attrs.scale as number) || 1 / Math.sqrt(dk);
  const group = hq / hkv;
  const qs = readFloats(q);
  const ks = readFloats(k);
  const vs = readFloats(v);
  const ps = past ? readFloats(past) : undefined;
  const gs = decay ? readFloats(decay) : undefined;
  const perKeyDecay = decay ? decay.dims[2] === hkv * dk : false;
  const bs = beta ? readFloats(beta) : undefined;
  const betaPerHead = beta ? beta.dims[2] === hkv : false;
  const out = new Float32Array(batch * steps * hq * dv);
  const finalState = new Float32Array(batch * hkv * dk * dv);
  const s = new Float64Array(dk * dv);
  const u = new Float64Array(dv);
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < hkv; h++) {
      const stateBase = (b * hkv + h) * dk * dv;
      for (let i = 0; i < dk * dv; i++) s[i] = ps ? ps[stateBase + i]! : 0;
      for (let t = 0; t < steps; t++) {
        const kBase = (b * steps + t) * hkv * dk + h * dk;
        const vBase = (b * steps + t) * hkv * dv + h * dv;
        if (gated) {
          const gBase = (b * steps + t) * (perKeyDecay ? hkv * dk : hkv);
          for (let i = 0; i < dk; i++) {
            const f = Math.exp(gs![perKeyDecay ? gBase + h * dk + i : gBase + h]!);
            for (let j = 0; j < dv; j++) s[i * dv + j]! *= f;
          }
        }
        if (delta) {
          const bt = bs![(b * steps + t) * (betaPerHead ? hkv : 1) + (betaPerHead ? h : 0)]!;
          for (let j = 0; j < dv; j++) {
            let sk = 0;
            for (let i = 0; i < dk; i++) sk += s[i * dv + j]! * ks[kBase + i]!;
            u[j] = bt * (vs[vBase + j]! - sk);
          }
        } else for (let j = 0; j < dv; j++) u[j] = vs[vBase + j]!;
        for (let i = 0; i < dk; i++) {
          const ki = ks[kBase + i]!;
          for (let j = 0; j < dv; j++) s[i * dv + j]! += ki * u[j]!;
        }
        for (let g = 0; g < group; g++) {
          const qh = h * group + g;
          const qBase = (b * steps + t) * hq * dk + qh * dk;
          const oBase = (b * steps + t) * hq * dv + qh * dv;
          for (let j = 0; j < dv; j++) {
            let o = 0;
            for (let i = 0; i < dk; i++) o += qs[qBase + i]! * s[i * dv + j]!;
            out[oBase + j] = scale * o;
          }
        }
      }
      for (let i = 0; i < dk * dv; i++) finalState[stateBase + i] = s[i]!;
    }
  }
  const result = [floatTensor(outputs[0]!.type, out, outputs[0]!.dims)];
  if (outputs[1]) result.push(floatTensor(outputs[1].type, finalState, outputs[1].dims));
  return result;
};

registerKernel('LinearAttention', 'cpu', linearAttention);

/** ai.onnx.preview.FlexAttention without modifier subgraphs: the Attention kernel on 4-D inputs. */
const flexAttention: Kernel = (inputs, attrs, outputs, ctx) => {
  const plain = Object.assign(Object.create(null) as Record<string, unknown>, { is_causal: 0, softcap: 0, qk_matmul_output_mode: 0, scale: attrs.scale });
  return attention(inputs.slice(0, 3), plain as Parameters<Kernel>[1], outputs.slice(0, 1), ctx);
};

registerKernel('FlexAttention', 'cpu', flexAttention, 'ai.onnx.preview');
