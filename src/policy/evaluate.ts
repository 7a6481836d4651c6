import type { PolicyDecision } from '../core/types.js';
import { celMessage, type Condition } from './cel.js';
import { decide, FALSE, stringListOf, TRUE, type Guard, type GuardView } from './guard.js';
import { candidatesOf, ruleIndexOf, type RuleIndex } from './rule-index.js';
import type { Evaluation, PolicyInput, RuleTrace } from './types.js';

/** One rule after load: its condition compiled, and the decision it gives precomputed (frozen, shared). */
export interface CompiledRule {
  readonly name: string;
  readonly effect: PolicyDecision['effect'];
  readonly condition: Condition;
  readonly guard: Guard;
  readonly decision: PolicyDecision;
}

/** The rules of a policy, with the index that says which of them a request can match. */
export interface RuleSet {
  readonly rules: readonly CompiledRule[];
  readonly index: RuleIndex;
  /** Some guard reads `requester.groups`. */
  readonly readsGroups: boolean;
}

export function ruleSetOf(rules: readonly CompiledRule[]): RuleSet {
  return {
    rules,
    index: ruleIndexOf(rules),
    readsGroups: rules.some((r) => r.guard.checks.some((c) => c.subject === 'requester.groups')),
  };
}

// Shown for an absent onBehalfOf so that `onBehalfOf.verified` is false rather than an error.
const NO_ON_BEHALF_OF = Object.freeze({ email: '', verified: false });
const NO_MASK: string[] = Object.freeze([]) as unknown as string[];

/** The variables a condition sees, one shape for every request (cel-js reads them as properties). */
class Activation implements GuardView {
  readonly action: unknown;
  readonly resource: unknown;
  readonly environment: unknown;
  readonly parameters: unknown;
  readonly reason: unknown;
  readonly context: unknown;
  readonly requester: unknown;
  readonly onBehalfOf: unknown;
  readonly dlp: unknown;
  readonly now: unknown;

  constructor(input: PolicyInput) {
    const obo = input.onBehalfOf;
    this.action = input.action;
    this.resource = input.resource;
    this.environment = input.environment;
    this.parameters = input.parameters ?? null;
    this.reason = input.reason ?? '';
    this.context = input.context;
    this.requester = input.requester.email === null ? { ...input.requester, email: '' } : input.requester;
    this.onBehalfOf =
      obo === null
        ? NO_ON_BEHALF_OF
        : { email: obo.verified ? (obo.email ?? '') : '', verified: obo.verified };
    this.dlp = input.dlp;
    this.now = input.now;
  }
}

/** The variables a condition sees. Nulls that conditions commonly touch become "" (docs/policy.md). */
export function activationOf(input: PolicyInput): Record<string, unknown> {
  return new Activation(input) as unknown as Record<string, unknown>;
}

const MATCHED = 1;
const NOT_MATCHED = 2;
const ERROR = 3;
type Outcome = 0 | typeof MATCHED | typeof NOT_MATCHED | typeof ERROR;

