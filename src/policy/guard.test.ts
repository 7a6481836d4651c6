import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { PolicyDecision } from '../core/types.js';
import { compileCondition, celMessage, type Condition } from './cel.js';
import { activationOf } from './evaluate.js';
import { guardOf } from './guard.js';
import { loadPolicy } from './load-policy.js';
import { input, policyYaml } from './test-helpers.js';
import type { PolicyInput, RuleTrace } from './types.js';

/**
 * The reference: every rule's CEL run in file order, no guard, no index (the semantics of
 * docs/policy.md). The optimised evaluator must give the same decision and the same trace.
 */
function reference(
  rules: { name: string; effect: PolicyDecision['effect']; condition: Condition }[],
  request: PolicyInput,
): { rule: string | null; effect: string; error: string | null; trace: RuleTrace[] } {
  const activation = activationOf(request);
  const trace: RuleTrace[] = [];
  let firstDeny: string | null = null;
  let firstMatch: { name: string; effect: string } | null = null;
  let firstError: { name: string; error: string } | null = null;
  for (const rule of rules) {
    if (rule.effect !== 'deny' && (firstMatch !== null || firstError !== null)) {
      trace.push({ rule: rule.name, effect: rule.effect, outcome: 'skipped' });
      continue;
    }
    let result: unknown;
    let error: string | null = null;
    try {
      result = rule.condition(activation);
      if (typeof result !== 'boolean') error = 'not a boolean';
    } catch (e) {
      error = celMessage(e);
    }
    if (error !== null) {
      trace.push({ rule: rule.name, effect: rule.effect, outcome: 'error' });
      firstError ??= { name: rule.name, error };
    } else if (result === true) {
      trace.push({ rule: rule.name, effect: rule.effect, outcome: 'matched' });
      if (rule.effect === 'deny') firstDeny ??= rule.name;
      else firstMatch ??= { name: rule.name, effect: rule.effect };
    } else {
      trace.push({ rule: rule.name, effect: rule.effect, outcome: 'not_matched' });
    }
  }
  if (firstDeny !== null) return { rule: firstDeny, effect: 'deny', error: null, trace };
  if (firstError !== null) return { rule: firstError.name, effect: 'deny', error: firstError.error, trace };
  if (firstMatch !== null) return { rule: firstMatch.name, effect: firstMatch.effect, error: null, trace };
  return { rule: null, effect: 'require_approval', error: null, trace };
}

