/**
 * Hostile and broken models: every mutation class of hostile.ts as a fast-check property (each case must load
 * and run, or end in a TesseraError with a message), plus targeted cases: truncation at every offset, deep
 * If nesting, exponential function expansion, absurd declared sizes, cycles, dangling names, unknown ops and
 * domains, opset 1 and 99, prototype-like names, and external data that tries to leave the model's folder.
 */
import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { GraphError, LimitExceededError, ModelFormatError, UnsupportedModelError } from '../../src/graph/errors.js';
import { buildModel, MAX_FUNCTION_EXPANSION_NODES, MAX_SUBGRAPH_DEPTH } from '../../src/graph/ir.js';
import { decodeModel } from '../../src/graph/onnx/decode.js';
import { encodeModel } from '../../src/graph/onnx/encode.js';
import { AttributeType, emptyAttribute, type ModelProto, type TensorProto } from '../../src/graph/onnx/proto.js';
import { InferenceSession } from '../../src/graph/session.js';
import { OpValidationError, TesseraError } from '../../src/tensor/errors.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { attr, graph, model, modelBytes, node, value } from '../graph/build.js';
import { deepIfBytes, evaluateCase, exponentialFunctionsModel, MUTATION_CLASSES, nestedIfModel, smallModels, sourceBytes } from './hostile.js';

const f32 = (v: number[], dims?: number[]): Tensor => new Tensor('float32', Float32Array.from(v), dims ?? [v.length]);

/** The error `fn` throws (fails the test when it returns). */
function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error');
}

describe('mutation classes (fast-check): refused with a TesseraError or run, never a crash', () => {
  for (const [cls, arb] of Object.entries(MUTATION_CLASSES)) {
    it(cls, () => {
      fc.assert(
        fc.property(arb, (c) => {
          const o = evaluateCase(c.bytes);
          if (o.kind === 'crash') throw new Error(`${c.description}\n-> ${o.name}: ${o.message}\n${o.stack}`);
        }),
        { numRuns: cls === 'nesting' ? 15 : 25 },
      );
    });
  }
});

describe('damaged files', () => {
  it('a small model truncated at every offset is a ModelFormatError naming the field and offset', () => {
    const bytes = sourceBytes().get('small:if')!;
    for (let n = 0; n < bytes.length; n++) {
      const o = evaluateCase(bytes.subarray(0, n));
      expect(o.kind, `truncated to ${n}`).toBe('refused');
      if (o.kind === 'refused') {
        expect(o.name).toBe('ModelFormatError');
        expect(o.message).toMatch(/ModelProto|empty|no graph|opset/);
      }
    }
  });

  it('the real classifier truncated anywhere is refused with the byte offset', () => {
    const bytes = sourceBytes().get('real:cls')!;
    for (const frac of [0.001, 0.1, 0.5, 0.9, 0.9999]) {
      const e = thrown(() => InferenceSession.createSync(bytes.subarray(0, Math.floor(bytes.length * frac))));
      expect(e).toBeInstanceOf(ModelFormatError);
      expect(e.message).toMatch(/byte offset \d+/);
    }
  });
});

describe('nesting and expansion are capped, never a stack overflow', () => {
  it('If nested a few levels runs; nested beyond the reader limit is refused by depth', async () => {
    const s = await InferenceSession.create(encodeModel(nestedIfModel(5)));
    const out = await s.run({ c: new Tensor('bool', new Uint8Array([1]), []), x: f32([2]) });
    expect(Array.from(out['y5']!.data as Float32Array)).toEqual([2]);
    // the iteratively written form loads and runs too
    const shallow = InferenceSession.createSync(deepIfBytes(3));
    expect(Array.from(shallow.runSync({ c: new Tensor('bool', new Uint8Array([0]), []), x: f32([7]) })['y3']!.data as Float32Array)).toEqual([7]);
    for (const depth of [40, 400, 2000]) {
      const e = thrown(() => InferenceSession.createSync(deepIfBytes(depth)));
      expect(e).toBeInstanceOf(ModelFormatError);
      expect(e.message).toMatch(/nested deeper than \d+/);
      expect(e.message).toContain('ModelProto.graph.node[0].attribute[0].g');
    }
  });

  it('buildModel given a deeper ModelProto object directly refuses it at MAX_SUBGRAPH_DEPTH', () => {
    const e = thrown(() => buildModel(nestedIfModel(MAX_SUBGRAPH_DEPTH + 5)));
    expect(e).toBeInstanceOf(ModelFormatError);
    expect(e.message).toContain(`subgraphs nested more than ${MAX_SUBGRAPH_DEPTH} levels deep`);
    expect(() => buildModel(nestedIfModel(MAX_SUBGRAPH_DEPTH - 1))).not.toThrow();
  });

  it('functions that double at every level are refused before expanding to 2^40 nodes', () => {
    const start = performance.now();
    const e = thrown(() => InferenceSession.createSync(encodeModel(exponentialFunctionsModel(40))));
    expect(e).toBeInstanceOf(ModelFormatError);
    expect(e.message).toContain(`expand to more than ${MAX_FUNCTION_EXPANSION_NODES} nodes`);
    expect(performance.now() - start).toBeLessThan(10_000);
    // a few levels are fine and run
    const s = InferenceSession.createSync(encodeModel(exponentialFunctionsModel(4)));
    expect(Array.from(s.runSync({ x: f32([3]) })['y']!.data as Float32Array)).toEqual([3]);
  });
});

