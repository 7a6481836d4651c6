/** The Adaptive Card and the outcome text, from requests as the store holds them (masked). */
import { describe, expect, it } from 'vitest';
import { buildOutcomeText, buildTeamsCard } from '../../src/channels/teams/card.js';
import { toView } from '../../src/gateway/view.js';
import { at, makeRequest } from './fixtures.js';

const review = {
  reviewer: {
    id: 'teams:aad-bob',
    kind: 'human' as const,
    name: 'Bob',
    email: 'bob@example.com',
    groups: ['sre'],
    personId: 'bob@example.com',
  },
  verdict: 'approve' as const,
  comment: 'ok',
  channel: 'teams' as const,
  assurance: 'chat' as const,
  at: at(60_000),
};

/** Every element of the card, depth first. */
function elements(node: unknown): Record<string, unknown>[] {
  if (Array.isArray(node)) return node.flatMap(elements);
  if (node === null || typeof node !== 'object') return [];
  const o = node as Record<string, unknown>;
  return [o, ...Object.values(o).flatMap(elements)];
}

describe('Teams card', () => {
  it('shows what a reviewer needs, with Approve and Deny on a pending request', () => {
    const card = buildTeamsCard(toView(makeRequest({ id: 'req_card1' })), 'https://cs.example.com');
    expect(card).toMatchObject({ type: 'AdaptiveCard', version: '1.5' });
    const text = JSON.stringify(card);
    for (const shown of [
      'service.restart',
      'k8s://prod/deploy/api',
      'production',
      'deploy-bot (agent), owned by alice@example.com',
      'frank@example.com (unverified)',
      'rollout stuck',
      '[MASKED:github_token]',
      'Sensitive data found (masked): ',
      'rule prod-restarts',
      'production restarts need two SREs',
      '0 of 2',
      'group:sre',
      '{{DATE(2026-01-01T00:30:00Z, SHORT)}} {{TIME(2026-01-01T00:30:00Z)}}',
      '[Open request](https://cs.example.com/v1/requests/req_card1)',
    ]) {
      expect(text).toContain(shown);
    }
    expect(card.actions).toEqual([
      expect.objectContaining({ type: 'Action.Execute', verb: 'approve', data: { requestId: 'req_card1' } }),
      expect.objectContaining({ type: 'Action.Execute', verb: 'deny', data: { requestId: 'req_card1' } }),
    ]);
    expect(elements(card)).toContainEqual(expect.objectContaining({ type: 'Input.Text', id: 'comment' }));
  });

  it('never lets request text be read as Markdown: it only goes into TextRuns', () => {
    const req = makeRequest({
      reason: '**urgent** [click me](https://evil.example.com)',
      resource: '_italic_ <b>x</b>',
    });
    const card = buildTeamsCard(toView(req));
    for (const el of elements(card)) {
      if (el.type === 'TextBlock') {
        expect(String(el.text)).not.toContain('evil.example.com');
        expect(String(el.text)).not.toContain('_italic_');
      }
    }
    const runs = elements(card).filter((el) => el.type === 'TextRun');
    expect(runs.map((r) => r.text)).toContain('**urgent** [click me](https://evil.example.com)');
  });

  it('shows the reviews and, once settled, the outcome and no actions', () => {
    const base = makeRequest({ id: 'req_card2' });
    const settled = makeRequest({
      id: 'req_card2',
      status: 'approved',
      decidedAt: at(120_000),
      decidedBy: 'quorum',
      approval: { ...(base.approval as NonNullable<typeof base.approval>), reviews: [review] },
    });
    const card = buildTeamsCard(toView(settled));
    expect(card.actions).toBeUndefined();
    expect(elements(card).some((el) => el.type === 'Input.Text')).toBe(false);
    const text = JSON.stringify(card);
    expect(text).toContain('✅ Approved: service.restart');
    expect(text).toContain('Bob <bob@example.com> ✅ approved via teams: “ok”');
    expect(text).toContain('1 of 2');
    expect(text).toContain(`approved by quorum at ${at(120_000)}`);
  });

  it('says so when the rule needs a step-up approval', () => {
    const base = makeRequest();
    const req = makeRequest({
      approval: { ...(base.approval as NonNullable<typeof base.approval>), stepUp: true },
    });
    expect(JSON.stringify(buildTeamsCard(toView(req)))).toContain('Step-up: approve on the web or API');
  });

  it('truncates a long parameter preview', () => {
    const req = makeRequest({ parameters: { blob: 'x'.repeat(5_000) } });
    const text = JSON.stringify(buildTeamsCard(toView(req)));
    expect(text).toContain('… (truncated)');
    expect(text.length).toBeLessThan(8_000);
  });

  it('tells the requester the outcome, the reason of a denial, and where to look', () => {
    const base = makeRequest({ id: 'req_card3' });
    const denied = makeRequest({
      id: 'req_card3',
      status: 'denied',
      decidedBy: 'bob@example.com',
      approval: {
        ...(base.approval as NonNullable<typeof base.approval>),
        reviews: [{ ...review, verdict: 'deny', comment: 'not now' }],
      },
    });
    expect(buildOutcomeText(toView(denied), 'frank@example.com', 'https://cs.example.com')).toBe(
      'frank@example.com: ⛔ Denied: service.restart on k8s://prod/deploy/api (production), requested by ' +
        'deploy-bot, is denied by bob@example.com. Reason: “not now”. Request req_card3: ' +
        'https://cs.example.com/v1/requests/req_card3',
    );
  });
});
