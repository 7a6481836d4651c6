/**
 * Slack end to end: the real @slack/web-api client against a fake Slack on loopback, interaction payloads
 * in Slack's format with real signatures, on SQLite and PostgreSQL.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { storeBackends, type TestDatabase } from '../helpers/postgres.js';
import { FakeSlack } from './fake-slack.js';
import { click, denySubmission, startSlackHarness, type SlackHarness } from './slack-harness.js';

const SECRET_TOKEN = 'ghp_' + 'a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8';
const RESTART = {
  action: 'service.restart',
  resource: 'k8s://prod/deploy/api',
  environment: 'production',
  parameters: { replicas: 3, github_token: SECRET_TOKEN },
  reason: 'rollout stuck',
};
const wait = { timeout: 15_000, interval: 20 };

for (const backend of storeBackends()) {
  describe.skipIf(backend.skip)(`Slack approvals: ${backend.name}`, () => {
    let db: TestDatabase;
    let fake: FakeSlack;
    let h: SlackHarness;
    let agent: string;
    let keys: Record<string, string>;

    beforeEach(async () => {
      db = await backend.fresh();
      fake = await FakeSlack.start();
      h = await startSlackHarness(db, fake);
      agent = await h.key({ name: 'deploy-bot', kind: 'agent', owner: 'alice@example.com' });
      keys = {
        alice: await h.key({ email: 'alice@example.com', groups: ['sre'] }),
        bob: await h.key({ email: 'bob@example.com', groups: ['sre'] }),
        carol: await h.key({ email: 'carol@example.com', groups: ['sre'] }),
        dave: await h.key({ email: 'dave@example.com', groups: ['dev'] }),
        erin: await h.key({ email: 'erin@example.com', groups: ['sre'] }),
      };
    });
    afterEach(async () => {
      await h.dispose();
      await fake.down();
      await db.cleanup();
    });

    async function submitted(body: Record<string, unknown> = RESTART, token = agent): Promise<string> {
      const res = await h.submit(token, body);
      expect(res.status).toBe(201);
      expect(res.body.status).toBe('pending');
      const id = res.body.id as string;
      await vi.waitFor(() => expect(fake.posted(id, '#prod-approvals')).toHaveLength(1), wait);
      return id;
    }

    async function unchanged(id: string): Promise<void> {
      const req = await h.store.getRequest(id);
      expect(req?.status).toBe('pending');
      expect(req?.version).toBe(1);
      expect(req?.approval?.reviews).toEqual([]);
    }

    it('posts, updates after each click, settles, and tells the requester: two people approve by button', async () => {
      const id = await submitted();
      const [post] = fake.callsOf('chat.postMessage');
      expect(post?.args.channel).toBe('#prod-approvals');
      expect(post?.args.token).toBe('Bearer xoxb-test-token');
      const posted = JSON.stringify(post?.args.blocks);
      expect(posted).toContain(`countersign.approve:${id}`);
      expect(posted).toContain(`countersign.deny:${id}`);
      expect(posted).toContain('github_token');
      expect(posted).not.toContain(SECRET_TOKEN);
      // teams:ops is in the rule, but Teams is not configured: only Slack deliveries were written.
      expect((await h.store.listDeliveries(id)).map((d) => d.channel)).toEqual(['slack']);

      expect((await h.interact(click('U0BOB', 'approve', id, fake.responseUrl('bob')))).status).toBe(200);
      await vi.waitFor(() => expect(fake.callsOf('chat.update')).toHaveLength(1), wait);
      const first = fake.callsOf('chat.update')[0]?.args;
      expect(first).toMatchObject({ channel: 'C0PROD', ts: fake.posted(id, '#prod-approvals')[0]?.ts });
      expect(JSON.stringify(first?.blocks)).toContain('1 of 2');
      expect(JSON.stringify(first?.blocks)).toContain(`countersign.approve:${id}`);

      expect((await h.interact(click('U0CAROL', 'approve', id, fake.responseUrl('carol')))).status).toBe(200);
      const req = await h.store.getRequest(id);
      expect(req?.status).toBe('approved');
      expect(req?.approval?.reviews.map((r) => [r.reviewer.personId, r.channel, r.assurance])).toEqual([
        ['bob@example.com', 'slack', 'chat'],
        ['carol@example.com', 'slack', 'chat'],
      ]);
      await vi.waitFor(() => expect(fake.callsOf('chat.update')).toHaveLength(2), wait);
      const last = JSON.stringify(fake.callsOf('chat.update')[1]?.args.blocks);
      expect(last).not.toContain('countersign.approve:');
      expect(last).toContain('Outcome');
      expect(last).toContain('bob@example.com');
      expect(last).toContain('carol@example.com');
      expect(fake.posted(id, '#prod-approvals')).toHaveLength(1);
      expect(fake.responses).toEqual([]);
      // The agent's owner (config maps alice to U0ALICE) hears the outcome by DM, once.
      await vi.waitFor(() => expect(fake.posted(id, '@requester')).toHaveLength(1), wait);
      const told = fake.posted(id, '@requester')[0];
      expect(told?.channel).toBe('D0ALICE');
      expect(told?.text).toContain('*approved*');
      expect(told?.text).toContain(id);
      // Invariant 8: the secret in the parameters is in no call to Slack, posted or updated.
      expect(JSON.stringify(fake.calls)).not.toContain(SECRET_TOKEN);
      await vi.waitFor(
        async () => expect((await h.store.listDeliveries(id)).every((d) => d.status === 'sent')).toBe(true),
        wait,
      );
    });

    it('resolves a Slack user by users.info when no mapping names them', async () => {
      fake.emails.set('U0ERIN', 'Erin@Example.com');
      const id = await submitted();
      await h.interact(click('U0ERIN', 'approve', id, fake.responseUrl('erin')));
      const req = await h.store.getRequest(id);
      expect(req?.approval?.reviews.map((r) => r.reviewer.personId)).toEqual(['erin@example.com']);
      expect(fake.callsOf('users.info')).toHaveLength(1);
    });

    it('refuses a forged signature, a stale timestamp and a replay with 401, changing nothing', async () => {
      const id = await submitted();
      const payload = click('U0BOB', 'approve', id, fake.responseUrl('bob'));
      const forged = await h.interact(payload, { secret: 'not-the-signing-secret' });
      expect(forged.status).toBe(401);
      expect(forged.body.error.code).toBe('UNAUTHENTICATED');
      const stale = await h.interact(payload, { timestamp: Math.floor(Date.now() / 1000) - 301 });
      expect(stale.status).toBe(401);
      const unsigned = await h.post(`payload=${encodeURIComponent(JSON.stringify(payload))}`, {
        signature: '',
      });
      expect(unsigned.status).toBe(401);
      await unchanged(id);

      const raw = `payload=${encodeURIComponent(JSON.stringify(click('U0DAVE', 'approve', id, fake.responseUrl('d'))))}`;
      const ts = Math.floor(Date.now() / 1000);
      expect((await h.post(raw, { timestamp: ts })).status).toBe(200);
      const replay = await h.post(raw, { timestamp: ts });
      expect(replay.status).toBe(401);
      expect(replay.body.error.code).toBe('UNAUTHENTICATED');
      await unchanged(id);
    });

    it('explains to unknown, ineligible, self- and owner-approvers alone, and changes nothing', async () => {
      const id = await submitted();
      const cases: [string, string, RegExp][] = [
        ['U0GHOST', 'ghost', /cannot tell who you are/],
        ['U0DAVE', 'dave', /not an approver/],
        ['U0ALICE', 'alice', /own the agent/],
      ];
      for (const [user, name, text] of cases) {
        expect((await h.interact(click(user, 'approve', id, fake.responseUrl(name)))).status).toBe(200);
        const answer = fake.responses.find((r) => r.path === `/response/${name}`)?.body;
        expect(answer).toMatchObject({ response_type: 'ephemeral', replace_original: false });
        expect(answer.text).toMatch(text);
      }
      await unchanged(id);

      // A human asking for themselves cannot approve it through Slack either.
      const own = await h.submit(keys.bob as string, RESTART);
      await h.interact(click('U0BOB', 'approve', own.body.id, fake.responseUrl('self')));
      expect(fake.responses.find((r) => r.path === '/response/self')?.body.text).toMatch(/you asked for it/);
      await unchanged(own.body.id);
    });

    it('answers a step-up rule with a link to approve on the web or API', async () => {
      const id = await submitted({ ...RESTART, action: 'secrets.rotate' });
      await h.interact(click('U0BOB', 'approve', id, fake.responseUrl('bob')));
      expect(fake.responses[0]?.body.text).toMatch(/step-up/);
      expect(fake.responses[0]?.body.text).toContain(`/v1/requests/${id}/approve`);
      await unchanged(id);
    });

    it('opens a modal for the reason of a deny, and settles on its submission', async () => {
      const id = await submitted();
      expect((await h.interact(click('U0BOB', 'deny', id, fake.responseUrl('bob')))).status).toBe(200);
      const [open] = fake.callsOf('views.open');
      expect(open?.args.trigger_id).toMatch(/^trigger\.U0BOB/);
      expect(open?.args.view).toMatchObject({ callback_id: 'countersign.deny_reason', private_metadata: id });
      await unchanged(id);

      const empty = await h.interact(denySubmission('U0BOB', id, '  '));
      expect(empty.body.response_action).toBe('errors');
      const refused = await h.interact(denySubmission('U0DAVE', id, 'nope'));
      expect(refused.body).toMatchObject({ response_action: 'errors' });
      await unchanged(id);

      const ok = await h.interact(denySubmission('U0BOB', id, 'not during the freeze'));
      expect(ok.body).toEqual({ response_action: 'clear' });
      const req = await h.store.getRequest(id);
      expect(req?.status).toBe('denied');
      expect(req?.approval?.reviews[0]).toMatchObject({ verdict: 'deny', comment: 'not during the freeze' });
      await vi.waitFor(() => expect(fake.callsOf('chat.update')).toHaveLength(1), wait);
      expect(JSON.stringify(fake.callsOf('chat.update')[0]?.args.blocks)).toContain('not during the freeze');
    });

    it('posts once when the answer to a post is lost, finding its message by metadata on retry', async () => {
      fake.dropNextPostAnswer = true;
      const res = await h.submit(agent, RESTART);
      const id = res.body.id as string;
      await vi.waitFor(async () => {
        const [created] = await h.store.listDeliveries(id);
        expect(created?.status).toBe('sent');
        expect(created?.attempts).toBe(2);
      }, wait);
      expect(fake.posted(id, '#prod-approvals')).toHaveLength(1);
      expect(fake.callsOf('chat.postMessage')).toHaveLength(1);
      expect(fake.callsOf('conversations.history')[0]?.args).toMatchObject({
        channel: 'C0PROD',
        include_all_metadata: 'true',
      });
      // Later deliveries edit that same message.
      await h.approve(keys.bob as string, id);
      await vi.waitFor(() => expect(fake.callsOf('chat.update').length).toBeGreaterThanOrEqual(2), wait);
      expect(new Set(fake.callsOf('chat.update').map((c) => c.args.ts))).toEqual(
        new Set([fake.posted(id, '#prod-approvals')[0]?.ts]),
      );
    });

    it("keeps the per-principal rate limit off Slack's callbacks, which all come from Slack", async () => {
      await h.dispose();
      h = await startSlackHarness(db, fake, { requestsPerMinute: 2 });
      for (let i = 0; i < 5; i++) {
        expect((await h.interact({ type: 'shortcut', callback_id: `n${i}` })).status).toBe(200);
      }
      const key = await h.key({ email: 'zed@example.com' });
      const statuses = [];
      for (let i = 0; i < 3; i++) statuses.push((await h.call('GET', '/v1/requests', key)).status);
      expect(statuses).toEqual([200, 200, 429]);
    });

    it('honours Slack rate limits: the retry waits for Retry-After', async () => {
      fake.rateLimitNext.set('chat.postMessage', 2);
      const res = await h.submit(agent, RESTART);
      const id = res.body.id as string;
      await vi.waitFor(async () => {
        const [d] = await h.store.listDeliveries(id);
        expect(d?.lastError).toMatch(/Slack rate-limited postMessage/);
        // The harness's own backoff is 100-400 ms; Slack asked for 2 s.
        expect(Date.parse(d?.nextAttemptAt ?? '') - Date.parse(d?.updatedAt ?? '')).toBe(2_000);
      }, wait);
      await vi.waitFor(() => expect(fake.posted(id, '#prod-approvals')).toHaveLength(1), wait);
    });

    it('DMs each eligible approver when dm_approvers is on, and updates the DMs', async () => {
      await h.dispose();
      h = await startSlackHarness(db, fake, {
        dmApprovers: true,
        publicUrl: 'https://countersign.example.com',
      });
      const agent2 = await h.key({ name: 'deploy-bot', kind: 'agent', owner: 'alice@example.com' });
      const bob = await h.key({ email: 'bob@example.com', groups: ['sre'] });
      await h.key({ email: 'alice@example.com', groups: ['sre'] });
      await h.key({ email: 'carol@example.com', groups: ['sre'] });
      await h.key({ email: 'dave@example.com', groups: ['dev'] });
      await h.key({ email: 'erin@example.com', groups: ['sre'] }); // has no Slack account
      const res = await h.submit(agent2, RESTART);
      const id = res.body.id as string;
      await vi.waitFor(
        () =>
          expect(
            fake
              .posted(id)
              .map((m) => m.channel)
              .sort(),
          ).toEqual(['C0PROD', 'D0BOB', 'D0CAROL']),
        wait,
      );
      // alice owns the agent: no DM for her; dave is not an approver.
      const dm = fake.posted(id, 'dm:bob@example.com')[0];
      expect(JSON.stringify(dm?.blocks)).toContain(`countersign.approve:${id}`);
      expect(JSON.stringify(dm?.blocks)).toContain(`https://countersign.example.com/v1/requests/${id}`);
      await h.approve(bob, id);
      await vi.waitFor(
        () =>
          expect(new Set(fake.callsOf('chat.update').map((c) => c.args.channel))).toEqual(
            new Set(['C0PROD', 'D0BOB', 'D0CAROL']),
          ),
        wait,
      );
      expect(JSON.stringify(fake.calls)).not.toContain(SECRET_TOKEN);
    });

    it('delivers exactly once after a Slack outage, and the decision is never blocked', async () => {
      await fake.down();
      const res = await h.submit(agent, RESTART);
      const id = res.body.id as string;
      // Decided while Slack is down, through the API.
      expect((await h.approve(keys.bob as string, id)).body.status).toBe('pending');
      expect((await h.approve(keys.carol as string, id)).body.status).toBe('approved');
      await vi.waitFor(async () => {
        const [created] = await h.store.listDeliveries(id);
        expect(created?.attempts).toBeGreaterThanOrEqual(2);
        expect(created?.lastError).toBeTruthy();
      }, wait);
      expect(fake.calls).toEqual([]);

      await fake.up();
      await vi.waitFor(
        async () => {
          const all = await h.store.listDeliveries(id);
          expect(all.map((d) => d.status)).toEqual(['sent', 'sent', 'sent', 'sent']);
        },
        { timeout: 20_000, interval: 50 },
      );
      expect(fake.posted(id, '#prod-approvals')).toHaveLength(1);
      expect(fake.posted(id, '@requester')).toHaveLength(1);
      // Whatever order they went in, the message shows the request as it is now: settled.
      const shown = [...fake.callsOf('chat.postMessage'), ...fake.callsOf('chat.update')]
        .filter((c) => c.args.blocks !== undefined)
        .at(-1);
      expect(JSON.stringify(shown?.args.blocks)).toContain('Outcome');
      expect((await h.store.getRequest(id))?.status).toBe('approved');
    });
  });
}