describe('absurd declared sizes are refused without allocating', () => {
  it('an initializer declared [2^31, 2^31] with 8 bytes of data', () => {
    const m = smallModels()['mlp']!;
    m.graph!.initializer.push({ name: 'huge', dims: [2 ** 31, 2 ** 31], dataType: 1, rawData: new Uint8Array(8), dataLocation: 0, externalData: [] });
    const e = thrown(() => InferenceSession.createSync(encodeModel(m)));
    expect(e).toBeInstanceOf(ModelFormatError);
    expect(e.message).toContain("initializer[2] 'huge'");
    expect(e.message).toContain('more than 2147483647 elements');
  });

  it('an initializer within the element limit but above maxTensorBytes names the bytes it needed', () => {
    const m = smallModels()['mlp']!;
    m.graph!.initializer.push({ name: 'big', dims: [65536, 8193], dataType: 1, rawData: new Uint8Array(8), dataLocation: 0, externalData: [] });
    const e = thrown(() => InferenceSession.createSync(encodeModel(m)));
    expect(e).toBeInstanceOf(LimitExceededError);
    expect((e as LimitExceededError).needed).toBe(65536 * 8193 * 4);
    expect(e.message).toContain(`needs ${65536 * 8193 * 4} bytes; maxTensorBytes is ${2 * 1024 ** 3}`);
  });

  it('a dim of 2^53 - 1 or a negative dim in a tensor is refused by the reader', () => {
    for (const d of [2 ** 53 - 1, -1, -(2 ** 40)]) {
      const m = smallModels()['mlp']!;
      m.graph!.initializer[0]!.dims = [d, 3];
      const e = thrown(() => InferenceSession.createSync(encodeModel(m)));
      expect(e).toBeInstanceOf(ModelFormatError);
      expect(e.message).toMatch(/negative dim|more than 2147483647 elements|raw_data has/);
    }
  });
});

describe('graph structure', () => {
  it('a cycle is a GraphError naming the nodes on it', () => {
    const g = graph({
      nodes: [node('Relu', ['b'], ['a'], {}, 'first'), node('Neg', ['a'], ['b'], {}, 'second')],
      inputs: [value('x', 'float32', [1])],
      outputs: [value('a', 'float32', [1])],
    });
    const e = thrown(() => InferenceSession.createSync(modelBytes(g)));
    expect(e).toBeInstanceOf(GraphError);
    expect(e.message).toContain("cycle through 2 node(s): 'first' (Relu), 'second' (Neg)");
  });

  it('a dangling input name is a GraphError naming the node and the name', () => {
    const g = graph({ nodes: [node('Relu', ['nowhere'], ['y'], {}, 'r')], inputs: [value('x', 'float32', [1])], outputs: [value('y', 'float32', [1])] });
    const e = thrown(() => InferenceSession.createSync(modelBytes(g)));
    expect(e).toBeInstanceOf(GraphError);
    expect(e.message).toContain("node 'r' (Relu) reads 'nowhere'");
  });

  it('unknown operators and domains are listed together in one UnsupportedModelError', () => {
    const m = model(
      graph({
        nodes: [node('Frobnicate', ['x'], ['a']), { ...node('Relu', ['a'], ['y']), domain: 'com.evil' }],
        inputs: [value('x', 'float32', [1])],
        outputs: [value('y', 'float32', [1])],
      }),
    );
    m.opsetImport.push({ domain: 'com.evil', version: 1 });
    const e = thrown(() => InferenceSession.createSync(encodeModel(m)));
    expect(e).toBeInstanceOf(UnsupportedModelError);
    expect(e.message).toContain('operator Frobnicate has no schema');
    expect(e.message).toContain('operator com.evil.Relu has no schema');
  });

  it('a domain missing from opset_import is a ModelFormatError', () => {
    const m = model(graph({ nodes: [{ ...node('Relu', ['x'], ['y']), domain: 'ai.onnx.ml' }], inputs: [value('x', 'float32', [1])], outputs: [value('y', 'float32', [1])] }));
    const o = evaluateCase(encodeModel(m));
    expect(o.kind).toBe('refused');
  });

  it('opset 1 and opset 99: the op is validated against that opset or refused, never crashes', () => {
    const g = graph({ nodes: [node('Softmax', ['x'], ['y'])], inputs: [value('x', 'float32', [2, 3])], outputs: [value('y', 'float32', [2, 3])] });
    for (const opset of [1, 99]) {
      const o = evaluateCase(modelBytes(g, opset));
      expect(o.kind === 'pass' || o.kind === 'refused', `${opset}: ${JSON.stringify(o)}`).toBe(true);
    }
    const e = thrown(() => InferenceSession.createSync(encodeModel({ ...model(g), opsetImport: [] })));
    expect(e).toBeInstanceOf(ModelFormatError);
    expect(e.message).toContain('no opset_import');
  });
});

