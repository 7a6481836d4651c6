/**
 * DLP end to end: secrets from the corpus, submitted through the real gateway, never appear unmasked in
 * an API answer, CLI output, audit event or log line; policy can deny on findings; a scan failure denies.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditExport } from '../../src/cli/commands/audit.js';
import { TYPE_INFO } from '../../src/dlp/type-info.js';
import { pendingCommand, requestCommand, reviewCommand } from '../../src/cli/commands/requests.js';
import type { Io } from '../../src/cli/output.js';
import { startHarness, type Harness } from '../helpers/gateway-harness.js';
import { freshSqliteDatabase, type TestDatabase } from '../helpers/postgres.js';

// Everything DLP classes as a secret or financial data must never show in full.
const SECRET_TYPES = new Set(
  Object.entries(TYPE_INFO)
    .filter(([, info]) => info.class === 'secret' || info.class === 'financial')
    .map(([type]) => type),
);

/** Positive corpus lines carrying a secret, with the tokens that must never show up in full. */
function corpusSecrets(): { text: string; json: unknown; needles: string[] }[] {
  const lines = readFileSync(new URL('./corpus/positives.jsonl', import.meta.url), 'utf8')
    .trim()
    .split('\n');
  const out: { text: string; json: unknown; needles: string[] }[] = [];
  const strings = (v: unknown): string[] =>
    typeof v === 'string' ? [v] : v && typeof v === 'object' ? Object.values(v).flatMap(strings) : [];
  for (const line of lines) {
    const entry = JSON.parse(line) as { text?: string; json?: unknown; expect: string[] };
    if (!entry.expect.some((t) => SECRET_TYPES.has(t))) continue;
    const text = entry.text ?? JSON.stringify(entry.json);
    // Tokens of 16+ characters with a digit are the secrets' bodies in these lines (plain words are not).
    const needles = (entry.text !== undefined ? [entry.text] : strings(entry.json))
      .flatMap((t) => t.split(/[\s"'=,;()]+/))
      .filter((t) => t.length >= 16 && /\d/.test(t) && !/^https?:\/\/[^@]*$/.test(t));
    if (needles.length > 0) out.push({ text, json: entry.json ?? null, needles });
  }
  return out;
}

function capture(): Io & { all: () => string } {
  let text = '';
  return {
    isTTY: false,
    out: (t) => void (text += `${t}\n`),
    err: (t) => void (text += `${t}\n`),
    all: () => text,
  };
}

const POLICY = `
version: 1
defaults:
  effect: require_approval
  approval: { approvers: [group:platform], quorum: 1, timeout: 1h }
rules:
  - name: no-secrets-leave
    when: action == "data.export" && dlp.findings.exists(f, f.class == "secret")
    effect: deny
    reason: Payloads carrying credentials are never exported.
  - name: external-personal-data
    when: action == "data.share" && dlp.external_destination && "personal" in dlp.classes
    effect: deny
`;

describe('DLP end to end', () => {
  let db: TestDatabase;
  let h: Harness;
  const logs: string[] = [];
  let agent: string;
  let alice: string;
  let auditor: string;

  beforeAll(async () => {
    db = await freshSqliteDatabase();
    h = await startHarness(db, POLICY, {
      listen: true,
      logSink: (l) => logs.push(l),
      dlp: { trusted_destinations: ['s3://corp-*'] },
    });
    agent = await h.key({ kind: 'agent', name: 'etl-bot', owner: 'dana@example.com' });
    alice = await h.key({ email: 'alice@example.com', groups: ['platform'] });
    auditor = await h.key({ email: 'audit@example.com', roles: ['auditor'] });
  });
  afterAll(async () => {
    await h.stop();
    await db.cleanup();
  });

  it('denies by rule when a payload carries a secret', async () => {
    const r = await h.submit(agent, {
      action: 'data.export',
      parameters: { note: 'use key AKIA2G7AZCW2M4GNFMTI to upload' },
    });
    expect(r.body.status).toBe('denied');
    expect(r.body.policy.rule).toBe('no-secrets-leave');
    expect(r.body.dlp.findings).toEqual([
      expect.objectContaining({ type: 'aws_access_key_id', class: 'secret', path: '$.parameters.note' }),
    ]);
    expect(r.body.dlp.classes).toEqual(['secret']);
    expect(JSON.stringify(r.body)).not.toContain('AKIA2G7AZCW2M4GNFMTI');
  });

  it('sees declared external flows of personal data', async () => {
    const inside = await h.submit(agent, {
      action: 'data.share',
      context: { data: { destination: 's3://corp-lake', classes: ['personal'], records: 10 } },
    });
    expect(inside.body.status).toBe('pending');
    expect(inside.body.dlp.externalDestination).toBe(false);
    const outside = await h.submit(agent, {
      action: 'data.share',
      context: { data: { destination: 'https://pastebin.example', classes: ['personal'], records: 10 } },
    });
    expect(outside.body.status).toBe('denied');
    expect(outside.body.dlp.externalDestination).toBe(true);
  });

  it('never shows a corpus secret unmasked: API, CLI, audit export, logs', async () => {
    const secrets = corpusSecrets();
    expect(secrets.length).toBeGreaterThan(100);
    const seen: string[] = [];
    const ids: string[] = [];
    for (const [i, s] of secrets.entries()) {
      const r = await h.submit(agent, {
        action: 'deploy.run',
        resource: `svc-${i}`,
        parameters: { config: s.text, nested: { list: [s.text] }, ...(s.json ? { doc: s.json } : {}) },
        reason: `because ${s.text}`,
      });
      expect(r.status).toBe(201);
      seen.push(JSON.stringify(r.body));
      ids.push(r.body.id as string);
    }
    for (const id of ids.slice(0, 20)) seen.push(JSON.stringify((await h.approve(alice, id, 'ok')).body));
    seen.push(JSON.stringify((await h.call('GET', '/v1/requests?limit=500', alice)).body));
    seen.push(JSON.stringify((await h.call('GET', `/v1/requests/${ids[0]}`, auditor)).body));

    const flags = { url: h.running.url, token: alice };
    const cli = capture();
    await pendingCommand(flags, cli);
    await pendingCommand({ ...flags, json: true }, cli);
    await reviewCommand('approve', ids[30] as string, flags, cli);
    await requestCommand(
      { url: h.running.url, token: agent, action: 'deploy.run', param: [`token=${secrets[0]?.needles[0]}`] },
      cli,
    );
    seen.push(cli.all());

    const exported = capture();
    expect(await auditExport({ url: h.running.url, token: auditor }, exported)).toBe(0);
    expect(exported.all().split('\n').length).toBeGreaterThan(secrets.length);
    seen.push(exported.all());
    seen.push(logs.join(''));

    const everything = seen.join('\n');
    const leaks = secrets.flatMap((s) => s.needles).filter((n) => everything.includes(n));
    expect(leaks).toEqual([]);
  });

  it('fails closed when a detector throws', async () => {
    const db2 = await freshSqliteDatabase();
    const broken = {
      scanJson: () => {
        throw new Error('detector exploded');
      },
      scanText: () => [],
    };
    const h2 = await startHarness(db2, POLICY.replace('effect: require_approval', 'effect: allow'), {
      scanner: broken,
    });
    try {
      const bot = await h2.key({ kind: 'agent', owner: 'x@example.com' });
      const r = await h2.submit(bot, { action: 'read.logs' });
      expect(r.status).toBe(201);
      expect(r.body.status).toBe('denied');
      expect(r.body.policy.explanation).toMatch(/fail closed/);
    } finally {
      await h2.stop();
      await db2.cleanup();
    }
  });
});
