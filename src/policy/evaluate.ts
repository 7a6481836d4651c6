import type { PolicyDecision } from '../core/types.js';
import { celMessage, type Condition } from './cel.js';
import { passes, type GuardCheck } from './guard.js';
import type { Evaluation, PolicyInput, RuleTrace } from './types.js';

/** One rule after load: its condition compiled, and the decision it gives precomputed (frozen, shared). */
export interface CompiledRule {
  readonly name: string;
  readonly effect: PolicyDecision['effect'];
  readonly condition: Condition;
  readonly guard: readonly GuardCheck[];
  readonly decision: PolicyDecision;
}

// Shown for an absent onBehalfOf so that `onBehalfOf.verified` is false rather than an error.
const NO_ON_BEHALF_OF = Object.freeze({ email: '', verified: false });
const NO_MASK: string[] = Object.freeze([]) as unknown as string[];

/** The variables a condition sees. Nulls that conditions commonly touch become "" (docs/policy.md). */
export function activationOf(input: PolicyInput): Record<string, unknown> {
  const requester = input.requester.email === null ? { ...input.requester, email: '' } : input.requester;
  const obo = input.onBehalfOf;
  return {
    action: input.action,
    resource: input.resource,
    environment: input.environment,
    parameters: input.parameters ?? null,
    reason: input.reason ?? '',
    context: input.context,
    requester,
    onBehalfOf:
      obo === null
        ? NO_ON_BEHALF_OF
        : { email: obo.verified ? (obo.email ?? '') : '', verified: obo.verified },
    dlp: input.dlp,
    now: input.now,
  };
}

const MATCHED = 1;
const NOT_MATCHED = 2;
const ERROR = 3;
type Outcome = 0 | typeof MATCHED | typeof NOT_MATCHED | typeof ERROR;

function run(condition: Condition, activation: Record<string, unknown>): Outcome | string {
  try {
    const result = condition(activation);
    if (result === true) return MATCHED;
    if (result === false) return NOT_MATCHED;
    return `condition returned ${describe(result)}, not a boolean`;
  } catch (error) {
    return celMessage(error);
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'bigint') return `the int ${value}`;
  if (typeof value === 'string') return `the string ${JSON.stringify(value)}`;
  return `a ${typeof value}`;
}

/**
 * Every matching deny rule wins (the first one is reported); otherwise the first matching rule decides;
 * otherwise the defaults. A deny rule that errors, or any rule that errors before the first match, denies:
 * an error never turns into an allow (DESIGN.md invariant 6). Never throws.
 */
export function evaluateRules(
  rules: readonly CompiledRule[],
  defaults: PolicyDecision,
  input: PolicyInput,
): Evaluation {
  const outcomes = new Uint8Array(rules.length);
  let errors: (string | undefined)[] | null = null;
  let firstDeny = -1;
  let firstMatch = -1;
  let firstError = -1;
  let activation: Record<string, unknown>;
  try {
    activation = activationOf(input);
  } catch (error) {
    return failClosed(rules, null, `the request could not be prepared for evaluation (${celMessage(error)})`);
  }
  for (let i = 0; i < rules.length; i++) {
    const rule = rules[i] as CompiledRule;
    // Once a non-deny rule matched (or an error already forces deny), only deny rules still matter.
    if (rule.effect !== 'deny' && (firstMatch >= 0 || firstError >= 0)) continue;
    const outcome = passes(rule.guard, input.action, input.environment)
      ? run(rule.condition, activation)
      : NOT_MATCHED;
    if (typeof outcome === 'string') {
      outcomes[i] = ERROR;
      (errors ??= [])[i] = outcome;
      if (firstError < 0) firstError = i;
    } else {
      outcomes[i] = outcome;
      if (outcome === MATCHED) {
        if (rule.effect === 'deny') {
          if (firstDeny < 0) firstDeny = i;
        } else if (firstMatch < 0) firstMatch = i;
      }
    }
  }
  let decision: PolicyDecision;
  if (firstDeny >= 0) decision = (rules[firstDeny] as CompiledRule).decision;
  else if (firstError >= 0)
    decision = errorDecision(rules[firstError] as CompiledRule, errors?.[firstError] ?? '');
  else if (firstMatch >= 0) decision = (rules[firstMatch] as CompiledRule).decision;
  else decision = defaults;
  return new RuleEvaluation(decision, rules, outcomes, errors);
}

function errorDecision(rule: CompiledRule, error: string): PolicyDecision {
  return {
    effect: 'deny',
    rule: rule.name,
    explanation: `rule "${rule.name}" could not be evaluated: ${error}; failed closed: deny`,
    approval: null,
    mask: NO_MASK,
    notify: NO_MASK,
  };
}

function failClosed(rules: readonly CompiledRule[], rule: string | null, why: string): Evaluation {
  return {
    decision: {
      effect: 'deny',
      rule,
      explanation: `${why}; failed closed: deny`,
      approval: null,
      mask: NO_MASK,
      notify: NO_MASK,
    },
    trace: rules.map((r) => ({ rule: r.name, effect: r.effect, outcome: 'skipped' })),
  };
}

/**
 * The trace is built on first read: the gateway's hot path only needs the decision, and building
 * one object per rule would dominate the cost of evaluating a large policy. `toJSON` includes it.
 */
class RuleEvaluation implements Evaluation {
  readonly decision: PolicyDecision;
  readonly #rules: readonly CompiledRule[];
  readonly #outcomes: Uint8Array;
  readonly #errors: readonly (string | undefined)[] | null;
  #trace: RuleTrace[] | null = null;

  constructor(
    decision: PolicyDecision,
    rules: readonly CompiledRule[],
    outcomes: Uint8Array,
    errors: readonly (string | undefined)[] | null,
  ) {
    this.decision = decision;
    this.#rules = rules;
    this.#outcomes = outcomes;
    this.#errors = errors;
  }

  get trace(): RuleTrace[] {
    return (this.#trace ??= traceOf(this.#rules, this.#outcomes, this.#errors ?? []));
  }

  toJSON(): Evaluation {
    return { decision: this.decision, trace: this.trace };
  }
}

const OUTCOME_NAMES = ['skipped', 'matched', 'not_matched', 'error'] as const;

function traceOf(
  rules: readonly CompiledRule[],
  outcomes: Uint8Array,
  errors: readonly (string | undefined)[],
): RuleTrace[] {
  const trace: RuleTrace[] = new Array<RuleTrace>(rules.length);
  for (let i = 0; i < rules.length; i++) {
    const rule = rules[i] as CompiledRule;
    const outcome = OUTCOME_NAMES[outcomes[i] as Outcome];
    const error = errors[i];
    trace[i] =
      error === undefined
        ? { rule: rule.name, effect: rule.effect, outcome }
        : { rule: rule.name, effect: rule.effect, outcome, error };
  }
  return trace;
}
