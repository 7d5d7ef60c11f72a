/**
 * `tessera conformance`: run ONNX backend-test cases (a folder holding model.onnx and test_data_set_N/ with
 * input_K.pb and output_K.pb TensorProtos, as in onnx/backend/test/data/node) and report pass, fail or
 * unsupported per case.
 *
 * Judgement (the same rules as the project's conformance runner in scripts/conformance.ts, which adds worker
 * processes, timeouts and the committed baseline files; that runner lives outside src/ and is not part of the
 * package, so this is a small in-process version of it): outputs must have the expected dtype and dims; float
 * outputs match within |got - want| <= atol + rtol * |want| (NaN matches NaN, infinities exactly); integer and
 * bool outputs exactly. A case is 'unsupported' when Tessera refuses it for a documented gap (unknown operator,
 * missing kernel, unsupported feature or type) and 'fail' for any other error or a wrong answer.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { UnsupportedModelError } from '../graph/errors.js';
import { decodeTensorProto } from '../graph/onnx/decode.js';
import { tensorFromProto } from '../graph/onnx/tensor-proto.js';
import { InferenceSession } from '../graph/session.js';
import { KernelNotFoundError, OpValidationError, UnsupportedFeatureError } from '../tensor/errors.js';
import type { Tensor } from '../tensor/tensor.js';
import { EXIT_FAILURE, EXIT_OK, numberOption, parseCommandArgs, ProgressBar, UsageError, type CliIO, type Command } from './common.js';

const HELP = `Usage: tessera conformance <case-or-folder>... [options]

Run ONNX backend-test cases: each argument is a case folder (model.onnx + test_data_set_*/) or a folder of
case folders (e.g. onnx/backend/test/data/node). Prints a summary and every failure with its first error line.

  --filter TEXT           only cases whose name contains TEXT; repeatable
  --rtol X                relative tolerance for float outputs (default 1e-3)
  --atol X                absolute tolerance for float outputs (default 1e-5)
  --backend cpu|gpu       compute backend (default cpu)
  --json                  print {summary, cases: {name: {status, error?, ms}}} as JSON
  -h, --help              show this help

