/**
 * `tessera quantize` and `tessera prune` (src/cli/compress.ts) on a small model written to a temporary folder: each mode writes a
 * model that loads, the report files hold the before/after figures, and bad usage returns exit code 2 with a
 * message. Plus the accuracy measures of src/quant/accuracy.ts (edit distance against a plain recursive
 * definition, character and classification accuracy known answers) and the figures of src/quant/stats.ts.
 */
import fc from 'fast-check';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { pruneCommand, quantizeCommand } from '../../src/cli/compress.js';
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
async function run(args: string[], command: (argv: readonly string[]) => Promise<number> = quantizeCommand): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void out.push(a.join(' ')));
  const error = vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void err.push(a.join(' ')));
  const write = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    const code = await command(args);
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

describe('tessera quantize --mode int4 and tessera prune', () => {
  it('int4 writes int4 DequantizeLinear weights with short names, run as MatMulInt4', async () => {
    const out = join(dir, 'int4.onnx');
    const r = await run([modelPath, '--mode', 'int4', '-o', out, '--shape', 'x=2,3,6,6', '--runs', '1', '--short-names']);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(/int4: 1 MatMul\/Gemm weights, 720 bytes as int4 blocks vs 4608 float32/);
    const s = await InferenceSession.create(readFileSync(out));
    expect(s.model.graph.nodes.map((n) => n.opType)).toContain('MatMulInt4');
  });

  it('prunes by magnitude, N:M and channels, with a report and the sparse threshold', async () => {
    for (const [method, extra] of [['magnitude', ['--sparsity', '0.6', '--scope', 'layer', '--sparse-threshold', '0.5']], ['nm', []], ['channels', ['--ratio', '0.5', '--sparse-threshold', '1']]] as const) {
      const out = join(dir, `pruned-${method}.onnx`);
      const report = join(dir, `prune-${method}`);
      const r = await run([modelPath, '--method', method, '-o', out, '--shape', 'x=2,3,6,6', '--runs', '1', '--report', report, ...extra], pruneCommand);
      expect(r.code, r.err).toBe(0);
      expect(r.out).toContain('| after |');
      const json = JSON.parse(readFileSync(`${report}.json`, 'utf8')) as { after: { stats: { sparsity: number; parameters: number; flops: number } }; before: { stats: { parameters: number; flops: number } }; sparseNodes: number };
      if (method === 'magnitude') {
        expect(json.after.stats.sparsity).toBeGreaterThan(0.59);
        expect(json.sparseNodes).toBe(1);
        expect(r.out).toContain('sparse kernel threshold: 50% (given)');
      }
      if (method === 'nm') expect(r.out).toMatch(/2:4 pruning: 576 of 1152 weights in 1 tensors are zero/);
      if (method === 'channels') {
        // the Conv's channels reach a Slice/Reshape: nothing can be removed consistently
        expect(r.out).toMatch(/channel pruning: 0 of 0 channels removed in 0 of 1 channel spaces/);
        expect(json.after.stats.flops).toBe(json.before.stats.flops);
      }
    }
  });

  it('magnitude with --scope error and --calibration refits the kept weights (and --no-refit does not)', async () => {
    const calib = [3, 4].map((seed) => {
      const f = join(dir, `prune-calib${seed}.npy`);
      writeFileSync(f, writeNpy(randomTensor('float32', [2, 3, 6, 6], seed, 1)));
      return f;
    });
    const common = ['--method', 'magnitude', '--sparsity', '0.5', '--shape', 'x=2,3,6,6', '--runs', '1', '--calibration', calib.join(',')];
    const refit = await run([modelPath, ...common, '--scope', 'error', '-o', join(dir, 'pruned-refit.onnx')], pruneCommand);
    expect(refit.code, refit.err).toBe(0);
    expect(refit.out).toMatch(/error magnitude pruning \(activation-aware, bias-corrected, \d+ layers refit by least squares\)/);
    const plain = await run([modelPath, ...common, '--no-refit', '-o', join(dir, 'pruned-norefit.onnx')], pruneCommand);
    expect(plain.code, plain.err).toBe(0);
    expect(plain.out).toMatch(/global magnitude pruning \(activation-aware, bias-corrected\):/);
  });

  it('refuses bad usage with exit code 2', async () => {
    const out = join(dir, 'bad.onnx');
    for (const [args, msg] of [
      [['--method', 'magnitude', '-o', out, '--shape', 'x=2,3,6,6', '--sparsity', '1.5'], /--sparsity must be a number in \[0, 1\)/],
      [['--method', 'random', '-o', out, '--shape', 'x=2,3,6,6'], /--method must be magnitude, nm or channels/],
      [['--method', 'nm', '-o', out, '--shape', 'x=2,3,6,6', '--n', '5'], /--n and --m must be integers/],
      [['--method', 'nm', '-o', out], /required/],
      [['--method', 'magnitude', '-o', out, '--shape', 'x=2,3,6,6', '--scope', 'error'], /--scope error measures each layer on the calibration inputs/],
      [['--method', 'magnitude', '-o', out, '--shape', 'x=2,3,6,6', '--scope', 'row'], /--scope must be global, layer or error/],
    ] as const) {
      const r = await run([modelPath, ...args], pruneCommand);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(msg);
    }
  });
});
