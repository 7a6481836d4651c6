import { Webhook } from 'standardwebhooks';
import type { Clock } from '../../core/clock.js';
import type { ActionRequest } from '../../core/types.js';
import { VERSION } from '../../version.js';
import {
  parseRetryAfter,
  RetryLaterError,
  type Channel,
  type Delivery,
  type DeliveryKind,
} from '../channel.js';
import { webhookEvent, webhookMessageId, webhookPayload } from './webhook-event.js';

export const USER_AGENT = `Countersign/${VERSION} (webhooks; +https://www.standardwebhooks.com)`;

/** One configured endpoint, its secret already resolved and checked. */
export interface WebhookEndpoint {
  name: string;
  url: string;
  /** `whsec_…` */
  secret: string;
  events: readonly DeliveryKind[];
}

export interface WebhookChannelOptions {
  clock: Clock;
  publicUrl: string | null;
  /** How long one POST may take, answer included. Default 10 s. */
  timeoutMs?: number;
}

interface Endpoint {
  url: string;
  events: ReadonlySet<DeliveryKind>;
  signer: Webhook;
}

/**
 * Sends request events to the configured HTTP endpoints, signed per Standard Webhooks. A 2xx answer is
 * delivered; anything else (a 3xx included: redirects are not followed, so a signed event never lands
 * somewhere nobody configured), a timeout or a network error throws, and the outbox retries with the same
 * `webhook-id`. Errors name the webhook and what went wrong, never its URL, secret or the body.
 */
export class WebhookChannel implements Channel {
  readonly name = 'webhook';
  readonly #endpoints: Map<string, Endpoint>;
  readonly #clock: Clock;
  readonly #publicUrl: string | null;
  readonly #timeoutMs: number;

  constructor(endpoints: readonly WebhookEndpoint[], options: WebhookChannelOptions) {
    this.#endpoints = new Map(
      endpoints.map((e) => [
        e.name,
        { url: e.url, events: new Set(e.events), signer: new Webhook(e.secret) },
      ]),
    );
    this.#clock = options.clock;
    this.#publicUrl = options.publicUrl;
    this.#timeoutMs = options.timeoutMs ?? 10_000;
  }

  /** The named webhooks that exist and subscribe to `kind`; unknown names are dropped. */
  targets(_req: ActionRequest, kind: DeliveryKind, named: readonly string[]): string[] {
    return named.filter((n) => this.#endpoints.get(n)?.events.has(kind) === true);
  }

  async deliver(d: Delivery): Promise<void> {
    const { target, request } = webhookPayload(d.payload);
    const endpoint = this.#endpoints.get(target);
    if (endpoint === undefined) throw new Error(`webhook ${JSON.stringify(target)} is not configured`);
    const body = JSON.stringify(webhookEvent(d, request, this.#publicUrl));
    const id = webhookMessageId(d.idempotencyKey);
    const at = this.#clock.now();
    let res: Response;
    try {
      res = await fetch(endpoint.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': USER_AGENT,
          'webhook-id': id,
          'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
          'webhook-signature': endpoint.signer.sign(id, at, body),
        },
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (err) {
      throw new Error(`webhook ${target}: ${failure(err, this.#timeoutMs)}`);
    }
    // The answer's body is of no use to us; read none of it, but free the connection.
    await res.body?.cancel().catch(() => undefined);
    if (res.status < 200 || res.status > 299) {
      const redirect = res.status >= 300 && res.status < 400 ? ' (redirects are not followed)' : '';
      const message = `webhook ${target}: the endpoint answered ${res.status}${redirect}`;
      const after =
        res.status === 429 || res.status === 503
          ? parseRetryAfter(res.headers.get('retry-after'), this.#clock.now())
          : null;
      throw after === null ? new Error(message) : new RetryLaterError(message, after);
    }
  }
}

/** A fetch failure in a few words: the timeout, or the network error's code. */
function failure(err: unknown, timeoutMs: number): string {
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) {
    return `no answer within ${timeoutMs / 1000} s`;
  }
  const cause = err instanceof Error ? (err.cause as { code?: unknown } | undefined) : undefined;
  const code = typeof cause?.code === 'string' ? cause.code : null;
  return `network error${code === null ? '' : ` (${code})`}`;
}
