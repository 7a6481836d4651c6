/**
 * In-process wake-ups for `GET /wait`: a waiter parks on a request id and is woken the moment a
 * transition to a terminal state commits, so no one polls. (Several gateway replicas on one PostgreSQL
 * would need LISTEN/NOTIFY on top; one process per store is the supported deployment for now.)
 */
export class Waiters {
  readonly #waiting = new Map<string, Set<() => void>>();
  #released = false;

  /**
   * Resolves when `notify(id)` is called, the timeout passes, `signal` aborts, or `releaseAll()` is
   * called (at once if it has been); never rejects.
   */
  wait(id: string, timeoutMs: number, signal?: AbortSignal): { promise: Promise<void>; cancel: () => void } {
    if (this.#released) return { promise: Promise.resolve(), cancel: () => {} };
    let done!: () => void;
    const promise = new Promise<void>((resolve) => (done = resolve));
    const set = this.#waiting.get(id) ?? new Set();
    this.#waiting.set(id, set);
    const finish = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', finish);
      set.delete(finish);
      if (set.size === 0 && this.#waiting.get(id) === set) this.#waiting.delete(id);
      done();
    };
    const timer = setTimeout(finish, Math.max(0, timeoutMs));
    signal?.addEventListener('abort', finish, { once: true });
    set.add(finish);
    return { promise, cancel: finish };
  }

  notify(id: string): void {
    for (const wake of [...(this.#waiting.get(id) ?? [])]) wake();
  }

  /**
   * Wakes every waiter, and every later one at once: for a shutdown, so that each long-poll answers
   * (with the request as it stands) before its connection is closed.
   */
  releaseAll(): void {
    this.#released = true;
    for (const set of [...this.#waiting.values()]) for (const wake of [...set]) wake();
  }

  get size(): number {
    let n = 0;
    for (const s of this.#waiting.values()) n += s.size;
    return n;
  }
}
