import { describe, expect, it } from 'vitest';
import { CountersignError } from './errors.js';
import { applyExpiry, applyReview } from './transitions.js';
import type { ActionRequest, Principal } from './types.js';

const human = (
  email: string,
  groups: string[] = ['platform'],
  extra: Partial<Principal> = {},
): Principal => ({
  id: `key_${email}`,
  kind: 'human',
  name: email,
  email,
  groups,
  roles: [],
  owner: null,
  attributes: {},
  personId: email,
  ...extra,
});

const pending = (over: Partial<ActionRequest> = {}): ActionRequest => ({
  id: 'req_1',
  status: 'pending',
  action: 'service.restart',
  resource: 'r',
  environment: 'production',
  parameters: {},
  reason: null,
  context: {},
  requester: {
    id: 'agent_1',
    kind: 'agent',
    name: 'bot',
    email: null,
    owner: 'owner@example.com',
    groups: [],
    personId: null,
  },
  onBehalfOf: { email: 'frank@example.com', verified: false },
  digest: 'sha256:x',
  policy: { version: 'sha256:p', rule: 'r', effect: 'require_approval', explanation: '' },
  approval: {
    approvers: ['group:platform', 'user:carol@example.com'],
    quorum: 2,
    require: [],
    timeoutMs: 60_000,
    onTimeout: 'deny',
    grant: null,
    stepUp: false,
    expiresAt: '2026-01-01T01:00:00.000Z',
    reviews: [],
  },
  mask: [],
  notify: [],
  dlp: { findings: [], classes: [], externalDestination: false },
  createdAt: '2026-01-01T00:00:00.000Z',
  decidedAt: null,
  decidedBy: null,
  idempotencyKey: null,
  version: 1,
  ...over,
});

const now = new Date('2026-01-01T00:10:00Z');
const codeOf = (f: () => unknown) => {
  try {
    f();
  } catch (err) {
    return err instanceof CountersignError ? err.code : String(err);
  }
  return 'no error';
};

describe('separation of duties (pure)', () => {
  it('refuses the owner and the onBehalfOf person, case-insensitively', () => {
    expect(
      codeOf(() => applyReview(pending(), human('Owner@Example.com'), 'approve', null, 'api', now)),
    ).toBe('SELF_APPROVAL_FORBIDDEN');
    expect(
      codeOf(() => applyReview(pending(), human('frank@example.com'), 'approve', null, 'api', now)),
    ).toBe('SELF_APPROVAL_FORBIDDEN');
  });

  it('accepts a listed user outside the groups, and refuses an unlisted one', () => {
    expect(
      applyReview(pending(), human('carol@example.com', []), 'approve', null, 'slack', now).next.approval
        ?.reviews[0]?.assurance,
    ).toBe('chat');
    expect(
      codeOf(() =>
        applyReview(pending(), human('mallory@example.com', ['ops']), 'approve', null, 'api', now),
      ),
    ).toBe('NOT_AN_APPROVER');
  });

  it('settles on the deny and on the quorum, bumping the version once per change', () => {
    const one = applyReview(pending(), human('a@example.com'), 'approve', null, 'api', now).next;
    expect(one.status).toBe('pending');
    expect(one.version).toBe(2);
    const two = applyReview(one, human('b@example.com'), 'approve', null, 'api', now);
    expect(two.next.status).toBe('approved');
    expect(two.next.version).toBe(3);
    expect(two.events.map((e) => e.type)).toEqual(['request.reviewed', 'request.approved']);
    const denied = applyReview(one, human('b@example.com'), 'deny', 'no', 'api', now).next;
    expect(denied.status).toBe('denied');
  });

  it('expires only after the deadline', () => {
    expect(codeOf(() => applyExpiry(pending(), now))).toBe('INVALID_REQUEST');
    const t = applyExpiry(pending(), new Date('2026-01-01T01:00:00Z'));
    expect(t.next.status).toBe('expired');
    expect(t.next.decidedBy).toBe('timeout');
  });
});
