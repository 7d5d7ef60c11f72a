/**
 * `tessera quantize` (src/cli/compress.ts) on a small model written to a temporary folder: each mode writes a
 * model that loads, the report files hold the before/after figures, and bad usage returns exit code 2 with a
 * message. Plus the accuracy measures of src/quant/accuracy.ts (edit distance against a plain recursive
 * definition, character and classification accuracy known answers) and the figures of src/quant/stats.ts.
 */
import fc from 'fast-check';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { quantizeCommand } from '../../src/cli/compress.js';
import { writeNpy } from '../../src/cli/npy.js';
import { InferenceSession } from '../../src/graph/index.js';
import { characterAccuracy, classificationAccuracy, editDistance } from '../../src/quant/accuracy.js';
import { loadForCompression } from '../../src/quant/model.js';
import { quantizeStatic } from '../../src/quant/passes.js';
import { modelStats } from '../../src/quant/stats.js';
import { randomTensor } from '../util/tensors.js';
import { smallModel } from './small-model.js';

const dir = mkdtempSync(join(tmpdir(), 'tessera-quant-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const modelPath = join(dir, 'small.onnx');
writeFileSync(modelPath, smallModel());

/** Run the command with console output captured. */
async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void out.push(a.join(' ')));
  const error = vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void err.push(a.join(' ')));
  const write = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    const code = await quantizeCommand(args);
    return { code, out: out.join('\n'), err: err.join('\n') };
  } finally {
    log.mockRestore();
    error.mockRestore();
    write.mockRestore();
  }
}

describe('tessera quantize', () => {
  it('writes an fp16, a dynamic and a static model with a before/after report', async () => {
    const calib = [1, 2].map((seed) => {
      const f = join(dir, `calib${seed}.npy`);
      writeFileSync(f, writeNpy(randomTensor('float32', [2, 3, 6, 6], seed, 1)));
      return f;
    });
    for (const mode of ['fp16', 'dynamic', 'static']) {
      const out = join(dir, `${mode}.onnx`);
      const report = join(dir, `${mode}-report`);
      const extra = mode === 'static' ? ['--calibration', calib.join(','), '--method', 'percentile'] : [];
      const r = await run([modelPath, '--mode', mode, '-o', out, '--shape', 'x=2,3,6,6', '--runs', '2', '--report', report, ...extra]);
      expect(r.code, r.err).toBe(0);
      expect(r.out).toContain('| before |');
      const json = JSON.parse(readFileSync(`${report}.json`, 'utf8')) as { before: { fileBytes: number; stats: { flops: number } }; after: { fileBytes: number; stats: { weightBytes: number } }; maxAbsDiff: number };
      expect(json.after.fileBytes).toBeLessThan(json.before.fileBytes);
      expect(json.before.stats.flops).toBe(2 * (2 * 8 * 36 * 27) + 2 * 4 * 288);
      expect(json.maxAbsDiff).toBeLessThan(0.05);
      expect(readFileSync(`${report}.md`, 'utf8')).toContain('file size after/before');
      expect((await InferenceSession.create(out)).outputNames).toEqual(['y']);
    }
  });

  it('refuses bad usage with exit code 2', async () => {
    expect((await run([modelPath, '--mode', 'fp16'])).err).toMatch(/required/);
    expect((await run([modelPath, '--mode', 'int3', '-o', join(dir, 'x.onnx'), '--shape', 'x=1'])).code).toBe(2);
    expect((await run([modelPath, '--mode', 'static', '-o', join(dir, 'x.onnx'), '--shape', 'x=2,3,6,6'])).err).toMatch(/needs --calibration/);
    expect((await run([modelPath, '--mode', 'fp16', '-o', join(dir, 'x.onnx'), '--shape', '2,3'])).err).toMatch(/--shape must look like/);
    expect((await run(['--bogus'])).code).toBe(2);
  });
});

describe('accuracy measures', () => {
  /** Levenshtein distance by its recursive definition (memoized). */
  function editDistanceReference(a: string[], b: string[]): number {
    const memo = new Map<string, number>();
    const d = (i: number, j: number): number => {
      if (i === 0) return j;
      if (j === 0) return i;
      const key = `${i},${j}`;
      if (!memo.has(key)) memo.set(key, Math.min(d(i - 1, j) + 1, d(i, j - 1) + 1, d(i - 1, j - 1) + (a[i - 1] === b[j - 1] ? 0 : 1)));
      return memo.get(key)!;
    };
    return d(a.length, b.length);
  }

  it('edit distance equals the recursive definition', () => {
    fc.assert(fc.property(fc.string({ maxLength: 12 }), fc.string({ maxLength: 12 }), (a, b) => editDistance(a, b) === editDistanceReference(Array.from(a), Array.from(b))), { numRuns: 200 });
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('', 'abc')).toBe(3);
    expect(editDistance('数字2', '数学2')).toBe(1);
  });

  it('character and classification accuracy known answers', () => {
    expect(characterAccuracy([{ predicted: 'abcd', reference: 'abcd' }, { predicted: 'abx', reference: 'abcd' }])).toBeCloseTo(1 - 2 / 8, 12);
    expect(characterAccuracy([{ predicted: 'a very long insertion', reference: 'ab' }])).toBe(0);
    expect(() => characterAccuracy([{ predicted: 'x', reference: '' }])).toThrow(/no characters/);
    expect(classificationAccuracy(['0', '180', '0'], ['0', '0', '0'])).toBeCloseTo(2 / 3, 12);
    expect(() => classificationAccuracy(['0'], [])).toThrow(/same non-zero count/);
  });
});

describe('model stats', () => {
  it('counts weight bytes, parameters, sparsity and FLOPs, also through DequantizeLinear', () => {
    const base = loadForCompression(smallModel());
    const x = randomTensor('float32', [2, 3, 6, 6], 3, 1);
    const f = modelStats(base.graph, base.opsets, new Map([['x', x]]));
    expect(f.parameters).toBe(8 * 27 + 288 * 4);
    expect(f.flops).toBe(2 * (2 * 8 * 36 * 27) + 2 * 4 * 288);
    const q = quantizeStatic(base, { calibration: [new Map([['x', x]])] }).model;
    const s = modelStats(q.graph, q.opsets, new Map([['x', x]]));
    expect(s.parameters).toBe(f.parameters);
    expect(s.flops).toBe(f.flops);
    expect(s.weightBytes).toBeLessThan(f.weightBytes / 2);
    expect(s.sparsity).toBeGreaterThanOrEqual(0);
  });
});