describe('names cannot reach object prototypes', () => {
  const protoNames = ['__proto__', 'constructor', 'prototype'];

  it('values named __proto__, constructor, prototype are plain names for inputs, initializers and outputs', async () => {
    const g = graph({
      nodes: [node('Add', ['__proto__', 'constructor'], ['prototype']), node('Neg', ['prototype'], ['toString'])],
      inputs: [value('__proto__', 'float32', [2])],
      outputs: [value('prototype', 'float32', [2]), value('toString', 'float32', [2])],
      initializers: { constructor: f32([10, 20]) },
    });
    const s = await InferenceSession.create(modelBytes(g));
    expect(s.inputNames).toEqual(['__proto__']);
    const feeds = Object.create(null) as Record<string, Tensor>;
    feeds['__proto__'] = f32([1, 2]);
    const out = await s.run(feeds);
    expect(Object.keys(out).sort()).toEqual(['prototype', 'toString']);
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(Array.from(out['prototype']!.data as Float32Array)).toEqual([11, 22]);
    expect(Array.from(out['toString']!.data as Float32Array)).toEqual([-11, -22]);
    // a JSON-parsed feeds object (own '__proto__' key) works too
    const parsed = JSON.parse('{"__proto__": 0}') as Record<string, unknown>;
    parsed['__proto__'] = f32([0, 1]);
    expect(Object.keys(parsed)).toEqual(['__proto__']);
    expect(Array.from((await s.run(parsed as Record<string, Tensor>))['prototype']!.data as Float32Array)).toEqual([10, 21]);
  });

  it('an output named __proto__ is returned as an own key, not as the result object prototype', async () => {
    const g = graph({ nodes: [node('Relu', ['x'], ['__proto__'])], inputs: [value('x', 'float32', [2])], outputs: [value('__proto__', 'float32', [2])] });
    const s = await InferenceSession.create(modelBytes(g));
    const out = await s.run({ x: f32([-1, 1]) });
    expect(Object.prototype.hasOwnProperty.call(out, '__proto__')).toBe(true);
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(Array.from((Object.getOwnPropertyDescriptor(out, '__proto__')!.value as Tensor).data as Float32Array)).toEqual([0, 1]);
  });

  it('attributes named like prototype members are unknown attributes, not inherited ones', () => {
    for (const name of [...protoNames, 'hasOwnProperty', 'toString']) {
      const n = node('Relu', ['x'], ['y']);
      n.attribute.push({ ...emptyAttribute(name, AttributeType.INT), i: 1n });
      const e = thrown(() => InferenceSession.createSync(modelBytes(graph({ nodes: [n], inputs: [value('x', 'float32', [1])], outputs: [value('y', 'float32', [1])] }))).runSync({ x: f32([1]) }));
      expect(e).toBeInstanceOf(OpValidationError);
      expect(e.message).toContain(`unknown attribute '${name}'`);
    }
    // the node's attribute record has no prototype to reach
    const n = node('Relu', ['x'], ['y']);
    n.attribute.push(attr('__proto__', 5));
    const built = buildModel(model(graph({ nodes: [n], inputs: [value('x', 'float32', [1])], outputs: [value('y', 'float32', [1])] })));
    const attrs = built.graph.nodes[0]!.attrs;
    expect(Object.getPrototypeOf(attrs)).toBe(null);
    expect(attrs['__proto__']).toBe(5);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });

  it('metadata keys and op types named like prototype members stay plain', () => {
    const m = model(graph({ nodes: [node('constructor', ['x'], ['y'])], inputs: [value('x', 'float32', [1])], outputs: [value('y', 'float32', [1])] }));
    m.metadataProps.push({ key: '__proto__', value: 'x' }, { key: 'constructor', value: 'y' });
    const e = thrown(() => InferenceSession.createSync(encodeModel(m)));
    expect(e).toBeInstanceOf(UnsupportedModelError);
    expect(e.message).toContain('operator constructor has no schema');
    m.graph!.node[0]!.opType = 'Relu';
    const s = InferenceSession.createSync(encodeModel(m));
    expect(s.model.metadata['__proto__']).toBe('x');
    expect(s.model.metadata['constructor']).toBe('y');
    expect(Object.getPrototypeOf(s.model.metadata)).toBe(null);
  });
});

