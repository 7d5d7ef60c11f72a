/**
 * Session limits: maxTensorBytes, maxPlanBytes and maxLoopIterations. Models and feeds that would exceed them
 * are refused before the memory is allocated, with a LimitExceededError that says what needed how much; the
 * session keeps working afterwards.
 */
import { describe, expect, it } from 'vitest';
import { LimitExceededError } from '../../src/graph/errors.js';
import { encodeModel } from '../../src/graph/onnx/encode.js';
import { DEFAULT_MAX_LOOP_ITERATIONS, DEFAULT_MAX_PLAN_BYTES, DEFAULT_MAX_TENSOR_BYTES, InferenceSession } from '../../src/graph/session.js';
import { TesseraError } from '../../src/tensor/errors.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { graph, model, modelBytes, node, value } from '../graph/build.js';

const f32 = (v: number[], dims?: number[]): Tensor => new Tensor('float32', Float32Array.from(v), dims ?? [v.length]);
const i64 = (v: number[], dims?: number[]): Tensor => new Tensor('int64', BigInt64Array.from(v.map(BigInt)), dims ?? [v.length]);

function limitError(fn: () => unknown): LimitExceededError {
  try {
    fn();
  } catch (e) {
    if (e instanceof LimitExceededError) return e;
    throw e;
  }
  throw new Error('expected a LimitExceededError');
}

describe('defaults', () => {
  it('are 2 GiB per tensor, 8 GiB per plan, 10^7 loop iterations', () => {
    expect(DEFAULT_MAX_TENSOR_BYTES).toBe(2 ** 31);
    expect(DEFAULT_MAX_PLAN_BYTES).toBe(2 ** 33);
    expect(DEFAULT_MAX_LOOP_ITERATIONS).toBe(1e7);
  });
  it('bad limit options are refused at creation', () => {
    const bytes = modelBytes(graph({ nodes: [node('Relu', ['x'], ['y'])], inputs: [value('x', 'float32', [1])], outputs: [value('y', 'float32', [1])] }));
    for (const bad of [-1, NaN, Infinity, '1e9']) {
      expect(() => InferenceSession.createSync(bytes, { maxTensorBytes: bad as number })).toThrow(/maxTensorBytes must be a non-negative finite number/);
      expect(() => InferenceSession.createSync(bytes, { maxPlanBytes: bad as number })).toThrow(TesseraError);
    }
  });
});

describe('at load', () => {
  const withInits = (inits: Record<string, Tensor>) =>
    modelBytes(graph({ nodes: [node('Sum', ['x', ...Object.keys(inits)], ['y'])], inputs: [value('x', 'float32', [256])], outputs: [value('y', 'float32', [256])], initializers: inits }));

  it('an initializer above maxTensorBytes is refused with the bytes it needed', () => {
    const bytes = withInits({ W: f32(new Array(256).fill(1)) });
    const e = limitError(() => InferenceSession.createSync(bytes, { maxTensorBytes: 1000 }));
    expect(e.needed).toBe(1024);
    expect(e.limit).toBe(1000);
    expect(e.message).toContain("initializer[0] 'W': float32 [256] needs 1024 bytes; maxTensorBytes is 1000");
    expect(() => InferenceSession.createSync(bytes, { maxTensorBytes: 1024 })).not.toThrow();
  });

  it('initializers that together exceed maxPlanBytes are refused at the one that crosses it', () => {
    const bytes = withInits({ A: f32(new Array(256).fill(1)), B: f32(new Array(256).fill(2)), C: f32(new Array(256).fill(3)) });
    const e = limitError(() => InferenceSession.createSync(bytes, { maxPlanBytes: 2500 }));
    expect(e.message).toContain("initializer[2] 'C'");
    expect(e.message).toContain('making 3072 bytes of tensors in the model; maxPlanBytes is 2500');
    expect(e.needed).toBe(3072);
  });

  it('a statically shaped input that could never be fed is refused', () => {
    const bytes = modelBytes(graph({ nodes: [node('Relu', ['x'], ['y'])], inputs: [value('x', 'float32', [65536, 65536])], outputs: [value('y', 'float32')] }));
    const e = limitError(() => InferenceSession.createSync(bytes));
    expect(e.needed).toBe(65536 * 65536 * 4);
    expect(e.message).toContain("graph input 'x' is declared as float32 [65536, 65536]");
  });
});

