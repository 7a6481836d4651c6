import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { loadPolicy, loadPolicyFile } from './load-policy.js';
import { PolicyError } from './policy-error.js';
import type { PolicyProblem } from './types.js';

function problemsOf(source: string): PolicyProblem[] {
  try {
    loadPolicy(source, 'p.yaml');
  } catch (error) {
    expect(error).toBeInstanceOf(PolicyError);
    return (error as PolicyError).problems;
  }
  throw new Error('expected the policy to be refused');
}

/** Line 5 onwards is the rule `name: target` (defaults take lines 1-4). */
const HEAD = `version: 1
defaults:
  effect: require_approval
  approval: { approvers: [group:platform] }
rules:
  - name: first
    when: action == "a.b"
    effect: allow
`;

describe('loadPolicy: refused files name the rule and the line', () => {
  const cases: [string, string, number, RegExp][] = [
    [
      'unknown key',
      `  - name: target\n    when: action == "x"\n    efect: deny\n`,
      11,
      /unknown key "efect" \(did you mean "effect"\?\)/,
    ],
    ['bad CEL syntax', `  - name: target\n    when: action == \n    effect: deny\n`, 10, /CEL syntax error/],
    [
      'unknown variable',
      `  - name: target\n    when: enviroment == "prod"\n    effect: deny\n`,
      10,
      /Unknown variable: enviroment/,
    ],
    [
      'non-bool when',
      `  - name: target\n    when: action + "x"\n    effect: deny\n`,
      10,
      /must be a boolean, but it returns string/,
    ],
    [
      'bad duration',
      `  - name: target\n    when: "true"\n    effect: require_approval\n    approval:\n      approvers: [group:sre]\n      timeout: 30 minutes\n`,
      14,
      /approval\.timeout: "30 minutes" is not a duration/,
    ],
    [
      'quorum 0',
      `  - name: target\n    when: "true"\n    effect: require_approval\n    approval:\n      approvers: [group:sre]\n      quorum: 0\n`,
      14,
      /approval\.quorum: must be a positive integer/,
    ],
    [
      'require sum > quorum',
      `  - name: target\n    when: "true"\n    effect: require_approval\n    approval:\n      approvers: [group:sre, group:dba]\n      quorum: 2\n      require:\n        - { group: sre, count: 2 }\n        - { group: dba, count: 1 }\n`,
      15,
      /add up to 3 people but quorum is 2/,
    ],
    [
      'require group not among approvers',
      `  - name: target\n    when: "true"\n    effect: require_approval\n    approval:\n      approvers: [group:sre]\n      quorum: 2\n      require:\n        - group: dba\n          count: 1\n`,
      16,
      /group "dba" is not among the approvers/,
    ],
    [
      'duplicate rule name',
      `  - name: first\n    when: "true"\n    effect: deny\n`,
      9,
      /duplicate rule name/,
    ],
    ['missing when', `  - name: target\n    effect: deny\n`, 9, /when: is required/],
    [
      'bad effect',
      `  - name: target\n    when: "true"\n    effect: maybe\n`,
      11,
      /must be one of allow, deny, require_approval/,
    ],
    [
      'bad approver',
      `  - name: target\n    when: "true"\n    effect: require_approval\n    approval: { approvers: [sre] }\n`,
      12,
      /must be group:NAME or user:EMAIL/,
    ],
  ];

  it.each(cases)('%s', (_label, rule, line, message) => {
    const problems = problemsOf(HEAD + rule);
    const name = rule.includes('name: first') ? 'first' : 'target';
    const problem = problems.find((p) => message.test(p.message) || message.test(`${p.path}: ${p.message}`));
    expect(problem, JSON.stringify(problems)).toBeDefined();
    expect(problem?.rule).toBe(name);
    expect(problem?.line).toBe(line);
  });

  it('formats the error message as file:line: rule "name": path: message', () => {
    expect(() =>
      loadPolicy(
        `${HEAD}  - name: target\n    when: "true"\n    effect: require_approval\n    approval: { approvers: [group:x], quorum: 0 }\n`,
        'policy.yaml',
      ),
    ).toThrow('policy.yaml:12: rule "target": approval.quorum: must be a positive integer');
  });

  it('reports a YAML syntax error with its line', () => {
    const problems = problemsOf(
      `version: 1\ndefaults:\n  effect: allow\nrules:\n  - name: x\n    when: "unterminated\n`,
    );
    expect(problems).toHaveLength(1);
    expect(problems[0]?.message).toMatch(/^YAML syntax error/);
    expect(problems[0]?.line).toBeGreaterThanOrEqual(6);
  });

  it('reports duplicate YAML keys', () => {
    const problems = problemsOf(`version: 1\ndefaults:\n  effect: allow\n  effect: deny\n`);
    expect(problems[0]?.message).toMatch(/YAML syntax error/);
    expect(problems[0]?.line).toBe(4);
  });

  it('reports every problem at once, in line order', () => {
    const problems = problemsOf(
      `${HEAD}  - name: a\n    when: nope\n    effect: allow\n  - name: b\n    when: "true"\n    effect: deny\n    notfy: [x]\n`,
    );
    expect(problems.map((p) => [p.rule, p.line])).toEqual([
      ['a', 10],
      ['b', 15],
    ]);
  });

  it('requires defaults.approval when something can need approval', () => {
    const problems = problemsOf(`version: 1\ndefaults:\n  effect: require_approval\nrules: []\n`);
    expect(problems).toEqual([
      expect.objectContaining({
        rule: null,
        line: 2,
        path: 'defaults.approval',
        message: expect.stringMatching(/is required/) as unknown,
      }),
    ]);
    const byRule = problemsOf(
      `version: 1\ndefaults:\n  effect: deny\nrules:\n  - name: r\n    when: "true"\n    effect: require_approval\n`,
    );
    expect(byRule[0]?.message).toMatch(/rule "r" requires approval/);
  });

  it('refuses approval on a rule that does not require approval', () => {
    const problems = problemsOf(
      `${HEAD}  - name: target\n    when: "true"\n    effect: allow\n    approval: { approvers: [group:x] }\n`,
    );
    expect(problems[0]).toMatchObject({ rule: 'target', line: 12, path: 'rules[1].approval' });
  });

  it('refuses an unreachable quorum of named users', () => {
    const problems = problemsOf(
      `${HEAD}  - name: target\n    when: "true"\n    effect: require_approval\n    approval: { approvers: [user:a@x.io], quorum: 2 }\n`,
    );
    expect(problems[0]?.message).toMatch(/quorum 2 can never be met/);
  });

  it('refuses a wrong version and unknown top-level keys', () => {
    const problems = problemsOf(`version: 2\ndefaults:\n  effect: allow\nrulez: []\n`);
    expect(problems.map((p) => [p.path, p.line])).toEqual([
      ['version', 1],
      ['rulez', 4],
    ]);
    expect(problems[1]?.message).toBe('unknown key "rulez" (did you mean "rules"?)');
  });

  it('refuses a missing file with a PolicyError', async () => {
    await expect(loadPolicyFile('/nonexistent/policy.yaml')).rejects.toThrow(
      /cannot read the file \(ENOENT\)/,
    );
  });
});

