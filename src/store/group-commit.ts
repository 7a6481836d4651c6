import { CompiledQuery, type Kysely, type QueryResult, type Transaction } from 'kysely';
import type { Database } from './schema.js';

/** Makes commits durable after the fact (see sqlite/wal-sync.ts); absent when COMMIT itself syncs. */
export interface Durability {
  /** Null when every commit so far is durable, else a promise that resolves once they all are. */
  written(): Promise<void> | null;
  /** Null when no fsync is running, else a promise that resolves when the running one has ended. */
  syncing?(): Promise<void> | null;
}

const SAVEPOINT = CompiledQuery.raw('savepoint w');
const RELEASE = CompiledQuery.raw('release savepoint w');
const ROLLBACK_TO = CompiledQuery.raw('rollback to savepoint w');

type Work<T> = (trx: Transaction<Database>) => Promise<T>;
type Outcome = { ok: true; value: unknown } | { ok: false; err: unknown };
interface Queued {
  work: Work<unknown>;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

/**
 * Group commit for SQLite: writes that arrive while a commit is on its way are run together in the next
 * transaction, and are answered only after that transaction's COMMIT is on disk. One fsync then covers
 * many writes instead of one, while each write stays atomic on its own: if one fails, the transaction
 * is rolled back and the batch runs again with each write in its own savepoint, so that the one that
 * fails rolls back alone and is rejected, and the others commit. A failed COMMIT rejects every write in
 * the batch, so nothing is ever reported written that was not.
 *
 * With `durability`, a batch's writes are answered once the fsync after its COMMIT has returned (in the
 * thread pool, or on the store thread itself). The next batch commits only when that fsync
 * has ended: its writes could not be answered sooner anyway (one fsync runs at a time, and theirs must
 * start after their COMMIT), and everything that arrived meanwhile then shares one COMMIT. Each COMMIT
 * rewrites in the WAL every page it touched, such as the last leaf page of each table and index, so
 * fewer, larger commits write fewer pages per write (under the allow-path benchmark: about 11 writes
 * per commit, and ~12% fewer bytes written to the disk per write).
 *
 * Not needed on PostgreSQL, whose own WAL group commit serves concurrent connections.
 */
export class GroupCommitter {
  readonly #db: Kysely<Database>;
  readonly #durability: Durability | null;
  readonly #run: ((query: CompiledQuery) => QueryResult<unknown>) | null;
  readonly #beforeCommit: ((trx: Transaction<Database>) => Promise<void>) | null;
  #queue: Queued[] = [];
  #flushing: Promise<void> | null = null;

  /**
   * `run`: executes a query on the transaction's connection directly (see KyselyStoreBackend).
   * `beforeCommit`: runs in each transaction after its last write, before COMMIT; if it fails, the
   * whole transaction fails (every write in it is rejected).
   */
  constructor(
    db: Kysely<Database>,
    durability: Durability | null = null,
    run: ((query: CompiledQuery) => QueryResult<unknown>) | null = null,
    beforeCommit: ((trx: Transaction<Database>) => Promise<void>) | null = null,
  ) {
    this.#db = db;
    this.#durability = durability;
    this.#run = run;
    this.#beforeCommit = beforeCommit;
  }

  async #exec(trx: Transaction<Database>, query: CompiledQuery): Promise<void> {
    if (this.#run) this.#run(query);
    else await trx.executeQuery(query);
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
      // Wait for the running fsync: what arrives meanwhile joins this batch (see the class comment).
      await this.#durability?.syncing?.();
      const batch = this.#queue;
      this.#queue = [];
      await this.#commit(batch);
    }
    this.#flushing = null;
  }

  async #commit(batch: Queued[]): Promise<void> {
    let outcomes: Outcome[];
    try {
      const first = await this.#together(batch);
      // The only write's failure is its own; among several, the batch runs again, a savepoint each.
      if (first.ok) outcomes = first.outcomes;
      else if (batch.length === 1) outcomes = [{ ok: false, err: first.err }];
      else outcomes = await this.#inSavepoints(batch);
    } catch (err) {
      outcomes = batch.map(() => ({ ok: false, err }));
    }
    // Answered only once the commits so far are on disk, failures too: what a failed write saw (a
    // compare-and-set lost to an earlier write, say) must not be told before that write is durable.
    this.#whenDurable(
      () =>
        batch.forEach((item, i) => {
          const o = outcomes[i];
          if (o?.ok) item.resolve(o.value);
          else item.reject(o ? o.err : new Error('write was not run'));
        }),
      (err) => batch.forEach((item) => item.reject(err)),
    );
  }

  /**
   * The common case first: every write of the batch in one transaction with no savepoints. A savepoint
   * costs two statements per write, and SQLite copies into its journal each page a write touches in one
   * (the store thread's CPU per write −6 to −11 µs without them, in paired runs of the allow path).
   * When a write fails, the whole transaction has been rolled back and that write's error comes back;
   * the caller runs the batch again with a savepoint each (`#inSavepoints`), so that the failure is that
   * write's alone. Writes only touch the database (a savepoint's rollback relies on that already), so
   * running one twice is safe. A failure of the step before COMMIT, or of COMMIT, is thrown.
   */
  async #together(batch: Queued[]): Promise<{ ok: true; outcomes: Outcome[] } | { ok: false; err: unknown }> {
    const outcomes: Outcome[] = [];
    let failed = false;
    let failedWith: unknown;
    try {
      await this.#db.transaction().execute(async (trx) => {
        for (const item of batch) {
          try {
            outcomes.push({ ok: true, value: await item.work(trx) });
          } catch (err) {
            failed = true;
            failedWith = err;
            throw err;
          }
        }
        await this.#beforeCommit?.(trx);
      });
    } catch (err) {
      if (failed) return { ok: false, err: failedWith };
      throw err;
    }
    return { ok: true, outcomes };
  }

  /** Each write in a savepoint of one transaction: one that fails is rolled back alone. */
  async #inSavepoints(batch: Queued[]): Promise<Outcome[]> {
    const outcomes: Outcome[] = [];
    await this.#db.transaction().execute(async (trx) => {
      for (const item of batch) {
        await this.#exec(trx, SAVEPOINT);
        let value: unknown;
        try {
          value = await item.work(trx);
          await this.#exec(trx, RELEASE);
        } catch (err) {
          await this.#exec(trx, ROLLBACK_TO);
          await this.#exec(trx, RELEASE);
          outcomes.push({ ok: false, err });
          continue;
        }
        outcomes.push({ ok: true, value });
      }
      await this.#beforeCommit?.(trx);
    });
    return outcomes;
  }

  /** Runs `done` once the commit just made is on disk (at once without `durability`), else `failed`. */
  #whenDurable(done: () => void, failed: (err: unknown) => void): void {
    const pending = this.#durability?.written() ?? null;
    if (pending === null) done();
    else pending.then(done, failed);
  }
}