Exit codes: 0 no case failed (unsupported cases do not count), 1 at least one case failed, 2 bad command line.`;

export type CaseStatus = 'pass' | 'fail' | 'unsupported';

/** Result of one case. */
export interface CaseOutcome {
  readonly status: CaseStatus;
  readonly error?: string;
  readonly ms: number;
}

/** Case folders named by `paths` (a case folder itself, or its subfolders that hold a model.onnx). */
export function findCases(paths: readonly string[]): string[] {
  const out: string[] = [];
  for (const p of paths) {
    if (!existsSync(p) || !statSync(p).isDirectory()) throw new UsageError(`'${p}' is not a folder`);
    if (existsSync(join(p, 'model.onnx'))) out.push(p);
    else {
      const subs = readdirSync(p).sort().map((d) => join(p, d)).filter((d) => existsSync(join(d, 'model.onnx')));
      if (!subs.length) throw new UsageError(`'${p}' holds no model.onnx and no case folders with one`);
      out.push(...subs);
    }
  }
  return out;
}

class Mismatch extends Error {}

function isUnsupported(e: unknown): boolean {
  if (e instanceof UnsupportedModelError || e instanceof KernelNotFoundError || e instanceof UnsupportedFeatureError) return true;
  return e instanceof OpValidationError && /unknown operator/.test(e.message);
}

function readPb(file: string): { tensor: Tensor; name: string } {
  const proto = decodeTensorProto(readFileSync(file));
  return { tensor: tensorFromProto(proto, basename(file)), name: proto.name };
}

function numbered(dir: string, prefix: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.startsWith(prefix) && f.endsWith('.pb'))
    .sort((a, b) => Number(a.slice(prefix.length, -3)) - Number(b.slice(prefix.length, -3)))
    .map((f) => join(dir, f));
}

/** Throw a Mismatch describing the first difference. */
export function compareTensors(name: string, got: Tensor, want: Tensor, rtol: number, atol: number): void {
  if (got.type !== want.type) throw new Mismatch(`output '${name}' has type ${got.type}; expected ${want.type}`);
  if (got.dims.join() !== want.dims.join()) throw new Mismatch(`output '${name}' has shape [${got.dims.join(', ')}]; expected [${want.dims.join(', ')}]`);
  if (got.type === 'int64') {
    const a = got.data as BigInt64Array;
    const b = want.data as BigInt64Array;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) throw new Mismatch(`output '${name}' element ${i}: got ${a[i]}, expected ${b[i]}`);
    return;
  }
  const a = got.numbers();
  const b = want.numbers();
  const float = got.type === 'float32' || got.type === 'float64' || got.type === 'float16';
  let bad = 0;
  let first = -1;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x === y || (Number.isNaN(x) && Number.isNaN(y))) continue;
    if (float && Number.isFinite(x) && Number.isFinite(y) && Math.abs(x - y) <= atol + rtol * Math.abs(y)) continue;
    if (first < 0) first = i;
    bad++;
  }
  if (bad) throw new Mismatch(`output '${name}' differs at ${bad} of ${a.length} elements; first at ${first}: got ${a[first]}, expected ${b[first]} (rtol ${rtol}, atol ${atol})`);
}

/** Run one case folder. Never throws. */
export async function runConformanceCase(dir: string, options: { rtol: number; atol: number; backend: 'cpu' | 'gpu' }): Promise<CaseOutcome> {
  const start = performance.now();
  const done = (status: CaseStatus, error?: string): CaseOutcome => ({ status, error, ms: Math.round(performance.now() - start) });
  let session: InferenceSession | undefined;
  const owned: Tensor[] = [];
  try {
    session = InferenceSession.createSync(join(dir, 'model.onnx'), { backend: options.backend, logSeverity: 3 });
    const sets = readdirSync(dir).filter((d) => d.startsWith('test_data_set_')).sort();
    if (!sets.length) throw new Mismatch('the case has no test_data_set_* folder');
    for (const set of sets) {
      const feeds: Record<string, Tensor> = {};
      numbered(join(dir, set), 'input_').forEach((file, i) => {
        const { tensor, name } = readPb(file);
        owned.push(tensor);
        const key = name && session!.inputNames.includes(name) && !(name in feeds) ? name : session!.inputNames[i];
        if (!key) throw new Mismatch(`${basename(file)} has no matching model input`);
        feeds[key] = tensor;
      });
      const expected = numbered(join(dir, set), 'output_').map(readPb);
      owned.push(...expected.map((e) => e.tensor));
      const names = expected.map((_, i) => session!.outputNames[i]);
      if (names.some((n) => n === undefined)) throw new Mismatch(`${expected.length} expected outputs; the model has ${session.outputNames.length}`);
      const got = session.runSync(feeds, names as string[]);
      owned.push(...Object.values(got));
      expected.forEach((e, i) => compareTensors(names[i]!, got[names[i]!]!, e.tensor, options.rtol, options.atol));
    }
    return done('pass');
  } catch (e) {
    const line = (e instanceof Error ? (e instanceof Mismatch ? e.message : `${e.name}: ${e.message}`) : String(e)).split('\n')[0]!.slice(0, 300);
    return done(e instanceof Mismatch ? 'fail' : isUnsupported(e) ? 'unsupported' : 'fail', line);
  } finally {
    for (const t of owned) t.dispose();
    await session?.release();
  }
}

export const conformanceCommand: Command = {
  name: 'conformance',
  summary: 'run ONNX backend-test cases (model.onnx + test_data_set_*) and report pass/fail',
  help: HELP,
  async run(argv: readonly string[], io: CliIO): Promise<number> {
    const { values, positionals } = parseCommandArgs('conformance', argv, {
      filter: { type: 'string', multiple: true },
      rtol: { type: 'string' },
      atol: { type: 'string' },
      backend: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    });
    if (values.help) {
      io.stdout(HELP + '\n');
      return EXIT_OK;
    }
    if (!positionals.length) throw new UsageError('give at least one case folder or folder of cases (tessera conformance <dir>...)');
    const backend = values.backend ?? 'cpu';
    if (backend !== 'cpu' && backend !== 'gpu') throw new UsageError(`--backend must be 'cpu' or 'gpu', got '${backend}'`);
    const options = { rtol: numberOption('rtol', values.rtol, 1e-3), atol: numberOption('atol', values.atol, 1e-5), backend: backend as 'cpu' | 'gpu' };
    const filters = values.filter ?? [];
    const cases = findCases(positionals).filter((d) => !filters.length || filters.some((f) => basename(d).includes(f)));
    if (!cases.length) throw new UsageError(`no case matches --filter ${filters.join(', ')}`);
    const results: Record<string, CaseOutcome> = {};
    const bar = new ProgressBar(io, 'conformance', cases.length, io.interactive && !values.json);
    for (const dir of cases) {
      results[basename(dir)] = await runConformanceCase(dir, options);
      bar.tick();
    }
    bar.finish();
    const count = (s: CaseStatus): number => Object.values(results).filter((r) => r.status === s).length;
    const summary = { total: cases.length, pass: count('pass'), fail: count('fail'), unsupported: count('unsupported') };
    if (values.json) io.stdout(JSON.stringify({ summary, cases: results }) + '\n');
    else {
      io.stdout(`${summary.total} cases: ${summary.pass} pass, ${summary.fail} fail, ${summary.unsupported} unsupported\n`);
      for (const [name, r] of Object.entries(results)) if (r.status !== 'pass') io.stdout(`  ${r.status.padEnd(11)} ${name}: ${r.error ?? ''}\n`);
    }
    return summary.fail > 0 ? EXIT_FAILURE : EXIT_OK;
  },
};
