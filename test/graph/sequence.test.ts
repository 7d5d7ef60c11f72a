import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GraphError, InputValidationError } from '../../src/graph/errors.js';
import { decodeOptionalProto, decodeSequenceProto, encodeOptionalProto, encodeSequenceProto, optionalFromProto, readValueProto, sequenceFromProto } from '../../src/graph/onnx/value-proto.js';
import { decodeTensorProto } from '../../src/graph/onnx/decode.js';
import { encodeTensorProto } from '../../src/graph/onnx/encode.js';
import { tensorFromProto, tensorToProto } from '../../src/graph/onnx/tensor-proto.js';
import { InferenceSession } from '../../src/graph/session.js';
import { disposeValue, type OnnxValue } from '../../src/graph/values.js';
import { AttributeType, emptyAttribute, type TypeProto, type ValueInfoProto } from '../../src/graph/onnx/proto.js';
import { ONNX_TYPE_CODES, type DataType } from '../../src/tensor/dtype.js';
import { OpValidationError } from '../../src/tensor/errors.js';
import { fromNumbers, Tensor } from '../../src/tensor/tensor.js';
import { graph, modelBytes, node, value } from './build.js';

const tensorType = (dtype: DataType, dims?: (number | string)[]): TypeProto => ({
  tensorType: { elemType: ONNX_TYPE_CODES[dtype], shape: dims?.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
});
const seqValue = (name: string, dtype: DataType): ValueInfoProto => ({ name, type: { sequenceType: { elemType: tensorType(dtype) } } });
const optValue = (name: string, elem: TypeProto): ValueInfoProto => ({ name, type: { optionalType: { elemType: elem } } });

const f32 = (values: number[], dims?: number[]): Tensor => fromNumbers('float32', values, dims ?? [values.length]);
const i64 = (v: number): Tensor => new Tensor('int64', new BigInt64Array([BigInt(v)]), []);
const numbersOf = (t: OnnxValue | undefined): number[] => Array.from((t as Tensor).numbers());

function session(g: ReturnType<typeof graph>, opset = 17): InferenceSession {
  return InferenceSession.createSync(modelBytes(g, opset), { graphOptimizationLevel: 'none' });
}

describe('sequence operators', () => {
  it('construct, insert, erase, at and length, with negative positions', () => {
    const s = session(
      graph({
        nodes: [
          node('SequenceConstruct', ['a', 'b'], ['s1']),
          node('SequenceInsert', ['s1', 'c', 'front'], ['s2']),
          node('SequenceErase', ['s2', 'minusOne'], ['s3']),
          node('SequenceInsert', ['s3', 'a'], ['s4']),
          node('SequenceAt', ['s4', 'minusTwo'], ['at']),
          node('SequenceLength', ['s4'], ['len']),
        ],
        inputs: [value('a', 'float32', [1]), value('b', 'float32', [2]), value('c', 'float32', [3])],
        outputs: [value('at', 'float32'), value('len', 'int64', []), seqValue('s4', 'float32')],
        initializers: { front: i64(0), minusOne: i64(-1), minusTwo: i64(-2) },
      }),
    );
    const live = Tensor.liveCount;
    const out = s.runValuesSync({ a: f32([1]), b: f32([2, 2]), c: f32([3, 3, 3]) });
    // s2 = [c, a, b]; s3 = [c, a]; s4 = [c, a, a]
    expect(numbersOf(out['at'])).toEqual([1]);
    expect(Number((out['len'] as Tensor).item())).toBe(3);
    expect((out['s4'] as Tensor[]).map((t) => t.dims[0])).toEqual([3, 1, 1]);
    for (const v of Object.values(out)) disposeValue(v);
    expect(Tensor.liveCount).toBe(live + 3); // only the three feeds made here stay alive
  });

  it('refuses positions out of range and mixed dtypes with messages naming the op', () => {
    const s = session(
      graph({
        nodes: [node('SequenceConstruct', ['a'], ['s']), node('SequenceAt', ['s', 'p'], ['y'])],
        inputs: [value('a', 'float32', [1]), value('p', 'int64', [])],
        outputs: [value('y', 'float32')],
      }),
    );
    expect(() => s.runSync({ a: f32([1]), p: i64(1) })).toThrow(OpValidationError);
    expect(() => s.runSync({ a: f32([1]), p: i64(-2) })).toThrow(/SequenceAt \(node .*\): position -2 is out of range for a sequence of 1 tensors; expected a value in \[-1, 0\]/);
    const mixed = session(
      graph({
        nodes: [node('SequenceConstruct', ['a', 'b'], ['s']), node('SequenceLength', ['s'], ['n'])],
        inputs: [value('a', 'float32', [1]), value('b', 'int64', [1])],
        outputs: [value('n', 'int64', [])],
      }),
    );
    expect(() => mixed.runSync({ a: f32([1]), b: new Tensor('int64', new BigInt64Array(1), [1]) })).toThrow(/input 1 'inputs\[1\]' has type int64 but input 0 has float32/);
  });

  it('ConcatFromSequence concatenates or stacks (new_axis)', () => {
    const mk = (attrs: Record<string, number>) =>
      session(
        graph({
          nodes: [node('SequenceConstruct', ['a', 'b'], ['s']), node('ConcatFromSequence', ['s'], ['y'], attrs)],
          inputs: [value('a', 'float32', [2, 2]), value('b', 'float32', [2, 2])],
          outputs: [value('y', 'float32')],
        }),
      );
    const feeds = { a: f32([1, 2, 3, 4], [2, 2]), b: f32([5, 6, 7, 8], [2, 2]) };
    const cat = mk({ axis: 1 }).runSync(feeds)['y']!;
    expect(cat.dims).toEqual([2, 4]);
    expect(numbersOf(cat)).toEqual([1, 2, 5, 6, 3, 4, 7, 8]);
    const stacked = mk({ axis: -1, new_axis: 1 }).runSync(feeds)['y']!;
    expect(stacked.dims).toEqual([2, 2, 2]);
    expect(numbersOf(stacked)).toEqual([1, 5, 2, 6, 3, 7, 4, 8]);
    expect(() => mk({ axis: 2 }).runSync(feeds)).toThrow(/attribute 'axis' is 2; expected a value in \[-2, 1\]/);
    expect(() => mk({ axis: 3, new_axis: 1 }).runSync(feeds)).toThrow(/expected a value in \[-3, 2\] with new_axis = 1/);
  });

  it('SplitToSequence then ConcatFromSequence gives the input back (random shapes, axes and splits)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 1, maxLength: 3 }).chain((dims) =>
          fc.tuple(fc.constant(dims), fc.integer({ min: -dims.length, max: dims.length - 1 }), fc.integer({ min: 0, max: 2 }), fc.integer({ min: 1, max: 3 })),
        ),
        ([dims, axis, mode, chunk]) => {
          const a = axis < 0 ? axis + dims.length : axis;
          const len = dims[a]!;
          const nodes = [];
          const inputs = [value('x', 'float32', dims)];
          let splitFeed: Tensor | undefined;
          if (mode === 0) nodes.push(node('SplitToSequence', ['x'], ['s'], { axis, keepdims: 0 }));
          else {
            nodes.push(node('SplitToSequence', ['x', 'split'], ['s'], { axis }));
            inputs.push(value('split', 'int64', mode === 1 ? [] : [null as unknown as number]));
            if (mode === 1) splitFeed = i64(chunk);
            else {
              const lengths: number[] = [];
              for (let left = len; left > 0; left -= Math.min(chunk, left)) lengths.push(Math.min(chunk, left));
              splitFeed = new Tensor('int64', BigInt64Array.from(lengths, BigInt), [lengths.length]);
            }
          }
          nodes.push(node('SequenceLength', ['s'], ['n']));
          if (len > 0) nodes.push(node('ConcatFromSequence', ['s'], ['y'], mode === 0 ? { axis, new_axis: 1 } : { axis }));
          const s = session(graph({ nodes, inputs, outputs: len > 0 ? [value('n', 'int64', []), value('y', 'float32')] : [value('n', 'int64', [])] }));
          const size = dims.reduce((p, d) => p * d, 1);
          const x = f32(Array.from({ length: size }, (_, i) => i), dims);
          const out = s.runSync(splitFeed ? { x, split: splitFeed } : { x });
          const pieces = mode === 0 ? len : Math.ceil(len / chunk);
          expect(Number(out['n']!.item())).toBe(pieces);
          if (len > 0) {
            expect(out['y']!.dims).toEqual(dims);
            expect(numbersOf(out['y'])).toEqual(numbersOf(x));
          }
        },
      ),
      { numRuns: 40 },
    );
  });

  it('SplitToSequence refuses lengths that do not add up', () => {
    const s = session(
      graph({
        nodes: [node('SplitToSequence', ['x', 'split'], ['s']), node('SequenceLength', ['s'], ['n'])],
        inputs: [value('x', 'float32', [4]), value('split', 'int64', [2])],
        outputs: [value('n', 'int64', [])],
      }),
    );
    expect(() => s.runSync({ x: f32([1, 2, 3, 4]), split: new Tensor('int64', new BigInt64Array([1n, 2n]), [2]) })).toThrow(/lengths must add up to dim 0 .* which is 4/);
  });

  it('SequenceMap runs its body per element, with tensors broadcast to every call', () => {
    const body = graph({ nodes: [node('Add', ['e', 't'], ['o'])], inputs: [value('e', 'float32'), value('t', 'float32')], outputs: [value('o', 'float32')], name: 'body' });
    const s = session(
      graph({
        nodes: [node('SequenceMap', ['xs', 't'], ['ys'], { body })],
        inputs: [seqValue('xs', 'float32'), value('t', 'float32', [1])],
        outputs: [seqValue('ys', 'float32')],
      }),
    );
    const xs = [f32([1, 2]), f32([10])];
    const out = s.runValuesSync({ xs, t: f32([100]) })['ys'] as Tensor[];
    expect(out.map(numbersOf)).toEqual([[101, 102], [110]]);
    expect(s.runValuesSync({ xs: [], t: f32([1]) })['ys']).toEqual([]);
  });

  it('Loop carries a sequence and Identity passes one through', () => {
    const body = graph({
      nodes: [node('Identity', ['c'], ['c_out']), node('Cast', ['i'], ['f'], { to: 1 }), node('SequenceInsert', ['s_in', 'f'], ['s_out'])],
      inputs: [value('i', 'int64', []), value('c', 'bool', []), seqValue('s_in', 'float32')],
      outputs: [value('c_out', 'bool', []), seqValue('s_out', 'float32')],
      name: 'body',
    });
    const s = session(
      graph({
        nodes: [node('SequenceEmpty', [], ['empty'], { dtype: 1 }), node('Loop', ['n', '', 'empty'], ['s'], { body }), node('Identity', ['s'], ['same'])],
        inputs: [value('n', 'int64', [])],
        outputs: [seqValue('same', 'float32')],
      }),
    );
    const out = s.runValuesSync({ n: i64(3) })['same'] as Tensor[];
    expect(out.map(numbersOf)).toEqual([[0], [1], [2]]);
    expect(() => s.runSync({ n: i64(3) })).toThrow(/output 'same' is not a tensor \(seq\(tensor\(float32\)\)\); fetch it with runValues/);
  });

  it('buffers a sequence still views are not reused by the arena (run after run)', () => {
    const s = InferenceSession.createSync(
      modelBytes(
        graph({
          nodes: [
            node('Relu', ['x'], ['r']),
            node('SplitToSequence', ['r'], ['s'], { axis: 0 }),
            node('Neg', ['x'], ['t']),
            node('Add', ['t', 't'], ['u']),
            node('Neg', ['u'], ['w']),
            node('ConcatFromSequence', ['s'], ['y'], { axis: 0 }),
          ],
          inputs: [value('x', 'float32', [4, 2])],
          outputs: [value('y', 'float32'), value('w', 'float32')],
        }),
      ),
    );
    const x = f32([1, -2, 3, -4, 5, -6, 7, -8], [4, 2]);
    for (let run = 0; run < 3; run++) {
      const out = s.runSync({ x });
      expect(numbersOf(out['y'])).toEqual([1, 0, 3, 0, 5, 0, 7, 0]);
      expect(numbersOf(out['w'])).toEqual([2, -4, 6, -8, 10, -12, 14, -16]);
      s.recycle(out);
    }
  });

  it('a sequence reaching a tensor operator is a GraphError naming the input', () => {
    const s = session(
      graph({
        nodes: [node('SequenceConstruct', ['a'], ['s']), node('Relu', ['s'], ['y'])],
        inputs: [value('a', 'float32', [1])],
        outputs: [value('y', 'float32')],
      }),
    );
    expect(() => s.runSync({ a: f32([1]) })).toThrow(GraphError);
    expect(() => s.runSync({ a: f32([1]) })).toThrow(/input 0 's' is a sequence of 1 float32 tensors; Relu takes tensors/);
  });
});

