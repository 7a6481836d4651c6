import { createHash } from 'node:crypto';
import type { RequestView } from '../../gateway/view.js';
import { requestLink, type Delivery, type DeliveryKind } from '../channel.js';

/** The body of every webhook: the Standard Webhooks `{type, timestamp, data}` envelope. */
export interface WebhookEvent {
  type: DeliveryKind;
  /** When the state change happened (not when this attempt was sent). */
  timestamp: string;
  data: {
    /** The request as it was at that change, masked as every route shows it. */
    request: RequestView;
    /** The request in the gateway's API, or null without `public_url`. */
    link: string | null;
  };
}

/** What the outbox holds for a webhook delivery (see `planDeliveries`). */
export interface WebhookPayload {
  target: string;
  request: RequestView;
}

export function webhookPayload(payload: unknown): WebhookPayload {
  const p = payload as { target?: unknown; request?: unknown } | null;
  if (typeof p?.target !== 'string' || p.target === '') throw new Error('webhook delivery without a target');
  if (typeof p.request !== 'object' || p.request === null) {
    throw new Error('webhook delivery without a request snapshot');
  }
  return { target: p.target, request: p.request as RequestView };
}

/**
 * The event of a delivery. It carries the snapshot written with the state change, not a fresh read: an
 * event is a fact about one moment, and a retry an hour later must say the same thing.
 */
export function webhookEvent(
  d: Pick<Delivery, 'kind' | 'createdAt' | 'requestId'>,
  snapshot: RequestView,
  publicUrl: string | null,
): WebhookEvent {
  return {
    type: d.kind,
    timestamp: d.createdAt,
    data: { request: snapshot, link: requestLink(publicUrl, d.requestId) },
  };
}

/**
 * The `webhook-id` of a delivery: the same on every retry, so receivers can drop duplicates, and different
 * for every (request version, event, webhook). No `.`, which the signed content uses as its separator.
 */
export function webhookMessageId(idempotencyKey: string): string {
  return `msg_${createHash('sha256').update(idempotencyKey).digest('base64url').slice(0, 32)}`;
}
