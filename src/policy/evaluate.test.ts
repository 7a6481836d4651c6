import { describe, expect, it } from 'vitest';
import { loadPolicy } from './load-policy.js';
import { input, policyYaml } from './test-helpers.js';

const semantics = loadPolicy(
  policyYaml(`
  - name: bots-may-restart
    when: action == "service.restart"
    effect: allow
  - name: restarts-in-prod
    when: action == "service.restart" && environment == "production"
    effect: require_approval
    mask: [parameters.token]
    notify: [slack:#prod]
  - name: no-prod-for-interns
    when: '"interns" in requester.groups'
    effect: deny
    reason: Interns do not touch production.
  - name: reads
    when: action.startsWith("read.")
    effect: allow
`),
);

describe('evaluate: which rule decides', () => {
  it('the first matching rule in file order decides', () => {
    const { decision } = semantics.evaluate(input());
    expect(decision).toMatchObject({
      effect: 'allow',
      rule: 'bots-may-restart',
      approval: null,
      mask: [],
      notify: [],
    });
    expect(decision.explanation).toBe('rule "bots-may-restart" matched: action == "service.restart"');
  });

  it('a matching deny wins over an earlier matching allow, with its reason in the explanation', () => {
    const requester = { ...input().requester, groups: ['interns'] };
    const { decision, trace } = semantics.evaluate(input({ requester }));
    expect(decision.effect).toBe('deny');
    expect(decision.rule).toBe('no-prod-for-interns');
    expect(decision.explanation).toContain('Interns do not touch production.');
    expect(trace.map((t) => t.outcome)).toEqual(['matched', 'skipped', 'matched', 'skipped']);
  });

  it('falls back to the defaults, with their approval, when nothing matches', () => {
    const { decision } = semantics.evaluate(input({ action: 'db.migrate' }));
    expect(decision).toMatchObject({ effect: 'require_approval', rule: null, mask: [], notify: [] });
    expect(decision.explanation).toBe('no rule matched; default effect require_approval');
    expect(decision.approval).toEqual({
      approvers: ['group:platform'],
      quorum: 1,
      require: [],
      timeoutMs: 3_600_000,
      onTimeout: 'deny',
      grant: null,
      stepUp: false,
    });
  });

  it('gives approval, mask and notify from the deciding require_approval rule', () => {
    const policy = loadPolicy(
      policyYaml(`
  - name: restarts-in-prod
    when: action == "service.restart" && environment == "production"
    effect: require_approval
    mask: [parameters.token]
    notify: [slack:#prod]
    approval: { approvers: [group:sre, user:carol@example.com], quorum: 2, require: [{ group: sre, count: 1 }], timeout: 30m, grant: { ttl: 1h, uses: 3 }, step_up: true }
`),
    );
    const { decision } = policy.evaluate(input());
    expect(decision).toMatchObject({
      effect: 'require_approval',
      mask: ['parameters.token'],
      notify: ['slack:#prod'],
    });
    expect(decision.approval).toEqual({
      approvers: ['group:sre', 'user:carol@example.com'],
      quorum: 2,
      require: [{ group: 'sre', count: 1 }],
      timeoutMs: 1_800_000,
      onTimeout: 'deny',
      grant: { ttlMs: 3_600_000, uses: 3 },
      stepUp: true,
    });
  });

  it('sees every declared variable', () => {
    const policy = loadPolicy(
      policyYaml(`
  - name: everything
    when: >-
      resource.startsWith("k8s://") && parameters.replicas == 3 && reason == "" && context.size() == 0 &&
      requester.kind == "agent" && requester.email == "" && requester.attributes.size() == 0 &&
      !onBehalfOf.verified && onBehalfOf.email == "" && dlp.classes.size() == 0 &&
      !dlp.findings.exists(f, f.severity == "high") && now > timestamp("2025-01-01T00:00:00Z")
    effect: allow
`),
    );
    expect(policy.evaluate(input()).decision.rule).toBe('everything');
  });

  it('shows onBehalfOf only when verified', () => {
    const policy = loadPolicy(
      policyYaml(`
  - name: for-carol
    when: onBehalfOf.verified && onBehalfOf.email == "carol@example.com"
    effect: allow
`),
    );
    expect(
      policy.evaluate(input({ onBehalfOf: { email: 'carol@example.com', verified: true } })).decision.effect,
    ).toBe('allow');
    expect(
      policy.evaluate(input({ onBehalfOf: { email: 'carol@example.com', verified: false } })).decision.effect,
    ).toBe('require_approval');
  });
});

