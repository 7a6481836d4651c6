/**
 * Webhooks end to end: a real gateway (SQLite and PostgreSQL) sends Standard Webhooks events through the
 * outbox to receivers on loopback, which verify every delivery with the reference `standardwebhooks`
 * library.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { USER_AGENT } from '../../src/channels/webhook/webhook-channel.js';
import type { WebhookConfig } from '../../src/config/config.js';
import { FakeClock } from '../../src/core/clock.js';
import { DELIVERY_KINDS } from '../../src/store/store.js';
import { startHarness, type Harness } from '../helpers/gateway-harness.js';
import { storeBackends, type TestDatabase } from '../helpers/postgres.js';
import { verify, WebhookReceiver } from './webhooks-receiver.js';

const POLICY = `version: 1
defaults:
  effect: allow
rules:
  - name: prod-restarts
    when: action == "service.restart"
    effect: require_approval
    approval: { approvers: [group:sre], quorum: 2, timeout: 30m, on_timeout: deny }
    notify: [webhook:ops, webhook:decisions, webhook:nope, slack:#prod-approvals]
  - name: quick
    when: action == "quick.thing"
    effect: require_approval
    approval: { approvers: [group:sre], quorum: 1, timeout: 1m, on_timeout: deny }
    notify: [webhook:ops, webhook:decisions]
`;

// Split so that secret scanners do not flag this file; DLP must find both in the parameters.
const GITHUB_TOKEN = 'ghp_' + 'a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8';
const AWS_SECRET = 'YmnClCt4ckH6io/qP8OQ' + 'biCOue1ZZGDxMQMsLzSG';
const RESTART = {
  action: 'service.restart',
  resource: 'k8s://prod/deploy/api',
  environment: 'production',
  parameters: { replicas: 3, github_token: GITHUB_TOKEN, aws_secret_access_key: AWS_SECRET },
  reason: 'rollout stuck',
};
const PUBLIC_URL = 'https://countersign.example.com';
const wait = { timeout: 10_000, interval: 20 };

/** Both receivers' secrets come through `env:` references, as the docs tell operators to write them. */
function webhooksConfig(ops: WebhookReceiver, decisions: WebhookReceiver): WebhookConfig[] {
  const suffix = randomBytes(6).toString('hex').toUpperCase();
  process.env[`CS_TEST_WH_OPS_${suffix}`] = ops.secret;
  process.env[`CS_TEST_WH_DECISIONS_${suffix}`] = decisions.secret;
  return [
    { name: 'ops', url: ops.url, secret: `env:CS_TEST_WH_OPS_${suffix}`, events: [...DELIVERY_KINDS] },
    {
      name: 'decisions',
      url: decisions.url,
      secret: `env:CS_TEST_WH_DECISIONS_${suffix}`,
      events: ['request.decided', 'request.expired'],
    },
  ];
}

