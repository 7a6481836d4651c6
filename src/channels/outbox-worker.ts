import type { Logger } from 'pino';
import type { Clock } from '../core/clock.js';
import type { OutboxDelivery, Store } from '../store/store.js';
import { RetryLaterError, type Channel } from './channel.js';

/** The longest `Retry-After` honoured: a bogus hint of days must not park a delivery. */
const MAX_RETRY_AFTER_MS = 15 * 60_000;

export interface OutboxWorkerOptions {
  store: Store;
  channels: readonly Channel[];
  clock: Clock;
  logger: Logger;
  /** How often to look for due deliveries when nobody nudges. Default 250 ms. */
  pollMs?: number;
  /** How long a claimed delivery is ours before another worker may take it. Default 60 s. */
  leaseMs?: number;
  /** Attempts before a delivery is dead-lettered. Default 12. */
  maxAttempts?: number;
  /** The first retry delay; each next one doubles. Default 1 s. */
  baseDelayMs?: number;
  /** No retry waits longer than this. Default 5 min. */
  maxDelayMs?: number;
  /** Deliveries per claim. Default 20. */
  batch?: number;
  /** Random source in [0, 1) for the jitter; injectable for tests. */
  random?: () => number;
}

/**
 * Sends the outbox: claims due deliveries, hands each to its channel, and records the outcome. A failing
 * channel is logged and retried with capped exponential backoff and jitter, then dead-lettered; nothing
 * here ever reads or writes a request's state, so a channel can neither block nor decide a request.
 */
export class OutboxWorker {
  readonly #o: Required<Omit<OutboxWorkerOptions, 'channels'>>;
  readonly #channels: Map<string, Channel>;
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<void> | null = null;
  #again = false;
  #stopped = true;

  constructor(options: OutboxWorkerOptions) {
    this.#o = {
      pollMs: 250,
      leaseMs: 60_000,
      maxAttempts: 12,
      baseDelayMs: 1_000,
      maxDelayMs: 5 * 60_000,
      batch: 20,
      random: Math.random,
      ...options,
    };
    this.#channels = new Map(options.channels.map((c) => [c.name, c]));
  }

  /** The channel names deliveries may be written for. */
  get channelNames(): ReadonlySet<string> {
    return new Set(this.#channels.keys());
  }

  start(): void {
    this.#stopped = false;
    this.#schedule(0);
  }

  /** Stops polling and waits for the round in flight. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    await this.#running;
  }

  /** Looks for due deliveries now (called after a commit that wrote some). */
  nudge(): void {
    if (this.#stopped) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#schedule(0);
  }

  /** One round: claims and sends due deliveries until none is left. Returns how many it attempted. */
  async runOnce(): Promise<number> {
    let attempted = 0;
    for (;;) {
      const now = this.#o.clock.now().toISOString();
      const claimed = await this.#o.store.claimDueDeliveries(now, this.#o.batch, this.#o.leaseMs);
      for (const d of claimed) await this.#send(d);
      attempted += claimed.length;
      if (claimed.length < this.#o.batch || this.#stopped) return attempted;
    }
  }

  /** The delay before attempt `attempts + 1`: exponential, capped, with "equal jitter" (half fixed, half random). */
  retryDelayMs(attempts: number): number {
    const exp = Math.min(this.#o.maxDelayMs, this.#o.baseDelayMs * 2 ** Math.max(0, attempts - 1));
    return Math.round(exp / 2 + (exp / 2) * this.#o.random());
  }

  async #send(d: OutboxDelivery): Promise<void> {
    const { store, clock, logger } = this.#o;
    const channel = this.#channels.get(d.channel);
    try {
      if (!channel) throw new Error(`no channel ${JSON.stringify(d.channel)} is configured`);
      await channel.deliver({
        id: d.id,
        kind: d.kind,
        requestId: d.requestId,
        idempotencyKey: d.idempotencyKey,
        payload: d.payload,
        createdAt: d.createdAt,
        attempt: d.attempts,
      });
      await store.markDelivered(d.id, clock.now().toISOString());
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      const dead = !channel || d.attempts >= this.#o.maxAttempts;
      const now = clock.now();
      // A channel that was told when to come back waits at least that long (capped like any delay).
      const hinted = err instanceof RetryLaterError ? Math.min(err.retryAfterMs, MAX_RETRY_AFTER_MS) : 0;
      const delay = Math.max(this.retryDelayMs(d.attempts), hinted);
      const next = dead ? null : new Date(now.getTime() + delay).toISOString();
      const log = {
        deliveryId: d.id,
        channel: d.channel,
        kind: d.kind,
        requestId: d.requestId,
        attempts: d.attempts,
      };
      if (dead) logger.error({ ...log, err }, 'channel delivery failed for good; dead-lettered');
      else logger.warn({ ...log, err, nextAttemptAt: next }, 'channel delivery failed; will retry');
      try {
        await store.markFailed(d.id, message, next, now.toISOString());
      } catch (markErr) {
        // The lease runs out and the delivery is due again: nothing is lost.
        logger.error({ err: markErr, deliveryId: d.id }, 'could not record a failed delivery');
      }
    }
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#running = this.runOnce()
        .then(() => undefined)
        .catch((err: unknown) => this.#o.logger.error({ err }, 'outbox round failed; retrying'))
        .finally(() => {
          this.#running = null;
          const again = this.#again;
          this.#again = false;
          this.#schedule(again ? 0 : this.#o.pollMs);
        });
    }, ms);
    this.#timer.unref();
  }
}
