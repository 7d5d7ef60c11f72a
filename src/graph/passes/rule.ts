/**
 * The shape of a graph rewrite rule and the context it runs in.
 *
 * A rule is one small object: the operator types it looks at, a `condition` that only inspects the graph,
 * and an `apply` that edits it through the GraphEditor and reports whether it changed anything. The driver
 * (./optimize.ts) offers every node to the rules that target its op type, round after round, until a round
 * changes nothing (or the iteration cap is reached).
 */
import type { Node } from '../ir.js';
import type { GraphEditor } from './editor.js';

/** Options of optimizeGraph. */
export interface OptimizeOptions {
  /** Constant folding skips nodes whose outputs would hold more elements than this (default 1,000,000). */
  maxFoldedElements?: number;
  /** Rounds per graph scope before the driver stops even if rules still fire (default 16). */
  maxIterations?: number;
  /** Rule names to leave out (e.g. ['ConvBatchNormFolding']). */
  disabledRules?: readonly string[];
  /**
   * The backend the graph will run on (default 'cpu'): rules that emit operators only one backend runs well
   * declare `targets`, and run only for those (fused int8 kernels on the CPU, FakeQuantize on the GPU).
   */
  target?: RuleTarget;
}

/** A backend a rule can target. */
export type RuleTarget = 'cpu' | 'gpu';

/** What a rule sees besides the node. */
export interface RuleContext {
  readonly editor: GraphEditor;
  readonly options: Required<Omit<OptimizeOptions, 'disabledRules' | 'target'>>;
  /** Opset of a domain in this scope ('' = ai.onnx); undefined when the model does not import it. */
  opset(domain: string): number | undefined;
  /** Record that a rule emitted a node of `domain` (the optimized model must import it). */
  useDomain(domain: string, version: number): void;
  /** Nodes a rule tried and found it cannot rewrite for good (e.g. a fold whose kernel failed). */
  readonly gaveUp: WeakSet<Node>;
}

/** One rewrite rule. */
export interface RewriteRule {
  readonly name: string;
  /** Operator types the rule targets ('*' = every node). */
  readonly opTypes: readonly string[];
  /** Domain of those operators (default '' = ai.onnx). */
  readonly domain?: string;
  /** Backends the rule runs for (default: every backend); see OptimizeOptions.target. */
  readonly targets?: readonly RuleTarget[];
  /** True when the rule applies to `node` (no edits here). */
  condition(node: Node, ctx: RuleContext): boolean;
  /** Rewrite; true when the graph changed. */
  apply(node: Node, ctx: RuleContext): boolean;
}
