import type { ASTNode } from '@marcbachmann/cel-js';

/**
 * Cheap pre-checks derived from a condition's top-level `&&` conjuncts. Each check mirrors one conjunct
 * exactly: when the value it reads is of the kind CEL would compare (a string, a list of strings), the
 * check gives the conjunct's own result; otherwise it says "unknown" and the CEL runs.
 *
 * - One false check decides the whole condition as false. Sound because in CEL `false && x` and
 *   `x && false` are both false even when `x` errors (the logical operators are commutative over
 *   errors; cel-js implements this, and a test relies on it).
 * - When every conjunct is a check (the guard is `exhaustive`) and all are true, the condition is true.
 *
 * Recognised conjuncts, with the literal on either side of `==`:
 *   SUBJECT == "lit", SUBJECT in ["a", "b"], SUBJECT.startsWith("lit"), SUBJECT.endsWith("lit"),
 *   "lit" in requester.groups,
 * where SUBJECT is `action`, `environment`, `resource`, `requester.kind`, `requester.name`,
 * `requester.email` or `parameters.KEY`.
 */
export interface GuardCheck {
  /** Plain data, no closures: this runs for every candidate rule on every request. */
  readonly subject: GuardSubject;
  /** For `parameters.KEY`: the key; otherwise "". */
  readonly key: string;
  readonly kind: 'equals' | 'in' | 'startsWith' | 'endsWith' | 'contains';
  readonly literal: string;
  readonly set: ReadonlySet<string> | null;
}

export type GuardSubject =
  | 'action'
  | 'environment'
  | 'resource'
  | 'requester.kind'
  | 'requester.name'
  | 'requester.email'
  | 'requester.groups'
  | 'parameters';

export interface Guard {
  readonly checks: GuardCheck[];
  /** Every top-level conjunct is a check: when all of them are true, so is the condition. */
  readonly exhaustive: boolean;
}

/** The checks found among the top-level `&&` conjuncts of a condition. */
export function guardOf(ast: ASTNode): Guard {
  const checks: GuardCheck[] = [];
  let exhaustive = true;
  for (const conjunct of conjuncts(ast)) {
    const check = checkOf(conjunct);
    if (check === null) exhaustive = false;
    else checks.push(check);
  }
  return { checks, exhaustive };
}

function conjuncts(node: ASTNode): ASTNode[] {
  return node.op === '&&' ? [...conjuncts(node.args[0]), ...conjuncts(node.args[1])] : [node];
}

const MAP_FIELDS: Record<string, GuardSubject | undefined> = {
  kind: 'requester.kind',
  name: 'requester.name',
  email: 'requester.email',
};

/** The string-valued subject a node reads, or null. */
function subjectOf(node: ASTNode): { subject: GuardSubject; key: string } | null {
  if (node.op === 'id') {
    const name = node.args;
    return name === 'action' || name === 'environment' || name === 'resource'
      ? { subject: name, key: '' }
      : null;
  }
  if (node.op === '.') {
    const [receiver, field] = node.args;
    if (receiver.op !== 'id') return null;
    if (receiver.args === 'parameters') return { subject: 'parameters', key: field };
    const subject =
      receiver.args === 'requester' && Object.hasOwn(MAP_FIELDS, field) ? MAP_FIELDS[field] : undefined;
    return subject === undefined ? null : { subject, key: '' };
  }
  return null;
}

function isRequesterGroups(node: ASTNode): boolean {
  return (
    node.op === '.' &&
    node.args[1] === 'groups' &&
    node.args[0].op === 'id' &&
    node.args[0].args === 'requester'
  );
}

function stringOf(node: ASTNode): string | null {
  return node.op === 'value' && typeof node.args === 'string' ? node.args : null;
}

function checkOf(node: ASTNode): GuardCheck | null {
  if (node.op === '==') {
    const [left, right] = node.args;
    const subject = subjectOf(left) ?? subjectOf(right);
    const literal = stringOf(right) ?? stringOf(left);
    if (subject === null || literal === null) return null;
    return { ...subject, kind: 'equals', literal, set: null };
  }
  if (node.op === 'in') {
    const [left, right] = node.args;
    const element = stringOf(left);
    if (element !== null && isRequesterGroups(right)) {
      return { subject: 'requester.groups', key: '', kind: 'contains', literal: element, set: null };
    }
    const subject = subjectOf(left);
    if (subject === null || right.op !== 'list') return null;
    const literals = right.args.map(stringOf);
    if (literals.some((l) => l === null)) return null;
    return { ...subject, kind: 'in', literal: '', set: new Set(literals as string[]) };
  }
  if (node.op === 'rcall') {
    const [method, receiver, args] = node.args;
    const subject = subjectOf(receiver);
    const literal = args.length === 1 && args[0] !== undefined ? stringOf(args[0]) : null;
    if (subject === null || literal === null) return null;
    if (method === 'startsWith' || method === 'endsWith')
      return { ...subject, kind: method, literal, set: null };
  }
  return null;
}