/** Deterministic PRNG (mulberry32), so that a failure reproduces. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Every guard shape, on every subject, plus conjuncts no guard understands (some error, some are not
// booleans), so that guarded checks meet errors on both sides of `&&`.
const CONJUNCTS = [
  'action == "a.x"',
  '"b.y" == action',
  'action in ["a.x", "b.y"]',
  'action in []',
  'action.startsWith("a.")',
  'action.endsWith(".y")',
  'environment == "prod"',
  'environment in ["prod", "dev"]',
  'environment.endsWith("od")',
  'environment.startsWith("")',
  'resource == "k8s://prod/a"',
  'resource.startsWith("k8s://prod/")',
  'resource.startsWith("k8s://")',
  'resource.endsWith("/a")',
  'resource in ["other", "k8s://prod/a"]',
  'requester.kind == "agent"',
  '"human" == requester.kind',
  'requester.kind in ["human", "service"]',
  'requester.name == "bot"',
  'requester.name.startsWith("b")',
  'requester.email == ""',
  'requester.email == "a@x.org"',
  'requester.email.endsWith("@x.org")',
  '"sre" in requester.groups',
  '"ops" in requester.groups',
  'parameters.mode == "fast"',
  '"slow" == parameters.mode',
  'parameters.mode in ["fast", "slow"]',
  'parameters.dest.startsWith("s3://")',
  'parameters.missing == "x"',
  'parameters.n > 2',
  'parameters.flag',
  'has(parameters.mode)',
  '!(action == "a.x")',
  'true',
  'false',
  'requester.groups.size() > 1',
  '(action == "b.y" || resource == "other")',
];

const EFFECTS = ['allow', 'deny', 'require_approval'] as const;

function generatedPolicy(next: () => number, size: number) {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T;
  return Array.from({ length: size }, (_, i) => {
    const terms = Array.from({ length: 1 + Math.floor(next() * 4) }, () => pick(CONJUNCTS));
    // Nest some `&&`s to the right and to the left: guards flatten them.
    const when =
      terms.length >= 3 && next() < 0.5
        ? `(${terms[0]} && ${terms[1]}) && (${terms.slice(2).join(' && ')})`
        : terms.join(' && ');
    return { name: `g${i}`, effect: pick(EFFECTS), when };
  });
}

const nullProto = (fields: Record<string, unknown>) => Object.assign(Object.create(null) as object, fields);

const ACTIONS: unknown[] = ['a.x', 'b.y', 'a.z', 'c.y', '', 42];
const ENVIRONMENTS: unknown[] = ['prod', 'dev', 'staging', null];
const RESOURCES: unknown[] = ['k8s://prod/a', 'k8s://prod/b', 'k8s://dev/a', 'other', '', null];
const GROUPS: unknown[] = [
  [],
  ['sre'],
  ['ops', 'sre'],
  ['bots'],
  ['sre', 1],
  [1, 'sre'],
  new Set(['sre']),
  null,
];
const REQUESTERS: ((groups: unknown) => unknown)[] = [
  (groups) => ({ id: 'k', kind: 'agent', name: 'bot', email: null, groups, attributes: {} }),
  (groups) => ({ id: 'k', kind: 'human', name: 'ann', email: 'a@x.org', groups, attributes: {} }),
  (groups) => ({ id: 'k', kind: 'service', name: 'bob', email: 'b@y.org', groups, attributes: {} }),
  (groups) => ({ id: 'k', name: 'bot', email: 'a@x.org', groups, attributes: {} }),
  (groups) => ({ id: 'k', kind: 5, name: ['bot'], email: 7, groups, attributes: {} }),
  (groups) => nullProto({ id: 'k', kind: 'agent', name: 'bot', email: 'a@x.org', groups }),
  (groups) =>
    new Map<string, unknown>([
      ['kind', 'agent'],
      ['name', 'bot'],
      ['email', ''],
      ['groups', groups],
    ]),
];
const PARAMETERS: unknown[] = [
  { mode: 'fast', dest: 's3://x', n: 3, flag: true },
  { mode: 'slow', dest: 'gs://y', n: 1, flag: 'yes' },
  { mode: 5, dest: null, flag: false },
  {},
  null,
  [],
  ['fast'],
  new Map([['mode', 'fast']]),
  nullProto({ mode: 'fast', flag: true }),
  { constructor: 'x', mode: 'fast', flag: true },
];

function generatedInput(next: () => number): PolicyInput {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T;
  return {
    ...input(),
    action: pick(ACTIONS),
    environment: pick(ENVIRONMENTS),
    resource: pick(RESOURCES),
    requester: pick(REQUESTERS)(pick(GROUPS)),
    parameters: pick(PARAMETERS),
  } as unknown as PolicyInput;
}

function yamlOf(rules: { name: string; effect: string; when: string }[]): string {
  return rules
    .map((r) => `  - name: ${r.name}\n    when: ${JSON.stringify(r.when)}\n    effect: ${r.effect}`)
    .join('\n');
}

function expectSameAsReference(
  rules: { name: string; effect: string; when: string }[],
  requests: PolicyInput[],
) {
  const policy = loadPolicy(policyYaml(yamlOf(rules)));
  const compiled = rules.map((r) => {
    const c = compileCondition(r.when);
    if (!c.ok) throw new Error(`${r.when}: ${c.message}`);
    return { name: r.name, effect: r.effect as PolicyDecision['effect'], condition: c.condition };
  });
  for (const request of requests) {
    const expected = reference(compiled, request);
    const { decision, trace } = policy.evaluate(request);
    const context = inspect({ rules, request }, { depth: 4, breakLength: Infinity });
    expect({ rule: decision.rule, effect: decision.effect }, context).toEqual({
      rule: expected.rule,
      effect: expected.effect,
    });
    if (expected.error !== null) expect(decision.explanation, context).toContain('could not be evaluated');
    expect(
      trace.map((t) => ({ rule: t.rule, effect: t.effect, outcome: t.outcome })),
      context,
    ).toEqual(expected.trace);
  }
}

describe('guards and index: identical to running every condition', () => {
  it('cel-js: `false && error` and `error && false` are both false; `true && error` errors', () => {
    const run = (when: string) => {
      const c = compileCondition(when);
      if (!c.ok) throw new Error(c.message);
      try {
        return c.condition(activationOf(input({ parameters: {} })));
      } catch {
        return 'error';
      }
    };
    expect(run('parameters.nope == "x" && action == "other"')).toBe(false);
    expect(run('action == "other" && parameters.nope == "x"')).toBe(false);
    expect(run('parameters.nope && (action == "other" && true)')).toBe(false);
    expect(run('(parameters.nope == "x" && true) && action == "other"')).toBe(false);
    expect(run('action == "service.restart" && parameters.nope == "x"')).toBe('error');
    expect(run('parameters.nope == "x" && action == "service.restart"')).toBe('error');
  });

  it('recognises every shape, and only those', () => {
    const guard = (when: string) => {
      const c = compileCondition(when);
      if (!c.ok) throw new Error(c.message);
      return guardOf((c.condition as Condition & { ast: Parameters<typeof guardOf>[0] }).ast);
    };
    expect(guard('resource in ["a"] && "x" in requester.groups && parameters.k == "v"')).toMatchObject({
      exhaustive: true,
      checks: [
        { subject: 'resource', kind: 'in' },
        { subject: 'requester.groups', kind: 'contains', literal: 'x' },
        { subject: 'parameters', key: 'k', kind: 'equals', literal: 'v' },
      ],
    });
    expect(guard('requester.email.endsWith("@x") && parameters.n > 1')).toMatchObject({
      exhaustive: false,
      checks: [{ subject: 'requester.email', kind: 'endsWith', literal: '@x' }],
    });
    // Not string comparisons, or not a top-level conjunct: no check.
    expect(guard('requester.id == "k" || action == "a"').checks).toEqual([]);
    expect(guard('parameters.n == 3 && requester["kind"] == "agent"').checks).toEqual([]);
    expect(guard('requester.attributes.team == "x" && parameters.a.b == "x"').checks).toEqual([]);
  });

  it('random policies over random (also malformed) requests: same decisions and traces', () => {
    const next = random(20260105);
    for (let p = 0; p < 40; p++) {
      const rules = generatedPolicy(next, 3 + Math.floor(next() * 12));
      const requests = Array.from({ length: 60 }, () => generatedInput(next));
      expectSameAsReference(rules, requests);
    }
  });

  it('many rules filed under the same keys, and every request shape against them', () => {
    const next = random(7);
    const rules = generatedPolicy(next, 80);
    const requests: PolicyInput[] = [];
    for (const action of ACTIONS)
      for (const resource of RESOURCES)
        for (const groups of GROUPS)
          requests.push({
            ...input(),
            action,
            resource,
            environment: ENVIRONMENTS[requests.length % ENVIRONMENTS.length],
            requester: (REQUESTERS[requests.length % REQUESTERS.length] as (g: unknown) => unknown)(groups),
            parameters: PARAMETERS[requests.length % PARAMETERS.length],
          } as unknown as PolicyInput);
    expectSameAsReference(rules, requests);
  });

  it('a policy shaped like the benchmark: prefixes, groups and environment lists', () => {
    const rules = Array.from({ length: 60 }, (_, i) => {
      const k = Math.floor(i / 6);
      const when = [
        `action == "svc${k}.restart" && environment == "production"`,
        `action.startsWith("ns${k}.") && resource.startsWith("k8s://prod/ns${k}/")`,
        `action == "data${k}.export" && has(parameters.destination) && parameters.destination.startsWith("s3://public-")`,
        `"team${k}" in requester.groups && environment == "staging"`,
        `resource.startsWith("arn:aws:s3:::bucket${k}/") && has(parameters.size) && parameters.size > 1000000`,
        `environment in ["dev${k}", "sandbox${k}"] && action.endsWith(".read")`,
      ][i % 6] as string;
      return { name: `r${i}`, effect: EFFECTS[i % 3] as string, when };
    });
    const requests: PolicyInput[] = [];
    for (const action of ['svc3.restart', 'ns2.deploy', 'data4.export', 'logs.read', 'x'])
      for (const resource of ['k8s://prod/ns2/web', 'arn:aws:s3:::bucket4/x', 'k8s://prod/ns', 'z'])
        for (const environment of ['production', 'staging', 'dev1', 'sandbox4'])
          for (const groups of [[], ['team3'], ['team1', 'team4']])
            for (const parameters of [{}, { destination: 's3://public-x', size: 2_000_000 }, null])
              requests.push(
                input({
                  action,
                  resource,
                  environment,
                  parameters,
                  requester: { ...input().requester, groups },
                }),
              );
    expectSameAsReference(rules, requests);
  });

  it('an exhaustive guard decides a match without running the CEL, with the usual explanation', () => {
    const policy = loadPolicy(
      policyYaml(`
  - name: prod-writes
    when: action == "db.write" && resource.startsWith("db://prod/") && "dba" in requester.groups
    effect: deny
`),
    );
    const requester = { ...input().requester, groups: ['dba'] };
    const { decision, trace } = policy.evaluate(
      input({ action: 'db.write', resource: 'db://prod/x', requester }),
    );
    expect(decision).toMatchObject({ effect: 'deny', rule: 'prod-writes' });
    expect(decision.explanation).toContain('matched: action == "db.write"');
    expect(trace).toEqual([{ rule: 'prod-writes', effect: 'deny', outcome: 'matched' }]);
  });
});
