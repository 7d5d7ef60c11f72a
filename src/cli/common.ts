/**
 * Shared pieces of the `tessera` command line: the I/O a command writes to (so tests run commands in-process),
 * usage errors and exit codes, option parsing helpers, model loading with actionable messages, input shape
 * overrides, and a progress bar (cli-progress, on stderr, only when it is a terminal and --json is off, so
 * machine output is never mixed with it).
 */
import { existsSync, statSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { Presets, SingleBar } from 'cli-progress';
import { InferenceSession, type GraphOptimizationLevel, type SessionOptions } from '../graph/session.js';
import { TesseraError } from '../tensor/errors.js';

/** Exit codes. */
export const EXIT_OK = 0;
/** The work failed (a model error, a conformance failure). */
export const EXIT_FAILURE = 1;
/** The command line is wrong (unknown command or option, missing argument, unreadable file). */
export const EXIT_USAGE = 2;

/** Where a command writes. */
export interface CliIO {
  stdout(text: string): void;
  stderr(text: string): void;
  /** True when stderr is an interactive terminal (progress bars are drawn only then). */
  readonly interactive: boolean;
}

/** The process's own streams. */
export const processIO: CliIO = {
  stdout: (t) => void process.stdout.write(t),
  stderr: (t) => void process.stderr.write(t),
  interactive: Boolean(process.stderr.isTTY),
};

/** A mistake on the command line: printed with a hint to --help, exit code 2. */
export class UsageError extends TesseraError {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** A command: parses its own argv, returns an exit code. */
export interface Command {
  readonly name: string;
  readonly summary: string;
  readonly help: string;
  run(argv: readonly string[], io: CliIO): Promise<number>;
}

/** parseArgs with strict checking, turning its errors into UsageErrors that name the command. */
export function parseCommandArgs<T extends NonNullable<ParseArgsConfig['options']>>(
  command: string,
  argv: readonly string[],
  options: T,
): { values: { [K in keyof T]?: T[K] extends { type: 'boolean' } ? boolean : T[K] extends { multiple: true } ? string[] : string }; positionals: string[] } {
  try {
    const parsed = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true });
    return parsed as unknown as ReturnType<typeof parseCommandArgs<T>>;
  } catch (e) {
    throw new UsageError(`${(e as Error).message.replace(/\. To specify a positional argument.*$/, '')}`);
  }
}

/** Options every model command shares. */
export const MODEL_OPTIONS = {
  backend: { type: 'string' },
  threads: { type: 'string' },
  optimization: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Help lines of MODEL_OPTIONS. */
export const MODEL_OPTIONS_HELP = `  --backend cpu|gpu       compute backend (default cpu)
  --threads N             kernel threads (default: the machine's setting)
  --optimization LEVEL    graph passes: none, basic or all (default all)
  --json                  print machine-readable JSON on stdout
  -h, --help              show this help`;

/** A positive integer option, or the default. */
export function intOption(name: string, value: string | undefined, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be an integer >= ${min}, got '${value}'`);
  return n;
}

/** A non-negative number option, or the default. */
export function numberOption(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new UsageError(`--${name} must be a non-negative number, got '${value}'`);
  return n;
}

/** Session options from the shared flags. */
export function sessionOptions(values: { backend?: string; threads?: string; optimization?: string }): SessionOptions {
  const backend = values.backend ?? 'cpu';
  if (backend !== 'cpu' && backend !== 'gpu') throw new UsageError(`--backend must be 'cpu' or 'gpu', got '${backend}'`);
  const level = values.optimization ?? 'all';
  if (!['none', 'basic', 'all'].includes(level)) throw new UsageError(`--optimization must be 'none', 'basic' or 'all', got '${level}'`);
  const options: SessionOptions = { backend, graphOptimizationLevel: level as GraphOptimizationLevel, logSeverity: 3 };
  if (values.threads !== undefined) options.threads = intOption('threads', values.threads, 1);
  return options;
}

/** Check that a model path names a readable file (a usage error otherwise). */
export function requireModelPath(command: string, path: string | undefined): string {
  if (!path) throw new UsageError(`missing the model path (tessera ${command} <model.onnx>)`);
  if (!existsSync(path)) throw new UsageError(`model file '${path}' does not exist`);
  if (!statSync(path).isFile()) throw new UsageError(`model path '${path}' is not a file`);
  return path;
}

/** Load a model (errors from the loader say what is wrong with the model; they exit with code 1). */
export function loadSession(path: string, options: SessionOptions): InferenceSession {
  return InferenceSession.createSync(path, options);
}

/** Parse repeated `--shape name=1,3,224,224` flags. */
export function parseShapes(specs: readonly string[] | undefined): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const spec of specs ?? []) {
    const eq = spec.lastIndexOf('=');
    if (eq <= 0) throw new UsageError(`--shape expects name=d0,d1,... (e.g. x=1,3,224,224), got '${spec}'`);
    const dims = spec
      .slice(eq + 1)
      .split(',')
      .map((s) => (s.trim() === '' ? NaN : Number(s.trim())));
    if (dims.some((d) => !Number.isInteger(d) || d < 0)) throw new UsageError(`--shape ${spec}: dims must be non-negative integers`);
    out.set(spec.slice(0, eq), dims);
  }
  return out;
}

/** Format a byte count. */
export function fmtBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

/** Format a count with an SI suffix (FLOPs, parameters). */
export function fmtCount(n: number): string {
  if (n < 1e3) return String(Math.round(n));
  if (n < 1e6) return `${(n / 1e3).toFixed(1)}K`;
  if (n < 1e9) return `${(n / 1e6).toFixed(1)}M`;
  return `${(n / 1e9).toFixed(2)}G`;
}

/** Left-aligned text table. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n') + '\n';
}

/**
 * A progress bar on stderr (cli-progress), drawn only on an interactive terminal so piped and --json output stay
 * clean. `tick` advances it; `finish` clears it.
 */
export class ProgressBar {
  private readonly bar: SingleBar | undefined;
  constructor(io: CliIO, label: string, total: number, enabled = io.interactive) {
    if (!enabled) return;
    this.bar = new SingleBar({ format: `${label} [{bar}] {value}/{total} {eta_formatted}`, stream: process.stderr, clearOnComplete: true, hideCursor: true }, Presets.legacy);
    this.bar.start(total, 0);
  }

  tick(n = 1): void {
    this.bar?.increment(n);
  }

  finish(): void {
    this.bar?.stop();
  }
}
