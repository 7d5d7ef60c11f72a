/**
 * `tessera run`: run a model once on inputs from files and print or save its outputs.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { fmtShape } from '../tensor/shape.js';
import { EXIT_OK, loadSession, MODEL_OPTIONS, MODEL_OPTIONS_HELP, numberOption, parseCommandArgs, requireModelPath, sessionOptions, UsageError, type CliIO, type Command } from './common.js';
import { loadFeeds, stats, tensorJson, writeOutputs } from './inputs.js';

const HELP = `Usage: tessera run <model.onnx> [input files...] [options]

Run the model once and print its outputs (name, type, shape, min/max/mean, first values).

Inputs (one per model input; bare files feed the inputs in declaration order):
  --input NAME=FILE       feed input NAME from FILE (.npy, .json or .png); repeatable
  FILE.json               {"dims": [...], "data": [...]} or a nested array, or {"<input>": ..., ...} for several
  --scale S               PNG: multiply 0..255 pixel values by S (default 1/255)
  --mean a,b,c            PNG: subtract per channel after scaling
  --std a,b,c             PNG: divide per channel after subtracting the mean

Outputs:
  --output-dir DIR        write each output to DIR/<name>.npy (or .json with --format json)
  --format npy|json       file format for --output-dir (default npy)
  --fetch NAME            compute only this output; repeatable
${MODEL_OPTIONS_HELP}

Exit codes: 0 success, 1 the model failed to load or run, 2 bad command line or unreadable input file.
Example: tessera run model.onnx --input x=image.png --mean 0.5,0.5,0.5 --std 0.5,0.5,0.5 --output-dir out/`;

function list(name: string, value: string | undefined): number[] | undefined {
  if (value === undefined) return undefined;
  const v = value.split(',').map(Number);
  if (v.some((x) => !Number.isFinite(x))) throw new UsageError(`--${name} must be a comma-separated list of numbers, got '${value}'`);
  return v;
}

export const runCommand: Command = {
  name: 'run',
  summary: 'run a model on .npy/.json/.png inputs; print or save the outputs',
  help: HELP,
  async run(argv: readonly string[], io: CliIO): Promise<number> {
    const { values, positionals } = parseCommandArgs('run', argv, {
      ...MODEL_OPTIONS,
      input: { type: 'string', multiple: true },
      'output-dir': { type: 'string' },
      format: { type: 'string' },
      fetch: { type: 'string', multiple: true },
      scale: { type: 'string' },
      mean: { type: 'string' },
      std: { type: 'string' },
    });
    if (values.help) {
      io.stdout(HELP + '\n');
      return EXIT_OK;
    }
    const [modelPath, ...files] = positionals;
    const path = requireModelPath('run', modelPath);
    const format = values.format ?? 'npy';
    if (format !== 'npy' && format !== 'json') throw new UsageError(`--format must be 'npy' or 'json', got '${format}'`);
    const options = sessionOptions(values);
    const image = { scale: values.scale === undefined ? undefined : numberOption('scale', values.scale, 1 / 255), mean: list('mean', values.mean), std: list('std', values.std) };
    const session = loadSession(path, options);
    const feeds = await loadFeeds([...(values.input ?? []), ...files], session.inputMetadata, image);
    const missing = session.inputNames.filter((n) => !(n in feeds));
    if (missing.length) {
      const wanted = session.inputMetadata.filter((m) => missing.includes(m.name)).map((m) => `${m.name} (${m.type ?? '?'} [${(m.shape ?? []).map((d) => d ?? '?').join(', ')}])`);
      throw new UsageError(`no input file for ${wanted.join(', ')}; pass --input NAME=FILE`);
    }
    const start = performance.now();
    const outputs = session.runSync(feeds, values.fetch);
    const ms = performance.now() - start;
    let written: string[] = [];
    if (values['output-dir']) {
      const dir = values['output-dir'];
      if (!existsSync(dir)) mkdirSync(dir, { recursive: true });
      written = writeOutputs(outputs, dir, format);
    }
    if (values.json) {
      const out: Record<string, ReturnType<typeof tensorJson>> = {};
      for (const [name, t] of Object.entries(outputs)) out[name] = tensorJson(t);
      io.stdout(JSON.stringify({ model: path, ms, outputs: out, files: written }) + '\n');
      return EXIT_OK;
    }
    io.stdout(`${path}: ran in ${ms.toFixed(1)} ms\n`);
    for (const [name, t] of Object.entries(outputs)) {
      const s = stats(t);
      const first = Array.from(t.type === 'int64' ? Array.from(t.data as BigInt64Array, Number) : t.numbers()).slice(0, 6);
      io.stdout(`  ${name}: ${t.type} ${fmtShape(t.dims)}  min ${fmt(s.min)}  max ${fmt(s.max)}  mean ${fmt(s.mean)}  [${first.map(fmt).join(', ')}${t.size > 6 ? ', ...' : ''}]\n`);
    }
    for (const f of written) io.stdout(`  wrote ${f}\n`);
    return EXIT_OK;
  },
};

function fmt(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toPrecision(5);
}
