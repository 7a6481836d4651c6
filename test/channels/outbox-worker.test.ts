import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseRetryAfter, RetryLaterError, type Channel, type Delivery } from '../../src/channels/channel.js';
import { OutboxWorker } from '../../src/channels/outbox-worker.js';
import { planDeliveries, unroutedTargets } from '../../src/channels/routing.js';
import { FakeClock } from '../../src/core/clock.js';
import { createLogger } from '../../src/logger.js';
import type { Store } from '../../src/store/store.js';
import { freshSqliteDatabase, type TestDatabase } from '../helpers/postgres.js';
import { delivery, event, makeRequest, T0 } from './fixtures.js';

class ScriptedChannel implements Channel {
  readonly name = 'slack';
  readonly seen: Delivery[] = [];
  failures = 0;
  /** Thrown (once) instead of a plain failure. */
  nextError: Error | null = null;
  targets(_req: unknown, _kind: unknown, named: readonly string[]): string[] {
    return [...named];
  }
  async deliver(d: Delivery): Promise<void> {
    this.seen.push(d);
    const scripted = this.nextError;
    this.nextError = null;
    if (scripted) throw scripted;
    if (this.failures > 0) {
      this.failures--;
      throw new Error('slack is down');
    }
  }
}

describe('OutboxWorker', () => {
  let db: TestDatabase;
  let store: Store;
  let clock: FakeClock;
  let channel: ScriptedChannel;

  beforeEach(async () => {
    db = await freshSqliteDatabase();
    store = await db.open();
    clock = new FakeClock(T0);
    channel = new ScriptedChannel();
  });
  afterEach(() => db.cleanup());

  const worker = (maxAttempts = 4) =>
    new OutboxWorker({
      store,
      channels: [channel],
      clock,
      logger: createLogger('silent'),
      maxAttempts,
      baseDelayMs: 1_000,
      maxDelayMs: 4_000,
      random: () => 1, // the top of the jitter range: delays are exactly the capped exponential
    });

  it('retries with capped exponential backoff, then sends, never touching the request', async () => {
    const req = makeRequest();
    await store.insertRequest(req, [event('request.submitted', req.id)], { deliveries: [delivery(req.id)] });
    const w = worker(10);
    channel.failures = 4;
    const delays: number[] = [];
    for (let i = 0; i < 5; i++) {
      expect(await w.runOnce()).toBe(1);
      const [d] = await store.listDeliveries(req.id);
      if (d?.status === 'sent') break;
      delays.push(Date.parse(d?.nextAttemptAt ?? '') - clock.now().getTime());
      expect(await w.runOnce()).toBe(0); // not due yet
      clock.set(d?.nextAttemptAt ?? '');
    }
    expect(delays).toEqual([1_000, 2_000, 4_000, 4_000]);
    expect(channel.seen.map((d) => d.attempt)).toEqual([1, 2, 3, 4, 5]);
    expect((await store.listDeliveries(req.id))[0]?.status).toBe('sent');
    expect(await store.getRequest(req.id)).toEqual(req);
  });

  it('waits at least as long as the other side asked (Retry-After), within reason', async () => {
    const req = makeRequest();
    await store.insertRequest(req, [], { deliveries: [delivery(req.id)] });
    const w = worker(10);
    channel.nextError = new RetryLaterError('rate-limited', 30_000);
    await w.runOnce();
    const [d] = await store.listDeliveries(req.id);
    expect(Date.parse(d?.nextAttemptAt ?? '') - clock.now().getTime()).toBe(30_000);
    expect(d?.lastError).toBe('rate-limited');
    clock.advance(29_999);
    expect(await w.runOnce()).toBe(0);
    clock.advance(1);
    expect(await w.runOnce()).toBe(1);
    expect((await store.listDeliveries(req.id))[0]?.status).toBe('sent');

    // A hint of days is capped at 15 minutes.
    const other = makeRequest();
    await store.insertRequest(other, [], { deliveries: [delivery(other.id)] });
    channel.nextError = new RetryLaterError('come back tomorrow', 86_400_000);
    await w.runOnce();
    const [o] = await store.listDeliveries(other.id);
    expect(Date.parse(o?.nextAttemptAt ?? '') - clock.now().getTime()).toBe(15 * 60_000);
  });

  it('reads Retry-After as seconds or an HTTP date', () => {
    const now = new Date('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter(null, now)).toBeNull();
    expect(parseRetryAfter('soon', now)).toBeNull();
    expect(parseRetryAfter('-5', now)).toBeNull();
  });

  it('dead-letters after the last attempt, and a delivery for an unknown channel at once', async () => {
    const req = makeRequest();
    const [a, b] = [delivery(req.id), delivery(req.id, { channel: 'pager' })];
    await store.insertRequest(req, [], { deliveries: [a, b] });
    channel.failures = 100;
    const w = worker(2);
    await w.runOnce();
    clock.advance(10_000);
    await w.runOnce();
    const byId = new Map((await store.listDeliveries(req.id)).map((d) => [d.id, d]));
    expect(byId.get(a.id)).toMatchObject({ status: 'dead', attempts: 2, lastError: 'slack is down' });
    expect(byId.get(b.id)).toMatchObject({ status: 'dead', attempts: 1 });
    expect(byId.get(b.id)?.lastError).toMatch(/no channel "pager"/);
  });

  it('keeps jitter within half to all of the capped delay', () => {
    const at = (r: number) =>
      new OutboxWorker({
        store,
        channels: [],
        clock,
        logger: createLogger('silent'),
        baseDelayMs: 1_000,
        maxDelayMs: 8_000,
        random: () => r,
      });
    expect(at(0).retryDelayMs(1)).toBe(500);
    expect(at(0.999999).retryDelayMs(3)).toBe(4_000);
    expect(at(0).retryDelayMs(30)).toBe(4_000);
    expect(at(1).retryDelayMs(30)).toBe(8_000);
  });
});

describe('planDeliveries', () => {
  const echo = { targets: (_r: unknown, _k: unknown, named: readonly string[]) => [...named] };

  it('plans one delivery per configured notify target, none without channels', () => {
    const req = makeRequest({ notify: ['slack:#a', 'teams:ops', 'slack:#a', 'webhook:audit', 'bogus'] });
    expect(planDeliveries(req, 'request.created', new Map(), new Date(T0))).toEqual([]);
    const channels = new Map([
      ['slack', echo],
      ['webhook', echo],
    ]);
    const planned = planDeliveries(req, 'request.created', channels, new Date(T0));
    expect(planned.map((d) => [d.channel, (d.payload as { target: string }).target])).toEqual([
      ['slack', '#a'],
      ['webhook', 'audit'],
    ]);
    expect(planned[0]?.idempotencyKey).toBe(`${req.id}/v1/request.created/slack:#a`);
    expect(JSON.stringify(planned)).toContain('[MASKED:github_token]');
  });

  it('lets each channel drop and add targets', () => {
    const req = makeRequest({ notify: ['slack:#a', 'webhook:audit', 'webhook:other'] });
    const channels = new Map([
      [
        'slack',
        { targets: (_r: unknown, _k: unknown, named: readonly string[]) => [...named, '@requester'] },
      ],
      ['webhook', { targets: (_r: unknown, _k: unknown, named: readonly string[]) => named.slice(1) }],
    ]);
    const planned = planDeliveries(req, 'request.decided', channels, new Date(T0));
    expect(planned.map((d) => d.idempotencyKey.split('/').pop())).toEqual([
      'slack:#a',
      'slack:@requester',
      'webhook:other',
    ]);
  });
});

describe('unroutedTargets', () => {
  it('names the notify targets nothing will send, and why', () => {
    const targets = [
      { rule: 'a', target: 'slack:#ops' },
      { rule: 'a', target: 'teams:ops' },
      { rule: 'b', target: 'webhook:siem' },
      { rule: 'b', target: 'pagerduty' },
    ];
    expect(unroutedTargets(targets, new Set(['slack']))).toEqual([
      { rule: 'a', target: 'teams:ops', why: 'channels.teams is not configured' },
      { rule: 'b', target: 'webhook:siem', why: 'channels.webhooks is not configured' },
      {
        rule: 'b',
        target: 'pagerduty',
        why: 'not CHANNEL:TARGET (e.g. slack:#ops, teams:ops, webhook:siem)',
      },
    ]);
    expect(unroutedTargets(targets.slice(0, 3), new Set(['slack', 'teams', 'webhook']))).toEqual([]);
  });
});
