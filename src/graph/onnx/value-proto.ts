/**
 * SequenceProto and OptionalProto (onnx-data.proto) <-> OnnxValue, for data files such as the conformance
 * suites' input_K.pb / output_K.pb of sequence- and optional-typed values.
 *
 * Field numbers (onnx-data.proto, the same in both messages): 1 name, 2 elem_type (0 UNDEFINED, 1 TENSOR,
 * 2 SPARSE_TENSOR, 3 SEQUENCE, 4 MAP, 5 OPTIONAL); SequenceProto: 3 tensor_values (repeated), 4 sparse,
 * 5 sequence_values, 6 map_values, 7 optional_values; OptionalProto: 3 tensor_value, 4 sparse, 5
 * sequence_value, 6 map_value, 7 optional_value. An OptionalProto without a value is the empty optional.
 * Tessera holds sequences of tensors only: the other element kinds are UnsupportedModelError.
 * Embedded TensorProtos are read and written by decode.ts / encode.ts.
 */
import { ModelFormatError, UnsupportedModelError } from '../errors.js';
import { Tensor } from '../../tensor/tensor.js';
import type { ValueType } from '../ir.js';
import { disposeValue, type OnnxValue } from '../values.js';
import { decodeTensorProto } from './decode.js';
import { encodeTensorProto } from './encode.js';
import type { TensorProto } from './proto.js';
import { tensorFromProto, tensorToProto } from './tensor-proto.js';
import { WireReader, WireType, WireWriter } from './wire.js';

/** SequenceProto / OptionalProto elem_type codes. */
export const ValueElemType = { UNDEFINED: 0, TENSOR: 1, SPARSE_TENSOR: 2, SEQUENCE: 3, MAP: 4, OPTIONAL: 5 } as const;

const KIND_NAMES = ['undefined', 'tensor', 'sparse tensor', 'sequence', 'map', 'optional'];

/** A decoded SequenceProto of tensors. */
export interface SequenceProto {
  name: string;
  elemType: number;
  tensorValues: TensorProto[];
}

/** A decoded OptionalProto (no value = the empty optional). */
export interface OptionalProto {
  name: string;
  elemType: number;
  tensorValue?: TensorProto;
  sequenceValue?: SequenceProto;
}

function unsupported(path: string, field: number): never {
  const kind = field === 4 ? 'sparse tensor' : field === 5 ? 'sequence' : field === 6 ? 'map' : 'optional';
  throw new UnsupportedModelError(`${path}: ${kind} elements are not supported (Tessera holds sequences of tensors)`);
}

function readSequence(r: WireReader, path: string): SequenceProto {
  const s: SequenceProto = { name: '', elemType: 0, tensorValues: [] };
  while (r.more()) {
    const t = r.tag(path);
    switch (t.field) {
      case 1:
        r.expectWire(t, WireType.BYTES, `${path}.name`);
        s.name = r.string(`${path}.name`);
        break;
      case 2:
        r.expectWire(t, WireType.VARINT, `${path}.elem_type`);
        s.elemType = r.int32(`${path}.elem_type`);
        break;
      case 3:
        r.expectWire(t, WireType.BYTES, `${path}.tensor_values`);
        s.tensorValues.push(decodeTensorProto(r.bytesField(`${path}.tensor_values[${s.tensorValues.length}]`)));
        break;
      case 4:
      case 5:
      case 6:
      case 7:
        unsupported(path, t.field);
        break;
      default:
        r.skip(t, path);
    }
  }
  return s;
}

function readOptional(r: WireReader, path: string): OptionalProto {
  const o: OptionalProto = { name: '', elemType: 0 };
  while (r.more()) {
    const t = r.tag(path);
    switch (t.field) {
      case 1:
        r.expectWire(t, WireType.BYTES, `${path}.name`);
        o.name = r.string(`${path}.name`);
        break;
      case 2:
        r.expectWire(t, WireType.VARINT, `${path}.elem_type`);
        o.elemType = r.int32(`${path}.elem_type`);
        break;
      case 3:
        r.expectWire(t, WireType.BYTES, `${path}.tensor_value`);
        o.tensorValue = decodeTensorProto(r.bytesField(`${path}.tensor_value`));
        break;
      case 5:
        r.expectWire(t, WireType.BYTES, `${path}.sequence_value`);
        o.sequenceValue = readSequence(new WireReader(r.bytesField(`${path}.sequence_value`)), `${path}.sequence_value`);
        break;
      case 4:
      case 6:
      case 7:
        unsupported(path, t.field);
        break;
      default:
        r.skip(t, path);
    }
  }
  return o;
}

