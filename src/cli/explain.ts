/**
 * `tessera explain`: the graph before and after each optimization pass, for learning what the passes do.
 *
 * The rules of the chosen level (src/graph/passes/optimize.ts, LEVEL_RULES) are applied one at a time, in
 * level order, each to the result of the previous one (optimizeGraph with every other rule disabled). For
 * each rule the report gives its rewrite count, the node count before and after, and the nodes it removed (-)
 * and added (+) as `Op name(inputs) -> outputs` lines. A last line compares with all rules run together, as a
 * session does (rules can enable each other, so the counts may differ slightly).
 */
import { LEVEL_RULES, optimizeGraph, type OptimizationLevel } from '../graph/passes/index.js';
import type { Graph, Node } from '../graph/ir.js';
import { EXIT_OK, intOption, loadSession, parseCommandArgs, requireModelPath, sessionOptions, UsageError, type CliIO, type Command } from './common.js';

const HELP = `Usage: tessera explain <model.onnx> [options]

Show what each graph optimization pass does to the model: rewrites, node counts, and the nodes removed (-)
and added (+) by each pass, applied one after the other.

  --level basic|all       which passes (default all; basic keeps results bit-identical)
  --max-lines N           removed and added node lines shown per pass (default 12 each; 0 = all)
  --graph                 also print the whole graph before the first and after the last pass
  --json                  machine-readable report (every removed/added node included)
  -h, --help              show this help

Exit codes: 0 success, 1 the model failed to load or a pass failed, 2 bad command line.`;

/** One pass of the report. */
export interface PassStep {
  readonly rule: string;
  readonly rewrites: number;
  readonly nodesBefore: number;
  readonly nodesAfter: number;
  readonly removed: string[];
  readonly added: string[];
}

/** A node as one line: `Op name(in, ...) -> out, ...`. */
export function nodeLine(n: Node): string {
  const op = n.domain ? `${n.domain}.${n.opType}` : n.opType;
  return `${op} ${n.name}(${n.inputs.map((i) => i || '_').join(', ')}) -> ${n.outputs.join(', ')}`;
}

function multiset(g: Graph): Map<string, number> {
  const m = new Map<string, number>();
  for (const n of g.nodes) {
    const k = nodeLine(n);
    m.set(k, (m.get(k) ?? 0) + 1);
  }
  return m;
}

function difference(a: Map<string, number>, b: Map<string, number>): string[] {
  const out: string[] = [];
  for (const [k, n] of a) for (let i = b.get(k) ?? 0; i < n; i++) out.push(k);
  return out;
}

/** Apply the level's rules one at a time; see the file comment. */
export function explainPasses(graph: Graph, opsets: ReadonlyMap<string, number>, level: Exclude<OptimizationLevel, 'none'>): { steps: PassStep[]; final: Graph; together: number } {
  const rules = LEVEL_RULES[level].map((r) => r.name);
  const steps: PassStep[] = [];
  let g = graph;
  let ops = opsets;
  for (const rule of rules) {
    const result = optimizeGraph(g, ops, level, { disabledRules: rules.filter((r) => r !== rule) });
    const before = multiset(g);
    const after = multiset(result.graph);
    steps.push({
      rule,
      rewrites: result.report.passes.find((p) => p.name === rule)?.rewrites ?? 0,
      nodesBefore: g.nodes.length,
      nodesAfter: result.graph.nodes.length,
      removed: difference(before, after),
      added: difference(after, before),
    });
    g = result.graph;
    ops = result.opsets;
  }
  const together = optimizeGraph(graph, opsets, level).graph.nodes.length;
  return { steps, final: g, together };
}

export const explainCommand: Command = {
  name: 'explain',
  summary: 'the graph before and after each optimization pass',
  help: HELP,
  async run(argv: readonly string[], io: CliIO): Promise<number> {
    const { values, positionals } = parseCommandArgs('explain', argv, {
      level: { type: 'string' },
      'max-lines': { type: 'string' },
      graph: { type: 'boolean' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    });
    if (values.help) {
      io.stdout(HELP + '\n');
      return EXIT_OK;
    }
    const path = requireModelPath('explain', positionals[0]);
    const level = values.level ?? 'all';
    if (level !== 'basic' && level !== 'all') throw new UsageError(`--level must be 'basic' or 'all', got '${level}'`);
    const maxLines = intOption('max-lines', values['max-lines'], 12, 0);
    const session = loadSession(path, sessionOptions({ optimization: 'none' }));
    const { graph, opsets } = session.model;
    const { steps, final, together } = explainPasses(graph, opsets, level);
    if (values.json) {
      const body: Record<string, unknown> = { model: path, level, nodesBefore: graph.nodes.length, nodesAfter: final.nodes.length, nodesAllTogether: together, passes: steps };
      if (values.graph) Object.assign(body, { before: graph.nodes.map(nodeLine), after: final.nodes.map(nodeLine) });
      io.stdout(JSON.stringify(body) + '\n');
      return EXIT_OK;
    }
    let out = `${path}: ${graph.nodes.length} nodes; passes of level '${level}' one at a time:\n`;
    if (values.graph) out += '\ngraph before:\n' + graph.nodes.map((n) => `  ${nodeLine(n)}\n`).join('');
    for (const s of steps) {
      out += `\n${s.rule}: ${s.rewrites} rewrite(s), ${s.nodesBefore} -> ${s.nodesAfter} nodes\n`;
      for (const [mark, lines] of [['-', s.removed], ['+', s.added]] as const) {
        const shown = maxLines === 0 ? lines : lines.slice(0, maxLines);
        out += shown.map((l) => `  ${mark} ${l}\n`).join('');
        if (shown.length < lines.length) out += `  ${mark} ... ${lines.length - shown.length} more (--max-lines 0 shows all)\n`;
      }
    }
    if (values.graph) out += '\ngraph after:\n' + final.nodes.map((n) => `  ${nodeLine(n)}\n`).join('');
    out += `\n${graph.nodes.length} -> ${final.nodes.length} nodes one pass at a time; ${together} with all passes run together to a fixed point (as a session does)\n`;
    io.stdout(out);
    return EXIT_OK;
  },
};
