/**
 * A small CNN head in opset-9 forms (Conv with bias -> Clip with min/max attributes -> Slice with attributes ->
 * Reshape -> MatMul -> Unsqueeze/Squeeze with axes attributes -> Softmax(axis=1)), built in code for the
 * quantize pass and CLI tests.
 */
import { Tensor } from '../../src/tensor/tensor.js';
import { float, graph, modelBytes, node, value } from '../graph/build.js';
import { randomTensor } from '../util/tensors.js';

export function smallModel(): Uint8Array {
  const g = graph({
    nodes: [
      node('Conv', ['x', 'W', 'B'], ['c'], { pads: [1, 1, 1, 1] }, 'conv'),
      node('Clip', ['c'], ['r'], { min: float(0), max: float(6) }, 'clip'),
      node('Slice', ['r'], ['s'], { starts: [0], ends: [1], axes: [0] }, 'slice'),
      node('Reshape', ['s', 'shape'], ['flat'], {}, 'reshape'),
      node('MatMul', ['flat', 'M'], ['logits3'], {}, 'matmul'),
      node('Unsqueeze', ['logits3'], ['u'], { axes: [0] }, 'unsqueeze'),
      node('Squeeze', ['u'], ['logits'], { axes: [0] }, 'squeeze'),
      node('Softmax', ['logits'], ['y'], { axis: 1 }, 'softmax'),
    ],
    inputs: [value('x', 'float32', [2, 3, 6, 6])],
    outputs: [value('y', 'float32', [1, 4])],
    initializers: {
      W: randomTensor('float32', [8, 3, 3, 3], 1, 0.5),
      B: randomTensor('float32', [8], 2, 0.2),
      shape: new Tensor('int64', BigInt64Array.from([1n, 288n]), [2]),
      M: randomTensor('float32', [288, 4], 3, 0.2),
    },
  });
  return modelBytes(g, 9);
}