describe('optional operators', () => {
  const optF = optValue('o', tensorType('float32'));
  it('Optional, OptionalHasElement and OptionalGetElement on a value and on none', () => {
    const s = session(
      graph({
        nodes: [node('OptionalHasElement', ['o'], ['has']), node('OptionalHasElement', [], ['noInput']), node('Optional', ['x'], ['wrapped']), node('OptionalGetElement', ['wrapped'], ['back'])],
        inputs: [optF, value('x', 'float32', [2])],
        outputs: [value('has', 'bool', []), value('noInput', 'bool', []), value('back', 'float32')],
      }),
      18,
    );
    const withValue = s.runSync({ o: f32([1]), x: f32([4, 5]) });
    expect(numbersOf(withValue['has'])).toEqual([1]);
    expect(numbersOf(withValue['noInput'])).toEqual([0]);
    expect(numbersOf(withValue['back'])).toEqual([4, 5]);
    expect(numbersOf(s.runSync({ o: null, x: f32([4, 5]) })['has'])).toEqual([0]);
  });
  it('getting the element of none is an error; an empty Optional needs its type', () => {
    const s = session(graph({ nodes: [node('OptionalGetElement', ['o'], ['y'])], inputs: [optF], outputs: [value('y', 'float32')] }), 18);
    expect(() => s.runSync({ o: null })).toThrow(/is an empty optional \(none\); there is no element to get/);
    const typeAttr = { ...emptyAttribute('type', AttributeType.TYPE_PROTO), tp: tensorType('float32') };
    const empty = session(
      graph({
        nodes: [{ ...node('Optional', [], ['e']), attribute: [typeAttr] }, node('OptionalHasElement', ['e'], ['has'])],
        inputs: [],
        outputs: [value('has', 'bool', []), optValue('e', tensorType('float32'))],
      }),
      18,
    );
    const out = empty.runValuesSync({});
    expect(out['e']).toBeNull();
    expect(numbersOf(out['has'])).toEqual([0]);
    const untyped = session(graph({ nodes: [node('Optional', [], ['e'])], inputs: [], outputs: [optValue('e', tensorType('float32'))] }), 18);
    expect(() => untyped.runValuesSync({})).toThrow(/needs the 'type' attribute when there is no input/);
  });
});

