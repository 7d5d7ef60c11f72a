/**
 * Size and cost figures of a model for the compression reports:
 * - weight bytes: the bytes of all initializers as held in memory (int8 1, float16 2, float32 4 per element);
 * - parameters and sparsity: elements of the weights of Conv/ConvTranspose/MatMul/Gemm and their integer and
 *   QDQ forms (found through DequantizeLinear and Cast to the initializer), and the share of them that is zero
 *   (a quantized weight is zero when its code equals its zero point);
 * - FLOPs: 2 x multiply-accumulates of Conv, ConvInteger, MatMul, MatMulInteger and Gemm at the given input
 *   (output elements x reduction length; the com.tessera Fused* forms count as their base op), read from one
 *   run that fetches those nodes' outputs. The quantized-weight forms count like their base op too: com.tessera
 *   QDQConv/QDQMatMul/QDQGemm (int8 weight at input 1) and com.microsoft MatMulNBits (4-bit codes: K x N
 *   parameters, a weight is zero when its code is the zero point 8; reduction K) and com.tessera MatMulInt4
 *   (K x N codes packed two per byte: a weight is zero when its code equals its zero point; reduction K). Weight
 *   bytes count what is held: a MatMulInt4's packed uint8 codes at 1 byte per 2 weights, an unfused int4/uint4
 *   tensor at 1 byte per value. Elementwise
 *   and normalization work is not counted (it is small next to the convolutions here).
 */
import { Executor } from '../graph/executor.js';
import type { Graph, Node } from '../graph/ir.js';
import { bytesPerElement } from '../tensor/dtype.js';
import type { Tensor } from '../tensor/tensor.js';

/** Figures of one model. */
export interface ModelStats {
  readonly weightBytes: number;
  readonly parameters: number;
  readonly zeroParameters: number;
  /** zeroParameters / parameters. */
  readonly sparsity: number;
  readonly flops: number;
}

const WEIGHTED = new Set(['Conv', 'ConvTranspose', 'MatMul', 'Gemm', 'ConvInteger', 'MatMulInteger', 'QLinearConv', 'QLinearMatMul']);
const COUNTED = new Set(['Conv', 'ConvInteger', 'MatMul', 'MatMulInteger', 'Gemm']);

/** onnxruntime's 4-bit MatMulNBits (the int4 pass's output). */
function isNBits(n: Node): boolean {
  return n.domain === 'com.microsoft' && n.opType === 'MatMulNBits';
}

/** com.tessera MatMulInt4 (the QDQ fusion's form of an int4 blocked weight): codes packed two per byte at input 1. */
function isInt4MatMul(n: Node): boolean {
  return n.domain === 'com.tessera' && n.opType === 'MatMulInt4';
}

/** The weight input position of a weighted op. */
function weightIndex(n: Node): number {
  return n.opType.startsWith('QLinear') ? 3 : 1;
}

/** The initializer behind `name`, looking through DequantizeLinear / Cast producers; with its zero point. */
function weightTensor(g: Graph, producers: Map<string, Node>, name: string): { t: Tensor; zero: number } | undefined {
  for (let depth = 0; depth < 3; depth++) {
    const t = g.initializers.get(name);
    if (t) return { t, zero: 0 };
    const p = producers.get(name);
    if (!p || (p.opType !== 'DequantizeLinear' && p.opType !== 'Cast')) return undefined;
    if (p.opType === 'DequantizeLinear') {
      const q = g.initializers.get(p.inputs[0] ?? '');
      const zp = g.initializers.get(p.inputs[2] ?? '');
      // per-channel zero points differ only for asymmetric weights, which the passes do not write
      if (q) return { t: q, zero: zp ? Number(zp.numbers()[0]) : 0 };
    }
    name = p.inputs[0] ?? '';
  }
  return undefined;
}

