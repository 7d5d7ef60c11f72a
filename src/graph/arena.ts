/**
 * BufferArena: typed-array buffers reused from one session run to the next (real-time inference without
 * allocation churn).
 *
 * While a run executes, the arena is installed as the buffer source behind `allocate` (src/tensor/dtype.ts),
 * so kernel outputs, which are allocated through `allocate`/`outputTensor`, are served from it. Scratch that a
 * kernel needs only during a call lives in per-call-site slots instead (src/kernels/cpu/scratch.ts): it would
 * never be handed back here.
 * Buffers are kept in free lists keyed by dtype and length (exact length: a model run twice with the same
 * input shapes asks for the same sizes in the same order, so exact keys reach 100% reuse without the waste of
 * size classes). A request takes a free buffer of that key, zero-fills it (the `allocate` contract), and marks
 * it lent; a miss creates a fresh one (counted in `stats.fresh`) and marks it lent too.
 *
 * Buffers come back in two ways:
 * - the executor hands an intermediate to `reclaim` when the plan releases it; the storage returns to its free
 *   list only when it is a lent buffer and no other live value of the run shares its ArrayBuffer (a Reshape
 *   view, or a kernel output wrapping a subarray, may still be alive; it is returned later, when that goes);
 * - the caller hands outputs back with `InferenceSession.recycle(outputs)` when done with them.
 * Outputs leaving a run are `disown`ed: they belong to the caller and stay valid until the caller recycles
 * them (never overwritten behind the caller's back).
 *
 * Lent buffers live in a WeakSet, so a buffer that is dropped without being reclaimed (a kernel temporary, a
 * tensor disposed inside a subgraph) is simply garbage-collected; it costs a fresh allocation next run, never
 * correctness. A buffer is in a free list at most once (the `idle` set), so recycling twice is harmless.
 *
 * Cost: O(1) per request and per reclaim, plus O(live values) for the sharing check of a reclaim; memory is
 * bounded by the peak live intermediates of the largest run plus the caller's un-recycled outputs.
 */
import { containerOf, setBufferSource, type BufferSource, type DataType, type TypedArray } from '../tensor/dtype.js';
import type { Tensor } from '../tensor/tensor.js';

/** Counters of an arena (cumulative; `resetStats` zeroes them). */
export interface ArenaStats {
  /** Buffers requested through `allocate` while the arena was active. */
  requests: number;
  /** Requests served from a free list. */
  reused: number;
  /** Requests that needed a new buffer. */
  fresh: number;
  /** Bytes of those new buffers. */
  freshBytes: number;
  /** Buffers returned to a free list. */
  recycled: number;
}

/** Free buffers of one dtype and length. */
type FreeList = TypedArray[];

function keyOf(type: DataType, length: number): string {
  return `${type}:${length}`;
}

/** A pool of typed-array buffers keyed by dtype and length; see the file comment. */
export class BufferArena {
  readonly stats: ArenaStats = { requests: 0, reused: 0, fresh: 0, freshBytes: 0, recycled: 0 };
  private readonly free = new Map<string, FreeList>();
  /** Buffers handed out by this arena and not yet returned or disowned. */
  private lent = new WeakSet<TypedArray>();
  /** Buffers currently sitting in a free list. */
  private idle = new WeakSet<TypedArray>();
  /** Dtype of each buffer this arena made (a Uint8Array may be 'uint8' or 'bool'; a Uint16Array 'uint16' or 'float16'). */
  private readonly typeOf = new WeakMap<TypedArray, DataType>();
  private readonly source: BufferSource = (type, length) => this.take(type, length);

  /** Bytes held in free lists. */
  get idleBytes(): number {
    let total = 0;
    for (const list of this.free.values()) for (const b of list) total += b.byteLength;
    return total;
  }

  /** Run `fn` with this arena behind `allocate`; the previous source is restored afterwards. */
  use<R>(fn: () => R): R {
    const previous = setBufferSource(this.source);
    try {
      return fn();
    } finally {
      setBufferSource(previous);
    }
  }

  /** A zero-filled buffer of `length` elements of `type`, reused when one is free. */
  take(type: DataType, length: number): TypedArray {
    this.stats.requests++;
    const list = this.free.get(keyOf(type, length));
    const reused = list?.pop();
    if (reused) {
      this.idle.delete(reused);
      (reused as { fill(v: never): unknown }).fill((type === 'int64' ? 0n : 0) as never);
      this.lent.add(reused);
      this.stats.reused++;
      return reused;
    }
    const Ctor = containerOf(type);
    const buffer = new Ctor(length);
    this.typeOf.set(buffer, type);
    this.lent.add(buffer);
    this.stats.fresh++;
    this.stats.freshBytes += buffer.byteLength;
    return buffer;
  }

  /**
   * Return the storage of `released` (a value the run no longer needs) to its free list when this arena lent
   * it and none of `live` (the run's other live values) shares it. Disposes `released` either way.
   * Returns true when the buffer was recycled.
   */
  reclaim(released: Tensor, live: Iterable<Tensor>): boolean {
    if (released.disposed) return false;
    const raw = released.raw();
    // string tensors hold a plain string[], which the arena never lends
    if (Array.isArray(raw)) {
      released.dispose();
      return false;
    }
    const storage = raw as TypedArray;
    let recycled = false;
    if (this.lent.has(storage) && !sharesStorage(storage, released, live)) recycled = this.putBack(storage);
    released.dispose();
    return recycled;
  }

  /** Give up any claim on the storage of `tensors` (outputs leaving a run belong to the caller). */
  disown(tensors: Iterable<Tensor>): void {
    for (const t of tensors) if (!t.disposed) this.lent.delete(t.raw() as TypedArray);
  }

  /**
   * Take back buffers of tensors the caller is done with (outputs of earlier runs) and dispose the tensors.
   * The caller must not use them, or any view of them, afterwards.
   */
  recycle(tensors: Iterable<Tensor>): void {
    for (const t of tensors) {
      if (t.disposed) continue;
      const storage = t.raw() as TypedArray;
      if (this.typeOf.has(storage)) this.putBack(storage);
      t.dispose();
    }
  }

  /** Drop every free buffer (memory goes back to the garbage collector). */
  clear(): void {
    this.free.clear();
    this.idle = new WeakSet();
    this.lent = new WeakSet();
  }

  /** Zero the counters. */
  resetStats(): void {
    Object.assign(this.stats, { requests: 0, reused: 0, fresh: 0, freshBytes: 0, recycled: 0 });
  }

  private putBack(storage: TypedArray): boolean {
    const type = this.typeOf.get(storage);
    if (!type || this.idle.has(storage)) return false;
    this.lent.delete(storage);
    this.idle.add(storage);
    const key = keyOf(type, storage.length);
    let list = this.free.get(key);
    if (!list) {
      list = [];
      this.free.set(key, list);
    }
    list.push(storage);
    this.stats.recycled++;
    return true;
  }
}

/** True when a tensor of `live` (other than `self`) uses the same ArrayBuffer (kernels may wrap subarrays). */
function sharesStorage(storage: TypedArray, self: Tensor, live: Iterable<Tensor>): boolean {
  const buffer = storage.buffer;
  for (const t of live) {
    if (t === self || t.disposed) continue;
    if ((t.raw() as TypedArray).buffer === buffer) return true;
  }
  return false;
}