/** Decode a serialized SequenceProto. */
export function decodeSequenceProto(bytes: Uint8Array): SequenceProto {
  return readSequence(new WireReader(bytes), 'SequenceProto');
}

/** Decode a serialized OptionalProto. */
export function decodeOptionalProto(bytes: Uint8Array): OptionalProto {
  return readOptional(new WireReader(bytes), 'OptionalProto');
}

/** The sequence a SequenceProto holds (every element a tensor of one dtype). */
export function sequenceFromProto(s: SequenceProto, where: string): Tensor[] {
  if (s.elemType !== ValueElemType.TENSOR && s.elemType !== ValueElemType.UNDEFINED) {
    throw new UnsupportedModelError(`${where}: elem_type ${KIND_NAMES[s.elemType] ?? s.elemType} is not supported (Tessera holds sequences of tensors)`);
  }
  const out: Tensor[] = [];
  try {
    s.tensorValues.forEach((tp, i) => {
      const t = tensorFromProto(tp, `${where}.tensor_values[${i}]`);
      if (out[0] && out[0].type !== t.type) {
        t.dispose();
        throw new ModelFormatError(`${where}: tensor_values[${i}] is ${t.type} but tensor_values[0] is ${out[0].type}; a sequence holds one dtype`);
      }
      out.push(t);
    });
  } catch (e) {
    disposeValue(out);
    throw e;
  }
  return out;
}

/** The value an OptionalProto holds: its tensor or sequence, or null when empty. */
export function optionalFromProto(o: OptionalProto, where: string): OnnxValue {
  if (o.tensorValue) return tensorFromProto(o.tensorValue, `${where}.tensor_value`);
  if (o.sequenceValue) return sequenceFromProto(o.sequenceValue, `${where}.sequence_value`);
  return null;
}

/**
 * Read a value file (TensorProto, SequenceProto or OptionalProto) as the kind `type` declares; a tensor
 * when the type is unknown. Returns the value and the name stored in the file.
 */
export function readValueProto(bytes: Uint8Array, type: ValueType | undefined, where: string): { value: OnnxValue; name: string } {
  if (type?.kind === 'sequence') {
    const s = decodeSequenceProto(bytes);
    return { value: sequenceFromProto(s, where), name: s.name };
  }
  if (type?.kind === 'optional') {
    const o = decodeOptionalProto(bytes);
    return { value: optionalFromProto(o, where), name: o.name };
  }
  const tp = decodeTensorProto(bytes);
  return { value: tensorFromProto(tp, where), name: tp.name };
}

function writeSequence(w: WireWriter, name: string, seq: readonly Tensor[]): void {
  if (name) w.string(1, name);
  w.int32(2, ValueElemType.TENSOR);
  for (const t of seq) w.bytes(3, encodeTensorProto(tensorToProto(t)));
}

/** Serialize a sequence of tensors as a SequenceProto. */
export function encodeSequenceProto(seq: readonly Tensor[], name = ''): Uint8Array {
  const w = new WireWriter();
  writeSequence(w, name, seq);
  return w.finish();
}

/** Serialize an optional value (a tensor, a sequence, or null for none) as an OptionalProto. */
export function encodeOptionalProto(value: OnnxValue, name = ''): Uint8Array {
  const w = new WireWriter();
  if (name) w.string(1, name);
  if (value instanceof Tensor) {
    w.int32(2, ValueElemType.TENSOR);
    w.bytes(3, encodeTensorProto(tensorToProto(value)));
  } else if (Array.isArray(value)) {
    w.int32(2, ValueElemType.SEQUENCE);
    w.message(5, () => writeSequence(w, '', value));
  }
  return w.finish();
}
