/** Test helper: a tensor's elements as a plain array (numbers, or bigints for int64). */
import type { Tensor } from '../../src/tensor/tensor.js';

export function vals(t: Tensor): (number | bigint)[] {
  return Array.from(t.data as ArrayLike<number | bigint>);
}
