import type { ActionRequest, Review } from '../core/types.js';

/**
 * Notification hooks for channels (Slack, Teams, webhooks). They run after the change committed and
 * must never affect a request's state: the gateway catches and logs anything they throw.
 */
export interface GatewayHooks {
  requestCreated?(req: ActionRequest): void | Promise<void>;
  requestReviewed?(req: ActionRequest, review: Review): void | Promise<void>;
  requestDecided?(req: ActionRequest): void | Promise<void>;
}
