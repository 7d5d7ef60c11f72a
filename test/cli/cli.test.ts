/**
 * The `tessera` CLI, run in-process through `main(argv, io)` (plus one real process for the entry point):
 * every command's happy path in text and --json form, --help everywhere, and the errors a user makes, each with
 * its exit code (0 success, 1 the work failed, 2 bad command line) and a message that says what to do.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { COMMANDS, main } from '../../src/cli/main.js';
import { readNpy, writeNpy } from '../../src/cli/npy.js';
import { encodeTensorProto, tensorToProto } from '../../src/graph/index.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { OCR, OWW, ROOT, SILERO } from '../modes/models.js';
import { CONFORMANCE_ROOT } from '../conformance/cases.js';

const CASES = join(CONFORMANCE_ROOT, 'node');
const WAKE = join(OWW, 'hey_rhasspy_v0.1.onnx');
const CLS = join(OCR, 'ch_ppocr_mobile_v2.0_cls_infer.onnx');
const tmp = mkdtempSync(join(tmpdir(), 'tessera-cli-'));

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, { stdout: (t) => (out += t), stderr: (t) => (err += t), interactive: false });
  return { code, out, err };
}

function wakeInput(): Tensor {
  return new Tensor('float32', Float32Array.from({ length: 16 * 96 }, (_, i) => Math.sin(i) * 0.5), [1, 16, 96]);
}

describe('tessera (no command, help, unknown command)', () => {
  it('lists the commands; no command is a usage error (2), --help is success (0)', async () => {
    const none = await cli();
    expect(none.code).toBe(2);
    for (const c of ['run', 'inspect', 'bench', 'conformance', 'explain', 'quantize', 'prune']) expect(none.out).toMatch(new RegExp(`\\n  ${c} `));
    expect((await cli('--help')).code).toBe(0);
  });

  it('every command has --help and `help <command>`', async () => {
    for (const c of COMMANDS) {
      const r = await cli(c.name, '--help');
      expect(r.code, c.name).toBe(0);
      expect(r.out).toMatch(new RegExp(`^Usage: tessera ${c.name} `));
      expect(r.out).toMatch(/Exit codes:/);
      expect((await cli('help', c.name)).out).toBe(r.out);
    }
  });

  it('an unknown command or option exits 2 and points to the fix', async () => {
    const r = await cli('inpsect', 'x.onnx');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/unknown command 'inpsect' \(did you mean inspect\?\)/);
    const o = await cli('run', WAKE, '--frobnicate');
    expect(o.code).toBe(2);
    expect(o.err).toMatch(/Unknown option '--frobnicate'[\s\S]*Run 'tessera run --help' for usage/);
  });
});

describe('tessera run', () => {
  const npy = join(tmp, 'wake.npy');
  writeFileSync(npy, writeNpy(wakeInput()));

  it('runs on a .npy input, prints a summary and writes .npy outputs', async () => {
    const dir = join(tmp, 'out-npy');
    const r = await cli('run', WAKE, npy, '--output-dir', dir);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/39: float32 \[1, 1\]  min /);
    const back = readNpy(readFileSync(join(dir, '39.npy')));
    expect(back.dims).toEqual([1, 1]);
    const direct = (await import('../../src/graph/session.js')).InferenceSession.createSync(WAKE, { logSeverity: 3 }).runSync({ 'onnx::Flatten_0': wakeInput() });
    expect(back.data[0]).toBe(direct['39']!.data[0]);
  });

  it('takes --input NAME=file.json ({dims, data}) and prints JSON with --json', async () => {
    const json = join(tmp, 'wake.json');
    writeFileSync(json, JSON.stringify({ dims: [1, 16, 96], data: Array.from(wakeInput().data as Float32Array) }));
    const r = await cli('run', WAKE, '--input', `onnx::Flatten_0=${json}`, '--json');
    expect(r.code).toBe(0);
    const parsed = JSON.parse(r.out) as { outputs: Record<string, { type: string; dims: number[]; data: number[] }> };
    expect(parsed.outputs['39']!.dims).toEqual([1, 1]);
    expect(parsed.outputs['39']!.data[0]).toBeGreaterThanOrEqual(0);
  });

  it('reads a PNG into the layout the model declares (PP-OCR classifier, NCHW) and writes JSON files', async () => {
    const dir = join(tmp, 'out-json');
    const r = await cli('run', CLS, join(ROOT, 'assets', 'samples', 'line_0.png'), '--mean', '0.5,0.5,0.5', '--std', '0.5,0.5,0.5', '--output-dir', dir, '--format', 'json');
    expect(r.code).toBe(0);
    const out = JSON.parse(readFileSync(join(dir, 'softmax_0.tmp_0.json'), 'utf8')) as { dims: number[]; data: number[] };
    expect(out.dims).toEqual([1, 2]);
    expect(out.data[0]! + out.data[1]!).toBeCloseTo(1, 5);
  });

  it('errors: missing input file (2), unknown input name (2), missing input (2), bad model bytes (1)', async () => {
    const missing = await cli('run', WAKE, join(tmp, 'nope.npy'));
    expect([missing.code, missing.err]).toEqual([2, expect.stringMatching(/cannot read input file '.*nope\.npy': no such file/)]);
    const wrongName = await cli('run', WAKE, '--input', `x=${npy}`);
    expect(wrongName.code).toBe(2);
    expect(wrongName.err).toMatch(/the model has no input 'x'; its inputs are: onnx::Flatten_0/);
    const none = await cli('run', WAKE);
    expect(none.code).toBe(2);
    expect(none.err).toMatch(/no input file for onnx::Flatten_0 \(float32 \[1, 16, 96\]\); pass --input NAME=FILE/);
    const garbage = join(tmp, 'garbage.onnx');
    writeFileSync(garbage, new Uint8Array([1, 2, 3, 4, 5, 250, 251]));
    const bad = await cli('run', garbage, npy);
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/^tessera run: ModelFormatError: /);
    const wrongShape = join(tmp, 'short.npy');
    writeFileSync(wrongShape, writeNpy(new Tensor('float32', new Float32Array(8), [1, 8])));
    const shape = await cli('run', WAKE, wrongShape);
    expect(shape.code).toBe(1);
    expect(shape.err).toMatch(/input 'onnx::Flatten_0' has shape \[1, 8\]/);
    const fmt = await cli('run', WAKE, npy, '--format', 'csv', '--output-dir', tmp);
    expect(fmt.code).toBe(2);
    expect(fmt.err).toMatch(/--format must be 'npy' or 'json', got 'csv'/);
  });
});

describe('tessera inspect', () => {
  it('summarizes ops, parameters and FLOPs (batch dim taken as 1), every node with --nodes', async () => {
    const r = await cli('inspect', join(OWW, 'embedding_model.onnx'), '--nodes');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/opsets ai\.onnx 13/);
    expect(r.out).toMatch(/batch dim of input_1 taken as 1/);
    expect(r.out).toMatch(/65 nodes, 328\.1K parameters \(1\.3 MiB\), 85\.1M FLOPs/);
    expect(r.out).toMatch(/Conv\s+20\s+84\.3M FLOPs/);
    expect(r.out.match(/\n\s+\d+\s+(Conv|LeakyRelu|Max|MaxPool|Reshape)\s/g)).toHaveLength(65);
  });

  it('--json gives per-node FLOPs that follow Conv arithmetic', async () => {
    const r = await cli('inspect', join(OWW, 'embedding_model.onnx'), '--json', '--shape', 'input_1=2,76,32,1');
    const a = JSON.parse(r.out) as { nodes: { opType: string; flops: number; outputShapes: number[][]; params: number }[]; flops: number };
    const conv = a.nodes.find((n) => n.opType === 'Conv' && n.outputShapes[0]![0] === 2)!;
    // 2 * output elements * (Cin/group * kh * kw) + bias; params = weights + bias = Cout * (Cin*kh*kw) + Cout
    const out = conv.outputShapes[0]!.reduce((x, y) => x * y, 1);
    const cout = conv.outputShapes[0]![1]!;
    const perOutput = (conv.params - cout) / cout;
    expect(conv.flops).toBe(2 * out * perOutput + out);
    expect(a.flops).toBeCloseTo(2 * 85.1e6, -6);
  });

  it('unknown symbolic dims leave FLOPs unknown and say how to fix it; a bad --shape is a usage error', async () => {
    const r = await cli('inspect', SILERO);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/nodes of unknown cost; fix symbolic dims with --shape/);
    const bad = await cli('inspect', SILERO, '--shape', 'input=1,x');
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/--shape input=1,x: dims must be non-negative integers/);
    expect((await cli('inspect')).err).toMatch(/missing the model path \(tessera inspect <model\.onnx>\)/);
  });
});

describe('tessera bench', () => {
  it('reports p50/p90/p99 and steady-state arena use, as text and JSON', async () => {
    const r = await cli('bench', WAKE, '--runs', '6', '--warmup', '2', '--json');
    expect(r.code).toBe(0);
    const b = JSON.parse(r.out) as { runs: number; ms: Record<string, number>; arena: { freshPerRun: number; requestsPerRun: number } };
    expect(b.runs).toBe(6);
    expect(b.ms['p50']).toBeLessThanOrEqual(b.ms['p90']!);
    expect(b.ms['p90']).toBeLessThanOrEqual(b.ms['p99']!);
    expect(b.ms['min']).toBeLessThanOrEqual(b.ms['p50']!);
    expect(b.arena.freshPerRun).toBe(0);
    const text = await cli('bench', WAKE, '--runs', '3', '--warmup', '0');
    expect(text.out).toMatch(/p50\s+p90\s+p99/);
  });

  it('asks for --shape when an input has symbolic dims beyond the batch dim; validates --runs', async () => {
    const r = await cli('bench', CLS, '--runs', '1');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/input 'x' has symbolic dims .*; pass --shape x=N,3,N,N/);
    const ok = await cli('bench', CLS, '--runs', '1', '--warmup', '0', '--shape', 'x=1,3,48,64', '--json');
    expect(ok.code).toBe(0);
    expect((await cli('bench', WAKE, '--runs', '0')).err).toMatch(/--runs must be an integer >= 1, got '0'/);
  });
});

describe('tessera conformance', () => {
  // the conformance data is on every project machine (see CONFORMANCE_ROOT): these tests never skip
  it('passes real ONNX cases and exits 0', async () => {
    const r = await cli('conformance', CASES, '--filter', 'test_abs', '--filter', 'test_relu', '--json');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out) as { summary: { total: number; pass: number }; cases: Record<string, { status: string }> };
    expect(j.summary.total).toBeGreaterThanOrEqual(2);
    expect(j.summary.pass).toBe(j.summary.total);
  });

  it('a wrong expected output fails the case with the first difference, exit 1', async () => {
    const dir = join(tmp, 'cases', 'test_abs_broken');
    mkdirSync(join(dir, 'test_data_set_0'), { recursive: true });
    copyFileSync(join(CASES, 'test_abs', 'model.onnx'), join(dir, 'model.onnx'));
    copyFileSync(join(CASES, 'test_abs', 'test_data_set_0', 'input_0.pb'), join(dir, 'test_data_set_0', 'input_0.pb'));
    const expected = readFileSync(join(CASES, 'test_abs', 'test_data_set_0', 'output_0.pb'));
    const { decodeTensorProto, tensorFromProto } = await import('../../src/graph/index.js');
    const want = tensorFromProto(decodeTensorProto(expected), 'output_0.pb');
    const wrong = new Tensor('float32', (want.data as Float32Array).map((v) => v + 1), want.dims);
    writeFileSync(join(dir, 'test_data_set_0', 'output_0.pb'), encodeTensorProto(tensorToProto(wrong, 'y')));
    const r = await cli('conformance', join(tmp, 'cases'));
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/1 cases: 0 pass, 1 fail, 0 unsupported/);
    expect(r.out).toMatch(/fail\s+test_abs_broken: output 'y' differs at \d+ of \d+ elements; first at 0/);
  });

  it('needs a folder of cases', async () => {
    expect((await cli('conformance')).code).toBe(2);
    const r = await cli('conformance', join(tmp, 'nowhere'));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/'.*nowhere' is not a folder/);
  });
});

describe('tessera explain', () => {
  it('shows each pass with its rewrites and the nodes it removed and added', async () => {
    const r = await cli('explain', CLS, '--max-lines', '2');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/ConstantToInitializer: 250 rewrite\(s\), 471 -> 221 nodes\n  - Constant Constant_0\(\) -> /);
    expect(r.out).toMatch(/ConvBatchNormFolding: 35 rewrite\(s\)/);
    expect(r.out).toMatch(/ActivationFusion: \d+ rewrite\(s\)[\s\S]*\+ com\.tessera\.Fused/);
    expect(r.out).toMatch(/471 -> \d+ nodes one pass at a time; \d+ with all passes run together/);
  });

  it('--json lists every removed and added node; --level basic has no fusions; bad level exits 2', async () => {
    const j = JSON.parse((await cli('explain', CLS, '--json', '--level', 'basic')).out) as { passes: { rule: string; removed: string[]; added: string[] }[] };
    expect(j.passes.map((p) => p.rule)).not.toContain('ActivationFusion');
    expect(j.passes.find((p) => p.rule === 'ConstantToInitializer')!.removed).toHaveLength(250);
    const bad = await cli('explain', CLS, '--level', 'max');
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/--level must be 'basic' or 'all', got 'max'/);
  });
});

describe('the tessera process', () => {
  it('runs as a program: --help exits 0, a usage error exits 2 with the message on stderr', () => {
    const entry = join(ROOT, 'src', 'cli', 'main.ts');
    const help = execFileSync(process.execPath, ['--import', 'tsx', entry, '--help'], { cwd: ROOT, encoding: 'utf8' });
    expect(help).toMatch(/^Usage: tessera <command>/);
    const bad = spawnSync(process.execPath, ['--import', 'tsx', entry, 'inspect', join(tmp, 'missing.onnx')], { cwd: ROOT, encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/tessera inspect: model file '.*missing\.onnx' does not exist/);
  });
});
