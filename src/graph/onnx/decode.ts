/**
 * ONNX decoder: bytes -> ModelProto / TensorProto objects (see proto.ts), written from the field numbers in
 * spec/onnx.proto3 on the bounds-checked WireReader.
 *
 * Every message is read by one function that loops over tags and switches on the field number; unknown
 * fields are skipped, a known field with the wrong wire type is an error (protobuf's rule), and errors carry
 * the field path, e.g. `ModelProto.graph.node[12].attribute[0].t.raw_data`. Repeated numeric fields accept
 * both the packed and the one-per-tag encoding.
 */
import { ModelFormatError, UnsupportedModelError } from '../errors.js';
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
import { WireReader, WireType, type Tag } from './wire.js';

const LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Decode a serialized ModelProto. Throws ModelFormatError for malformed bytes. */
export function decodeModel(bytes: Uint8Array): ModelProto {
  if (!(bytes instanceof Uint8Array)) throw new ModelFormatError('ModelProto: expected the model as a Uint8Array');
  if (bytes.length === 0) throw new ModelFormatError('ModelProto: the model is empty (0 bytes)');
  const r = new WireReader(bytes);
  return guard(() => readModel(r, 'ModelProto'));
}

/** Decode a serialized TensorProto (e.g. a conformance input_0.pb). */
export function decodeTensorProto(bytes: Uint8Array): TensorProto {
  const r = new WireReader(bytes);
  return guard(() => readTensor(r, 'TensorProto'));
}

/** Turn stray engine errors (stack overflow) into ModelFormatError; keep our own errors. */
function guard<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof ModelFormatError || e instanceof UnsupportedModelError) throw e;
    if (e instanceof RangeError) throw new ModelFormatError(`malformed protobuf: ${e.message}`);
    throw e;
  }
}

function readModel(r: WireReader, path: string): ModelProto {
  const m: ModelProto = {
    irVersion: 0,
    opsetImport: [],
    producerName: '',
    producerVersion: '',
    domain: '',
    modelVersion: 0,
    docString: '',
    metadataProps: [],
    functions: [],
  };
  while (r.more()) {
    const t = r.tag(path);
    switch (t.field) {
      case 1:
        m.irVersion = varint(r, t, `${path}.ir_version`, () => r.safeInt(`${path}.ir_version`));
        break;
      case 8:
        m.opsetImport.push(sub(r, t, `${path}.opset_import[${m.opsetImport.length}]`, readOpsetId));
        break;
      case 2:
        m.producerName = str(r, t, `${path}.producer_name`);
        break;
      case 3:
        m.producerVersion = str(r, t, `${path}.producer_version`);
        break;
      case 4:
        m.domain = str(r, t, `${path}.domain`);
        break;
      case 5:
        m.modelVersion = varint(r, t, `${path}.model_version`, () => r.safeInt(`${path}.model_version`));
        break;
      case 6:
        m.docString = str(r, t, `${path}.doc_string`);
        break;
      case 7:
        m.graph = sub(r, t, `${path}.graph`, readGraph);
        break;
      case 14:
        m.metadataProps.push(sub(r, t, `${path}.metadata_props[${m.metadataProps.length}]`, readEntry));
        break;
      case 25:
        m.functions.push(sub(r, t, `${path}.functions[${m.functions.length}]`, readFunction));
        break;
      default:
        r.skip(t, path);
    }
  }
  return m;
}

// ---------------------------------------------------------------------------------------------------------
// Field helpers: check the wire type, then read.

function varint<T>(r: WireReader, t: Tag, path: string, read: () => T): T {
  r.expectWire(t, WireType.VARINT, path);
  return read();
}

function str(r: WireReader, t: Tag, path: string): string {
  r.expectWire(t, WireType.BYTES, path);
  return r.string(path);
}

function bytes(r: WireReader, t: Tag, path: string): Uint8Array {
  r.expectWire(t, WireType.BYTES, path);
  return r.bytesField(path);
}

function sub<T>(r: WireReader, t: Tag, path: string, read: (r: WireReader, path: string) => T): T {
  r.expectWire(t, WireType.BYTES, path);
  return r.message(path, (rr) => read(rr, path));
}