describe('loadPolicy: accepted files', () => {
  it('applies the approval defaults', () => {
    const policy = loadPolicy(
      `version: 1\ndefaults:\n  effect: require_approval\n  approval: { approvers: [group:platform] }\n`,
    );
    expect(policy.ruleNames).toEqual([]);
    expect(
      policy.evaluate(
        // no rules: the defaults decide
        {
          action: 'a',
          resource: '',
          environment: '',
          parameters: null,
          reason: null,
          context: {},
          requester: { id: 'i', kind: 'human', name: 'n', email: null, groups: [], attributes: {} },
          onBehalfOf: null,
          dlp: { findings: [], classes: [], external_destination: false },
          now: new Date(),
        },
      ).decision.approval,
    ).toEqual({
      approvers: ['group:platform'],
      quorum: 1,
      require: [],
      timeoutMs: 3_600_000,
      onTimeout: 'deny',
      grant: null,
      stepUp: false,
    });
  });

  it('versions a policy by the sha256 of its exact bytes', () => {
    const source = `version: 1\ndefaults:\n  effect: deny\n`;
    const a = loadPolicy(source);
    expect(a.version).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(loadPolicy(source).version).toBe(a.version);
    expect(loadPolicy(`${source} `).version).not.toBe(a.version);
    expect(loadPolicy(source.replace('deny', 'deny ')).version).not.toBe(a.version);
  });

  it('loads the example policy', async () => {
    const policy = await loadPolicyFile('examples/policy.yaml');
    expect(policy.ruleNames).toEqual(['never-export-to-public-buckets', 'prod-restarts', 'reads-are-free']);
    const source = await readFile('examples/policy.yaml');
    expect(policy.version).toBe(loadPolicy(source.toString('utf8')).version);
  });
});
