import type { DeliveryKind } from '../store/store.js';

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
  deliver(d: Delivery): Promise<void>;
}
