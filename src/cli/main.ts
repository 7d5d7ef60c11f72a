#!/usr/bin/env node
/**
 * `tessera`: the command line of the Tessera runtime.
 *
 *   tessera <command> [options]      commands: run, inspect, bench, conformance, explain, quantize
 *   tessera <command> --help         options of a command
 *
 * Every command prints human-readable text by default and one JSON document on stdout with --json. Errors go
 * to stderr as `tessera <command>: <message>` and set the exit code: 0 success, 1 the work failed (the model
 * could not be loaded or run, a conformance case failed), 2 the command line is wrong (unknown command or
 * option, missing or unreadable file). Run from the sources with `npx tsx src/cli/main.ts`; the package's
 * `bin` points at the built dist/cli/main.js.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { TesseraError } from '../tensor/errors.js';
import { benchCommand } from './bench.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, processIO, UsageError, type CliIO, type Command } from './common.js';
import { conformanceCommand } from './conformance.js';
import { explainCommand } from './explain.js';
import { inspectCommand } from './inspect.js';
import { runCommand } from './run.js';
import { PRUNE_USAGE, QUANTIZE_USAGE, pruneCommand, quantizeCommand } from './compress.js';

/** `tessera quantize`: the compression passes of src/quant (its own argument parsing and output). */
const quantizeCliCommand: Command = {
  name: 'quantize',
  summary: 'quantize a model (fp16, dynamic int8, static int8 QDQ with calibration) and report before/after',
  help: QUANTIZE_USAGE,
  run: (argv, io) => quantizeCommand(argv, io),
};

/** `tessera prune`: the prune passes of src/quant (magnitude, N:M, channels) with a before/after report. */
const pruneCliCommand: Command = {
  name: 'prune',
  summary: 'prune a model (magnitude, N:M, structured channels) and report before/after, sparse kernel where it pays',
  help: PRUNE_USAGE,
  run: (argv, io) => pruneCommand(argv, io),
};

/** The commands, in help order. */
export const COMMANDS: readonly Command[] = [runCommand, inspectCommand, benchCommand, conformanceCommand, explainCommand, quantizeCliCommand, pruneCliCommand];

function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return `Usage: tessera <command> [options]

Tessera: ONNX inference on hand-written CPU kernels and gpu.js shaders.

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}

Run 'tessera <command> --help' for a command's options. Every command accepts --json.
Exit codes: 0 success, 1 the work failed, 2 bad command line.
`;
}

/** Run the CLI with `argv` (without node and the script); returns the exit code. */
export async function main(argv: readonly string[], io: CliIO = processIO): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    const topic = name === 'help' ? COMMANDS.find((c) => c.name === rest[0]) : undefined;
    io.stdout(topic ? topic.help + '\n' : mainHelp());
    return name === undefined ? EXIT_USAGE : EXIT_OK;
  }
  if (name === '--version' || name === '-v') {
    io.stdout('tessera 0.1.0\n');
    return EXIT_OK;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    const near = COMMANDS.filter((c) => c.name.startsWith(name.slice(0, 2))).map((c) => c.name);
    io.stderr(`tessera: unknown command '${name}'${near.length ? ` (did you mean ${near.join(' or ')}?)` : ''}; commands: ${COMMANDS.map((c) => c.name).join(', ')}\n`);
    return EXIT_USAGE;
  }
  try {
    return await command.run(rest, io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr(`tessera ${name}: ${e.message}\nRun 'tessera ${name} --help' for usage.\n`);
      return EXIT_USAGE;
    }
    const message = e instanceof TesseraError ? `${e.name}: ${e.message}` : e instanceof Error ? `${e.name}: ${e.message}${process.env['TESSERA_DEBUG'] ? `\n${e.stack}` : ''}` : String(e);
    io.stderr(`tessera ${name}: ${message}\n`);
    return EXIT_FAILURE;
  }
}

/** True when this module is the process's entry point (not imported by a test). */
function isEntryPoint(): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`tessera: ${String(e)}\n`);
      process.exitCode = EXIT_FAILURE;
    },
  );
}
