import type { Logger } from 'pino';
import type { Clock } from '../core/clock.js';
import type { Gateway } from './gateway.js';
import type { Store } from '../store/store.js';

// Deadlines live in the store, so a restart loses none: on start the sweeper settles whatever fell due
// while the gateway was down, then sleeps until the next deadline. A long nap is capped so that clock
// jumps and other writers (another process on the same store) are noticed within this bound.
const MAX_NAP_MS = 30_000;

export class ExpirySweeper {
  #timer: NodeJS.Timeout | null = null;
  #armedFor: number | null = null;
  #running: Promise<void> | null = null;
  #stopped = false;

  private readonly gateway: Gateway;
  private readonly store: Store;
  private readonly clock: Clock;
  private readonly logger: Logger;

  constructor(gateway: Gateway, store: Store, clock: Clock, logger: Logger) {
    this.gateway = gateway;
    this.store = store;
    this.clock = clock;
    this.logger = logger;
  }

  start(): Promise<void> {
    this.#stopped = false;
    return this.sweep();
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#armedFor = null;
  }

  /** Tells the sweeper about a new deadline; re-arms only if it is sooner than the one it waits for. */
  deadlineAdded(at: string): void {
    const t = new Date(at).getTime();
    if (this.#armedFor === null || t < this.#armedFor) this.#arm(t);
  }

  /** Expires everything due now, then arms the timer for the next deadline. Never runs twice at once. */
  sweep(): Promise<void> {
    this.#running ??= this.#sweepOnce().finally(() => (this.#running = null));
    return this.#running;
  }

  async #sweepOnce(): Promise<void> {
    if (this.#stopped) return;
    try {
      const n = await this.gateway.expireDue();
      if (n > 0) this.logger.info({ expired: n }, 'expired pending requests past their deadline');
      const next = await this.store.nextDeadline();
      this.#arm(next === null ? null : new Date(next).getTime());
    } catch (err) {
      this.logger.error({ err }, 'expiry sweep failed; retrying in 1s');
      this.#arm(this.clock.now().getTime() + 1000);
    }
  }

  #arm(at: number | null): void {
    if (this.#stopped) return;
    if (this.#timer) clearTimeout(this.#timer);
    const now = this.clock.now().getTime();
    const delay = at === null ? MAX_NAP_MS : Math.min(Math.max(0, at - now), MAX_NAP_MS);
    this.#armedFor = at;
    this.#timer = setTimeout(() => void this.sweep(), delay);
    this.#timer.unref();
  }
}
