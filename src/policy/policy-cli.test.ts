import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  formatDuration,
  policyCheckCommand,
  policyExplainCommand,
  registerPolicyCommands,
} from '../cli/commands/policy.js';
import { UsageError } from '../cli/exit-codes.js';
import type { Io } from '../cli/output.js';
import { parseParams } from '../cli/params.js';

function captureIo(): Io & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, isTTY: false, out: (t) => void stdout.push(t), err: (t) => void stderr.push(t) };
}

let dir: string;
let bad: string;
const example = 'examples/policy.yaml';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'countersign-policy-'));
  bad = join(dir, 'bad.yaml');
  await writeFile(
    bad,
    `version: 1\ndefaults:\n  effect: allow\nrules:\n  - name: prod-restarts\n    when: action == "x"\n    effect: require_approval\n    approval: { approvers: [group:sre], quorum: 0 }\n`,
  );
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

afterEach(() => {
  vi.restoreAllMocks();
  process.exitCode = undefined;
});

describe('countersign policy check', () => {
  it('through commander: a bad file prints problems to stderr and exits 1', async () => {
    const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const program = new Command('countersign').exitOverride();
    registerPolicyCommands(program);
    await program.parseAsync(['node', 'countersign', 'policy', 'check', bad]);
    expect(process.exitCode).toBe(1);
    expect(out).not.toHaveBeenCalled();
    expect(err.mock.calls.map((c) => String(c[0]))).toEqual([
      `${bad}:8: rule "prod-restarts": approval.quorum: must be a positive integer\n`,
    ]);
  });

  it('a valid file prints ok with the rule count and version', async () => {
    const io = captureIo();
    expect(await policyCheckCommand(example, {}, io)).toBe(0);
    expect(io.stdout[0]).toMatch(
      /^ok: examples\/policy\.yaml is valid \(3 rules, version sha256:[0-9a-f]{64}\)$/,
    );
  });

  it('--json reports validity and problems', async () => {
    const io = captureIo();
    expect(await policyCheckCommand(bad, { json: true }, io)).toBe(1);
    expect(JSON.parse(io.stdout.join(''))).toEqual({
      valid: false,
      problems: [
        {
          rule: 'prod-restarts',
          line: 8,
          path: 'rules[0].approval.quorum',
          message: 'must be a positive integer',
        },
      ],
    });
    const ok = captureIo();
    await policyCheckCommand(example, { json: true }, ok);
    expect(JSON.parse(ok.stdout.join(''))).toMatchObject({ valid: true, rules: 3 });
  });

  it('a missing file exits 1 with one line and no stack trace', async () => {
    const io = captureIo();
    expect(await policyCheckCommand(join(dir, 'nope.yaml'), {}, io)).toBe(1);
    expect(io.stderr).toHaveLength(1);
    expect(io.stderr[0]).toMatch(/cannot read the file \(ENOENT\)/);
  });
});

describe('countersign policy explain', () => {
  it('prints effect, rule, explanation, approval and trace', async () => {
    const io = captureIo();
    const code = await policyExplainCommand(
      { file: example, action: 'service.restart', env: 'production' },
      io,
    );
    expect(code).toBe(0);
    const text = io.stdout.join('\n');
    expect(text).toContain('effect: require_approval');
    expect(text).toContain('rule: prod-restarts');
    expect(text).toContain('explanation: rule "prod-restarts" matched: action == "service.restart"');
    expect(text).toContain('quorum: 2 distinct people');
    expect(text).toContain('timeout: 30m (then deny)');
    expect(text).toContain('  never-export-to-public-buckets (deny): not matched');
    expect(text).toContain('  reads-are-free (allow): skipped');
  });

  it('shows a fail-closed deny with the CEL error', async () => {
    const io = captureIo();
    await policyExplainCommand({ file: example, action: 'data.export', json: true }, io);
    const result = JSON.parse(io.stdout.join('')) as {
      decision: { effect: string; rule: string };
      trace: unknown[];
    };
    expect(result.decision).toMatchObject({ effect: 'deny', rule: 'never-export-to-public-buckets' });
    expect(result.trace).toHaveLength(3);
  });

  it('passes parameters through', async () => {
    const io = captureIo();
    await policyExplainCommand(
      { file: example, action: 'data.export', param: ['destination="s3://public-x"'] },
      io,
    );
    expect(io.stdout.join('\n')).toMatch(
      /effect: deny\nrule: never-export-to-public-buckets\nexplanation: rule "never-export-to-public-buckets" matched/,
    );
  });

  it('bad usage exits 2', async () => {
    const io = captureIo();
    expect(await policyExplainCommand({ file: example }, io)).toBe(2);
    expect(await policyExplainCommand({ file: example, action: 'a', requesterKind: 'robot' }, io)).toBe(2);
    expect(await policyExplainCommand({ file: example, action: 'a', param: ['novalue'] }, io)).toBe(2);
    expect(io.stderr.every((l) => l.startsWith('error: '))).toBe(true);
  });
});

describe('parseParams', () => {
  it('parses JSON values, else strings, and nests dotted keys', () => {
    expect(
      parseParams([
        'n=3',
        'on=true',
        's=hello',
        'db.host=x',
        'db.port=5432',
        'tags=["a"]',
        'q="3"',
        'eq=a=b',
      ]),
    ).toEqual({
      n: 3,
      on: true,
      s: 'hello',
      db: { host: 'x', port: 5432 },
      tags: ['a'],
      q: '3',
      eq: 'a=b',
    });
  });

  it('applies --param on top of --params-json', () => {
    expect(parseParams(['b.c=2'], '{"a": 1, "b": {"d": 3}}')).toEqual({ a: 1, b: { c: 2, d: 3 } });
  });

  it('refuses malformed input with UsageError', () => {
    expect(() => parseParams(['x'])).toThrow(UsageError);
    expect(() => parseParams(['a..b=1'])).toThrow(UsageError);
    expect(() => parseParams(['a=1', 'a.b=2'])).toThrow(/already set/);
    expect(() => parseParams(['__proto__.polluted=1'])).toThrow(/reserved/);
    expect(() => parseParams([], '[1]')).toThrow(/JSON object/);
    expect(() => parseParams([], '{')).toThrow(/not valid JSON/);
  });
});

it('formatDuration inverts parseDuration for whole units', () => {
  expect(formatDuration(1_800_000)).toBe('30m');
  expect(formatDuration(5_400_000)).toBe('1h30m');
  expect(formatDuration(172_800_000)).toBe('2d');
});