function readEntry(r: WireReader, path: string): StringStringEntryProto {
  const e: StringStringEntryProto = { key: '', value: '' };
  while (r.more()) {
    const t = r.tag(path);
    if (t.field === 1) e.key = str(r, t, `${path}.key`);
    else if (t.field === 2) e.value = str(r, t, `${path}.value`);
    else r.skip(t, path);
  }
  return e;
}

function readOpsetId(r: WireReader, path: string): OperatorSetIdProto {
  const o: OperatorSetIdProto = { domain: '', version: 0 };
  while (r.more()) {
    const t = r.tag(path);
    if (t.field === 1) o.domain = str(r, t, `${path}.domain`);
    else if (t.field === 2) o.version = varint(r, t, `${path}.version`, () => r.safeInt(`${path}.version`));
    else r.skip(t, path);
  }
  return o;
}

function readGraph(r: WireReader, path: string): GraphProto {
  const g: GraphProto = { node: [], name: '', initializer: [], sparseInitializer: [], input: [], output: [], valueInfo: [] };
  while (r.more()) {
    const t = r.tag(path);
    switch (t.field) {
      case 1:
        g.node.push(sub(r, t, `${path}.node[${g.node.length}]`, readNode));
        break;
      case 2:
        g.name = str(r, t, `${path}.name`);
        break;
      case 5:
        g.initializer.push(sub(r, t, `${path}.initializer[${g.initializer.length}]`, readTensor));
        break;
      case 15:
        g.sparseInitializer.push(sub(r, t, `${path}.sparse_initializer[${g.sparseInitializer.length}]`, readSparseTensor));
        break;
      case 10:
        setIfNonEmpty(g, 'docString', str(r, t, `${path}.doc_string`));
        break;
      case 11:
        g.input.push(sub(r, t, `${path}.input[${g.input.length}]`, readValueInfo));
        break;
      case 12:
        g.output.push(sub(r, t, `${path}.output[${g.output.length}]`, readValueInfo));
        break;
      case 13:
        g.valueInfo.push(sub(r, t, `${path}.value_info[${g.valueInfo.length}]`, readValueInfo));
        break;
      default:
        r.skip(t, path);
    }
  }
  return g;
}

function readNode(r: WireReader, path: string): NodeProto {
  const n: NodeProto = { input: [], output: [], name: '', opType: '', domain: '', attribute: [] };
  while (r.more()) {
    const t = r.tag(path);
    switch (t.field) {
      case 1:
        n.input.push(str(r, t, `${path}.input[${n.input.length}]`));
        break;
      case 2:
        n.output.push(str(r, t, `${path}.output[${n.output.length}]`));
        break;
      case 3:
        n.name = str(r, t, `${path}.name`);
        break;
      case 4:
        n.opType = str(r, t, `${path}.op_type`);
        break;
      case 7:
        n.domain = str(r, t, `${path}.domain`);
        break;
      case 8:
        setIfNonEmpty(n, 'overload', str(r, t, `${path}.overload`));
        break;
      case 5:
        n.attribute.push(sub(r, t, `${path}.attribute[${n.attribute.length}]`, readAttribute));
        break;
      case 6:
        setIfNonEmpty(n, 'docString', str(r, t, `${path}.doc_string`));
        break;
      default:
        r.skip(t, path);
    }
  }
  return n;
}