describe('feeds of sequence and optional inputs', () => {
  const s = session(
    graph({
      nodes: [node('SequenceLength', ['xs'], ['n']), node('OptionalHasElement', ['o'], ['has'])],
      inputs: [seqValue('xs', 'float32'), optValue('o', { sequenceType: { elemType: tensorType('int32', [2]) } })],
      outputs: [value('n', 'int64', []), value('has', 'bool', [])],
    }),
    18,
  );
  it('are checked against the declared kind, element dtype and rank', () => {
    expect(s.inputMetadata.map((m) => m.kind)).toEqual(['sequence', 'optional']);
    expect(s.inputMetadata[0]!.isTensor).toBe(false);
    const ok = s.runSync({ xs: [f32([1]), f32([1, 2])], o: [new Tensor('int32', new Int32Array(2), [2])] });
    expect(Number(ok['n']!.item())).toBe(2);
    expect(() => s.runSync({ xs: f32([1]), o: null })).toThrow(InputValidationError);
    expect(() => s.runSync({ xs: f32([1]), o: null })).toThrow(/input 'xs' is a Tensor; expected seq\(tensor\(float32\)\)/);
    expect(() => s.runSync({ xs: [new Tensor('int32', new Int32Array(1))], o: null })).toThrow(/input 'xs' element 0 has type int32; expected seq\(tensor\(float32\)\)/);
    expect(() => s.runSync({ xs: [], o: [new Tensor('int32', new Int32Array(3), [3, 1])] })).toThrow(/element 0 has shape \[3, 1\] \(rank 2\)/);
    expect(() => s.runSync({ xs: null, o: null })).toThrow(/input 'xs' is null/);
    expect(() => s.runSync({ xs: [1 as unknown as Tensor], o: null })).toThrow(/not a Tensor, an array of Tensors/);
  });
});

