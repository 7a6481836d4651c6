/** A gateway with `channels.teams` pointed at a FakeTeams, plus invoke activities as Teams sends them. */
import { randomUUID } from 'node:crypto';
import type { TeamsConfig } from '../../src/config/config.js';
import { Harness, startHarness, type Reply } from '../helpers/gateway-harness.js';
import type { TestDatabase } from '../helpers/postgres.js';
import { BOT_ISSUER, type FakeTeams, type TokenOptions } from './fake-teams.js';

export const APP_ID = '6f1c2a9e-4b7d-4e0a-9c3f-2d8b5e7a1c40';
/** Generated per run, never a literal in the repo; the gateway reads it through `env:`. */
export const APP_PASSWORD = `test-${randomUUID()}`;
export const PASSWORD_ENV = 'COUNTERSIGN_TEST_TEAMS_APP_PASSWORD';
export const TENANT_ID = 'b1f0e3d2-7c6a-4e59-8a4b-3c2d1e0f9a8b';
export const OPS_CONVERSATION = '19:ops-approvals@thread.tacv2';
export const PUBLIC_URL = 'https://countersign.example.com';

export const POLICY = `version: 1
defaults:
  effect: allow
rules:
  - name: prod-restarts
    when: action == "service.restart"
    effect: require_approval
    approval: { approvers: [group:sre], quorum: 2, timeout: 30m, on_timeout: deny }
    notify: [teams:ops, teams:nowhere, slack:#prod-approvals]
  - name: rotate-with-step-up
    when: action == "secrets.rotate"
    effect: require_approval
    approval: { approvers: [group:sre], quorum: 1, timeout: 30m, on_timeout: deny, step_up: true }
    notify: [teams:ops]
`;

/** Teams users: Entra object ids mapped in config, and Teams user ids. Carol is found by the members API. */
export const USERS = {
  bob: { id: '29:1bob', name: 'Bob', aadObjectId: 'aad-0b0b-0000-0000-000000000001' },
  carol: { id: '29:1carol', name: 'Carol', aadObjectId: 'aad-ca01-0000-0000-000000000002' },
  alice: { id: '29:1alice', name: 'Alice', aadObjectId: 'aad-a11c-0000-0000-000000000003' },
  dave: { id: '29:1dave', name: 'Dave', aadObjectId: 'aad-da7e-0000-0000-000000000004' },
  ghost: { id: '29:1ghost', name: 'Ghost', aadObjectId: 'aad-9057-0000-0000-000000000005' },
} as const;
export type UserName = keyof typeof USERS;

export const MAPPED_USERS = {
  // Upper case on purpose: object ids match whatever their case.
  [USERS.bob.aadObjectId.toUpperCase()]: 'bob@example.com',
  [USERS.alice.aadObjectId]: 'alice@example.com',
  [USERS.dave.aadObjectId]: 'dave@example.com',
};

export class TeamsHarness extends Harness {
  fake!: FakeTeams;

  /** Posts an activity to the messaging endpoint with `authorization` (a token, or a raw header). */
  async activity(body: unknown, auth: { token?: string; header?: string | null } = {}): Promise<Reply> {
    const header =
      auth.header !== undefined ? auth.header : `Bearer ${auth.token ?? (await this.fake.token())}`;
    const res = await this.running.app.inject({
      method: 'POST',
      url: '/integrations/teams/messages',
      headers: {
        'content-type': 'application/json; charset=utf-8',
        ...(header === null ? {} : { authorization: header }),
      },
      payload: JSON.stringify(body),
    });
    let parsed: unknown = res.body;
    try {
      parsed = JSON.parse(res.body);
    } catch {
      // empty 200
    }
    return { status: res.statusCode, body: parsed, headers: res.headers };
  }

  /** A click on the card's Approve or Deny, signed by the fake Connector (or as `token` says). */
  click(
    user: UserName,
    verb: 'approve' | 'deny',
    requestId: string,
    opts: { comment?: string; cardActivityId?: string; token?: TokenOptions } = {},
  ): Promise<Reply> {
    return this.fake.token(opts.token).then((token) =>
      this.activity(invoke(this.fake.serviceUrl, user, verb, requestId, opts.comment, opts.cardActivityId), {
        token,
      }),
    );
  }
}

/** An `adaptiveCard/action` invoke in the shape Teams sends for an `Action.Execute` click. */
export function invoke(
  serviceUrl: string,
  user: UserName,
  verb: string,
  requestId: string,
  comment?: string,
  cardActivityId = '1700000000001',
): Record<string, unknown> {
  const u = USERS[user];
  return {
    name: 'adaptiveCard/action',
    type: 'invoke',
    timestamp: new Date().toISOString(),
    localTimestamp: new Date().toISOString(),
    id: `f:${randomUUID()}`,
    channelId: 'msteams',
    serviceUrl,
    from: { id: u.id, name: u.name, aadObjectId: u.aadObjectId },
    conversation: {
      isGroup: true,
      conversationType: 'channel',
      tenantId: TENANT_ID,
      id: `${OPS_CONVERSATION};messageid=${cardActivityId}`,
    },
    recipient: { id: `28:${APP_ID}`, name: 'Countersign' },
    entities: [{ locale: 'en-US', country: 'US', platform: 'Web', type: 'clientInfo' }],
    channelData: {
      channel: { id: OPS_CONVERSATION },
      team: { id: '19:team@thread.tacv2' },
      tenant: { id: TENANT_ID },
      source: { name: 'message' },
      legacy: { replyToId: cardActivityId },
    },
    replyToId: cardActivityId,
    value: {
      action: {
        type: 'Action.Execute',
        title: verb === 'deny' ? 'Deny' : 'Approve',
        verb,
        data: { requestId, ...(comment === undefined ? {} : { comment }) },
      },
      trigger: 'manual',
    },
    locale: 'en-US',
  };
}

export function teamsConfig(fake: FakeTeams): TeamsConfig {
  return {
    appId: APP_ID,
    appPassword: `env:${PASSWORD_ENV}`,
    tenantId: null,
    tokenUrl: fake.tokenUrl,
    openidMetadataUrl: fake.openidMetadataUrl,
    issuer: BOT_ISSUER,
    conversations: {
      ops: { serviceUrl: fake.serviceUrl.replace(/\/+$/, ''), conversationId: OPS_CONVERSATION },
    },
    users: MAPPED_USERS,
  };
}

export async function startTeamsHarness(
  db: TestDatabase,
  fake: FakeTeams,
  opts: { logSink?: (line: string) => void } = {},
): Promise<TeamsHarness> {
  process.env[PASSWORD_ENV] = APP_PASSWORD;
  const h = await startHarness(
    db,
    POLICY,
    {
      channels: { teams: teamsConfig(fake) },
      outbox: { pollMs: 50, baseDelayMs: 100, maxDelayMs: 400 },
      publicUrl: PUBLIC_URL,
      ...(opts.logSink ? { logSink: opts.logSink } : {}),
    },
    TeamsHarness,
  );
  h.fake = fake;
  return h;
}
