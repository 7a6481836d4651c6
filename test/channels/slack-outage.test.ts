/**
 * The acceptance case of the Slack outage, in real time: the fake Slack Web API is down for 30 seconds
 * while a request is submitted and decided. The decision goes through at once; the message is delivered
 * after Slack comes back, exactly once. Runs on SQLite only (about 40 s); the PostgreSQL outbox is covered
 * by the shorter outage test in slack.test.ts, which runs on both.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { freshSqliteDatabase, type TestDatabase } from '../helpers/postgres.js';
import { FakeSlack } from './fake-slack.js';
import { startSlackHarness, type SlackHarness } from './slack-harness.js';

const OUTAGE_MS = 30_000;

describe('Slack down for 30 seconds', () => {
  let db: TestDatabase;
  let fake: FakeSlack;
  let h: SlackHarness;

  beforeEach(async () => {
    db = await freshSqliteDatabase();
    fake = await FakeSlack.start();
    // Production-like backoff, capped at 10 s so the test ends soon after Slack is back.
    h = await startSlackHarness(db, fake, { baseDelayMs: 1_000, maxDelayMs: 10_000 });
  });
  afterEach(async () => {
    await h.dispose();
    await fake.down();
    await db.cleanup();
  });

  it(
    'never blocks the decision, and delivers every message once after Slack is back',
    { timeout: 90_000 },
    async () => {
      const agent = await h.key({ name: 'deploy-bot', kind: 'agent', owner: 'alice@example.com' });
      const bob = await h.key({ email: 'bob@example.com', groups: ['sre'] });
      const carol = await h.key({ email: 'carol@example.com', groups: ['sre'] });
      await fake.down();
      const downAt = Date.now();

      const submitted = await h.submit(agent, {
        action: 'service.restart',
        resource: 'k8s://prod/deploy/api',
        environment: 'production',
        parameters: { replicas: 3 },
        reason: 'rollout stuck',
      });
      const id = submitted.body.id as string;
      expect(submitted.body.status).toBe('pending');
      expect((await h.approve(bob, id)).body.status).toBe('pending');
      expect((await h.approve(carol, id)).body.status).toBe('approved');
      const decidedAfterMs = Date.now() - downAt;

      await sleep(OUTAGE_MS - (Date.now() - downAt));
      const during = await h.store.listDeliveries(id);
      expect(during.every((d) => d.status === 'pending' && d.attempts >= 2 && d.lastError !== null)).toBe(
        true,
      );
      expect(fake.calls).toEqual([]);

      await fake.up();
      await vi.waitFor(
        async () =>
          expect((await h.store.listDeliveries(id)).map((d) => d.status)).toEqual([
            'sent',
            'sent',
            'sent',
            'sent',
          ]),
        { timeout: 30_000, interval: 100 },
      );
      expect(fake.posted(id, '#prod-approvals')).toHaveLength(1);
      expect(fake.posted(id, '@requester')).toHaveLength(1);
      expect(fake.callsOf('chat.postMessage')).toHaveLength(2);
      const last = [...fake.callsOf('chat.postMessage'), ...fake.callsOf('chat.update')]
        .filter((c) => c.args.channel === 'C0PROD' || c.args.channel === '#prod-approvals')
        .at(-1);
      expect(JSON.stringify(last?.args.blocks)).toContain('Outcome');
      expect((await h.store.getRequest(id))?.status).toBe('approved');
      // The decision took API round trips, not the outage: it was settled long before Slack came back.
      expect(decidedAfterMs).toBeLessThan(OUTAGE_MS);
      console.log(
        `decided ${decidedAfterMs} ms into a ${OUTAGE_MS / 1000}-s Slack outage; delivered once after it`,
      );
    },
  );
});
