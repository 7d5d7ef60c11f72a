/**
 * Graph optimization passes: rewrite rules grouped in levels and run to a fixed point (see ./optimize.ts).
 */
export { optimizeGraph, LEVEL_RULES, type OptimizationLevel, type OptimizeReport, type OptimizeResult, type PassCount } from './optimize.js';
export type { OptimizeOptions, RewriteRule, RuleContext } from './rule.js';
export { GraphEditor, makeNode } from './editor.js';
export { propagateShapes, inferOutputs, type KnownValue } from './shapes.js';
export { FUSED_DOMAIN, FUSED_OPSET } from './fusion.js';
