import { open } from 'node:fs/promises';
import { dirname } from 'node:path';

interface Waiter {
  target: number;
  resolve: () => void;
  reject: (err: Error) => void;
}

/**
 * Durability for SQLite in WAL mode, with the fsync off the event loop.
 *
 * better-sqlite3 is synchronous: with `synchronous=FULL` every COMMIT fsyncs the WAL on the main thread,
 * and while it waits (milliseconds on this disk) no request is parsed, no policy evaluated, no next batch
 * prepared. Instead the connection runs with `synchronous=NORMAL` — a COMMIT writes its WAL frames (into
 * the page cache) without syncing them — and this class fsyncs the WAL file in libuv's thread pool after
 * the commit. Nothing is reported written before that fsync has returned:
 * - a write resolves only after an fsync that started after its COMMIT (`durable(afterCommit())`), which is
 *   what `synchronous=FULL` guarantees (FULL differs from NORMAL in WAL mode only by that per-commit sync;
 *   SQLite still syncs the WAL before each checkpoint and the database file after it, so frames that a
 *   checkpoint moved out of the WAL before our fsync are durable in the database file);
 * - a read outside a write transaction waits for the syncs of every commit before it (`settled()`), so no
 *   caller is ever answered with data that a power loss could still take back.
 * One fsync covers every commit before it, so while one is in flight the next batch of writes commits and
 * the fsync after it covers them all (at most one fsync at a time).
 *
 * A failed fsync leaves it unknown what reached the disk (and retrying it can falsely succeed), so it is
 * sticky: every pending and later write or read fails, and the store is unavailable until restarted.
 */
export class WalSync {
  readonly #sync: () => Promise<void>;
  #committed = 0;
  #synced = 0;
  #running = false;
  #failure: Error | null = null;
  #waiters: Waiter[] = [];

  /** @param sync fsyncs the WAL (and whatever else must be durable); injectable for tests. */
  constructor(sync: () => Promise<void>) {
    this.#sync = sync;
  }

  /** Called right after each successful COMMIT, before anything else can use the connection. */
  afterCommit(): number {
    return ++this.#committed;
  }

  /** Resolves once commit number `target` (and every one before it) is on disk. */
  durable(target: number): Promise<void> {
    if (this.#failure) return Promise.reject(this.#failure);
    if (target <= this.#synced) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.#waiters.push({ target, resolve, reject });
      this.#kick();
    });
  }

  /** Null when every commit so far is durable (the common case for reads: no await), else a promise. */
  settled(): Promise<void> | null {
    if (this.#failure) return Promise.reject(this.#failure);
    return this.#committed <= this.#synced ? null : this.durable(this.#committed);
  }

  #kick(): void {
    if (this.#running) return;
    this.#running = true;
    void this.#loop();
  }

  async #loop(): Promise<void> {
    while (this.#waiters.length > 0 && this.#failure === null) {
      const target = this.#committed;
      try {
        await this.#sync();
      } catch (err) {
        this.#failure = new Error('fsync of the SQLite WAL failed; the store must be restarted', {
          cause: err,
        });
        break;
      }
      this.#synced = target;
      const still: Waiter[] = [];
      for (const w of this.#waiters) {
        if (w.target <= target) w.resolve();
        else still.push(w);
      }
      this.#waiters = still;
    }
    if (this.#failure) {
      const failure = this.#failure;
      for (const w of this.#waiters.splice(0)) w.reject(failure);
    }
    this.#running = false;
  }
}

/**
 * fsyncs `<database>-wal`, opened afresh each time so that it is always the file SQLite writes now. The
 * first time, the folder too, so that the WAL file's own directory entry is durable (as SQLite does when
 * it first syncs a file it created). A WAL that does not exist has nothing unsynced: SQLite deletes it
 * only after checkpointing it into the database file and syncing that.
 */
export function walFileSync(databasePath: string): () => Promise<void> {
  let dirSynced = false;
  return async () => {
    await fsyncPath(`${databasePath}-wal`, true);
    if (!dirSynced) {
      await fsyncPath(dirname(databasePath), false);
      dirSynced = true;
    }
  };
}

async function fsyncPath(path: string, missingIsFine: boolean): Promise<void> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    if (missingIsFine && (err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
