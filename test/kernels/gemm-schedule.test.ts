/**
 * The guided chunk schedule of the multi-threaded GEMM (gemmChunkStarts in src/kernels/cpu/gemm.ts): chunks
 * cover the extent exactly, in order, shrink towards the end, stay at least 16 wide (but the last), and their
 * number stays within the pool's task limit.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { gemmChunkStarts } from '../../src/kernels/cpu/gemm.js';
import { MAX_TASK_CHUNKS } from '../../src/kernels/cpu/pool.js';

describe('gemmChunkStarts', () => {
  it('covers the extent with shrinking chunks', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 200_000 }), fc.integer({ min: 2, max: 32 }), (extent, threads) => {
        const starts = [...gemmChunkStarts(extent, threads)];
        expect(starts[0]).toBe(0);
        expect(starts[starts.length - 1]).toBe(extent);
        expect(starts.length - 1).toBeLessThanOrEqual(MAX_TASK_CHUNKS);
        const sizes = starts.slice(1).map((s, i) => s - starts[i]!);
        sizes.forEach((size, i) => {
          expect(size).toBeGreaterThan(0);
          if (i < sizes.length - 1) {
            expect(size).toBeGreaterThanOrEqual(16);
            expect(size % 8).toBe(0);
            expect(sizes[i + 1]!).toBeLessThanOrEqual(size);
          }
        });
      }),
      { numRuns: 100 },
    );
  });
  it('gives a 480-row product to 2 threads as 120, 96, 72, ... down to 16', () => {
    expect([...gemmChunkStarts(480, 2)]).toEqual([0, 120, 216, 288, 336, 376, 408, 432, 448, 464, 480]);
  });
});
