/**
 * ONNX encoder: ModelProto / TensorProto objects (see proto.ts) -> bytes, the inverse of decode.ts.
 *
 * Fields are written in field-number order of onnx.proto3, repeated numbers packed, defaults (empty string,
 * zero) omitted as proto3 does, except where ONNX readers expect an explicit value (AttributeProto.type).
 */
import type {
  AttributeProto,
  DimensionProto,
  FunctionProto,
  GraphProto,
  ModelProto,
  NodeProto,
  OperatorSetIdProto,
  SparseTensorProto,
  StringStringEntryProto,
  TensorProto,
  TypeProto,
  ValueInfoProto,
} from './proto.js';
import { WireWriter } from './wire.js';

/** Serialize a model. */
export function encodeModel(m: ModelProto): Uint8Array {
  const w = new WireWriter();
  writeModel(w, m);
  return w.finish();
}

/** Serialize one TensorProto (the format of conformance input_K.pb files). */
export function encodeTensorProto(t: TensorProto): Uint8Array {
  const w = new WireWriter();
  writeTensor(w, t);
  return w.finish();
}

function writeModel(w: WireWriter, m: ModelProto): void {
  if (m.irVersion) w.int64(1, m.irVersion);
  if (m.producerName) w.string(2, m.producerName);
  if (m.producerVersion) w.string(3, m.producerVersion);
  if (m.domain) w.string(4, m.domain);
  if (m.modelVersion) w.int64(5, m.modelVersion);
  if (m.docString) w.string(6, m.docString);
  if (m.graph) {
    const g = m.graph;
    w.message(7, () => writeGraph(w, g));
  }
  for (const o of m.opsetImport) w.message(8, () => writeOpsetId(w, o));
  for (const e of m.metadataProps) w.message(14, () => writeEntry(w, e));
  for (const f of m.functions) w.message(25, () => writeFunction(w, f));
}

function writeEntry(w: WireWriter, e: StringStringEntryProto): void {
  if (e.key) w.string(1, e.key);
  if (e.value) w.string(2, e.value);
}

function writeOpsetId(w: WireWriter, o: OperatorSetIdProto): void {
  if (o.domain) w.string(1, o.domain);
  if (o.version) w.int64(2, o.version);
}

function writeGraph(w: WireWriter, g: GraphProto): void {
  for (const n of g.node) w.message(1, () => writeNode(w, n));
  if (g.name) w.string(2, g.name);
  for (const t of g.initializer) w.message(5, () => writeTensor(w, t));
  if (g.docString) w.string(10, g.docString);
  for (const v of g.input) w.message(11, () => writeValueInfo(w, v));
  for (const v of g.output) w.message(12, () => writeValueInfo(w, v));
  for (const v of g.valueInfo) w.message(13, () => writeValueInfo(w, v));
  for (const s of g.sparseInitializer) w.message(15, () => writeSparseTensor(w, s));
}

function writeNode(w: WireWriter, n: NodeProto): void {
  for (const s of n.input) w.string(1, s);
  for (const s of n.output) w.string(2, s);
  if (n.name) w.string(3, n.name);
  if (n.opType) w.string(4, n.opType);
  for (const a of n.attribute) w.message(5, () => writeAttribute(w, a));
  if (n.docString) w.string(6, n.docString);
  if (n.domain) w.string(7, n.domain);
  if (n.overload) w.string(8, n.overload);
}

function writeAttribute(w: WireWriter, a: AttributeProto): void {
  if (a.name) w.string(1, a.name);
  if (a.f !== undefined) w.float(2, a.f);
  if (a.i !== undefined) w.int64(3, a.i);
  if (a.s !== undefined) w.bytes(4, a.s);
  const t = a.t;
  if (t) w.message(5, () => writeTensor(w, t));
  const g = a.g;
  if (g) w.message(6, () => writeGraph(w, g));
  if (a.floats.length) w.packedFloat(7, a.floats);
  if (a.ints.length) w.packedInt64(8, a.ints);
  for (const s of a.strings) w.bytes(9, s);
  for (const x of a.tensors) w.message(10, () => writeTensor(w, x));
  for (const x of a.graphs) w.message(11, () => writeGraph(w, x));
  const tp = a.tp;
  if (tp) w.message(14, () => writeType(w, tp));
  w.int32(20, a.type);
  if (a.refAttrName) w.string(21, a.refAttrName);
  const st = a.sparseTensor;
  if (st) w.message(22, () => writeSparseTensor(w, st));
}

