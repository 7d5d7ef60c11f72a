/**
 * `tessera inspect`: a model's summary (producer, opsets, inputs and outputs, op counts, parameters, FLOPs)
 * and, with --nodes, every node with its output shapes, parameters and FLOPs (see ./analyze.ts).
 */
import { analyzeModel, type NodeInfo } from './analyze.js';
import { EXIT_OK, fmtBytes, fmtCount, loadSession, MODEL_OPTIONS, parseCommandArgs, parseShapes, requireModelPath, sessionOptions, table, type CliIO, type Command } from './common.js';

const HELP = `Usage: tessera inspect <model.onnx> [options]

Summarize a model: opsets, inputs/outputs, node count per op, parameters, FLOPs (total, per op type, and
the heaviest nodes). Shapes are inferred from the declared inputs; fix symbolic dims with --shape.

  --shape NAME=D0,D1,...  give input NAME these dims (e.g. --shape x=1,3,640,640); repeatable
  --nodes                 list every node: op, name, output shapes, parameters, FLOPs
  --top N                 heaviest nodes to list in the summary (default 10)
  --optimization LEVEL    inspect the graph after passes: none (as written), basic (default: Constant
                          nodes become parameters, shapes folded; values unchanged) or all (fused)
  --json                  print the full analysis as JSON (every node included)
  -h, --help              show this help

Exit codes: 0 success, 1 the model failed to load, 2 bad command line.`;

export const inspectCommand: Command = {
  name: 'inspect',
  summary: 'graph summary: ops, parameters, FLOPs per node, shapes, opsets',
  help: HELP,
  async run(argv: readonly string[], io: CliIO): Promise<number> {
    const { values, positionals } = parseCommandArgs('inspect', argv, {
      optimization: { type: 'string' },
      shape: { type: 'string', multiple: true },
      nodes: { type: 'boolean' },
      top: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    });
    if (values.help) {
      io.stdout(HELP + '\n');
      return EXIT_OK;
    }
    const path = requireModelPath('inspect', positionals[0]);
    const shapes = parseShapes(values.shape);
    const session = loadSession(path, sessionOptions({ optimization: values.optimization ?? 'basic' }));
    for (const name of shapes.keys()) {
      if (!session.inputNames.includes(name)) io.stderr(`warning: --shape ${name}: the model has no input '${name}'\n`);
    }
    // a symbolic first dim with every other dim static is a batch dim: take it as 1 unless --shape says otherwise
    const assumed: string[] = [];
    for (const m of session.inputMetadata) {
      if (shapes.has(m.name) || !m.shape || m.shape.length === 0 || typeof m.shape[0] === 'number') continue;
      if (!m.shape.slice(1).every((d) => typeof d === 'number')) continue;
      shapes.set(m.name, [1, ...(m.shape.slice(1) as number[])]);
      assumed.push(m.name);
    }
    const a = analyzeModel(session.model, shapes);
    if (values.json) {
      io.stdout(JSON.stringify({ ...a, assumedBatchOne: assumed }) + '\n');
      return EXIT_OK;
    }
    const dims = (s: readonly (number | string | null)[] | undefined): string => (s ? `[${s.map((d) => d ?? '?').join(', ')}]` : '[?]');
    let out = `${path} (graph after '${values.optimization ?? 'basic'}' passes)\n  producer ${a.producer || '(none)'}, IR version ${a.irVersion}, opsets ${Object.entries(a.opsets).map(([d, v]) => `${d} ${v}`).join(', ')}\n`;
    out += `  inputs:  ${a.inputs.map((i) => `${i.name} ${i.type ?? '?'} ${dims(i.shape)}`).join('; ')}\n`;
    if (assumed.length) out += `  (batch dim of ${assumed.join(', ')} taken as 1; set it with --shape)\n`;
    out += `  outputs: ${a.outputs.map((o) => `${o.name} ${o.type ?? '?'} ${dims(o.shape)}`).join('; ')}\n`;
    out += `  ${a.nodes.length} nodes${a.subgraphNodes ? ` (+${a.subgraphNodes} in subgraphs)` : ''}, ${fmtCount(a.params)} parameters (${fmtBytes(a.paramBytes)}), ${fmtCount(a.flops)} FLOPs`;
    out += a.unknownFlopNodes ? ` (+ ${a.unknownFlopNodes} nodes of unknown cost${shapes.size ? '' : '; fix symbolic dims with --shape'})\n` : '\n';
    out += '\nops:\n' + table(Object.entries(a.opCounts).map(([op, n]) => ['  ' + op, String(n), a.opFlops[op] !== undefined ? `${fmtCount(a.opFlops[op]!)} FLOPs` : '']));
    const row = (n: NodeInfo): string[] => ['  ' + String(n.index), n.opType, n.name, n.outputShapes.map(dims).join(' '), n.params ? fmtCount(n.params) : '', n.flops === undefined ? '?' : fmtCount(n.flops)];
    const header = ['  #', 'op', 'name', 'output shapes', 'params', 'FLOPs'];
    if (values.nodes) out += '\nnodes:\n' + table([header, ...a.nodes.map(row)]);
    else {
      const top = Number(values.top ?? 10);
      const heavy = a.nodes.filter((n) => n.flops !== undefined).sort((x, y) => y.flops! - x.flops!).slice(0, Number.isFinite(top) ? top : 10);
      if (heavy.length) out += `\nheaviest nodes (all with --nodes):\n` + table([header, ...heavy.map(row)]);
    }
    io.stdout(out);
    return EXIT_OK;
  },
};