export const UNKNOWN = 0;
export const TRUE = 1;
export const FALSE = 2;
export type GuardResult = typeof UNKNOWN | typeof TRUE | typeof FALSE;

/**
 * What the guard says about a condition for one activation: FALSE (certainly false), TRUE (certainly
 * true: only for an exhaustive guard) or UNKNOWN (run the condition). `groups` is the requester's groups
 * when they are a plain list of strings (see `stringListOf`), else null.
 */
export function decide(guard: Guard, activation: GuardView, groups: readonly string[] | null): GuardResult {
  const checks = guard.checks;
  let allTrue = guard.exhaustive;
  for (let i = 0; i < checks.length; i++) {
    const check = checks[i] as GuardCheck;
    if (check.kind === 'contains') {
      if (groups === null) allTrue = false;
      else if (!groups.includes(check.literal)) return FALSE;
      continue;
    }
    const value = valueOf(check, activation);
    if (value === undefined) allTrue = false;
    else if (!holds(check, value)) return FALSE;
  }
  return allTrue ? TRUE : UNKNOWN;
}

/** The activation fields a guard reads: exactly the values the condition sees. */
export interface GuardView {
  readonly action: unknown;
  readonly environment: unknown;
  readonly resource: unknown;
  readonly requester: unknown;
  readonly parameters: unknown;
}

function valueOf(check: GuardCheck, a: GuardView): string | undefined {
  return subjectValue(check.subject, check.key, a);
}

/** The value of a subject as the condition sees it, when it is a string; else undefined ("unknown"). */
export function subjectValue(subject: GuardSubject, key: string, a: GuardView): string | undefined {
  let value: unknown;
  switch (subject) {
    case 'action':
      value = a.action;
      break;
    case 'environment':
      value = a.environment;
      break;
    case 'resource':
      value = a.resource;
      break;
    case 'requester.kind':
      value = fieldOf(a.requester, 'kind');
      break;
    case 'requester.name':
      value = fieldOf(a.requester, 'name');
      break;
    case 'requester.email':
      value = fieldOf(a.requester, 'email');
      break;
    case 'parameters':
      value = fieldOf(a.parameters, key);
      break;
    default:
      return undefined;
  }
  return typeof value === 'string' ? value : undefined;
}

function holds(check: GuardCheck, value: string): boolean {
  switch (check.kind) {
    case 'equals':
      return value === check.literal;
    case 'in':
      return (check.set as ReadonlySet<string>).has(value);
    case 'startsWith':
      return value.startsWith(check.literal);
    case 'endsWith':
      return value.endsWith(check.literal);
    default:
      return true;
  }
}

/**
 * `map.key` as cel-js reads it from a plain object (constructor Object or none, own property), or
 * undefined when cel-js would read it some other way (a Map, a class instance) or not at all.
 */
function fieldOf(map: unknown, key: string): unknown {
  if (typeof map !== 'object' || map === null) return undefined;
  const constructor = (map as { constructor?: unknown }).constructor;
  if (constructor !== Object && constructor !== undefined) return undefined;
  return Object.hasOwn(map, key) ? (map as Record<string, unknown>)[key] : undefined;
}

/** `requester.groups` when it is an Array holding only strings (so `"x" in` it is exactly `includes`). */
export function stringListOf(requester: unknown): readonly string[] | null {
  const list = fieldOf(requester, 'groups');
  if (
    typeof list !== 'object' ||
    list === null ||
    (list as { constructor?: unknown }).constructor !== Array
  ) {
    return null;
  }
  const array = list as readonly unknown[];
  for (let i = 0; i < array.length; i++) if (typeof array[i] !== 'string') return null;
  return array as readonly string[];
}

/**
 * The action/environment checks alone: false when one certainly fails. Kept for callers that only have
 * those two values (bench/policy-eval.js counts the conditions that still run with it); evaluation uses
 * `decide`, which also reads the other subjects.
 */
export function passes(guard: Guard, action: unknown, environment: unknown): boolean {
  for (const check of guard.checks) {
    if (check.subject !== 'action' && check.subject !== 'environment') continue;
    const value = check.subject === 'environment' ? environment : action;
    if (typeof value === 'string' && !holds(check, value)) return false;
  }
  return true;
}