/** Size, sparsity and FLOPs of `graph` when run on `feeds` (see the file comment). */
export function modelStats(graph: Graph, opsets: ReadonlyMap<string, number>, feeds: ReadonlyMap<string, Tensor>): ModelStats {
  let weightBytes = 0;
  for (const t of graph.initializers.values()) weightBytes += t.size * bytesPerElement(t.type);
  const producers = new Map<string, Node>();
  for (const n of graph.nodes) for (const o of n.outputs) if (o) producers.set(o, n);
  let parameters = 0;
  let zeroParameters = 0;
  const seen = new Set<Tensor>();
  for (const n of graph.nodes) {
    if (isNBits(n)) {
      const codes = graph.initializers.get(n.inputs[1] ?? '');
      if (!codes || seen.has(codes)) continue;
      seen.add(codes);
      const k = n.attrs['K'] as number;
      const cols = n.attrs['N'] as number;
      const blocks = Math.ceil(k / 32);
      const bytes = codes.data as Uint8Array;
      parameters += k * cols;
      for (let c = 0; c < cols; c++) {
        for (let r = 0; r < k; r++) {
          const byte = bytes[(c * blocks + (r >> 5)) * 16 + ((r & 31) >> 1)]!;
          if (((r & 1) === 0 ? byte & 15 : byte >> 4) === 8) zeroParameters++;
        }
      }
      continue;
    }
    if (isInt4MatMul(n)) {
      // K x N parameters; a weight is zero when its code equals its block's zero point (0 without zero points)
      const packed = graph.initializers.get(n.inputs[1] ?? '');
      if (!packed || seen.has(packed)) continue;
      seen.add(packed);
      const k = n.attrs['K'] as number;
      const cols = n.attrs['N'] as number;
      const bs = n.attrs['block_size'] as number;
      const signed = n.attrs['signed'] !== 0;
      const zp = n.inputs[3] ? graph.initializers.get(n.inputs[3])?.numbers() : undefined;
      const bytes = packed.data as Uint8Array;
      parameters += k * cols;
      for (let e = 0; e < k * cols; e++) {
        const nib = (bytes[e >> 1]! >> ((e & 1) << 2)) & 15;
        const code = signed ? (nib ^ 8) - 8 : nib;
        if (code === (zp ? zp[Math.floor(e / cols / bs) * cols + (e % cols)]! : 0)) zeroParameters++;
      }
      continue;
    }
    if (!WEIGHTED.has(n.opType) && !(n.domain === 'com.tessera' && (n.opType.startsWith('Fused') || n.opType.startsWith('QDQ')))) continue;
    const w = weightTensor(graph, producers, n.inputs[weightIndex(n)] ?? '');
    if (!w || seen.has(w.t)) continue;
    seen.add(w.t);
    const v = w.t.numbers();
    parameters += v.length;
    for (let i = 0; i < v.length; i++) if (v[i] === w.zero) zeroParameters++;
  }
  const baseOp = (n: Node): string => {
    if (n.domain === 'com.tessera' && n.opType.startsWith('Fused')) return n.opType.slice(5);
    if (n.domain === 'com.tessera' && n.opType.startsWith('QDQ')) return n.opType.slice(3);
    if (isInt4MatMul(n)) return 'MatMulInt4';
    return isNBits(n) ? 'MatMulNBits' : n.opType;
  };
  const counted = graph.nodes.filter((n) => (COUNTED.has(baseOp(n)) || isNBits(n) || isInt4MatMul(n)) && n.outputs[0]);
  // MatMuls of two activations (attention) take K from their first input: fetch it in the same run
  const needA = counted.filter((n) => baseOp(n).startsWith('MatMul') && !isNBits(n) && !isInt4MatMul(n) && !weightTensor(graph, producers, n.inputs[1] ?? ''));
  const fetch = [...new Set([...counted.map((n) => n.outputs[0]!), ...needA.map((n) => n.inputs[0]!)])];
  const { outputs } = new Executor(opsets, { backend: 'cpu' }).run(graph, feeds, fetch);
  const byName = new Map(fetch.map((name, i) => [name, outputs[i]!]));
  let flops = 0;
  for (const n of counted) {
    const out = byName.get(n.outputs[0]!)!;
    const w = weightTensor(graph, producers, n.inputs[1] ?? '')?.t;
    let reduction: number;
    const op = baseOp(n);
    if (op === 'MatMulNBits' || op === 'MatMulInt4') reduction = n.attrs['K'] as number;
    else if (op === 'Conv' || op === 'ConvInteger') reduction = w ? w.size / w.dims[0]! : 0;
    else if (op === 'Gemm') reduction = w ? (n.attrs['transB'] ? w.dims[1]! : w.dims[0]!) : 0;
    else if (w) reduction = w.dims[w.rank - 2]!;
    else {
      const a = byName.get(n.inputs[0]!)!;
      reduction = a.dims[a.rank - 1]!;
    }
    flops += 2 * out.size * reduction;
  }
  for (const t of outputs) t.dispose();
  return { weightBytes, parameters, zeroParameters, sparsity: parameters ? zeroParameters / parameters : 0, flops };
}
