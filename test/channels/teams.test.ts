/**
 * Teams end to end: the gateway against a fake of Microsoft's side on loopback (OpenID metadata and keys,
 * the token endpoint, the Bot Connector), invoke activities in Teams' format with Bot Framework tokens
 * signed by the fake's key, on SQLite and PostgreSQL.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { storeBackends, type TestDatabase } from '../helpers/postgres.js';
import { FakeTeams } from './fake-teams.js';
import {
  APP_ID,
  APP_PASSWORD,
  invoke,
  OPS_CONVERSATION,
  PUBLIC_URL,
  startTeamsHarness,
  USERS,
  type TeamsHarness,
} from './teams-harness.js';

const SECRET_TOKEN = 'ghp_' + 'Z9y8X7w6V5u4T3s2R1q0P9o8N7m6L5k4J3i2';
const RESTART = {
  action: 'service.restart',
  resource: 'k8s://prod/deploy/api',
  environment: 'production',
  parameters: { replicas: 3, github_token: SECRET_TOKEN },
  reason: 'rollout stuck',
};
const ADAPTIVE = 'application/vnd.microsoft.card.adaptive';
const MESSAGE = 'application/vnd.microsoft.activity.message';
const wait = { timeout: 15_000, interval: 20 };

/** The Action.Execute verbs on a card. */
function verbs(card: any): string[] {
  return (card?.actions ?? []).filter((a: any) => a.type === 'Action.Execute').map((a: any) => a.verb);
}

function cardOf(activity: any): any {
  const [attachment] = activity?.attachments ?? [];
  expect(attachment?.contentType).toBe(ADAPTIVE);
  return attachment.content;
}

