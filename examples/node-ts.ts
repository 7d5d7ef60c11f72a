/**
 * Tessera from TypeScript in Node.js: typed eager ops and a session on a real ONNX model (the PP-OCR text
 * direction classifier, MobileNetV3) fed a synthetic text line.
 *
 *   npx tsx examples/node-ts.ts [path/to/ch_ppocr_mobile_v2.0_cls_infer.onnx]
 *
 * In this repository the example imports the sources (`../src/index.js`, run through tsx); a project that
 * installed the package writes `import { InferenceSession, Tensor, ops } from 'tessera'` and gets the same
 * types from dist/index.d.ts. `main()` is exported so test/examples/node-ts.test.ts can run it in-process.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InferenceSession, Tensor, ops } from '../src/index.js';

const here = dirname(fileURLToPath(import.meta.url));
export const CLS_MODEL = join(here, '..', 'node_modules', '@gutenye', 'ocr-models', 'assets', 'ch_ppocr_mobile_v2.0_cls_infer.onnx');

/** What the example computes. */
export interface ExampleResult {
  /** Eager: L2-normalized rows of a 2x3 matrix. */
  normalized: number[];
  /** The classifier's output name, dims and its probabilities for [0 degrees, 180 degrees]. */
  output: { name: string; dims: readonly number[]; probabilities: number[] };
}

/** A 48x192 RGB "text line": dark strokes on white, normalized to [-1, 1] as PP-OCR expects, NCHW. */
function syntheticLine(): Tensor<'float32'> {
  const [h, w] = [48, 192];
  const data = new Float32Array(3 * h * w);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      // vertical strokes 3 px wide every 12 px, in the middle band of the line
      const ink = y > 12 && y < 36 && x % 12 < 3 && x > 8 && x < 184;
      const v = ink ? -1 : 1;
      for (let c = 0; c < 3; c++) data[(c * h + y) * w + x] = v;
    }
  }
  return new Tensor('float32', data, [1, 3, h, w]);
}

export async function main(modelPath: string = CLS_MODEL, log: (line: string) => void = console.log): Promise<ExampleResult> {
  // Eager ops are plain functions over tensors; dtypes and shapes are checked with readable errors.
  const m = new Tensor('float32', Float32Array.from([3, 4, 0, 1, 2, 2]), [2, 3]);
  const norms = ops.reduceL2(m, [1], { keepdims: true }); // [[5], [3]]
  const normalized = ops.div(m, norms);
  log(`rows of [[3,4,0],[1,2,2]] / their L2 norms: ${Array.from(normalized.data as Float32Array, (v) => v.toFixed(4)).join(' ')}`);

  // A session: load once, run many times.
  const session = await InferenceSession.create(modelPath);
  const inputName = session.inputMetadata[0]!.name;
  const outputName = session.outputNames[0]!;
  const outputs = await session.run({ [inputName]: syntheticLine() });
  const y = outputs[outputName]!;
  const probabilities = Array.from(y.data as Float32Array);
  log(`${inputName} [1, 3, 48, 192] -> ${outputName} [${y.dims.join(', ')}]: P(0 deg) = ${probabilities[0]!.toFixed(4)}, P(180 deg) = ${probabilities[1]!.toFixed(4)}`);
  return { normalized: Array.from(normalized.data as Float32Array), output: { name: outputName, dims: y.dims, probabilities } };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await main(process.argv[2]);
}