for (const backend of storeBackends()) {
  describe.skipIf(backend.skip)(`webhooks: ${backend.name}`, () => {
    let db: TestDatabase;
    let ops: WebhookReceiver;
    let decisions: WebhookReceiver;
    let h: Harness;
    let logs: string[];
    let keys: Record<string, string>;

    async function start(clock?: FakeClock): Promise<void> {
      logs = [];
      h = await startHarness(db, POLICY, {
        channels: { webhooks: webhooksConfig(ops, decisions) },
        outbox: { pollMs: 50, baseDelayMs: 40, maxDelayMs: 200, maxAttempts: 4 },
        publicUrl: PUBLIC_URL,
        logSink: (line) => logs.push(line),
        ...(clock ? { clock } : {}),
      });
      keys = {
        agent: await h.key({ name: 'deploy-bot', kind: 'agent', owner: 'alice@example.com' }),
        bob: await h.key({ email: 'bob@example.com', groups: ['sre'] }),
        carol: await h.key({ email: 'carol@example.com', groups: ['sre'] }),
      };
    }

    beforeEach(async () => {
      db = await backend.fresh();
      ops = await WebhookReceiver.start();
      decisions = await WebhookReceiver.start();
    });
    afterEach(async () => {
      await h.stop();
      await ops.stop();
      await decisions.stop();
      await db.cleanup();
    });

    async function submit(body: Record<string, unknown> = RESTART): Promise<string> {
      const res = await h.submit(keys.agent!, body);
      expect(res.status).toBe(201);
      expect(res.body.status).toBe('pending');
      return res.body.id as string;
    }

    async function allSent(id: string): Promise<void> {
      await vi.waitFor(async () => {
        const ds = await h.store.listDeliveries(id);
        expect(ds.length).toBeGreaterThan(0);
        expect(ds.map((d) => d.status)).toEqual(ds.map(() => 'sent'));
      }, wait);
    }

    it('announces creation, each review and the decision, each signed and verifying', async () => {
      await start();
      const id = await submit();
      await vi.waitFor(() => expect(ops.types).toEqual(['request.created']), wait);
      expect((await h.approve(keys.bob!, id)).status).toBe(200);
      await vi.waitFor(() => expect(ops.types).toEqual(['request.created', 'request.reviewed']), wait);
      expect((await h.approve(keys.carol!, id)).body.status).toBe('approved');
      await vi.waitFor(() => expect(ops.received).toHaveLength(3), wait);
      await allSent(id);

      expect(ops.types).toEqual(['request.created', 'request.reviewed', 'request.decided']);
      for (const r of ops.received) {
        expect(r.verifyError).toBeNull();
        expect(r.headers['content-type']).toBe('application/json');
        expect(r.headers['user-agent']).toBe(USER_AGENT);
        expect(r.headers['webhook-id']).toMatch(/^msg_[A-Za-z0-9_-]+$/);
        expect(r.headers['webhook-timestamp']).toMatch(/^\d+$/);
        expect(Math.abs(Number(r.headers['webhook-timestamp']) - Date.now() / 1000)).toBeLessThan(60);
        expect(r.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
        expect(Object.keys(r.event).sort()).toEqual(['data', 'timestamp', 'type']);
        expect(r.event.data.link).toBe(`${PUBLIC_URL}/v1/requests/${id}`);
        expect(r.event.data.request.id).toBe(id);
      }
      expect(new Set(ops.received.map((r) => r.headers['webhook-id'])).size).toBe(3);
      // Each event is the request as it was at that change: a snapshot, not a later read.
      const [created, reviewed, decided] = ops.received.map((r) => r.event);
      expect(created.data.request.status).toBe('pending');
      expect(created.data.request.approval.reviews).toEqual([]);
      expect(reviewed.data.request.status).toBe('pending');
      expect(reviewed.data.request.approval.reviews.map((x: any) => x.reviewer.email)).toEqual([
        'bob@example.com',
      ]);
      expect(decided.data.request.status).toBe('approved');
      expect(decided.data.request.approval.reviews).toHaveLength(2);
      expect(decided.data.request.decidedAt).not.toBeNull();
      expect(Date.parse(decided.timestamp)).toBeGreaterThanOrEqual(Date.parse(created.timestamp));
    });

    it('sends a webhook only the events it subscribed to, and ignores unknown names', async () => {
      await start();
      const id = await submit();
      await h.approve(keys.bob!, id);
      await h.approve(keys.carol!, id);
      await vi.waitFor(() => expect(ops.received).toHaveLength(3), wait);
      await vi.waitFor(() => expect(decisions.received).toHaveLength(1), wait);
      await allSent(id);
      expect(decisions.types).toEqual(['request.decided']);
      expect(decisions.received[0]?.verifyError).toBeNull();
      // The same event, but each endpoint signs with its own secret and gets its own webhook-id.
      const [toOps, toDecisions] = [ops.received[2]!, decisions.received[0]!];
      expect(toDecisions.body).toBe(toOps.body);
      expect(toDecisions.headers['webhook-id']).not.toBe(toOps.headers['webhook-id']);
      expect(verify(decisions.secret, toOps.body, toOps.headers)).toBe('No matching signature found');
      // `webhook:nope` is not configured and Slack is not either: neither got an outbox row.
      const targets = (await h.store.listDeliveries(id)).map(
        (d) => `${d.channel}:${(d.payload as { target: string }).target}:${d.kind}`,
      );
      expect(targets.sort()).toEqual([
        'webhook:decisions:request.decided',
        'webhook:ops:request.created',
        'webhook:ops:request.decided',
        'webhook:ops:request.reviewed',
      ]);
    });

    it('puts no secret from the parameters in any body or header: only masked', async () => {
      await start();
      const id = await submit();
      await h.approve(keys.bob!, id);
      await h.approve(keys.carol!, id);
      await vi.waitFor(() => expect(ops.received).toHaveLength(3), wait);
      await vi.waitFor(() => expect(decisions.received).toHaveLength(1), wait);
      const wire = JSON.stringify([...ops.received, ...decisions.received].map((r) => [r.headers, r.body]));
      expect(wire).not.toContain(GITHUB_TOKEN);
      expect(wire).not.toContain(AWS_SECRET);
      expect(wire).not.toContain(AWS_SECRET.slice(8, 32));
      const params = ops.received[0]?.event.data.request.parameters;
      expect(params.replicas).toBe(3);
      expect(typeof params.github_token).toBe('string');
      expect(params.github_token).not.toBe(GITHUB_TOKEN);
      expect(typeof params.aws_secret_access_key).toBe('string');
      expect(params.aws_secret_access_key).not.toBe(AWS_SECRET);
      const findings = ops.received[0]?.event.data.request.dlp.findings.map((f: any) => f.type);
      expect(findings).toEqual(expect.arrayContaining(['github_token', 'aws_secret_access_key']));
      // Nor are the webhook secrets in any log line.
      expect(logs.join('\n')).not.toContain(ops.secret.slice(6));
      expect(logs.join('\n')).not.toContain(decisions.secret.slice(6));
    });

    it('retries a failing receiver with the same webhook-id; the outbox records it sent once', async () => {
      await start();
      ops.answers = [500, 500];
      const id = await submit();
      await vi.waitFor(() => expect(ops.received).toHaveLength(3), wait);
      await allSent(id);
      const ids = ops.received.map((r) => r.headers['webhook-id']);
      expect(new Set(ids).size).toBe(1);
      // The same event every time: only the send timestamp (and so the signature) may differ.
      expect(new Set(ops.received.map((r) => r.body)).size).toBe(1);
      for (const r of ops.received) expect(r.verifyError).toBeNull();
      const [delivery, ...rest] = await h.store.listDeliveries(id);
      expect(rest).toEqual([]);
      expect(delivery).toMatchObject({ kind: 'request.created', status: 'sent', attempts: 3 });
      const failures = logs.filter((l) => l.includes('channel delivery failed; will retry'));
      expect(failures).toHaveLength(2);
      expect(failures[0]).toContain('webhook ops: the endpoint answered 500');
      for (const line of failures) {
        expect(line).not.toContain(ops.secret.slice(6));
        expect(line).not.toContain('"type":"request.created"');
        expect(line).not.toContain(ops.url);
      }
    });

    it('dead-letters a receiver that keeps failing, and the request is decided regardless', async () => {
      await start();
      ops.answers = Array<number>(10).fill(503);
      const id = await submit();
      await vi.waitFor(async () => {
        const [d] = await h.store.listDeliveries(id);
        expect(d?.status).toBe('dead');
      }, wait);
      const [dead] = await h.store.listDeliveries(id);
      expect(dead?.attempts).toBe(4);
      expect(dead?.lastError).toBe('webhook ops: the endpoint answered 503');
      expect(ops.received).toHaveLength(4);
      expect(new Set(ops.received.map((r) => r.headers['webhook-id'])).size).toBe(1);
      await h.approve(keys.bob!, id);
      expect((await h.approve(keys.carol!, id)).body.status).toBe('approved');
    });

    it('announces expiry as request.expired', async () => {
      // The fake clock starts at the real time so that the receiver's 5-minute timestamp window holds.
      const clock = new FakeClock(Date.now());
      await start(clock);
      const id = await submit({ action: 'quick.thing', resource: 'x' });
      await vi.waitFor(() => expect(ops.types).toEqual(['request.created']), wait);
      clock.advance(61_000);
      expect(await h.running.gateway.expireDue()).toBe(1);
      await vi.waitFor(() => expect(ops.types).toEqual(['request.created', 'request.expired']), wait);
      await vi.waitFor(() => expect(decisions.types).toEqual(['request.expired']), wait);
      await allSent(id);
      for (const r of [...ops.received, ...decisions.received]) expect(r.verifyError).toBeNull();
      const expired = ops.received[1]?.event;
      expect(expired.data.request.status).toBe('expired');
      expect(expired.data.request.decidedBy).toBe('timeout');
      expect(expired.timestamp).toBe(clock.now().toISOString());
    });
  });
}
