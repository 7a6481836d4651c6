import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from './schema.js';

type Work<T> = (trx: Transaction<Database>) => Promise<T>;
interface Queued {
  work: Work<unknown>;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

/**
 * Group commit for SQLite: writes that arrive while a commit is on its way are run together in the next
 * transaction, each in its own savepoint, and are answered only after that transaction's COMMIT is on
 * disk. One fsync then covers many writes instead of one, while each write stays atomic on its own: one
 * that fails rolls back to its savepoint and is rejected, and the others commit. A failed COMMIT rejects
 * every write in the batch, so nothing is ever reported written that was not.
 *
 * Not needed on PostgreSQL, whose own WAL group commit serves concurrent connections.
 */
export class GroupCommitter {
  readonly #db: Kysely<Database>;
  #queue: Queued[] = [];
  #flushing: Promise<void> | null = null;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  run<T>(work: Work<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ work, resolve: resolve as (v: unknown) => void, reject });
      // Wait a turn of the event loop so writes from requests already read off the sockets join the batch.
      if (this.#flushing === null)
        this.#flushing = new Promise((r) => setImmediate(r)).then(() => this.#drain());
    });
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      const batch = this.#queue;
      this.#queue = [];
      await this.#commit(batch);
    }
    this.#flushing = null;
  }

  async #commit(batch: Queued[]): Promise<void> {
    const [only] = batch;
    if (batch.length === 1 && only) {
      // Alone in its batch: a plain transaction, no savepoint needed.
      await this.#db.transaction().execute(only.work).then(only.resolve, only.reject);
      return;
    }
    const outcomes: ({ ok: true; value: unknown } | { ok: false; err: unknown })[] = [];
    try {
      await this.#db.transaction().execute(async (trx) => {
        for (const item of batch) {
          await sql`savepoint w`.execute(trx);
          try {
            outcomes.push({ ok: true, value: await item.work(trx) });
            await sql`release savepoint w`.execute(trx);
          } catch (err) {
            await sql`rollback to savepoint w`.execute(trx);
            await sql`release savepoint w`.execute(trx);
            outcomes.push({ ok: false, err });
          }
        }
      });
    } catch (err) {
      for (const item of batch) item.reject(err);
      return;
    }
    batch.forEach((item, i) => {
      const o = outcomes[i];
      if (o?.ok) item.resolve(o.value);
      else item.reject(o ? o.err : new Error('write was not run'));
    });
  }
}