function readAttribute(r: WireReader, path: string): AttributeProto {
  const a: AttributeProto = {
    name: '',
    type: 0,
    floats: [],
    ints: [],
    strings: [],
    tensors: [],
    graphs: [],
    sparseTensorsCount: 0,
    typeProtosCount: 0,
  };
  while (r.more()) {
    const t = r.tag(path);
    switch (t.field) {
      case 1:
        a.name = str(r, t, `${path}.name`);
        break;
      case 21:
        a.refAttrName = str(r, t, `${path}.ref_attr_name`);
        break;
      case 20:
        a.type = varint(r, t, `${path}.type`, () => r.int32(`${path}.type`));
        break;
      case 2:
        r.expectWire(t, WireType.FIXED32, `${path}.f`);
        a.f = r.float(`${path}.f`);
        break;
      case 3:
        a.i = varint(r, t, `${path}.i`, () => r.int64(`${path}.i`));
        break;
      case 4:
        a.s = bytes(r, t, `${path}.s`);
        break;
      case 5:
        a.t = sub(r, t, `${path}.t`, readTensor);
        break;
      case 6:
        a.g = sub(r, t, `${path}.g`, readGraph);
        break;
      case 22:
        a.sparseTensor = sub(r, t, `${path}.sparse_tensor`, readSparseTensor);
        break;
      case 14:
        a.tp = sub(r, t, `${path}.tp`, readType);
        break;
      case 7:
        r.repeated(t, `${path}.floats`, WireType.FIXED32, () => a.floats.push(r.float(`${path}.floats`)));
        break;
      case 8:
        r.repeated(t, `${path}.ints`, WireType.VARINT, () => a.ints.push(r.int64(`${path}.ints`)));
        break;
      case 9:
        a.strings.push(bytes(r, t, `${path}.strings[${a.strings.length}]`));
        break;
      case 10:
        a.tensors.push(sub(r, t, `${path}.tensors[${a.tensors.length}]`, readTensor));
        break;
      case 11:
        a.graphs.push(sub(r, t, `${path}.graphs[${a.graphs.length}]`, readGraph));
        break;
      case 23:
        sub(r, t, `${path}.sparse_tensors[${a.sparseTensorsCount}]`, readSparseTensor);
        a.sparseTensorsCount++;
        break;
      case 15:
        sub(r, t, `${path}.type_protos[${a.typeProtosCount}]`, readType);
        a.typeProtosCount++;
        break;
      default:
        r.skip(t, path);
    }
  }
  return a;
}

/** TensorProto; repeated numbers are collected (packed or one per tag) and stored as typed arrays. */
function readTensor(r: WireReader, path: string): TensorProto {
  const tp: TensorProto = { dims: [], dataType: 0, name: '', dataLocation: 0, externalData: [] };
  let floats: number[] | undefined;
  let int32s: number[] | undefined;
  let int64s: bigint[] | undefined;
  let doubles: number[] | undefined;
  let uint64s: bigint[] | undefined;
  while (r.more()) {
    const t = r.tag(path);
    switch (t.field) {
      case 1:
        r.repeated(t, `${path}.dims`, WireType.VARINT, () => {
          const d = r.safeInt(`${path}.dims`);
          if (d < 0) r.fail(`${path}.dims`, `negative dim ${d}`);
          tp.dims.push(d);
        });
        break;
      case 2:
        tp.dataType = varint(r, t, `${path}.data_type`, () => r.int32(`${path}.data_type`));
        break;
      case 3:
        tp.segment = sub(r, t, `${path}.segment`, readSegment);
        break;
      case 4:
        floats ??= [];
        if (t.wireType === WireType.BYTES) pushAll(floats, fixedToArray(r.packedFixed(`${path}.float_data`, 4), 'f32'));
        else r.repeated(t, `${path}.float_data`, WireType.FIXED32, () => floats!.push(r.float(`${path}.float_data`)));
        break;
      case 5:
        int32s ??= [];
        r.repeated(t, `${path}.int32_data`, WireType.VARINT, () => int32s!.push(r.int32(`${path}.int32_data`)));
        break;
      case 6:
        (tp.stringData ??= []).push(bytes(r, t, `${path}.string_data[${tp.stringData?.length ?? 0}]`));
        break;
      case 7:
        int64s ??= [];
        r.repeated(t, `${path}.int64_data`, WireType.VARINT, () => int64s!.push(r.int64(`${path}.int64_data`)));
        break;
      case 8:
        tp.name = str(r, t, `${path}.name`);
        break;
      case 9:
        tp.rawData = bytes(r, t, `${path}.raw_data`);
        break;
      case 10:
        doubles ??= [];
        if (t.wireType === WireType.BYTES) pushAll(doubles, fixedToArray(r.packedFixed(`${path}.double_data`, 8), 'f64'));
        else r.repeated(t, `${path}.double_data`, WireType.FIXED64, () => doubles!.push(r.double(`${path}.double_data`)));
        break;
      case 11:
        uint64s ??= [];
        r.repeated(t, `${path}.uint64_data`, WireType.VARINT, () => uint64s!.push(r.uint64(`${path}.uint64_data`)));
        break;
      case 13:
        tp.externalData.push(sub(r, t, `${path}.external_data[${tp.externalData.length}]`, readEntry));
        break;
      case 14:
        tp.dataLocation = varint(r, t, `${path}.data_location`, () => r.int32(`${path}.data_location`));
        break;
      default:
        r.skip(t, path);
    }
  }
  if (floats) tp.floatData = Float32Array.from(floats);
  if (int32s) tp.int32Data = Int32Array.from(int32s);
  if (int64s) tp.int64Data = BigInt64Array.from(int64s);
  if (doubles) tp.doubleData = Float64Array.from(doubles);
  if (uint64s) tp.uint64Data = BigUint64Array.from(uint64s);
  return tp;
}