describe('evaluate: fails closed', () => {
  const exportPolicy = loadPolicy(
    policyYaml(
      `
  - name: exports-allowed
    when: action == "data.export" && parameters.destination.startsWith("s3://internal-")
    effect: allow
  - name: everything-else
    when: "true"
    effect: allow
`,
      'allow',
    ),
  );

  it('a runtime CEL error denies, naming the rule and the error, never allows', () => {
    const { decision, trace } = exportPolicy.evaluate(input({ action: 'data.export', parameters: {} }));
    expect(decision.effect).toBe('deny');
    expect(decision.rule).toBe('exports-allowed');
    expect(decision.approval).toBeNull();
    expect(decision.explanation).toMatch(
      /^rule "exports-allowed" could not be evaluated: .*destination.*failed closed/,
    );
    expect(trace[0]).toMatchObject({
      outcome: 'error',
      error: expect.stringContaining('destination') as unknown,
    });
    expect(trace[1]?.outcome).toBe('skipped');
  });

  it('the same rule allows when the data is there', () => {
    const params = { destination: 's3://internal-x' };
    expect(exportPolicy.evaluate(input({ action: 'data.export', parameters: params })).decision.effect).toBe(
      'allow',
    );
  });

  it('a deny rule that errors denies even after an allow matched', () => {
    const policy = loadPolicy(
      policyYaml(`
  - name: allow-all
    when: "true"
    effect: allow
  - name: no-public
    when: parameters.destination.startsWith("s3://public-")
    effect: deny
`),
    );
    const { decision } = policy.evaluate(input({ parameters: null }));
    expect(decision).toMatchObject({ effect: 'deny', rule: 'no-public' });
    expect(decision.explanation).toContain('failed closed');
  });

  it('a non-deny rule that errors after the first match is never evaluated', () => {
    const policy = loadPolicy(
      policyYaml(`
  - name: allow-all
    when: "true"
    effect: allow
  - name: broken
    when: parameters.missing == 1
    effect: require_approval
`),
    );
    const evaluation = policy.evaluate(input());
    expect(evaluation.decision.rule).toBe('allow-all');
    expect(evaluation.trace[1]?.outcome).toBe('skipped');
  });

  it('a non-boolean result (through dyn) is an error', () => {
    const policy = loadPolicy(
      policyYaml(`
  - name: dyn-result
    when: parameters.flag
    effect: allow
`),
    );
    const { decision } = policy.evaluate(input({ parameters: { flag: 'yes' } }));
    expect(decision).toMatchObject({ effect: 'deny', rule: 'dyn-result' });
    expect(decision.explanation).toContain('not a boolean');
    expect(policy.evaluate(input({ parameters: { flag: true } })).decision.effect).toBe('allow');
  });

  it('never throws, even on malformed input', () => {
    const bad = { ...input(), requester: null } as unknown as ReturnType<typeof input>;
    const { decision } = semantics.evaluate(bad);
    expect(decision.effect).toBe('deny');
  });
});

describe('evaluate: large policies', () => {
  const rules = Array.from(
    { length: 199 },
    (_, i) => `  - name: rule-${i}
    when: action == "svc${i}.restart" && environment == "production" && "sre" in requester.groups
    effect: ${['deny', 'allow', 'require_approval'][i % 3]}`,
  );
  rules.push(
    `  - name: last\n    when: action.startsWith("target.") && requester.kind == "agent"\n    effect: allow`,
  );
  const big = loadPolicy(policyYaml(rules.join('\n'), 'deny'));

  it('a 200-rule policy decides by its last rule when only that one matches', () => {
    expect(big.ruleNames).toHaveLength(200);
    const { decision, trace } = big.evaluate(input({ action: 'target.do' }));
    expect(decision).toMatchObject({ effect: 'allow', rule: 'last' });
    expect(trace.filter((t) => t.outcome === 'not_matched')).toHaveLength(199);
  });

  it('rules skipped by the action pre-check still match when the action fits', () => {
    const requester = { ...input().requester, groups: ['sre'] };
    expect(big.evaluate(input({ action: 'svc0.restart', requester })).decision.rule).toBe('rule-0');
    expect(big.evaluate(input({ action: 'svc1.restart', requester })).decision.rule).toBe('rule-1');
    expect(
      big.evaluate(input({ action: 'svc1.restart', environment: 'staging', requester })).decision.rule,
    ).toBeNull();
  });

  it('the pre-check covers in-lists and endsWith', () => {
    const policy = loadPolicy(
      policyYaml(`
  - name: listed
    when: action in ["a.one", "a.two"] && environment.endsWith("-prod")
    effect: deny
`),
    );
    expect(policy.evaluate(input({ action: 'a.two', environment: 'eu-prod' })).decision.rule).toBe('listed');
    expect(policy.evaluate(input({ action: 'a.three', environment: 'eu-prod' })).decision.rule).toBeNull();
    expect(policy.evaluate(input({ action: 'a.one', environment: 'eu-dev' })).decision.rule).toBeNull();
  });

  it('a false action guard decides even when another conjunct would error (CEL && semantics)', () => {
    const policy = loadPolicy(
      policyYaml(`
  - name: guarded
    when: parameters.nope.startsWith("x") && action == "other"
    effect: deny
`),
    );
    expect(policy.evaluate(input({ parameters: {} })).decision.rule).toBeNull();
    expect(policy.evaluate(input({ action: 'other', parameters: {} })).decision).toMatchObject({
      effect: 'deny',
      rule: 'guarded',
    });
  });
});
