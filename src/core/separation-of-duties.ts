import { CountersignError } from './errors.js';
import type { ActionRequest, Principal } from './types.js';

const lower = (s: string | null | undefined): string | null => (s ? s.trim().toLowerCase() : null);

/**
 * The people a request excludes from reviewing it: the requester, the owner of the requester's
 * credential, and the person it was made on behalf of (verified or not: an unverified claim only tightens).
 */
export function excludedPersons(req: ActionRequest): Set<string> {
  const out = new Set<string>();
  for (const p of [req.requester.personId, req.requester.email, req.requester.owner, req.onBehalfOf?.email]) {
    const l = lower(p);
    if (l) out.add(l);
  }
  return out;
}

export function isListedApprover(approvers: readonly string[], reviewer: Principal): boolean {
  const email = lower(reviewer.email);
  return approvers.some((a) => {
    if (a.startsWith('group:')) return reviewer.groups.includes(a.slice('group:'.length));
    if (a.startsWith('user:')) return email !== null && lower(a.slice('user:'.length)) === email;
    return false;
  });
}

/**
 * Throws unless `reviewer` may review `req` now. The order matters for the codes callers see:
 * a settled request is ALREADY_DECIDED whoever asks; self-approval is named as such even for admins
 * (admins get no bypass); agents and services never review.
 */
export function assertMayReview(req: ActionRequest, reviewer: Principal): void {
  if (req.status !== 'pending' || req.approval === null) {
    throw new CountersignError('ALREADY_DECIDED', `request ${req.id} is already ${req.status}`);
  }
  const excluded = excludedPersons(req);
  const personId = lower(reviewer.personId);
  if (reviewer.id === req.requester.id || (personId !== null && excluded.has(personId))) {
    throw new CountersignError(
      'SELF_APPROVAL_FORBIDDEN',
      'you cannot review this request: you are its requester, the owner of the requesting agent, or the person it acts for',
    );
  }
  if (reviewer.kind !== 'human' || personId === null) {
    throw new CountersignError('NOT_AN_APPROVER', `${reviewer.kind} credentials can never review requests`);
  }
  if (!isListedApprover(req.approval.approvers, reviewer)) {
    throw new CountersignError(
      'NOT_AN_APPROVER',
      `you are not an approver of this request (approvers: ${req.approval.approvers.join(', ')})`,
    );
  }
  if (req.approval.reviews.some((r) => r.reviewer.personId === personId)) {
    throw new CountersignError('ALREADY_REVIEWED', `${personId} has already reviewed request ${req.id}`);
  }
}
