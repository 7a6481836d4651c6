import { CountersignError } from './errors.js';
import { TERMINAL_STATUSES, type Effect, type RequestStatus } from './types.js';

/** The state machine of DESIGN.md: only `pending` moves, and only to a terminal state. */
const TRANSITIONS: Record<RequestStatus, readonly RequestStatus[]> = {
  pending: ['approved', 'denied', 'expired', 'cancelled'],
  approved: [],
  denied: [],
  expired: [],
  cancelled: [],
};

export function isTerminal(status: RequestStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

export function initialStatus(effect: Effect): RequestStatus {
  switch (effect) {
    case 'allow':
      return 'approved';
    case 'deny':
      return 'denied';
    case 'require_approval':
      return 'pending';
  }
}

export function assertTransition(from: RequestStatus, to: RequestStatus): void {
  if (!TRANSITIONS[from].includes(to)) {
    throw new CountersignError('ALREADY_DECIDED', `request is already ${from}; it cannot become ${to}`);
  }
}
