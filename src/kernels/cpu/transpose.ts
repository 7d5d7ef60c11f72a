/**
 * Transpose kernel: materialise a permutation of a contiguous tensor's axes, for every dtype (works on lanes,
 * see ./strided.ts).
 *
 * Algorithm:
 *  1. Describe the output in source terms: output axis i has dim dims[perm[i]] and source stride
 *     strides[perm[i]]. Drop size-1 axes, add the lane axis for 8-byte types, and merge output-adjacent axes
 *     that are also adjacent in the source (so e.g. perm [0, 2, 3, 1] on NCHW becomes a 3-D [N, HW, C] problem).
 *  2. If the innermost output axis is contiguous in the source, every output row is a contiguous source run:
 *     a strided row copy (copyStrided).
 *  3. Otherwise it is a batched 2-D transpose between the source's innermost axis and the output's innermost
 *     axis: both are walked in 32x32 tiles so the strided side stays in cache, with an odometer over the
 *     remaining axes. All offsets come from precomputed strides: no per-element division or modulo.
 *
 * Cost: one read and one write per element; tiling keeps the strided reads within 32 cache lines at a time.
 */
import { stridesOf } from '../../tensor/shape.js';
import { ScratchSlot } from './scratch.js';
import { copyStrided, type Lanes } from './strided.js';

/** The odometer counter of blockedTranspose, reused from call to call. */
const OUTER_COUNTER = new ScratchSlot();

/** Tile edge of the blocked 2-D transpose, in lanes. */
const TILE = 32;

/**
 * Write into `dst` (contiguous, output order) the transpose of `src` (contiguous, element dims `dims`) by `perm`
 * (output axis i is input axis perm[i]). `perElement` is the number of lanes per element (2 for 8-byte types).
 */
export function transposeLanes(src: Lanes, dst: Lanes, dims: readonly number[], perm: readonly number[], perElement: 1 | 2): void {
  for (const d of dims) if (d === 0) return;
  const inStrides = stridesOf(dims);
  // output geometry in lane units, size-1 axes dropped
  const outDims: number[] = [];
  const srcStrides: number[] = [];
  for (let i = 0; i < perm.length; i++) {
    const d = dims[perm[i]!]!;
    if (d === 1) continue;
    outDims.push(d);
    srcStrides.push(inStrides[perm[i]!]! * perElement);
  }
  if (perElement === 2) {
    outDims.push(2);
    srcStrides.push(1);
  }
  // merge output axes i and i+1 when they are adjacent in the source too
  for (let i = outDims.length - 2; i >= 0; i--) {
    if (srcStrides[i] === srcStrides[i + 1]! * outDims[i + 1]!) {
      outDims[i + 1] = outDims[i + 1]! * outDims[i]!;
      outDims.splice(i, 1);
      srcStrides.splice(i, 1);
    }
  }
  const rank = outDims.length;
  const dstStrides = stridesOf(outDims);
  if (rank === 0 || srcStrides[rank - 1] === 1) {
    copyStrided(src, 0, srcStrides, dst, 0, dstStrides, outDims, 1);
    return;
  }
  blockedTranspose(src, dst, outDims, srcStrides, dstStrides);
}

/**
 * Batched 2-D transpose: `rowAxis` is the output axis that is contiguous in the source (source stride 1), the
 * last output axis is contiguous in the destination. Tiles of TILE x TILE; other axes by odometer.
 */
function blockedTranspose(src: Lanes, dst: Lanes, outDims: readonly number[], srcStrides: readonly number[], dstStrides: readonly number[]): void {
  const rank = outDims.length;
  const last = rank - 1;
  const rowAxis = srcStrides.indexOf(1);
  const rows = outDims[rowAxis]!; // P: walks the source contiguously
  const cols = outDims[last]!; // Q: walks the destination contiguously
  const dstRowStride = dstStrides[rowAxis]!;
  const srcColStride = srcStrides[last]!;
  // remaining axes, outermost first
  const outerDims: number[] = [];
  const outerSrc: number[] = [];
  const outerDst: number[] = [];
  for (let ax = 0; ax < last; ax++) {
    if (ax === rowAxis) continue;
    outerDims.push(outDims[ax]!);
    outerSrc.push(srcStrides[ax]!);
    outerDst.push(dstStrides[ax]!);
  }
  const outerRank = outerDims.length;
  const counter = OUTER_COUNTER.take('int32', outerRank, true);
  let sBase = 0;
  let dBase = 0;
  for (;;) {
    for (let i0 = 0; i0 < rows; i0 += TILE) {
      const i1 = Math.min(i0 + TILE, rows);
      for (let j0 = 0; j0 < cols; j0 += TILE) {
        const j1 = Math.min(j0 + TILE, cols);
        for (let i = i0; i < i1; i++) {
          let s = sBase + i + j0 * srcColStride;
          const dRow = dBase + i * dstRowStride;
          for (let j = j0; j < j1; j++, s += srcColStride) dst[dRow + j] = src[s]!;
        }
      }
    }
    let ax = outerRank - 1;
    for (; ax >= 0; ax--) {
      sBase += outerSrc[ax]!;
      dBase += outerDst[ax]!;
      if (++counter[ax]! < outerDims[ax]!) break;
      sBase -= outerSrc[ax]! * outerDims[ax]!;
      dBase -= outerDst[ax]! * outerDims[ax]!;
      counter[ax] = 0;
    }
    if (ax < 0) return;
  }
}
