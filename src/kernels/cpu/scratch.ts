/**
 * Reusable scratch memory and memoized index plans for CPU kernels, so that a steady stream of calls with the
 * same shapes allocates no typed arrays (the real-time mode of a session, see src/graph/arena.ts).
 *
 * Kernel OUTPUTS go through `allocate`/`outputTensor` (./util.ts), which a session serves from its buffer
 * arena. What a kernel needs only while it runs is of two kinds, and neither belongs in the arena (it would
 * never be handed back, so every call would cost a fresh arena buffer):
 *
 * - Scratch (im2col column matrices, LSTM gate rows, accumulator rows): a `ScratchSlot` per call site owns one
 *   grow-only buffer per dtype and returns a view of exactly the requested length. Kernels run synchronously
 *   and each slot belongs to one call site of one kernel, so a slot is never used by two live calls (worker
 *   threads have their own module instances). A view is valid until the next `take` of the same slot; it must
 *   never escape as an output. Memory held: the largest request per slot and dtype, until `clearScratch()`.
 * - Index plans that depend on shapes only (broadcast row offsets, pooling window tables, strided-copy
 *   offsets): a `PlanCache` keyed by the shapes (a string) keeps the last plans built, up to a bound on the
 *   number of entries and on the elements they hold. Plans are shared and must be treated as read-only.
 *
 * Cost: a scratch take is O(1) (O(n) when it zero-fills or grows); a plan lookup is one Map access plus
 * building the key string (O(rank)).
 */
import { containerOf, type DataType, type DataTypeMap, type TypedArray } from '../../tensor/dtype.js';

const slots: ScratchSlot[] = [];

/** Counters of scratch growth (cumulative): a steady stream of same-shaped calls leaves them unchanged. */
export const scratchStats = { grown: 0, grownBytes: 0 };
const caches: PlanCache<unknown>[] = [];

/** One call site's reusable scratch buffers (one per dtype); see the file comment. */
export class ScratchSlot {
  private readonly buffers = new Map<DataType, TypedArray>();

  constructor() {
    slots.push(this);
  }

  /**
   * A view of `length` elements of `type` over this slot's buffer (grown when too small). Its contents are
   * whatever the previous call left unless `zero` is set. Valid until the next `take` of this slot and dtype.
   */
  take<T extends Exclude<DataType, 'string'>>(type: T, length: number, zero = false): DataTypeMap[T] {
    let buffer = this.buffers.get(type);
    if (!buffer || buffer.length < length) {
      const Ctor = containerOf(type);
      buffer = new Ctor(length);
      this.buffers.set(type, buffer);
      scratchStats.grown++;
      scratchStats.grownBytes += buffer.byteLength;
      return buffer as DataTypeMap[T];
    }
    const view = (buffer.length === length ? buffer : buffer.subarray(0, length)) as DataTypeMap[T];
    if (zero) (view as { fill(v: never): unknown }).fill((type === 'int64' ? 0n : 0) as never);
    return view;
  }

  /** Drop the buffers (they are rebuilt on the next take). */
  clear(): void {
    this.buffers.clear();
  }
}

/** Plans memoized by a key string, bounded in entries and in total elements; see the file comment. */
export class PlanCache<T> {
  private readonly entries = new Map<string, { plan: T; size: number }>();
  private held = 0;

  /**
   * @param sizeOf elements a plan holds (for the bound)
   * @param maxEntries most plans kept
   * @param maxElements most elements kept over all plans; a bigger plan is built but not kept
   */
  constructor(
    private readonly sizeOf: (plan: T) => number,
    private readonly maxEntries = 512,
    private readonly maxElements = 1 << 20,
  ) {
    caches.push(this as PlanCache<unknown>);
  }

  /** The plan for `key`, built by `build` on a miss. The most recently built plans are kept. */
  get(key: string, build: () => T): T {
    const hit = this.entries.get(key);
    if (hit) return hit.plan;
    const plan = build();
    const size = this.sizeOf(plan);
    if (size > this.maxElements) return plan;
    while (this.entries.size >= this.maxEntries || (this.entries.size > 0 && this.held + size > this.maxElements)) {
      const [oldest, entry] = this.entries.entries().next().value as [string, { size: number }];
      this.entries.delete(oldest);
      this.held -= entry.size;
    }
    this.entries.set(key, { plan, size });
    this.held += size;
    return plan;
  }

  /** Forget every plan. */
  clear(): void {
    this.entries.clear();
    this.held = 0;
  }
}

/** Release every kernel scratch buffer and memoized plan (memory goes back to the garbage collector). */
export function clearScratch(): void {
  for (const s of slots) s.clear();
  for (const c of caches) c.clear();
}

/** A key for a list of shapes: dims joined by ',' and shapes by '|'. */
export function shapesKey(shapes: readonly (readonly number[])[]): string {
  let key = '';
  for (let i = 0; i < shapes.length; i++) key += (i ? '|' : '') + shapes[i]!.join(',');
  return key;
}
