import { CountersignError } from './errors.js';
import { assertTransition } from './lifecycle.js';
import { quorumProgress } from './quorum.js';
import { assertMayReview } from './separation-of-duties.js';
import type {
  ActionRequest,
  Assurance,
  AuditEventInput,
  Channel,
  Principal,
  RequestStatus,
  Review,
  Verdict,
} from './types.js';

/** The outcome of a pure transition: the next stored state and the audit events that go with it. */
export interface Transition {
  next: ActionRequest;
  events: AuditEventInput[];
}

const ASSURANCE: Record<Channel, Assurance> = {
  api: 'session',
  cli: 'session',
  web: 'session',
  slack: 'chat',
  teams: 'chat',
};

export function actorOf(p: Principal, channel: Channel): AuditEventInput['actor'] {
  return { id: p.id, kind: p.kind, personId: p.personId, channel };
}

function settle(req: ActionRequest, status: RequestStatus, at: string, decidedBy: string): ActionRequest {
  assertTransition(req.status, status);
  return { ...req, status, decidedAt: at, decidedBy, version: req.version + 1 };
}

/** Applies one person's review: records it, and settles the request when a deny lands or quorum is met. */
export function applyReview(
  req: ActionRequest,
  reviewer: Principal,
  verdict: Verdict,
  comment: string | null,
  channel: Channel,
  now: Date,
): Transition {
  assertMayReview(req, reviewer);
  const approval = req.approval;
  if (approval === null) throw new CountersignError('ALREADY_DECIDED', `request ${req.id} needs no review`);
  const at = now.toISOString();
  const personId = reviewer.personId as string; // assertMayReview guarantees a person
  const review: Review = {
    reviewer: {
      id: reviewer.id,
      name: reviewer.name,
      email: reviewer.email,
      personId,
      groups: [...reviewer.groups],
    },
    verdict,
    comment,
    channel,
    assurance: ASSURANCE[channel],
    at,
  };
  const reviews = [...approval.reviews, review];
  let next: ActionRequest = { ...req, approval: { ...approval, reviews }, version: req.version + 1 };
  const actor = actorOf(reviewer, channel);
  const events: AuditEventInput[] = [
    {
      type: 'request.reviewed',
      at,
      requestId: req.id,
      actor,
      data: {
        verdict,
        comment,
        assurance: review.assurance,
        digest: req.digest,
        policyVersion: req.policy.version,
      },
    },
  ];

  const progress = quorumProgress(
    approval,
    reviews.filter((r) => r.verdict === 'approve').map((r) => r.reviewer),
  );
  // Invariant 3: one eligible deny settles the request.
  const outcome: RequestStatus | null = verdict === 'deny' ? 'denied' : progress.met ? 'approved' : null;
  if (outcome !== null) {
    next = { ...settle(req, outcome, at, personId), approval: next.approval };
    events.push({
      type: `request.${outcome}`,
      at,
      requestId: req.id,
      actor,
      data: {
        decidedBy: personId,
        approvers: reviews.filter((r) => r.verdict === 'approve').map((r) => r.reviewer.personId),
        digest: req.digest,
        policyVersion: req.policy.version,
      },
    });
  }
  return { next, events };
}

/** The requester withdraws a pending request. */
export function applyCancel(
  req: ActionRequest,
  caller: Principal,
  reason: string | null,
  now: Date,
): Transition {
  if (caller.id !== req.requester.id) {
    throw new CountersignError('FORBIDDEN', 'only the requester can cancel a request');
  }
  if (req.status !== 'pending') {
    throw new CountersignError('ALREADY_DECIDED', `request ${req.id} is already ${req.status}`);
  }
  const at = now.toISOString();
  return {
    next: settle(req, 'cancelled', at, caller.id),
    events: [
      { type: 'request.cancelled', at, requestId: req.id, actor: actorOf(caller, 'api'), data: { reason } },
    ],
  };
}

/** The deadline passed with no decision: `on_timeout: deny` ends in `expired`. */
export function applyExpiry(req: ActionRequest, now: Date): Transition {
  if (req.status !== 'pending' || req.approval === null) {
    throw new CountersignError('ALREADY_DECIDED', `request ${req.id} is already ${req.status}`);
  }
  if (new Date(req.approval.expiresAt).getTime() > now.getTime()) {
    throw new CountersignError('INVALID_REQUEST', `request ${req.id} has not reached its deadline`);
  }
  const at = now.toISOString();
  return {
    next: settle(req, 'expired', at, 'timeout'),
    events: [
      {
        type: 'request.expired',
        at,
        requestId: req.id,
        actor: { id: 'system', kind: 'system', personId: null, channel: 'system' },
        data: { expiresAt: req.approval.expiresAt, onTimeout: req.approval.onTimeout },
      },
    ],
  };
}

/** Review refusals that are evidence of a control working (separation of duties), and so are audited. */
export const AUDITED_REFUSALS = new Set(['SELF_APPROVAL_FORBIDDEN', 'NOT_AN_APPROVER']);

/**
 * The audit event for a review that was refused for separation of duties: it changes no state, but an
 * auditor must be able to see that someone tried (SOC 2 CC6.1, NIST AC-5).
 */
export function refusedReviewEvent(
  requestId: string,
  reviewer: Principal,
  verdict: Verdict,
  channel: Channel,
  code: string,
  now: Date,
): AuditEventInput {
  return {
    type: 'review.refused',
    at: now.toISOString(),
    requestId,
    actor: actorOf(reviewer, channel),
    data: { verdict, code },
  };
}
