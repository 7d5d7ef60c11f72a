/**
 * The ONNX messages Tessera reads and writes, as plain TypeScript objects (field names in camelCase, from
 * spec/onnx.proto3). These mirror the wire closely so that read -> write -> read is the identity on every
 * field listed here; turning them into tensors and a graph is the job of tensor-proto.ts and ../ir.ts.
 *
 * int64 fields that may hold values beyond 2^53 (attribute ints, int64_data, uint64_data) are bigints;
 * dims, versions and counts are numbers (the reader refuses values that are not safe integers there).
 * Fields the reader does not model (doc strings of values, training info, device configurations,
 * quantization annotations) are skipped on read and not written.
 */

/** AttributeProto.AttributeType codes. */
export const AttributeType = {
  UNDEFINED: 0,
  FLOAT: 1,
  INT: 2,
  STRING: 3,
  TENSOR: 4,
  GRAPH: 5,
  FLOATS: 6,
  INTS: 7,
  STRINGS: 8,
  TENSORS: 9,
  GRAPHS: 10,
  SPARSE_TENSOR: 11,
  SPARSE_TENSORS: 12,
  TYPE_PROTO: 13,
  TYPE_PROTOS: 14,
} as const;

/** TensorProto.DataType codes. */
export const TensorDataType = {
  UNDEFINED: 0,
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT16: 5,
  INT32: 6,
  INT64: 7,
  STRING: 8,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  UINT32: 12,
  UINT64: 13,
  COMPLEX64: 14,
  COMPLEX128: 15,
  BFLOAT16: 16,
  FLOAT8E4M3FN: 17,
  FLOAT8E4M3FNUZ: 18,
  FLOAT8E5M2: 19,
  FLOAT8E5M2FNUZ: 20,
  UINT4: 21,
  INT4: 22,
  FLOAT4E2M1: 23,
  FLOAT8E8M0: 24,
  UINT2: 25,
  INT2: 26,
} as const;

/** Name of a TensorProto.DataType code, for messages ("STRING", "FLOAT8E4M3FN", "code 99"). */
export function tensorDataTypeName(code: number): string {
  for (const [name, value] of Object.entries(TensorDataType)) if (value === code) return name;
  return `code ${code}`;
}

export interface StringStringEntryProto {
  key: string;
  value: string;
}

export interface OperatorSetIdProto {
  /** '' (or 'ai.onnx') is the default operator set. */
  domain: string;
  version: number;
}

export interface TensorProto {
  dims: number[];
  dataType: number;
  name: string;
  /** Little-endian packed values; may be a view into the model's bytes. */
  rawData?: Uint8Array;
  floatData?: Float32Array;
  int32Data?: Int32Array;
  int64Data?: BigInt64Array;
  doubleData?: Float64Array;
  uint64Data?: BigUint64Array;
  stringData?: Uint8Array[];
  /** 1 = EXTERNAL: data lives in the file named by externalData's `location`. */
  dataLocation: number;
  externalData: StringStringEntryProto[];
  /** Present when the tensor is one segment of a larger one (refused when converting to a Tensor). */
  segment?: { begin: bigint; end: bigint };
}

export interface SparseTensorProto {
  values?: TensorProto;
  indices?: TensorProto;
  dims: number[];
}

/** One dim of a TensorShapeProto: a number, a symbolic name, or unknown (neither set). */
export interface DimensionProto {
  dimValue?: number;
  dimParam?: string;
}

export interface TypeProto {
  tensorType?: { elemType: number; shape?: DimensionProto[] };
  sequenceType?: { elemType?: TypeProto };
  mapType?: { keyType: number; valueType?: TypeProto };
  optionalType?: { elemType?: TypeProto };
  sparseTensorType?: { elemType: number; shape?: DimensionProto[] };
}

export interface ValueInfoProto {
  name: string;
  type?: TypeProto;
}

export interface AttributeProto {
  name: string;
  /** Set inside a FunctionProto: the value comes from the calling node's attribute of this name. */
  refAttrName?: string;
  type: number;
  f?: number;
  i?: bigint;
  s?: Uint8Array;
  t?: TensorProto;
  g?: GraphProto;
  sparseTensor?: SparseTensorProto;
  tp?: TypeProto;
  floats: number[];
  ints: bigint[];
  strings: Uint8Array[];
  tensors: TensorProto[];
  graphs: GraphProto[];
  /** Counts only: these kinds are refused when the graph is built. */
  sparseTensorsCount: number;
  typeProtosCount: number;
}

export interface NodeProto {
  input: string[];
  output: string[];
  name: string;
  opType: string;
  domain: string;
  overload?: string;
  attribute: AttributeProto[];
  docString?: string;
}

export interface GraphProto {
  node: NodeProto[];
  name: string;
  initializer: TensorProto[];
  sparseInitializer: SparseTensorProto[];
  docString?: string;
  input: ValueInfoProto[];
  output: ValueInfoProto[];
  valueInfo: ValueInfoProto[];
}

export interface FunctionProto {
  name: string;
  domain: string;
  overload?: string;
  input: string[];
  output: string[];
  /** Attribute names without defaults. */
  attribute: string[];
  /** Attributes with default values. */
  attributeProto: AttributeProto[];
  node: NodeProto[];
  opsetImport: OperatorSetIdProto[];
  docString?: string;
}

export interface ModelProto {
  irVersion: number;
  opsetImport: OperatorSetIdProto[];
  producerName: string;
  producerVersion: string;
  domain: string;
  modelVersion: number;
  docString: string;
  graph?: GraphProto;
  metadataProps: StringStringEntryProto[];
  functions: FunctionProto[];
}

/** An AttributeProto with every list empty, for building messages in code. */
export function emptyAttribute(name: string, type: number): AttributeProto {
  return { name, type, floats: [], ints: [], strings: [], tensors: [], graphs: [], sparseTensorsCount: 0, typeProtosCount: 0 };
}
