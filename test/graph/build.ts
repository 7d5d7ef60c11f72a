/**
 * Test helpers: build ONNX ModelProto objects in code (encoded with Tessera's writer), so graph, session
 * and executor tests need no model files.
 */
import { encodeModel } from '../../src/graph/onnx/encode.js';
import { AttributeType, emptyAttribute, type AttributeProto, type GraphProto, type ModelProto, type NodeProto, type TensorProto, type ValueInfoProto } from '../../src/graph/onnx/proto.js';
import { tensorToProto } from '../../src/graph/onnx/tensor-proto.js';
import { ONNX_TYPE_CODES, type DataType } from '../../src/tensor/dtype.js';
import type { Tensor } from '../../src/tensor/tensor.js';

/** Attribute values accepted by `node`: numbers (int when integral unless wrapped by `float`), strings, lists, graphs, tensors. */
export type AttrInput = number | string | readonly number[] | readonly string[] | GraphProto | Tensor | { float: number } | { floats: number[] };

export function float(v: number): { float: number } {
  return { float: v };
}
export function floats(v: number[]): { floats: number[] } {
  return { floats: v };
}

export function attr(name: string, v: AttrInput): AttributeProto {
  if (typeof v === 'number') {
    if (Number.isInteger(v)) return { ...emptyAttribute(name, AttributeType.INT), i: BigInt(v) };
    return { ...emptyAttribute(name, AttributeType.FLOAT), f: v };
  }
  if (typeof v === 'string') return { ...emptyAttribute(name, AttributeType.STRING), s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) {
    if (v.every((x) => typeof x === 'string')) return { ...emptyAttribute(name, AttributeType.STRINGS), strings: (v as string[]).map((s) => new TextEncoder().encode(s)) };
    if ((v as number[]).every((x) => Number.isInteger(x))) return { ...emptyAttribute(name, AttributeType.INTS), ints: (v as number[]).map((x) => BigInt(x)) };
    return { ...emptyAttribute(name, AttributeType.FLOATS), floats: [...(v as number[])] };
  }
  if ('float' in (v as object)) return { ...emptyAttribute(name, AttributeType.FLOAT), f: (v as { float: number }).float };
  if ('floats' in (v as object)) return { ...emptyAttribute(name, AttributeType.FLOATS), floats: (v as { floats: number[] }).floats };
  if ('node' in (v as object)) return { ...emptyAttribute(name, AttributeType.GRAPH), g: v as GraphProto };
  return { ...emptyAttribute(name, AttributeType.TENSOR), t: tensorToProto(v as Tensor) };
}

export function node(opType: string, input: string[], output: string[], attrs: Record<string, AttrInput> = {}, name = ''): NodeProto {
  return { opType, input, output, name, domain: '', attribute: Object.entries(attrs).map(([k, v]) => attr(k, v)) };
}

/** A tensor value info; dims may hold numbers, symbolic names, or null (unknown); omit dims for unknown rank. */
export function value(name: string, type: DataType, dims?: (number | string | null)[]): ValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: ONNX_TYPE_CODES[type],
        shape: dims?.map((d) => (typeof d === 'number' ? { dimValue: d } : typeof d === 'string' ? { dimParam: d } : {})),
      },
    },
  };
}

export function graph(parts: { nodes: NodeProto[]; inputs: ValueInfoProto[]; outputs: ValueInfoProto[]; initializers?: Record<string, Tensor>; name?: string }): GraphProto {
  const initializer: TensorProto[] = Object.entries(parts.initializers ?? {}).map(([k, t]) => tensorToProto(t, k));
  return { node: parts.nodes, name: parts.name ?? 'g', initializer, sparseInitializer: [], input: parts.inputs, output: parts.outputs, valueInfo: [] };
}

export function model(g: GraphProto, opset = 17, irVersion = 8): ModelProto {
  return {
    irVersion,
    opsetImport: [{ domain: '', version: opset }],
    producerName: 'tessera-test',
    producerVersion: '',
    domain: '',
    modelVersion: 0,
    docString: '',
    graph: g,
    metadataProps: [],
    functions: [],
  };
}

/** Encoded bytes of a one-graph model. */
export function modelBytes(g: GraphProto, opset = 17, irVersion = 8): Uint8Array {
  return encodeModel(model(g, opset, irVersion));
}
