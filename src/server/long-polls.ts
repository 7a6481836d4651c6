import type { ServerResponse } from 'node:http';

/**
 * The `wait` long-polls being answered right now, so that a shutdown can end each with an answer (the
 * request's current state, as at a timeout) instead of cutting its connection: the client then sees a
 * normal "still pending" and waits again, reaching the gateway once it is back (invariant 9).
 */
export class LongPolls {
  readonly #open = new Set<Promise<void>>();

  /** Tracks one long-poll's response until it has been sent or its connection has gone. */
  track(res: ServerResponse): void {
    // 'close' follows 'finish' on a response that was sent, and comes alone on one that was cut.
    const ended = new Promise<void>((resolve) => res.once('close', resolve));
    this.#open.add(ended);
    void ended.then(() => this.#open.delete(ended));
  }

  get size(): number {
    return this.#open.size;
  }

  /** Resolves once every tracked response has ended, or after `limitMs`, whichever comes first. */
  async ended(limitMs: number): Promise<void> {
    if (this.#open.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const limit = new Promise<void>((resolve) => (timer = setTimeout(resolve, limitMs)));
    try {
      await Promise.race([Promise.all([...this.#open]), limit]);
    } finally {
      clearTimeout(timer);
    }
  }
}