describe('at run', () => {
  const relu = modelBytes(graph({ nodes: [node('Relu', ['x'], ['y'])], inputs: [value('x', 'float32', ['n'])], outputs: [value('y', 'float32', ['n'])] }));

  it('a feed above maxTensorBytes is refused, and a smaller one then runs', () => {
    const s = InferenceSession.createSync(relu, { maxTensorBytes: 400 });
    const e = limitError(() => s.runSync({ x: f32(new Array(101).fill(-1)) }));
    expect(e.message).toBe("input 'x' (float32 [101]) needs 404 bytes; maxTensorBytes is 400");
    expect(Array.from(s.runSync({ x: f32([-1, 2]) })['y']!.data as Float32Array)).toEqual([0, 2]);
  });

  it('feeds plus initializers above maxPlanBytes are refused before running', () => {
    const s = InferenceSession.createSync(relu, { maxPlanBytes: 400 });
    expect(limitError(() => s.runSync({ x: f32(new Array(101).fill(1)) })).message).toContain('need 404 bytes; maxPlanBytes is 400');
  });

  it('a node output above maxTensorBytes is refused from its inferred shape, before the kernel allocates', () => {
    // ConstantOfShape(shape) with the shape fed at run time: the size is known only when the node runs
    const bytes = modelBytes(graph({ nodes: [node('ConstantOfShape', ['shape'], ['y'], { value: f32([1]) })], inputs: [value('shape', 'int64', [2])], outputs: [value('y', 'float32')] }));
    const s = InferenceSession.createSync(bytes, { maxTensorBytes: 1 << 20 });
    const live = Tensor.liveCount;
    const e = limitError(() => s.runSync({ shape: i64([1024, 1024]) }));
    expect(e.message).toBe("node 'ConstantOfShape_0' (ConstantOfShape): output 0 (float32 [1024, 1024]) needs 4194304 bytes; maxTensorBytes is 1048576");
    expect(Tensor.liveCount).toBe(live + 1); // only the feed made here; nothing left over from the refused node
    // absurd shapes within the element limit but far beyond memory are refused the same way, at once
    const start = performance.now();
    const huge = limitError(() => InferenceSession.createSync(bytes).runSync({ shape: i64([46340, 46340]) }));
    expect(huge.needed).toBe(46340 * 46340 * 4);
    expect(performance.now() - start).toBeLessThan(1000);
    expect(s.runSync({ shape: i64([2, 2]) })['y']!.dims).toEqual([2, 2]);
  });

  it('intermediates that are live together beyond maxPlanBytes are refused at the node that crosses it', () => {
    // a and b are both live when c is computed: 3 x 4 KiB
    const bytes = modelBytes(
      graph({
        nodes: [node('Neg', ['x'], ['a']), node('Relu', ['x'], ['b']), node('Add', ['a', 'b'], ['c'])],
        inputs: [value('x', 'float32', [1024])],
        outputs: [value('c', 'float32', [1024])],
      }),
    );
    const x = f32(new Array(1024).fill(1));
    const tight = InferenceSession.createSync(bytes, { maxPlanBytes: 4096 * 3 + 100 });
    const e = limitError(() => tight.runSync({ x }));
    expect(e.message).toContain("node 'Add_2' (Add): its outputs (4096 bytes) would bring the run to 16384 bytes (initializers and feeds 4096, live intermediates 8192); maxPlanBytes is 12388");
    const roomy = InferenceSession.createSync(bytes, { maxPlanBytes: 4096 * 4 });
    expect(roomy.runSync({ x })['c']!.dims).toEqual([1024]);
    expect(roomy.lastRunStats!.peakLiveBytes).toBe(3 * 4096);
  });

  it('a Loop that would run forever stops at maxLoopIterations', () => {
    const body = graph({
      nodes: [node('Identity', ['c'], ['c_out']), node('Add', ['v', 'one'], ['v_out'])],
      inputs: [value('i', 'int64', []), value('c', 'bool', []), value('v', 'float32', [1])],
      outputs: [value('c_out', 'bool', []), value('v_out', 'float32', [1])],
      name: 'body',
    });
    const m = model(graph({ nodes: [node('Loop', ['', '', 'v0'], ['v'], { body })], inputs: [value('v0', 'float32', [1])], outputs: [value('v', 'float32', [1])], initializers: { one: f32([1]) } }));
    const s = InferenceSession.createSync(encodeModel(m), { maxLoopIterations: 500 });
    const live = Tensor.liveCount;
    const e = limitError(() => s.runSync({ v0: f32([0]) }));
    expect(e.message).toContain("node 'Loop_0' (Loop): Loop reached maxLoopIterations (500) with its trip count unset and condition still true");
    expect(Tensor.liveCount).toBe(live + 1); // the feed; every iteration's tensors were released
  });
});