for (const backend of storeBackends()) {
  describe.skipIf(backend.skip)(`Teams approvals: ${backend.name}`, () => {
    let db: TestDatabase;
    let fake: FakeTeams;
    let h: TeamsHarness;
    let agent: string;
    let keys: Record<string, string>;
    let logs: string[];

    beforeEach(async () => {
      db = await backend.fresh();
      fake = await FakeTeams.start({ appId: APP_ID, appPassword: APP_PASSWORD });
      fake.members.set(USERS.carol.id, {
        id: USERS.carol.id,
        name: 'Carol',
        aadObjectId: USERS.carol.aadObjectId,
        email: 'Carol@Example.com',
        userPrincipalName: 'carol@example.onmicrosoft.com',
      });
      logs = [];
      h = await startTeamsHarness(db, fake, { logSink: (line) => logs.push(line) });
      agent = await h.key({ name: 'deploy-bot', kind: 'agent', owner: 'alice@example.com' });
      keys = {
        alice: await h.key({ email: 'alice@example.com', groups: ['sre'] }),
        bob: await h.key({ email: 'bob@example.com', groups: ['sre'] }),
        carol: await h.key({ email: 'carol@example.com', groups: ['sre'] }),
        dave: await h.key({ email: 'dave@example.com', groups: ['dev'] }),
      };
    });
    afterEach(async () => {
      await h.stop();
      await fake.down();
      await db.cleanup();
    });

    async function submitted(body: Record<string, unknown> = RESTART, token = agent): Promise<string> {
      const res = await h.submit(token, body);
      expect(res.status).toBe(201);
      expect(res.body.status).toBe('pending');
      await vi.waitFor(() => expect(fake.callsOf('send')).toHaveLength(1), wait);
      return res.body.id as string;
    }

    async function unchanged(id: string): Promise<void> {
      const req = await h.store.getRequest(id);
      expect(req?.status).toBe('pending');
      expect(req?.version).toBe(1);
      expect(req?.approval?.reviews).toEqual([]);
    }

    it('posts the card, refreshes it after each click, settles, and tells the requester', async () => {
      const id = await submitted();
      const [post] = fake.callsOf('send');
      expect(post?.conversationId).toBe(OPS_CONVERSATION);
      expect(post?.authorization).toMatch(/^Bearer fake-bot-token-\d+$/);
      expect(post?.body.type).toBe('message');
      const card = cardOf(post?.body);
      expect(card).toMatchObject({ type: 'AdaptiveCard', version: '1.5' });
      expect(card.actions).toEqual([
        expect.objectContaining({ type: 'Action.Execute', verb: 'approve', data: { requestId: id } }),
        expect.objectContaining({ type: 'Action.Execute', verb: 'deny', data: { requestId: id } }),
      ]);
      expect(card.body).toContainEqual(expect.objectContaining({ type: 'Input.Text', id: 'comment' }));
      const posted = JSON.stringify(card);
      expect(posted).toContain('github_token');
      // The preview shows the parameter as stored: masked.
      const masked = ((await h.store.getRequest(id))?.parameters as Record<string, string>).github_token;
      expect(masked).not.toBe(SECRET_TOKEN);
      expect(posted).toContain(masked);
      expect(posted).toContain('0 of 2');
      expect(posted).toContain(`${PUBLIC_URL}/v1/requests/${id}`);
      // The token request carried the app's credentials and the Bot Connector scope.
      expect(fake.tokenRequests[0]).toEqual({
        grant_type: 'client_credentials',
        client_id: APP_ID,
        client_secret: APP_PASSWORD,
        scope: 'https://api.botframework.com/.default',
      });
      // Only Teams is configured, and only the conversation the config names gets a delivery.
      expect((await h.store.listDeliveries(id)).map((d) => [d.channel, (d.payload as any).target])).toEqual([
        ['teams', 'ops'],
      ]);
      // The activity id is saved once the Connector's answer is back, just after the fake saw the post.
      const cardId = await vi.waitFor(async () => {
        const saved = (await h.store.getChannelMessage('teams', id, 'ops'))?.ref.activityId;
        expect(saved).toBeDefined();
        return saved as string;
      }, wait);
      expect(fake.activity(cardId)).toBeDefined();

      const first = await h.click('bob', 'approve', id, { cardActivityId: cardId, comment: 'looks fine' });
      expect(first.status).toBe(200);
      expect(first.body).toMatchObject({ statusCode: 200, type: ADAPTIVE });
      expect(JSON.stringify(first.body.value)).toContain('1 of 2');
      expect(verbs(first.body.value)).toEqual(['approve', 'deny']);
      await vi.waitFor(() => expect(fake.callsOf('update')).toHaveLength(1), wait);
      const update = fake.callsOf('update')[0];
      expect(update).toMatchObject({ conversationId: OPS_CONVERSATION, activityId: cardId });
      expect(update?.body.id).toBe(cardId);
      expect(JSON.stringify(cardOf(update?.body))).toContain('1 of 2');
      expect(JSON.stringify(cardOf(update?.body))).toContain('looks fine');

      // Carol is not mapped: the members API names her.
      const second = await h.click('carol', 'approve', id, { cardActivityId: cardId });
      expect(second.body).toMatchObject({ statusCode: 200, type: ADAPTIVE });
      expect(verbs(second.body.value)).toEqual([]);
      expect(JSON.stringify(second.body.value)).toContain('Outcome');
      expect(fake.callsOf('member').map((c) => c.memberId)).toEqual([USERS.carol.id]);

      const req = await h.store.getRequest(id);
      expect(req?.status).toBe('approved');
      expect(req?.approval?.reviews.map((r) => [r.reviewer.personId, r.reviewer.id, r.channel])).toEqual([
        ['bob@example.com', `teams:${USERS.bob.aadObjectId}`, 'teams'],
        ['carol@example.com', `teams:${USERS.carol.aadObjectId}`, 'teams'],
      ]);
      expect(req?.approval?.reviews.map((r) => r.assurance)).toEqual(['chat', 'chat']);

      await vi.waitFor(() => expect(fake.callsOf('update')).toHaveLength(2), wait);
      const last = cardOf(fake.callsOf('update')[1]?.body);
      expect(last.actions).toBeUndefined();
      expect(JSON.stringify(last)).not.toContain('Input.Text');
      expect(JSON.stringify(last)).toContain('Outcome');
      expect(JSON.stringify(last)).toContain('bob@example.com');
      expect(JSON.stringify(last)).toContain('carol@example.com');

      // The agent's owner hears the outcome, in a reply to the card.
      await vi.waitFor(() => expect(fake.callsOf('reply')).toHaveLength(1), wait);
      const reply = fake.callsOf('reply')[0];
      expect(reply).toMatchObject({ conversationId: OPS_CONVERSATION, activityId: cardId });
      expect(reply?.body).toMatchObject({ type: 'message', replyToId: cardId, textFormat: 'plain' });
      expect(reply?.body.text).toMatch(/^alice@example\.com: .*is approved/);

      await vi.waitFor(async () => {
        const all = await h.store.listDeliveries(id);
        expect(all.map((d) => d.status)).toEqual(['sent', 'sent', 'sent', 'sent']);
      }, wait);
      expect(fake.callsOf('send')).toHaveLength(1);
      expect(fake.tokenRequests).toHaveLength(1); // cached
      // Invariant 8: the secret is in no activity, posted, updated or replied, and in no invoke answer.
      expect(JSON.stringify(fake.calls)).not.toContain(SECRET_TOKEN);
      expect(JSON.stringify([first.body, second.body])).not.toContain(SECRET_TOKEN);
      // …and the app password and bot token are in no log line.
      const logged = logs.join('\n');
      expect(logged).not.toContain(APP_PASSWORD);
      expect(logged).not.toContain('fake-bot-token-');
      expect(logged).toMatch(/"conversation":"nowhere".*does not name/); // warned about, once
    });

    it('refuses a token from the wrong issuer or audience, expired, unknown key or missing: 401', async () => {
      const id = await submitted();
      const body = invoke(fake.serviceUrl, 'bob', 'approve', id);
      const refused: [string, { token?: string; header?: string | null }][] = [
        ['wrong issuer', { token: await fake.token({ issuer: 'https://sts.windows.net/evil/' }) }],
        ['wrong audience', { token: await fake.token({ audience: 'some-other-bot' }) }],
        ['expired', { token: await fake.token({ expiresIn: -3600 }) }],
        ['not yet valid', { token: await fake.token({ notBefore: 3600 }) }],
        ['unknown kid', { token: await fake.token({ unknownKey: 'new-kid' }) }],
        ['forged with the known kid', { token: await fake.token({ unknownKey: 'same-kid' }) }],
        ['other service url', { token: await fake.token({ serviceUrl: 'https://smba.example.net/' }) }],
        ['missing', { header: null }],
        ['not bearer', { header: 'Basic Ym9iOmJvYg==' }],
        ['garbage', { header: 'Bearer not.a.jwt' }],
      ];
      for (const [what, auth] of refused) {
        const res = await h.activity(body, auth);
        expect(res.status, what).toBe(401);
        expect(res.body.error.code, what).toBe('UNAUTHENTICATED');
      }
      await unchanged(id);
      expect(fake.callsOf('update')).toEqual([]);
      // A token for the right caller still works (and a token without a serviceurl claim is fine too).
      const ok = await h.activity(body, { token: await fake.token({ serviceUrl: null }) });
      expect(ok.body).toMatchObject({ statusCode: 200, type: ADAPTIVE });
    });

    it('explains to unknown, ineligible, self- and owner-approvers, and changes nothing', async () => {
      const id = await submitted();
      const cases: [Parameters<TeamsHarness['click']>[0], RegExp][] = [
        ['ghost', /cannot tell who you are/],
        ['dave', /not an approver/],
        ['alice', /own the agent/],
      ];
      for (const [user, text] of cases) {
        const res = await h.click(user, 'approve', id);
        expect(res.status).toBe(200);
        expect(res.body).toMatchObject({ statusCode: 200, type: MESSAGE });
        expect(res.body.value).toMatch(text);
        expect(res.body.value).toMatch(/Nothing was changed/);
      }
      await unchanged(id);

      // A human asking for themselves cannot approve it through Teams either.
      const own = await h.submit(keys.bob as string, RESTART);
      const self = await h.click('bob', 'approve', own.body.id as string);
      expect(self.body).toMatchObject({ type: MESSAGE });
      expect(self.body.value).toMatch(/you asked for it/);
      await unchanged(own.body.id as string);
    });

    it('asks for a reason before a deny, and settles on a deny with one', async () => {
      const id = await submitted();
      const bare = await h.click('bob', 'deny', id, { comment: '   ' });
      expect(bare.body).toMatchObject({ type: MESSAGE });
      expect(bare.body.value).toMatch(/Give a reason/);
      const ineligible = await h.click('dave', 'deny', id);
      expect(ineligible.body.value).toMatch(/not an approver/);
      await unchanged(id);

      const denied = await h.click('bob', 'deny', id, { comment: 'not during the freeze' });
      expect(denied.body).toMatchObject({ statusCode: 200, type: ADAPTIVE });
      expect(verbs(denied.body.value)).toEqual([]);
      const req = await h.store.getRequest(id);
      expect(req?.status).toBe('denied');
      expect(req?.approval?.reviews[0]).toMatchObject({ verdict: 'deny', comment: 'not during the freeze' });
      await vi.waitFor(() => expect(fake.callsOf('reply')).toHaveLength(1), wait);
      expect(fake.callsOf('reply')[0]?.body.text).toMatch(/is denied.*not during the freeze/);
      const again = await h.click('carol', 'approve', id);
      expect(again.body.value).toMatch(/already settled/);
    });

    it('answers a step-up rule with where to approve instead', async () => {
      const id = await submitted({ ...RESTART, action: 'secrets.rotate' });
      const res = await h.click('bob', 'approve', id);
      expect(res.body).toMatchObject({ statusCode: 200, type: MESSAGE });
      expect(res.body.value).toMatch(/step-up/);
      expect(res.body.value).toContain(`/v1/requests/${id}/approve`);
      expect(res.body.value).toContain(`${PUBLIC_URL}/v1/requests/${id}`);
      await unchanged(id);
    });

    it('answers other activities with an empty 200, once their token verifies', async () => {
      const message = { ...invoke(fake.serviceUrl, 'bob', 'approve', 'x'), type: 'message', text: 'hi' };
      delete (message as Record<string, unknown>).name;
      const res = await h.activity(message);
      expect(res.status).toBe(200);
      expect(res.body).toBe('');
      // What an admin needs to name the conversation in config is in the log.
      expect(logs.join('\n')).toMatch(
        /"conversationId":"19:ops-approvals@thread\.tacv2;messageid=[^"]*".*"serviceUrl"/,
      );
      expect((await h.activity(message, { header: null })).status).toBe(401);
    });

    it('waits as long as a throttling answer says before trying again', async () => {
      fake.throttle = 1;
      const res = await h.submit(agent, RESTART);
      const id = res.body.id as string;
      await vi.waitFor(async () => {
        const [created] = await h.store.listDeliveries(id);
        expect(created?.lastError).toMatch(/answered 429: TooManyRequests/);
        // Retry-After: 1 beats the tests' 100 ms backoff.
        expect(
          Date.parse(created?.nextAttemptAt ?? '') - Date.parse(created?.updatedAt ?? ''),
        ).toBeGreaterThanOrEqual(1_000);
      }, wait);
      await vi.waitFor(
        async () => expect((await h.store.listDeliveries(id)).map((d) => d.status)).toEqual(['sent']),
        wait,
      );
      expect(fake.callsOf('send')).toHaveLength(1);
    });

    it('delivers exactly once after a Teams outage, and the decision is never blocked', async () => {
      await fake.down();
      const res = await h.submit(agent, RESTART);
      const id = res.body.id as string;
      // Decided while Teams is down, through the API.
      expect((await h.approve(keys.bob as string, id)).body.status).toBe('pending');
      expect((await h.approve(keys.carol as string, id)).body.status).toBe('approved');
      await vi.waitFor(async () => {
        const [created] = await h.store.listDeliveries(id);
        expect(created?.attempts).toBeGreaterThanOrEqual(2);
        expect(created?.lastError).toMatch(/token request failed/);
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
      expect(fake.callsOf('send')).toHaveLength(1);
      expect(fake.callsOf('reply')).toHaveLength(1);
      // Whatever order they went in, the card shows the request as it is now: settled.
      const cardId = fake.callsOf('reply')[0]?.activityId as string;
      expect(verbs(cardOf(fake.activity(cardId)))).toEqual([]);
      expect(JSON.stringify(fake.activity(cardId))).toContain('Outcome');
      expect((await h.store.getRequest(id))?.status).toBe('approved');
      expect(JSON.stringify(fake.calls)).not.toContain(SECRET_TOKEN);
    });
  });
}