describe('SequenceProto, OptionalProto and string TensorProtos', () => {
  it('round-trip through their wire encodings', () => {
    const seq = [f32([1, 2])];
    const back = sequenceFromProto(decodeSequenceProto(encodeSequenceProto(seq, 'seq')), 'test');
    expect(back.map(numbersOf)).toEqual([[1, 2]]);
    expect(optionalFromProto(decodeOptionalProto(encodeOptionalProto(null, 'none')), 'test')).toBeNull();
    const opt = optionalFromProto(decodeOptionalProto(encodeOptionalProto([f32([3])])), 'test') as Tensor[];
    expect(opt.map(numbersOf)).toEqual([[3]]);
    const strings = new Tensor('string', ['a', 'ü', ''], [3]);
    const sp = decodeTensorProto(encodeTensorProto(tensorToProto(strings, 's')));
    expect(tensorFromProto(sp, 'test').data).toEqual(['a', 'ü', '']);
    const read = readValueProto(encodeSequenceProto([strings], 'named'), { kind: 'sequence' }, 'test');
    expect(read.name).toBe('named');
    expect((read.value as Tensor[])[0]!.data).toEqual(['a', 'ü', '']);
  });
  it('refuse sequences of mixed dtypes', () => {
    const bytes = encodeSequenceProto([f32([1]), new Tensor('int32', new Int32Array(1))]);
    expect(() => sequenceFromProto(decodeSequenceProto(bytes), 'mixed')).toThrow(/tensor_values\[1\] is int32 but tensor_values\[0\] is float32/);
  });
});
