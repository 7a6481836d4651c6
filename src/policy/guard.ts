import type { ASTNode } from '@marcbachmann/cel-js';

/**
 * A cheap pre-check derived from a condition: when it fails, the condition is certainly false, so the CEL
 * evaluation can be skipped. Sound because in CEL `false && x` is false even when `x` errors (the logical
 * operators are commutative over errors), so a false top-level conjunct decides the whole condition.
 * This is what keeps a 200-rule policy within a few microseconds: most rules name an action.
 */
export interface GuardCheck {
  /** Plain data, no closures: this runs for every rule on every request. */
  readonly onEnvironment: boolean;
  readonly kind: 'equals' | 'in' | 'startsWith' | 'endsWith';
  readonly literal: string;
  readonly set: ReadonlySet<string> | null;
}

/** The checks on `action` / `environment` found among the top-level `&&` conjuncts of a condition. */
export function guardOf(ast: ASTNode): GuardCheck[] {
  const checks: GuardCheck[] = [];
  for (const conjunct of conjuncts(ast)) {
    const check = checkOf(conjunct);
    if (check !== null) checks.push(check);
  }
  return checks;
}

function conjuncts(node: ASTNode): ASTNode[] {
  return node.op === '&&' ? [...conjuncts(node.args[0]), ...conjuncts(node.args[1])] : [node];
}

function variableOf(node: ASTNode): 'action' | 'environment' | null {
  return node.op === 'id' && (node.args === 'action' || node.args === 'environment') ? node.args : null;
}

function stringOf(node: ASTNode): string | null {
  return node.op === 'value' && typeof node.args === 'string' ? node.args : null;
}

function checkOf(node: ASTNode): GuardCheck | null {
  if (node.op === '==') {
    const [left, right] = node.args;
    const variable = variableOf(left) ?? variableOf(right);
    const literal = stringOf(right) ?? stringOf(left);
    if (variable === null || literal === null) return null;
    return { onEnvironment: variable === 'environment', kind: 'equals', literal, set: null };
  }
  if (node.op === 'in') {
    const [left, right] = node.args;
    const variable = variableOf(left);
    if (variable === null || right.op !== 'list') return null;
    const literals = right.args.map(stringOf);
    if (literals.some((l) => l === null)) return null;
    return {
      onEnvironment: variable === 'environment',
      kind: 'in',
      literal: '',
      set: new Set(literals as string[]),
    };
  }
  if (node.op === 'rcall') {
    const [method, receiver, args] = node.args;
    const variable = variableOf(receiver);
    const literal = args.length === 1 && args[0] !== undefined ? stringOf(args[0]) : null;
    if (variable === null || literal === null) return null;
    if (method === 'startsWith' || method === 'endsWith') {
      return { onEnvironment: variable === 'environment', kind: method, literal, set: null };
    }
  }
  return null;
}

/** False when a check certainly fails for this request; true means "run the condition". */
export function passes(checks: readonly GuardCheck[], action: unknown, environment: unknown): boolean {
  for (let i = 0; i < checks.length; i++) {
    const check = checks[i] as GuardCheck;
    const value = check.onEnvironment ? environment : action;
    if (typeof value !== 'string') continue;
    switch (check.kind) {
      case 'equals':
        if (value !== check.literal) return false;
        break;
      case 'in':
        if (!(check.set as ReadonlySet<string>).has(value)) return false;
        break;
      case 'startsWith':
        if (!value.startsWith(check.literal)) return false;
        break;
      case 'endsWith':
        if (!value.endsWith(check.literal)) return false;
        break;
    }
  }
  return true;
}
