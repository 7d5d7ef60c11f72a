/**
 * ONNX backend conformance cases: finding them, running one through the public InferenceSession API, and
 * judging the result. Used by scripts/conformance.ts (in a pool of child processes, with a watchdog) and by
 * test/conformance/baseline.test.ts (in process).
 *
 * A case passes when every test_data_set's outputs match the expected TensorProtos: same dtype, same dims,
 * and |got - want| <= atol + rtol * |want| elementwise (NaN equals NaN; integers, bools and strings exactly).
 * Sequence- and optional-typed inputs and outputs (SequenceProto / OptionalProto files, read as the model
 * declares the value) go through `runValues`: sequences match when they have the same length and every
 * element matches, optionals when both are empty or their elements match. A case
 * is "unsupported" only when Tessera refuses it for a documented gap: an operator with no schema or kernel,
 * or a data type / value kind Tessera has no tensor for (UnsupportedModelError, KernelNotFoundError). Every
 * other error, and every wrong answer, is a "fail".
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UnsupportedModelError } from '../../src/graph/errors.js';
import { decodeModel, decodeTensorProto } from '../../src/graph/onnx/decode.js';
import { tensorFromProto } from '../../src/graph/onnx/tensor-proto.js';
import { readValueProto } from '../../src/graph/onnx/value-proto.js';
import { describeValue, disposeValue, type OnnxValue } from '../../src/graph/values.js';
import type { ValueType } from '../../src/graph/ir.js';
import { InferenceSession } from '../../src/graph/session.js';
import type { Backend } from '../../src/kernels/registry.js';
import { KernelNotFoundError, OpValidationError, UnsupportedFeatureError } from '../../src/tensor/errors.js';
import { Tensor } from '../../src/tensor/tensor.js';

/** The conformance data folder (../shared/onnx-backend-tests beside the repository). */
export const CONFORMANCE_ROOT = findConformanceRoot();

/**
 * Where ONNX's conformance data lives: $TESSERA_ONNX_TESTS when set, else ../shared/onnx-backend-tests beside
 * the repository, else /work/shared/onnx-backend-tests (where the project's machines keep it, so a clone made
 * elsewhere still finds it).
 */
function findConformanceRoot(): string {
  const candidates = [
    process.env['TESSERA_ONNX_TESTS'],
    resolve(fileURLToPath(new URL('.', import.meta.url)), '../../../shared/onnx-backend-tests'),
    '/work/shared/onnx-backend-tests',
  ];
  for (const c of candidates) if (c && existsSync(c)) return c;
  return candidates[1]!;
}

export const SUITES = ['node', 'simple', 'pytorch-operator', 'pytorch-converted', 'light'] as const;
export type Suite = (typeof SUITES)[number];

export type Status = 'pass' | 'fail' | 'unsupported';

/** Default tolerances (a case's data.json or real/ metadata overrides them). */
export const DEFAULT_RTOL = 1e-3;
export const DEFAULT_ATOL = 1e-5;

export interface DataSet {
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
}

export interface ConformanceCase {
  readonly suite: Suite;
  readonly name: string;
  readonly model: string;
  /** Explicit data sets; light models have none (inputs are generated, one expected output). */
  readonly dataSets: readonly DataSet[];
  readonly rtol: number;
  readonly atol: number;
  /** Light models: the expected first output. */
  readonly lightOutput?: string;
}

export interface CaseResult {
  readonly status: Status;
  /** First line of the error or mismatch, for failures and unsupported cases. */
  readonly error?: string;
  /** Op types of the model's main graph. */
  readonly ops: readonly string[];
  readonly ms: number;
}

function tolerances(file: string): { rtol?: number; atol?: number } {
  if (!existsSync(file)) return {};
  const j = JSON.parse(readFileSync(file, 'utf8')) as { rtol?: number; atol?: number };
  return { rtol: typeof j.rtol === 'number' ? j.rtol : undefined, atol: typeof j.atol === 'number' ? j.atol : undefined };
}

function numbered(dir: string, prefix: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.startsWith(prefix) && f.endsWith('.pb'))
    .sort((a, b) => Number(a.slice(prefix.length, -3)) - Number(b.slice(prefix.length, -3)))
    .map((f) => join(dir, f));
}

