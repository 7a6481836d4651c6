import type { ServerResponse } from 'node:http';

/**
 * The requests being answered right now, so that a shutdown lets them finish before it closes the
 * connections and the store: a submission in flight commits (or fails) and its client gets the answer,
 * instead of a cut connection and a write refused by a closed store. (The long-polls are woken first, so
 * that they answer too: see app.ts.)
 */
export class InFlight {
  #count = 0;
  #idle: (() => void) | null = null;
  readonly #leave = (): void => {
    this.#count--;
    if (this.#count === 0) this.#idle?.();
  };

  /** Counts one request until its response has closed (sent, or its connection gone). */
  track(res: ServerResponse): void {
    this.#count++;
    // A shared listener: nothing allocated per request.
    res.on('close', this.#leave);
  }

  /** Resolves once no request is being answered, or after `limitMs`, whichever comes first. */
  async ended(limitMs: number): Promise<void> {
    if (this.#count === 0) return;
    let timer: NodeJS.Timeout | undefined;
    try {
      await new Promise<void>((resolve) => {
        this.#idle = resolve;
        timer = setTimeout(resolve, limitMs);
      });
    } finally {
      this.#idle = null;
      clearTimeout(timer);
    }
  }
}
