import { describe, expect, it } from 'vitest';
import {
  classesOf,
  createScanner,
  DlpConfigError,
  dlpConfigSchema,
  formatJsonPath,
  isTrustedDestination,
  maskJson,
  maskValue,
} from '../../src/dlp/index.js';

// Synthetic values in the right shape; none is a real credential.
const AWS_ID = 'AKIAQX4ZV7WN2MBK5RTY';
const GH = 'ghp_aB3dE5fG7hJ9kL1mN3pQ5rS7tV9wX1yZ3bC5';

describe('JSONPath formatting', () => {
  it('uses dot notation for identifiers and brackets otherwise', () => {
    expect(formatJsonPath(['a', 'b', 0])).toBe('$.a.b[0]');
    expect(formatJsonPath(['key-with-dashes'])).toBe("$['key-with-dashes']");
    expect(formatJsonPath(["it's", 'a\\b', '1x'])).toBe("$['it\\'s']['a\\\\b']['1x']");
    expect(formatJsonPath([], '$.parameters')).toBe('$.parameters');
  });
});

describe('scanner', () => {
  const scanner = createScanner();

  it('reports JSON paths, offsets, severity and class — never the value', () => {
    const value = { a: { b: [`key ${AWS_ID}`] }, 'x-y': { note: 'mail alice.smith@acme-corp.io' } };
    const findings = scanner.scanJson(value);
    expect(findings).toEqual([
      { type: 'aws_access_key_id', severity: 'high', class: 'secret', path: '$.a.b[0]', start: 4, end: 24 },
      { type: 'email', severity: 'low', class: 'personal', path: "$['x-y'].note", start: 5, end: 29 },
    ]);
    expect(JSON.stringify(findings)).not.toContain(AWS_ID);
  });

  it('offsets are UTF-16 code units', () => {
    const text = `😀 é ${GH}`;
    const [f] = scanner.scanText(text);
    expect(f?.path).toBe('$');
    expect(text.slice(f!.start, f!.end)).toBe(GH);
  });

  it('uses the JSON member name for generic secrets', () => {
    expect(scanner.scanJson({ api_key: 'Zq8vN3xK7pL2mR9tW4yBcD' }).map((f) => f.type)).toEqual([
      'generic_api_key',
    ]);
    expect(scanner.scanJson({ commit: 'Zq8vN3xK7pL2mR9tW4yBcD' })).toEqual([]);
    expect(scanner.scanJson({ token_url: 'https://auth.acme-corp.io/oauth/token' })).toEqual([]);
    expect(scanner.scanText('export API_KEY=Zq8vN3xK7pL2mR9tW4yBcD').map((f) => f.type)).toEqual([
      'generic_api_key',
    ]);
  });

  it('prefers a specific type over generic_api_key', () => {
    expect(scanner.scanText(`GITHUB_TOKEN=${GH}`).map((f) => f.type)).toEqual(['github_token']);
  });

  it('handles a text with more findings than a call takes arguments', () => {
    const text = Array.from({ length: 200_000 }, (_, i) => `10.0.${i % 250}.${(i % 200) + 1}`).join(' ');
    const findings = scanner.scanText(text);
    expect(findings).toHaveLength(200_000);
    expect(findings[199_999]!.end).toBe(text.length);
  });

  it('password_in_url marks the password only', () => {
    const text = 'postgres://admin:Zk9pQ2xLm@db.internal:5432/app';
    const [f] = scanner.scanText(text);
    expect(text.slice(f!.start, f!.end)).toBe('Zk9pQ2xLm');
  });

  it('does not flag lookalikes', () => {
    for (const t of [
      '550e8400-e29b-41d4-a716-446655440000',
      'commit 3f786850e387550fdab836ed7e6dc881de23001b',
      'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
      '4111111111111112',
      'GB83WEST12345698765432',
      '666-12-3456',
      'version 1.2.3.4',
      'API_KEY=<YOUR_API_KEY>',
      'ghp_<your-token-here>',
      'postgres://user:hunter2x@example.com/db has a password, not an address',
    ])
      expect(scanner.scanText(t), t).not.toContainEqual(expect.objectContaining({ type: 'email' }));
    for (const t of [
      '550e8400-e29b-41d4-a716-446655440000',
      'GB83WEST12345698765432',
      'API_KEY=<YOUR_API_KEY>',
      'ghp_<your-token-here>',
      'ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx',
    ])
      expect(scanner.scanText(t), t).toEqual([]);
  });

  it('reports the fake values people test a scanner with, when they have the format', () => {
    const cases: [string, string][] = [
      ['AKIAIOSFODNN7EXAMPLE', 'aws_access_key_id'],
      ['aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', 'aws_secret_access_key'],
      ['mail bob@example.com', 'email'],
      ['SSN: 123-45-6789', 'us_ssn'],
      ['ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789', 'github_token'],
      ['4111 1111 1111 1111', 'credit_card'],
    ];
    for (const [t, type] of cases)
      expect(
        scanner.scanText(t).map((f) => f.type),
        t,
      ).toContain(type);
  });
});