function run(condition: Condition, activation: Activation): Outcome | string {
  try {
    const result = condition(activation as unknown as Record<string, unknown>);
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
 *
 * Only the rules the index lists as candidates are looked at (rule-index.ts), and a rule's CEL runs only
 * when its guard cannot decide (guard.ts); every other rule is `not_matched` (or `skipped` once the
 * decision no longer depends on it), which is what running its CEL would have given.
 */
export function evaluateRules(set: RuleSet, defaults: PolicyDecision, input: PolicyInput): Evaluation {
  const rules = set.rules;
  let activation: Activation;
  try {
    activation = new Activation(input);
  } catch (error) {
    return failClosed(rules, null, `the request could not be prepared for evaluation (${celMessage(error)})`);
  }
  const index = set.index;
  const scratch = index.scratch;
  // Re-entry (only conceivable through getters on the input) gets buffers of its own.
  const reuse = !scratch.busy;
  const seen = reuse ? scratch.seen : new Uint8Array(rules.length);
  const found = reuse ? scratch.found : new Int32Array(rules.length);
  scratch.busy = true;
  try {
    const groups = set.readsGroups ? stringListOf(activation.requester) : null;
    const count = candidatesOf(index, activation, groups, seen, found);
    // Candidates: the filed ones found for this request merged (file order) with the unfiled ones.
    const filed = count < 0 ? 0 : count;
    const others = count < 0 ? index.all : index.unindexed;
    return evaluateCandidates(rules, defaults, activation, groups, found, filed, others);
  } finally {
    if (reuse) scratch.busy = false;
  }
}

function evaluateCandidates(
  rules: readonly CompiledRule[],
  defaults: PolicyDecision,
  activation: Activation,
  groups: readonly string[] | null,
  found: Int32Array,
  filed: number,
  others: Int32Array,
): Evaluation {
  let errors: (string | undefined)[] | null = null;
  let denies: number[] | null = null;
  let firstMatch = -1;
  let firstError = -1;
  // Once a non-deny rule matched (or an error already forces deny), only deny rules still matter.
  let decided = false;
  let a = 0;
  let b = 0;
  for (;;) {
    let i: number;
    if (a < filed && (b >= others.length || (found[a] as number) < (others[b] as number))) {
      i = found[a++] as number;
    } else if (b < others.length) i = others[b++] as number;
    else break;
    const rule = rules[i] as CompiledRule;
    if (decided && rule.effect !== 'deny') continue;
    const verdict = decide(rule.guard, activation, groups);
    if (verdict === FALSE) continue;
    const outcome = verdict === TRUE ? MATCHED : run(rule.condition, activation);
    if (typeof outcome === 'string') {
      (errors ??= [])[i] = outcome;
      if (firstError < 0) firstError = i;
      decided = true;
    } else if (outcome === MATCHED) {
      if (rule.effect === 'deny') (denies ??= []).push(i);
      else if (firstMatch < 0) {
        firstMatch = i;
        decided = true;
      }
    }
  }
  let decision: PolicyDecision;
  if (denies !== null) decision = (rules[denies[0] as number] as CompiledRule).decision;
  else if (firstError >= 0)
    decision = errorDecision(rules[firstError] as CompiledRule, errors?.[firstError] ?? '');
  else if (firstMatch >= 0) decision = (rules[firstMatch] as CompiledRule).decision;
  else decision = defaults;
  return new RuleEvaluation(decision, rules, firstMatch, firstError, denies, errors);
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
 * Only what decides the outcomes is kept: the matches, the errors, and where evaluation stopped
 * looking at non-deny rules; every other rule was (or, left out by the index, would have been) not matched.
 */
class RuleEvaluation implements Evaluation {
  readonly decision: PolicyDecision;
  readonly #rules: readonly CompiledRule[];
  readonly #firstMatch: number;
  readonly #firstError: number;
  readonly #denies: readonly number[] | null;
  readonly #errors: readonly (string | undefined)[] | null;
  #trace: RuleTrace[] | null = null;

  constructor(
    decision: PolicyDecision,
    rules: readonly CompiledRule[],
    firstMatch: number,
    firstError: number,
    denies: readonly number[] | null,
    errors: readonly (string | undefined)[] | null,
  ) {
    this.decision = decision;
    this.#rules = rules;
    this.#firstMatch = firstMatch;
    this.#firstError = firstError;
    this.#denies = denies;
    this.#errors = errors;
  }

  get trace(): RuleTrace[] {
    return (this.#trace ??= this.#traceOf());
  }

  toJSON(): Evaluation {
    return { decision: this.decision, trace: this.trace };
  }

  #traceOf(): RuleTrace[] {
    const rules = this.#rules;
    const errors = this.#errors ?? [];
    const denies = this.#denies ?? [];
    // Non-deny rules after the first non-deny match or the first error were not looked at.
    const stop = Math.min(
      this.#firstMatch < 0 ? rules.length : this.#firstMatch,
      this.#firstError < 0 ? rules.length : this.#firstError,
    );
    const trace: RuleTrace[] = new Array<RuleTrace>(rules.length);
    for (let i = 0; i < rules.length; i++) {
      const rule = rules[i] as CompiledRule;
      const error = errors[i];
      let outcome: Outcome;
      if (error !== undefined) outcome = ERROR;
      else if (i === this.#firstMatch || (rule.effect === 'deny' && denies.includes(i))) outcome = MATCHED;
      else if (rule.effect !== 'deny' && i > stop) outcome = 0;
      else outcome = NOT_MATCHED;
      const name = OUTCOME_NAMES[outcome];
      trace[i] =
        error === undefined
          ? { rule: rule.name, effect: rule.effect, outcome: name }
          : { rule: rule.name, effect: rule.effect, outcome: name, error };
    }
    return trace;
  }
}

const OUTCOME_NAMES = ['skipped', 'matched', 'not_matched', 'error'] as const;
