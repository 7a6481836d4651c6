import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Clock } from '../core/clock.js';
import type { ActionRequest } from '../core/types.js';
import type { Gateway } from '../gateway/gateway.js';
import type { DeliveryKind, Store } from '../store/store.js';

export type { DeliveryKind };

/** One message a channel is asked to send, as the outbox worker hands it over. */
export interface Delivery {
  id: string;
  kind: DeliveryKind;
  requestId: string;
  /** Stable across retries of this delivery: channels that can deduplicate use it. */
  idempotencyKey: string;
  /** The channel's addressing (`target`) and a masked snapshot of the request (`request`). */
  payload: unknown;
  /** When the delivery was written (with its state change). */
  createdAt: string;
  /** 1 on the first attempt. */
  attempt: number;
}

/**
 * A notification channel (Slack, Teams, webhooks). `deliver` either sends the delivery or throws; the
 * worker retries what throws, with backoff, and never lets the outcome touch a request's state. It may be
 * called again for a delivery that already went out (a crash between sending and recording it), so an
 * implementation should check what it already sent where it can.
 */
export interface Channel {
  /** The name used in policy `notify:` targets and in the outbox: `slack`, `teams`, `webhook`. */
  readonly name: string;
  /**
   * The targets that `kind` of `req` goes to, given the targets the request's rule names for this channel
   * (`notify: [slack:#ops]` names `#ops`). A channel drops what it cannot send (an unknown webhook name, an
   * event a webhook did not subscribe to) and may add targets of its own (the requester, direct messages).
   * Called inside the state change's transaction: it must be synchronous and must not do I/O.
   */
  targets(req: ActionRequest, kind: DeliveryKind, named: readonly string[]): string[];
  deliver(d: Delivery): Promise<void>;
}

/**
 * Thrown by a channel when the other side said when to come back (HTTP 429 or 503 with `Retry-After`,
 * Slack's rate limits): the outbox waits at least that long before the next attempt.
 */
export class RetryLaterError extends Error {
  override readonly name = 'RetryLaterError';
  readonly retryAfterMs: number;

  constructor(message: string, retryAfterMs: number) {
    super(message);
    this.retryAfterMs = retryAfterMs;
  }
}

/** Milliseconds from a `Retry-After` header (seconds or an HTTP date), or null when absent or unreadable. */
export function parseRetryAfter(value: string | null, now: Date): number | null {
  if (value === null || value.trim() === '') return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return seconds >= 0 ? seconds * 1000 : null;
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, at - now.getTime());
}

/** What every channel is started with. */
export interface ChannelDeps {
  store: Store;
  clock: Clock;
  logger: Logger;
  /** `public_url` without a trailing slash, or null: messages then carry no link. */
  publicUrl: string | null;
}

/** A started channel: the sender, and the HTTP callbacks it serves (bound to the gateway that reviews). */
export interface ChannelModule {
  channel: Channel;
  routes?: (gateway: Gateway) => (app: FastifyInstance) => Promise<void>;
  stop?: () => Promise<void>;
}

/** The `target` of a delivery's payload (see `planDeliveries`); throws when it has none. */
export function deliveryTarget(d: Delivery): string {
  const target = (d.payload as { target?: unknown } | null)?.target;
  if (typeof target !== 'string' || target === '') throw new Error(`delivery ${d.id} has no target`);
  return target;
}

/** The link people follow to a request, or null without `public_url`. */
export function requestLink(publicUrl: string | null, requestId: string): string | null {
  return publicUrl === null ? null : `${publicUrl}/v1/requests/${encodeURIComponent(requestId)}`;
}

/**
 * The person to tell about the outcome of `req`: whoever the agent acted for, else the agent's owner,
 * else the requester themself when they are a person with an email. Null when there is nobody to tell.
 */
export function requesterPerson(req: ActionRequest): string | null {
  return req.onBehalfOf?.email ?? req.requester.owner ?? req.requester.email ?? null;
}
