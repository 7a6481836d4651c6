/** A gateway with `channels.slack` pointed at a FakeSlack, plus signed Slack interaction requests. */
import { slackSignature } from '../../src/channels/slack/signature.js';
import { SLACK_API_URL } from '../../src/config/config.js';
import { Harness, startHarness, type Reply } from '../helpers/gateway-harness.js';
import type { TestDatabase } from '../helpers/postgres.js';
import type { FakeSlack } from './fake-slack.js';

export const SIGNING_SECRET = 'test-signing-secret-0123456789abcdef';

export const POLICY = `version: 1
defaults:
  effect: allow
rules:
  - name: prod-restarts
    when: action == "service.restart"
    effect: require_approval
    approval: { approvers: [group:sre], quorum: 2, timeout: 30m, on_timeout: deny }
    notify: [slack:#prod-approvals, teams:ops]
  - name: rotate-with-step-up
    when: action == "secrets.rotate"
    effect: require_approval
    approval: { approvers: [group:sre], quorum: 1, timeout: 30m, on_timeout: deny, step_up: true }
    notify: [slack:#prod-approvals]
`;

/** Slack user ids mapped in config; U0ERIN resolves through users.info instead. */
export const SLACK_USERS = {
  U0BOB: 'bob@example.com',
  U0CAROL: 'carol@example.com',
  U0ALICE: 'alice@example.com',
  U0DAVE: 'dave@example.com',
};

export class SlackHarness extends Harness {
  async dispose(): Promise<void> {
    await this.stop();
  }

  /** Posts a signed interaction payload, as Slack does. */
  interact(
    payload: unknown,
    opts: { timestamp?: number; secret?: string; signature?: string } = {},
  ): Promise<Reply> {
    const raw = `payload=${encodeURIComponent(JSON.stringify(payload))}`;
    return this.post(raw, opts);
  }

  async post(
    raw: string,
    opts: { timestamp?: number; secret?: string; signature?: string } = {},
  ): Promise<Reply> {
    const ts = String(opts.timestamp ?? Math.floor(Date.now() / 1000));
    const signature = opts.signature ?? slackSignature(opts.secret ?? SIGNING_SECRET, ts, raw);
    const res = await this.running.app.inject({
      method: 'POST',
      url: '/integrations/slack/interactions',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-slack-request-timestamp': ts,
        'x-slack-signature': signature,
      },
      payload: raw,
    });
    let body: unknown = res.body;
    try {
      body = JSON.parse(res.body);
    } catch {
      // empty 200
    }
    return { status: res.statusCode, body, headers: res.headers };
  }
}

/** A button click in Slack's block_actions format. */
export function click(userId: string, verb: 'approve' | 'deny', requestId: string, responseUrl: string) {
  return {
    type: 'block_actions',
    user: { id: userId, username: userId.toLowerCase(), name: userId.toLowerCase(), team_id: 'T0TEAM' },
    api_app_id: 'A0APP',
    team: { id: 'T0TEAM', domain: 'example' },
    channel: { id: 'C0PROD', name: 'prod-approvals' },
    container: { type: 'message', message_ts: '1700000000.000001', channel_id: 'C0PROD' },
    trigger_id: `trigger.${userId}.${Date.now()}`,
    response_url: responseUrl,
    actions: [
      {
        type: 'button',
        block_id: 'countersign.review',
        action_id: `countersign.${verb}:${requestId}`,
        value: requestId,
        action_ts: String(Date.now() / 1000),
      },
    ],
  };
}

/** The deny modal's submission in Slack's view_submission format. */
export function denySubmission(userId: string, requestId: string, reason: string) {
  return {
    type: 'view_submission',
    user: { id: userId, username: userId.toLowerCase(), name: userId.toLowerCase(), team_id: 'T0TEAM' },
    team: { id: 'T0TEAM', domain: 'example' },
    view: {
      id: 'V0DENY',
      type: 'modal',
      callback_id: 'countersign.deny_reason',
      private_metadata: requestId,
      state: { values: { reason: { reason: { type: 'plain_text_input', value: reason } } } },
    },
  };
}

export async function startSlackHarness(
  db: TestDatabase,
  fake: FakeSlack | { apiUrl: string },
  opts: {
    baseDelayMs?: number;
    maxDelayMs?: number;
    dmApprovers?: boolean;
    publicUrl?: string;
    requestsPerMinute?: number;
  } = {},
): Promise<SlackHarness> {
  process.env.COUNTERSIGN_TEST_SLACK_SECRET = SIGNING_SECRET;
  return startHarness(
    db,
    POLICY,
    {
      channels: {
        slack: {
          botToken: 'xoxb-test-token',
          signingSecret: 'env:COUNTERSIGN_TEST_SLACK_SECRET',
          apiUrl: fake.apiUrl ?? SLACK_API_URL,
          dmApprovers: opts.dmApprovers ?? false,
          users: SLACK_USERS,
        },
      },
      outbox: { pollMs: 50, baseDelayMs: opts.baseDelayMs ?? 100, maxDelayMs: opts.maxDelayMs ?? 400 },
      ...(opts.publicUrl === undefined ? {} : { publicUrl: opts.publicUrl }),
      ...(opts.requestsPerMinute === undefined ? {} : { requestsPerMinute: opts.requestsPerMinute }),
    },
    SlackHarness,
  );
}