/** Every case of a suite, sorted by name. */
export function listCases(suite: Suite, root = CONFORMANCE_ROOT): ConformanceCase[] {
  const dir = join(root, suite);
  if (suite === 'light') {
    return readdirSync(dir)
      .filter((f) => f.endsWith('.onnx'))
      .sort()
      .map((f) => {
        const name = f.slice(0, -'.onnx'.length);
        const tol = tolerances(join(root, 'real', `test_${name.replace(/^light_/, '')}`, 'data.json'));
        return {
          suite,
          name,
          model: join(dir, f),
          dataSets: [],
          rtol: tol.rtol ?? DEFAULT_RTOL,
          atol: tol.atol ?? DEFAULT_ATOL,
          lightOutput: join(dir, `${name}_output_0.pb`),
        };
      });
  }
  return readdirSync(dir)
    .filter((d) => existsSync(join(dir, d, 'model.onnx')))
    .sort()
    .map((name) => {
      const caseDir = join(dir, name);
      const sets = readdirSync(caseDir)
        .filter((d) => d.startsWith('test_data_set_'))
        .sort()
        .map((d) => ({ inputs: numbered(join(caseDir, d), 'input_'), outputs: numbered(join(caseDir, d), 'output_') }));
      const tol = { ...tolerances(join(root, 'real', name, 'data.json')), ...tolerances(join(caseDir, 'data.json')) };
      return { suite, name, model: join(caseDir, 'model.onnx'), dataSets: sets, rtol: tol.rtol ?? DEFAULT_RTOL, atol: tol.atol ?? DEFAULT_ATOL };
    });
}

/** A wrong answer (not an error of Tessera's): the case fails with this message. */
class Mismatch extends Error {}

/** Is `e` a refusal for a documented gap (unsupported) rather than a failure? */
export function isUnsupported(e: unknown): boolean {
  if (e instanceof UnsupportedModelError || e instanceof KernelNotFoundError || e instanceof UnsupportedFeatureError) return true;
  return e instanceof OpValidationError && /unknown operator/.test(e.message);
}

function firstLine(e: unknown): string {
  const msg = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  return msg.split('\n')[0]!.slice(0, 400);
}

function readTensor(file: string): { tensor: Tensor; name: string } {
  const proto = decodeTensorProto(readFileSync(file));
  return { tensor: tensorFromProto(proto, file.split('/').slice(-2).join('/')), name: proto.name };
}

function modelOps(file: string): string[] {
  try {
    const m = decodeModel(readFileSync(file));
    return [...new Set((m.graph?.node ?? []).map((n) => (n.domain && n.domain !== 'ai.onnx' ? `${n.domain}.${n.opType}` : n.opType)))];
  } catch {
    return [];
  }
}

/** Run one case in this process. Never throws. */
export async function runCase(c: ConformanceCase, backend: Backend = 'cpu'): Promise<CaseResult> {
  const start = performance.now();
  const ops = modelOps(c.model);
  const done = (status: Status, error?: string): CaseResult => ({ status, error, ops, ms: Math.round(performance.now() - start) });
  let session: InferenceSession | undefined;
  try {
    session = await InferenceSession.create(c.model, { backend, logSeverity: 3 });
    if (c.lightOutput) {
      await runLight(session, c);
    } else {
      if (c.dataSets.length === 0) throw new Mismatch('case has no test_data_set');
      for (const ds of c.dataSets) await runDataSet(session, c, ds);
    }
    return done('pass');
  } catch (e) {
    if (e instanceof Mismatch) return done('fail', e.message.split('\n')[0]);
    return done(isUnsupported(e) ? 'unsupported' : 'fail', firstLine(e));
  } finally {
    await session?.release();
  }
}

/** Read a data file as the value kind `type` declares (TensorProto, SequenceProto or OptionalProto). */
function readValue(file: string, type: ValueType | undefined): { value: OnnxValue; name: string } {
  return readValueProto(readFileSync(file), type, file.split('/').slice(-2).join('/'));
}