/** Optional string fields stay absent when the file wrote them empty (so write(read(x)) is stable). */
function setIfNonEmpty<K extends string>(obj: { [k in K]?: string }, key: K, value: string): void {
  if (value) obj[key] = value;
}

function pushAll(dst: number[], src: ArrayLike<number>): void {
  for (let i = 0; i < src.length; i++) dst.push(src[i]!);
}

/** Packed little-endian fixed-width bytes -> numbers. */
function fixedToArray(b: Uint8Array, kind: 'f32' | 'f64'): ArrayLike<number> {
  const width = kind === 'f32' ? 4 : 8;
  const n = b.length / width;
  if (LE && b.byteOffset % width === 0) {
    return kind === 'f32' ? new Float32Array(b.buffer, b.byteOffset, n) : new Float64Array(b.buffer, b.byteOffset, n);
  }
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const out = kind === 'f32' ? new Float32Array(n) : new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = kind === 'f32' ? view.getFloat32(i * 4, true) : view.getFloat64(i * 8, true);
  return out;
}

function readSegment(r: WireReader, path: string): { begin: bigint; end: bigint } {
  const s = { begin: 0n, end: 0n };
  while (r.more()) {
    const t = r.tag(path);
    if (t.field === 1) s.begin = varint(r, t, `${path}.begin`, () => r.int64(`${path}.begin`));
    else if (t.field === 2) s.end = varint(r, t, `${path}.end`, () => r.int64(`${path}.end`));
    else r.skip(t, path);
  }
  return s;
}

function readSparseTensor(r: WireReader, path: string): SparseTensorProto {
  const s: SparseTensorProto = { dims: [] };
  while (r.more()) {
    const t = r.tag(path);
    if (t.field === 1) s.values = sub(r, t, `${path}.values`, readTensor);
    else if (t.field === 2) s.indices = sub(r, t, `${path}.indices`, readTensor);
    else if (t.field === 3) r.repeated(t, `${path}.dims`, WireType.VARINT, () => s.dims.push(r.safeInt(`${path}.dims`)));
    else r.skip(t, path);
  }
  return s;
}

function readValueInfo(r: WireReader, path: string): ValueInfoProto {
  const v: ValueInfoProto = { name: '' };
  while (r.more()) {
    const t = r.tag(path);
    if (t.field === 1) v.name = str(r, t, `${path}.name`);
    else if (t.field === 2) v.type = sub(r, t, `${path}.type`, readType);
    else r.skip(t, path);
  }
  return v;
}

function readType(r: WireReader, path: string): TypeProto {
  const ty: TypeProto = {};
  while (r.more()) {
    const t = r.tag(path);
    switch (t.field) {
      case 1:
        ty.tensorType = sub(r, t, `${path}.tensor_type`, readTensorType);
        break;
      case 8:
        ty.sparseTensorType = sub(r, t, `${path}.sparse_tensor_type`, readTensorType);
        break;
      case 4:
        ty.sequenceType = sub(r, t, `${path}.sequence_type`, readElemWrapper);
        break;
      case 9:
        ty.optionalType = sub(r, t, `${path}.optional_type`, readElemWrapper);
        break;
      case 5:
        ty.mapType = sub(r, t, `${path}.map_type`, readMapType);
        break;
      default:
        r.skip(t, path);
    }
  }
  return ty;
}

