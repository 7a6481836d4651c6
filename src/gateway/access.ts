import { excludedPersons, isListedApprover } from '../core/separation-of-duties.js';
import type { ActionRequest, Principal } from '../core/types.js';

/** Whether `p` asked for `req` (directly, as the owner of the agent, or as the person it acts for). */
export function isParty(req: ActionRequest, p: Principal): boolean {
  if (p.id === req.requester.id) return true;
  return p.personId !== null && excludedPersons(req).has(p.personId);
}

/** Who may see a request at all: its parties, its approvers, admins and auditors. */
export function canView(req: ActionRequest, p: Principal): boolean {
  if (isParty(req, p)) return true;
  if (p.roles.includes('admin') || p.roles.includes('auditor')) return true;
  return req.approval !== null && p.kind === 'human' && isListedApprover(req.approval.approvers, p);
}

/** Whether `req` belongs in `p`'s review inbox: pending, theirs to review, not yet reviewed by them. */
export function canReviewNow(req: ActionRequest, p: Principal): boolean {
  if (req.status !== 'pending' || req.approval === null || p.kind !== 'human' || p.personId === null)
    return false;
  if (isParty(req, p)) return false;
  if (!isListedApprover(req.approval.approvers, p)) return false;
  return !req.approval.reviews.some((r) => r.reviewer.personId === p.personId);
}