async function runDataSet(session: InferenceSession, c: ConformanceCase, ds: DataSet): Promise<void> {
  const feeds: Record<string, OnnxValue> = {};
  const graph = session.model.graph;
  const typeOf = new Map(graph.inputs.map((i) => [i.name, i.type]));
  const owned: OnnxValue[] = [];
  try {
    ds.inputs.forEach((file, i) => {
      // the file's kind follows the declared type of the input at its position (names are checked after)
      const { value, name } = readValue(file, typeOf.get(session.inputNames[i] ?? ''));
      owned.push(value);
      const key = name && typeOf.has(name) && !(name in feeds) ? name : session.inputNames[i];
      if (key === undefined) throw new Mismatch(`input_${i}.pb has no matching model input (the model has ${session.inputNames.length})`);
      feeds[key] = value;
    });
    const names = ds.outputs.map((_, i) => session.outputNames[i]!);
    if (names.some((n) => n === undefined)) throw new Mismatch(`the case has ${ds.outputs.length} outputs but the model ${session.outputNames.length}`);
    const expected = ds.outputs.map((file, i) => readValue(file, graph.outputs[i]?.type).value);
    owned.push(...expected);
    const got = await session.runValues(feeds, names);
    try {
      expected.forEach((want, i) => compareValue(names[i]!, got[names[i]!]!, want, c.rtol, c.atol));
    } finally {
      for (const v of Object.values(got)) disposeValue(v);
    }
  } finally {
    for (const v of owned) disposeValue(v);
  }
}

/** Throw a Mismatch describing the first difference between two values (tensors, sequences or optionals). */
export function compareValue(name: string, got: OnnxValue | undefined, want: OnnxValue, rtol: number, atol: number): void {
  if (want instanceof Tensor) {
    if (!(got instanceof Tensor)) throw new Mismatch(`output '${name}' is ${describeValue(got)}; expected a tensor`);
    compare(name, got, want, rtol, atol);
    return;
  }
  if (want === null) {
    if (got !== null) throw new Mismatch(`output '${name}' is ${describeValue(got)}; expected an empty optional`);
    return;
  }
  if (!Array.isArray(got)) throw new Mismatch(`output '${name}' is ${describeValue(got)}; expected a sequence of ${want.length} tensors`);
  if (got.length !== want.length) throw new Mismatch(`output '${name}' is a sequence of ${got.length} tensors; expected ${want.length}`);
  want.forEach((w, i) => compare(`${name}[${i}]`, got[i]!, w, rtol, atol));
}

async function runLight(session: InferenceSession, c: ConformanceCase): Promise<void> {
  const feeds: Record<string, Tensor> = {};
  for (const meta of session.inputMetadata) {
    if (meta.type !== 'float32') throw new Mismatch(`light input '${meta.name}' is ${meta.type}; the generated inputs are float32`);
    const dims = (meta.shape ?? []).map((d) => (typeof d === 'number' ? d : 1));
    const n = dims.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = i / n;
    feeds[meta.name] = new Tensor('float32', data, dims);
  }
  const { tensor: want } = readTensor(c.lightOutput!);
  const first = session.outputNames[0]!;
  const got = await session.run(feeds, [first]);
  try {
    compare(first, got[first]!, want, c.rtol, c.atol);
  } finally {
    got[first]!.dispose();
    want.dispose();
    for (const t of Object.values(feeds)) t.dispose();
  }
}

/** Throw a Mismatch describing the first difference between `got` and `want`. */
export function compare(name: string, got: Tensor, want: Tensor, rtol: number, atol: number): void {
  if (got.type !== want.type) throw new Mismatch(`output '${name}' has type ${got.type}; expected ${want.type}`);
  if (got.dims.length !== want.dims.length || got.dims.some((d, i) => d !== want.dims[i])) {
    throw new Mismatch(`output '${name}' has shape [${got.dims.join(', ')}]; expected [${want.dims.join(', ')}]`);
  }
  if (got.type === 'string') {
    const a = got.data as string[];
    const b = want.data as string[];
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) throw new Mismatch(`output '${name}' element ${i}: got ${JSON.stringify(a[i])}, expected ${JSON.stringify(b[i])}`);
    return;
  }
  if (got.type === 'int64') {
    const a = got.data as BigInt64Array;
    const b = want.data as BigInt64Array;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) throw new Mismatch(`output '${name}' element ${i}: got ${a[i]}, expected ${b[i]}`);
    return;
  }
  const a = got.numbers();
  const b = want.numbers();
  const exact = got.type !== 'float32' && got.type !== 'float64' && got.type !== 'float16';
  let bad = 0;
  let firstBad = -1;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x === y || (Number.isNaN(x) && Number.isNaN(y))) continue;
    if (!exact && Number.isFinite(x) && Number.isFinite(y) && Math.abs(x - y) <= atol + rtol * Math.abs(y)) continue;
    if (firstBad < 0) firstBad = i;
    bad++;
  }
  if (bad > 0) {
    throw new Mismatch(`output '${name}' differs at ${bad} of ${a.length} elements; first at ${firstBad}: got ${a[firstBad]}, expected ${b[firstBad]} (rtol ${rtol}, atol ${atol})`);
  }
}