function writeTensor(w: WireWriter, t: TensorProto): void {
  w.packedInt64(1, t.dims);
  if (t.dataType) w.int32(2, t.dataType);
  const seg = t.segment;
  if (seg) {
    w.message(3, () => {
      if (seg.begin) w.int64(1, seg.begin);
      if (seg.end) w.int64(2, seg.end);
    });
  }
  if (t.floatData?.length) w.packedFloat(4, t.floatData);
  if (t.int32Data?.length) w.packedInt32(5, t.int32Data);
  for (const s of t.stringData ?? []) w.bytes(6, s);
  if (t.int64Data?.length) w.packedInt64(7, t.int64Data);
  if (t.name) w.string(8, t.name);
  if (t.rawData !== undefined) w.bytes(9, t.rawData);
  if (t.doubleData?.length) w.packedDouble(10, t.doubleData);
  if (t.uint64Data?.length) w.packedInt64(11, t.uint64Data);
  for (const e of t.externalData) w.message(13, () => writeEntry(w, e));
  if (t.dataLocation) w.int32(14, t.dataLocation);
}

function writeSparseTensor(w: WireWriter, s: SparseTensorProto): void {
  const values = s.values;
  if (values) w.message(1, () => writeTensor(w, values));
  const indices = s.indices;
  if (indices) w.message(2, () => writeTensor(w, indices));
  w.packedInt64(3, s.dims);
}

function writeValueInfo(w: WireWriter, v: ValueInfoProto): void {
  if (v.name) w.string(1, v.name);
  const type = v.type;
  if (type) w.message(2, () => writeType(w, type));
}

function writeTensorType(w: WireWriter, tt: { elemType: number; shape?: DimensionProto[] }): void {
  if (tt.elemType) w.int32(1, tt.elemType);
  const shape = tt.shape;
  if (shape) {
    w.message(2, () => {
      for (const d of shape) {
        w.message(1, () => {
          if (d.dimValue !== undefined) w.int64(1, d.dimValue);
          else if (d.dimParam !== undefined) w.string(2, d.dimParam);
        });
      }
    });
  }
}

function writeType(w: WireWriter, t: TypeProto): void {
  const tensorType = t.tensorType;
  if (tensorType) w.message(1, () => writeTensorType(w, tensorType));
  const seq = t.sequenceType;
  if (seq) w.message(4, () => writeElemWrapper(w, seq));
  const map = t.mapType;
  if (map) {
    w.message(5, () => {
      if (map.keyType) w.int32(1, map.keyType);
      const vt = map.valueType;
      if (vt) w.message(2, () => writeType(w, vt));
    });
  }
  const sparse = t.sparseTensorType;
  if (sparse) w.message(8, () => writeTensorType(w, sparse));
  const opt = t.optionalType;
  if (opt) w.message(9, () => writeElemWrapper(w, opt));
}

function writeElemWrapper(w: WireWriter, x: { elemType?: TypeProto }): void {
  const e = x.elemType;
  if (e) w.message(1, () => writeType(w, e));
}

function writeFunction(w: WireWriter, f: FunctionProto): void {
  if (f.name) w.string(1, f.name);
  for (const s of f.input) w.string(4, s);
  for (const s of f.output) w.string(5, s);
  for (const s of f.attribute) w.string(6, s);
  for (const n of f.node) w.message(7, () => writeNode(w, n));
  if (f.docString) w.string(8, f.docString);
  for (const o of f.opsetImport) w.message(9, () => writeOpsetId(w, o));
  if (f.domain) w.string(10, f.domain);
  for (const a of f.attributeProto) w.message(11, () => writeAttribute(w, a));
  if (f.overload) w.string(13, f.overload);
}