describe('custom detectors and allowlist', () => {
  it('runs a custom detector with keywords and a validator', () => {
    const s = createScanner({
      detectors: [
        {
          name: 'employee_id',
          pattern: 'E-[0-9]{6}',
          keywords: ['employee'],
          severity: 'medium',
          class: 'personal',
        },
        {
          name: 'loyalty_card',
          pattern: '[0-9]{12}',
          validator: 'luhn',
          severity: 'low',
          class: 'financial',
        },
      ],
    });
    expect(s.scanText('employee E-123456').map((f) => f.type)).toEqual(['employee_id']);
    expect(s.scanText('order E-123456')).toEqual([]);
    expect(s.scanText('card 123456789015').map((f) => f.type)).toEqual(['loyalty_card']);
    expect(s.scanText('card 123456789016')).toEqual([]);
  });

  it('names the detector with a bad regex', () => {
    const bad = () =>
      createScanner({ detectors: [{ name: 'broken', pattern: '([a-z', severity: 'low', class: 'secret' }] });
    expect(bad).toThrow(DlpConfigError);
    expect(bad).toThrow(/broken/);
    expect(() =>
      createScanner({ detectors: [{ name: 'empty', pattern: 'a*', severity: 'low', class: 'secret' }] }),
    ).toThrow(/empty string/);
    expect(() =>
      createScanner({ detectors: [{ name: 'email', pattern: 'x', severity: 'low', class: 'secret' }] }),
    ).toThrow(DlpConfigError);
  });

  it('skips allowlisted values, exact or by pattern', () => {
    const s = createScanner({ allowlist: ['ops@acme-corp.io', { pattern: '^10\\.' }] });
    expect(s.scanText('ops@acme-corp.io 10.1.2.3 192.168.1.1').map((f) => f.type)).toEqual(['ipv4']);
  });

  it('exports the config schema with defaults', () => {
    expect(dlpConfigSchema.parse({})).toEqual({
      detectors: [],
      allowlist: [],
      trusted_destinations: [],
      disabled: [],
    });
    expect(() => dlpConfigSchema.parse({ detectors: [{ name: 'x' }] })).toThrow();
  });

  it('can disable a built-in type', () => {
    expect(createScanner({ disabled: ['ipv4'] }).scanText('10.1.2.3')).toEqual([]);
  });

  it('matches trusted destinations with * globs', () => {
    expect(isTrustedDestination('s3://corp-data/x', ['s3://corp-*'])).toBe(true);
    expect(isTrustedDestination('s3://public-x', ['s3://corp-*'])).toBe(false);
  });
});

describe('masking', () => {
  it('keeps at most 4 characters and names the type', () => {
    expect(maskValue(AWS_ID, [{ start: 0, end: 20, type: 'aws_access_key_id' }])).toBe(
      'AKIA…[aws_access_key_id]',
    );
    expect(maskValue('pw=hunter22 ok', [{ start: 3, end: 11, type: 'generic_api_key' }])).toBe(
      'pw=hu…[generic_api_key] ok',
    );
  });

  it('merges overlapping spans', () => {
    expect(
      maskValue('abcdefghijklmnop', [
        { start: 0, end: 10, type: 'a' },
        { start: 5, end: 16, type: 'b' },
      ]),
    ).toBe('abcd…[a]');
  });

  it('maskJson returns a masked deep copy', () => {
    const scanner = createScanner();
    const value = { creds: { key: AWS_ID, list: [`use ${GH} now`] }, n: 1 };
    const findings = scanner.scanJson(value);
    const masked = maskJson(value, findings);
    expect(masked).toEqual({
      creds: { key: 'AKIA…[aws_access_key_id]', list: ['use ghp_…[github_token] now'] },
      n: 1,
    });
    expect(value.creds.key).toBe(AWS_ID);
    expect(JSON.stringify(masked)).not.toContain(AWS_ID.slice(4));
    expect(classesOf([...findings, { class: 'personal' }])).toEqual(['personal', 'secret']);
  });
});
