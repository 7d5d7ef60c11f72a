/**
 * Rules that remove nodes without changing any value (level 'basic').
 *
 * - DeadNodeElimination: a node none of whose outputs is read (by a node, a subgraph, or as a graph output).
 * - IdentityElimination: y = Identity(x) disappears; readers of y read x. When y is a graph output (its name
 *   must stay), x's producer is made to write y directly instead, provided x is produced in this scope and
 *   is not itself a graph output.
 * - DropoutElimination: inference-mode Dropout is an identity on its first output; removed when its mask is
 *   unused and training mode is not requested.
 */
import type { Node } from '../ir.js';
import type { RewriteRule, RuleContext } from './rule.js';

export const deadNodeElimination: RewriteRule = {
  name: 'DeadNodeElimination',
  opTypes: ['*'],
  condition(node, ctx) {
    return node.outputs.every((o) => !o || ctx.editor.isUnused(o));
  },
  apply(node, ctx) {
    ctx.editor.removeNodes(node);
    return true;
  },
};

/** Whether `node`, an alias y = x, can be removed (see the header). */
function canRemoveAlias(ctx: RuleContext, x: string | undefined, y: string | undefined): boolean {
  const ed = ctx.editor;
  if (!x || !y) return false;
  if (!ed.isGraphOutput(y)) return ed.canReplaceUses(y, x);
  const producer = ed.producer(x);
  if (!producer || ed.isGraphOutput(x) || producer.functionBody) return false;
  return ed.canReplaceUses(x, y);
}

function removeAlias(ctx: RuleContext, node: Node, x: string, y: string): boolean {
  const ed = ctx.editor;
  if (!ed.isGraphOutput(y)) {
    ed.removeNodes(node);
    ed.replaceUses(y, x);
    return true;
  }
  const producer = ed.producer(x)!;
  ed.removeNodes(node);
  ed.renameOutput(producer, x, y);
  ed.replaceUses(x, y);
  return true;
}

export const identityElimination: RewriteRule = {
  name: 'IdentityElimination',
  opTypes: ['Identity'],
  condition(node, ctx) {
    return canRemoveAlias(ctx, node.inputs[0], node.outputs[0]);
  },
  apply(node, ctx) {
    return removeAlias(ctx, node, node.inputs[0]!, node.outputs[0]!);
  },
};

export const dropoutElimination: RewriteRule = {
  name: 'DropoutElimination',
  opTypes: ['Dropout'],
  condition(node, ctx) {
    const ed = ctx.editor;
    const mask = node.outputs[1];
    if (mask && !ed.isUnused(mask)) return false;
    // opsets before 7: is_test = 0 asks for training (refused at run time; leave it to say so)
    if ((ctx.opset('') ?? 0) < 7 && node.attrs['is_test'] !== 1) return false;
    const training = node.inputs[2];
    if (training) {
      const t = ed.constant(training);
      if (!t || t.size !== 1 || (t.data as Uint8Array)[0] !== 0) return false;
    }
    return canRemoveAlias(ctx, node.inputs[0], node.outputs[0]);
  },
  apply(node, ctx) {
    return removeAlias(ctx, node, node.inputs[0]!, node.outputs[0]!);
  },
};
