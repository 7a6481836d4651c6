/** The webhook channel on its own: signing, what counts as delivered, secrets, ids, targets. */
import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RetryLaterError, type Delivery } from '../../src/channels/channel.js';
import { WebhookChannel, type WebhookEndpoint } from '../../src/channels/webhook/webhook-channel.js';
import { webhookMessageId } from '../../src/channels/webhook/webhook-event.js';
import { checkWebhookSecret } from '../../src/channels/webhook/webhook-secret.js';
import { FakeClock, systemClock } from '../../src/core/clock.js';
import { DELIVERY_KINDS } from '../../src/store/store.js';
import { toView } from '../../src/gateway/view.js';
import { makeRequest } from './fixtures.js';
import { Webhook } from 'standardwebhooks';
import { newSecret, verify, WebhookReceiver } from './webhooks-receiver.js';

const SETTING = 'channels.webhooks[ops].secret';
const req = makeRequest({ notify: ['webhook:ops'] });

function delivery(overrides: Partial<Delivery> = {}): Delivery {
  return {
    id: 'dlv_1',
    kind: 'request.created',
    requestId: req.id,
    idempotencyKey: `${req.id}/v1/request.created/webhook:ops`,
    payload: { target: 'ops', request: toView(req) },
    createdAt: '2026-01-01T00:00:00.000Z',
    attempt: 1,
    ...overrides,
  };
}

function channel(endpoints: Partial<WebhookEndpoint>[], timeoutMs?: number): WebhookChannel {
  return new WebhookChannel(
    endpoints.map((e) => ({
      name: 'ops',
      url: 'http://127.0.0.1:9/',
      secret: newSecret(),
      events: [...DELIVERY_KINDS],
      ...e,
    })),
    { clock: systemClock, publicUrl: null, ...(timeoutMs ? { timeoutMs } : {}) },
  );
}