function readTensorType(r: WireReader, path: string): { elemType: number; shape?: DimensionProto[] } {
  const tt: { elemType: number; shape?: DimensionProto[] } = { elemType: 0 };
  while (r.more()) {
    const t = r.tag(path);
    if (t.field === 1) tt.elemType = varint(r, t, `${path}.elem_type`, () => r.int32(`${path}.elem_type`));
    else if (t.field === 2) tt.shape = sub(r, t, `${path}.shape`, readShape);
    else r.skip(t, path);
  }
  return tt;
}

function readShape(r: WireReader, path: string): DimensionProto[] {
  const dims: DimensionProto[] = [];
  while (r.more()) {
    const t = r.tag(path);
    if (t.field === 1) dims.push(sub(r, t, `${path}.dim[${dims.length}]`, readDimension));
    else r.skip(t, path);
  }
  return dims;
}

function readDimension(r: WireReader, path: string): DimensionProto {
  const d: DimensionProto = {};
  while (r.more()) {
    const t = r.tag(path);
    if (t.field === 1) {
      d.dimValue = varint(r, t, `${path}.dim_value`, () => r.safeInt(`${path}.dim_value`));
      delete d.dimParam;
    } else if (t.field === 2) {
      d.dimParam = str(r, t, `${path}.dim_param`);
      delete d.dimValue;
    } else r.skip(t, path);
  }
  return d;
}

function readElemWrapper(r: WireReader, path: string): { elemType?: TypeProto } {
  const w: { elemType?: TypeProto } = {};
  while (r.more()) {
    const t = r.tag(path);
    if (t.field === 1) w.elemType = sub(r, t, `${path}.elem_type`, readType);
    else r.skip(t, path);
  }
  return w;
}

function readMapType(r: WireReader, path: string): { keyType: number; valueType?: TypeProto } {
  const m: { keyType: number; valueType?: TypeProto } = { keyType: 0 };
  while (r.more()) {
    const t = r.tag(path);
    if (t.field === 1) m.keyType = varint(r, t, `${path}.key_type`, () => r.int32(`${path}.key_type`));
    else if (t.field === 2) m.valueType = sub(r, t, `${path}.value_type`, readType);
    else r.skip(t, path);
  }
  return m;
}

function readFunction(r: WireReader, path: string): FunctionProto {
  const f: FunctionProto = { name: '', domain: '', input: [], output: [], attribute: [], attributeProto: [], node: [], opsetImport: [] };
  while (r.more()) {
    const t = r.tag(path);
    switch (t.field) {
      case 1:
        f.name = str(r, t, `${path}.name`);
        break;
      case 10:
        f.domain = str(r, t, `${path}.domain`);
        break;
      case 13:
        setIfNonEmpty(f, 'overload', str(r, t, `${path}.overload`));
        break;
      case 4:
        f.input.push(str(r, t, `${path}.input[${f.input.length}]`));
        break;
      case 5:
        f.output.push(str(r, t, `${path}.output[${f.output.length}]`));
        break;
      case 6:
        f.attribute.push(str(r, t, `${path}.attribute[${f.attribute.length}]`));
        break;
      case 11:
        f.attributeProto.push(sub(r, t, `${path}.attribute_proto[${f.attributeProto.length}]`, readAttribute));
        break;
      case 7:
        f.node.push(sub(r, t, `${path}.node[${f.node.length}]`, readNode));
        break;
      case 9:
        f.opsetImport.push(sub(r, t, `${path}.opset_import[${f.opsetImport.length}]`, readOpsetId));
        break;
      case 8:
        setIfNonEmpty(f, 'docString', str(r, t, `${path}.doc_string`));
        break;
      default:
        r.skip(t, path);
    }
  }
  return f;
}