describe('external data stays inside the model folder', () => {
  const root = mkdtempSync(join(tmpdir(), 'tessera-ext-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  const weights = Float32Array.from([1, 2, 3, 4]);
  writeFileSync(join(root, 'outside.bin'), new Uint8Array(weights.buffer));
  const modelDir = join(root, 'model');
  mkdirSync(join(modelDir, 'sub'), { recursive: true });
  writeFileSync(join(modelDir, 'w.bin'), new Uint8Array(weights.buffer));
  symlinkSync(join(root, 'outside.bin'), join(modelDir, 'link.bin'));
  symlinkSync(root, join(modelDir, 'sub', 'up'));

  function modelWithExternal(location: string, extra: { key: string; value: string }[] = []): string {
    const ext: TensorProto = { name: 'W', dims: [4], dataType: 1, dataLocation: 1, externalData: [{ key: 'location', value: location }, ...extra] };
    const m: ModelProto = model(graph({ nodes: [node('Add', ['x', 'W'], ['y'])], inputs: [value('x', 'float32', [4])], outputs: [value('y', 'float32', [4])] }));
    m.graph!.initializer.push(ext);
    const file = join(modelDir, `m-${Math.random().toString(36).slice(2)}.onnx`);
    writeFileSync(file, encodeModel(m));
    return file;
  }

  it('a relative location inside the folder loads', async () => {
    const s = await InferenceSession.create(modelWithExternal('w.bin'));
    const out = await s.run({ x: f32([1, 1, 1, 1]) });
    expect(Array.from(out['y']!.data as Float32Array)).toEqual([2, 3, 4, 5]);
  });

  const refused: [string, RegExp][] = [
    ['../outside.bin', /escapes the model's folder/],
    ['sub/../../outside.bin', /escapes the model's folder/],
    [join(root, 'outside.bin'), /must be a relative path/],
    ['/etc/passwd', /must be a relative path/],
    ['C:\\Windows\\win.ini', /must be a relative path/],
    ['link.bin', /resolves outside the model's folder/],
    ['sub/up/outside.bin', /resolves outside the model's folder/],
    ['w.bin\u0000.png', /must be a relative path/],
    ['missing.bin', /not found/],
    ['.', /resolves outside the model's folder|not a file|bytes/],
  ];
  for (const [location, message] of refused) {
    it(`refuses location ${JSON.stringify(location)}`, () => {
      const e = thrown(() => InferenceSession.createSync(modelWithExternal(location)));
      expect(e).toBeInstanceOf(ModelFormatError);
      expect(e.message).toMatch(message);
      expect(e.message).toContain("initializer[0] 'W'");
    });
  }

  it('refuses offsets and lengths outside the file and lengths that do not fit the dims', () => {
    expect(thrown(() => InferenceSession.createSync(modelWithExternal('w.bin', [{ key: 'offset', value: '12' }])))).toBeInstanceOf(ModelFormatError);
    expect(thrown(() => InferenceSession.createSync(modelWithExternal('w.bin', [{ key: 'length', value: '99999' }]))).message).toMatch(/beyond the end/);
    expect(thrown(() => InferenceSession.createSync(modelWithExternal('w.bin', [{ key: 'offset', value: '-4' }]))).message).toMatch(/not a non-negative integer/);
  });

  it('refuses external data when the model is given as bytes without a folder', () => {
    const m = model(graph({ nodes: [node('Add', ['x', 'W'], ['y'])], inputs: [value('x', 'float32', [4])], outputs: [value('y', 'float32', [4])] }));
    m.graph!.initializer.push({ name: 'W', dims: [4], dataType: 1, dataLocation: 1, externalData: [{ key: 'location', value: 'w.bin' }] });
    const e = thrown(() => InferenceSession.createSync(encodeModel(m)));
    expect(e).toBeInstanceOf(ModelFormatError);
    expect(e.message).toContain("needs the model's folder");
  });
});

describe('every refusal above is a TesseraError', () => {
  it('decodeModel rejects non-bytes input with a TesseraError', () => {
    for (const bad of [null, undefined, 'model.onnx'.split(''), 42, {}] as unknown[]) {
      const e = thrown(() => decodeModel(bad as Uint8Array));
      expect(e).toBeInstanceOf(TesseraError);
    }
    expect(thrown(() => InferenceSession.createSync(42 as unknown as Uint8Array))).toBeInstanceOf(TesseraError);
  });
});