describe('webhook delivery', () => {
  let receiver: WebhookReceiver;
  beforeEach(async () => {
    receiver = await WebhookReceiver.start();
  });
  afterEach(async () => {
    await receiver.stop();
  });

  it('signs so that the reference library verifies, and a tampered body or wrong secret does not', async () => {
    await channel([{ url: receiver.url, secret: receiver.secret }]).deliver(delivery());
    const [r] = receiver.received;
    expect(r?.verifyError).toBeNull();
    expect(r?.event).toEqual({
      type: 'request.created',
      timestamp: '2026-01-01T00:00:00.000Z',
      data: { request: toView(req), link: null },
    });
    const body = r!.body;
    expect(verify(receiver.secret, body.replace('"pending"', '"approved"'), r!.headers)).toBe(
      'No matching signature found',
    );
    expect(verify(receiver.secret, `${body} `, r!.headers)).toBe('No matching signature found');
    expect(verify(newSecret(), body, r!.headers)).toBe('No matching signature found');
    expect(verify(receiver.secret, body, { ...r!.headers, 'webhook-id': 'msg_other' })).toBe(
      'No matching signature found',
    );
  });

  it('signs what docs/integrations/webhooks.md says: HMAC-SHA256 over id.timestamp.body, decoded key', async () => {
    await channel([{ url: receiver.url, secret: receiver.secret }]).deliver(delivery());
    const { headers, body } = receiver.received[0]!;
    const key = Buffer.from(receiver.secret.slice('whsec_'.length), 'base64');
    const signed = `${String(headers['webhook-id'])}.${String(headers['webhook-timestamp'])}.${body}`;
    const mac = createHmac('sha256', key).update(signed).digest('base64');
    expect(headers['webhook-signature']).toBe(`v1,${mac}`);
  });

  it("computes the docs' worked example", () => {
    // The docs' example secret is base64 of an ASCII phrase: obviously not a secret.
    const secret = `whsec_${Buffer.from('countersign-docs-example-secret!').toString('base64')}`;
    expect(secret).toBe('whsec_Y291bnRlcnNpZ24tZG9jcy1leGFtcGxlLXNlY3JldCE=');
    const body =
      '{"type":"request.expired","timestamp":"2026-01-01T00:00:00.000Z","data":{"request":{"id":"req_example","status":"expired"},"link":null}}';
    const signature = 'v1,JJ5kV59dzLHnlcvPK582WDG7+6BbuVY4VsvDBjAEnYI=';
    expect(new Webhook(secret).sign('msg_docs-example', new Date(1767225600 * 1000), body)).toBe(signature);
  });

  it('signs with the send time: a stale timestamp fails verification', async () => {
    const clock = new FakeClock(Date.now() - 10 * 60_000);
    const ch = new WebhookChannel(
      [{ name: 'ops', url: receiver.url, secret: receiver.secret, events: [...DELIVERY_KINDS] }],
      { clock, publicUrl: null },
    );
    await ch.deliver(delivery());
    expect(receiver.received[0]?.verifyError).toBe('Message timestamp too old');
  });

  it('sends the same id and body on a retry of the same delivery', async () => {
    const ch = channel([{ url: receiver.url, secret: receiver.secret }]);
    await ch.deliver(delivery());
    await ch.deliver(delivery({ attempt: 2 }));
    const [a, b] = receiver.received;
    expect(a?.headers['webhook-id']).toBe(b?.headers['webhook-id']);
    expect(a?.body).toBe(b?.body);
    expect(b?.verifyError).toBeNull();
  });

  it('links to the request under public_url', async () => {
    const ch = new WebhookChannel(
      [{ name: 'ops', url: receiver.url, secret: receiver.secret, events: [...DELIVERY_KINDS] }],
      { clock: systemClock, publicUrl: 'https://cs.example.com' },
    );
    await ch.deliver(delivery());
    expect(receiver.received[0]?.event.data.link).toBe(`https://cs.example.com/v1/requests/${req.id}`);
  });

  it('throws on anything but 2xx, naming the webhook and the status', async () => {
    const ch = channel([{ url: receiver.url, secret: receiver.secret }]);
    receiver.answers = [500, 404, 410, 204];
    await expect(ch.deliver(delivery())).rejects.toThrow('webhook ops: the endpoint answered 500');
    await expect(ch.deliver(delivery())).rejects.toThrow('webhook ops: the endpoint answered 404');
    await expect(ch.deliver(delivery())).rejects.toThrow('webhook ops: the endpoint answered 410');
    await expect(ch.deliver(delivery())).resolves.toBeUndefined();
  });

  it('passes on Retry-After from a 429 or 503, so the outbox waits as long as asked', async () => {
    const ch = channel([{ url: receiver.url, secret: receiver.secret }]);
    receiver.retryAfter = '120';
    receiver.answers = [429, 503, 500];
    for (const status of [429, 503]) {
      const err = await ch.deliver(delivery()).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RetryLaterError);
      expect(err).toMatchObject({
        retryAfterMs: 120_000,
        message: `webhook ops: the endpoint answered ${status}`,
      });
    }
    // Only 429 and 503 carry the hint.
    const plain = await ch.deliver(delivery()).catch((e: unknown) => e);
    expect(plain).not.toBeInstanceOf(RetryLaterError);
  });

  it('throws for a delivery to a webhook that is not configured (any more)', async () => {
    const ch = channel([{ url: receiver.url, secret: receiver.secret }]);
    await expect(ch.deliver(delivery({ payload: { target: 'gone', request: toView(req) } }))).rejects.toThrow(
      'webhook "gone" is not configured',
    );
    await expect(ch.deliver(delivery({ payload: { target: 'ops' } }))).rejects.toThrow('without a request');
    expect(receiver.received).toEqual([]);
  });
});

describe('webhook delivery failures', () => {
  let server: Server | null = null;
  afterEach(async () => {
    server?.closeAllConnections();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = null;
  });

  async function serve(handler: Parameters<typeof createServer>[1]): Promise<string> {
    server = createServer(handler);
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  it('does not follow a redirect: a 3xx is a failure and the event goes nowhere else', async () => {
    const elsewhere = await WebhookReceiver.start();
    try {
      const url = await serve((_req, res) => {
        res.writeHead(307, { location: elsewhere.url }).end();
      });
      await expect(channel([{ url }]).deliver(delivery())).rejects.toThrow(
        'webhook ops: the endpoint answered 307 (redirects are not followed)',
      );
      expect(elsewhere.received).toEqual([]);
    } finally {
      await elsewhere.stop();
    }
  });

  it('gives up on an endpoint that does not answer in time', async () => {
    const url = await serve(() => {
      // never answers
    });
    await expect(channel([{ url }], 200).deliver(delivery())).rejects.toThrow(
      'webhook ops: no answer within 0.2 s',
    );
  });

  it('reports a network error by its code, without the URL', async () => {
    const url = await serve(() => undefined);
    await new Promise<void>((resolve) => server!.close(() => resolve()));
    server = null;
    const err = await channel([{ url: `${url}/hook?token=abc` }])
      .deliver(delivery())
      .catch((e: unknown) => e as Error);
    expect((err as Error).message).toBe('webhook ops: network error (ECONNREFUSED)');
  });
});

describe('webhook targets', () => {
  it('keeps the named webhooks that exist and subscribe to the event', () => {
    const ch = channel([
      { name: 'ops' },
      { name: 'decisions', events: ['request.decided', 'request.expired'] },
    ]);
    expect(ch.targets(req, 'request.created', ['ops', 'decisions', 'nope'])).toEqual(['ops']);
    expect(ch.targets(req, 'request.decided', ['decisions', 'ops', 'nope'])).toEqual(['decisions', 'ops']);
    expect(ch.targets(req, 'request.expired', ['decisions'])).toEqual(['decisions']);
    expect(ch.targets(req, 'request.reviewed', [])).toEqual([]);
  });
});

describe('webhook ids', () => {
  it('is stable for one delivery, distinct across deliveries, and free of dots', () => {
    const a = webhookMessageId('req_1/v1/request.created/webhook:ops');
    expect(webhookMessageId('req_1/v1/request.created/webhook:ops')).toBe(a);
    expect(webhookMessageId('req_1/v1/request.created/webhook:audit')).not.toBe(a);
    expect(webhookMessageId('req_1/v2/request.reviewed/webhook:ops')).not.toBe(a);
    expect(a).toMatch(/^msg_[A-Za-z0-9_-]{32}$/);
  });
});

describe('webhook secrets', () => {
  it('accepts whsec_ and 24 to 64 bytes of base64, with or without the prefix', () => {
    for (const bytes of [24, 32, 64]) {
      const s = newSecret(bytes);
      expect(checkWebhookSecret(s, SETTING)).toBe(s);
      expect(checkWebhookSecret(s.slice(6), SETTING)).toBe(s);
    }
  });

  it('refuses a malformed secret, naming the setting and never the value', () => {
    const cases: [string, RegExp][] = [
      [newSecret(16), /channels\.webhooks\[ops\]\.secret: the secret decodes to 16 bytes; .* 24 to 64/],
      [newSecret(65), /channels\.webhooks\[ops\]\.secret: the secret decodes to 65 bytes/],
      ['whsec_not base64 at all!', /channels\.webhooks\[ops\]\.secret: not a Standard Webhooks secret/],
      ['whsec_', /not a Standard Webhooks secret/],
      ['whsec_abc', /not a Standard Webhooks secret/],
    ];
    for (const [secret, message] of cases) {
      let thrown: Error | null = null;
      try {
        checkWebhookSecret(secret, SETTING);
      } catch (err) {
        thrown = err as Error;
      }
      expect(thrown?.message).toMatch(message);
      if (secret.length > 6) expect(thrown?.message).not.toContain(secret.slice(6));
    }
  });
});
