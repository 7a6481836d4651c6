import { closeSync, fsync, fsyncSync, open as openAsync, openSync, realpathSync } from 'node:fs';
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
 * the page cache) without syncing them — and this class fsyncs the WAL file after the commit: in libuv's
 * thread pool, or on the store thread itself, which may wait (see `walFileSync`). Nothing is reported
 * written before that fsync has returned:
 * - a write resolves only after an fsync that started after its COMMIT (`durable(afterCommit())`), which is
 *   what `synchronous=FULL` guarantees (FULL differs from NORMAL in WAL mode only by that per-commit sync;
 *   SQLite still syncs the WAL before each checkpoint and the database file after it, so frames that a
 *   checkpoint moved out of the WAL before our fsync are durable in the database file);
 * - a read outside a write transaction waits for the syncs of every commit before it (`settled()`), so no
 *   caller is ever answered with data that a power loss could still take back. That covers commits by
 *   other connections (another process, e.g. the CLI, running the same scheme) too: when the database's
 *   `data_version` shows one, the next `settled()` asks for an fsync of the WAL, which makes their frames
 *   durable as well (an fsync covers the file, whoever wrote it).
 * One fsync covers every commit before it, and at most one runs at a time: the writes committed while
 * one is in flight are covered by the next. (The group committer waits for `syncing()` before its next
 * commit, so that the writes which arrive meanwhile share one; see group-commit.ts.)
 *
 * A failed fsync leaves it unknown what reached the disk (and retrying it can falsely succeed), so it is
 * sticky: every pending and later write or read fails, and the store is unavailable until restarted.
 */
export class WalSync {
  readonly #sync: () => Promise<void>;
  readonly #close: () => void;
  readonly #dataVersion: (() => number) | null;
  #seenVersion = -1;
  #committed = 0;
  #synced = 0;
  #running = false;
  #failure: Error | null = null;
  #waiters: Waiter[] = [];
  /** The fsync running now (settled either way), or null. */
  #current: Promise<void> | null = null;

  /**
   * @param sync fsyncs the WAL (and whatever else must be durable); injectable for tests.
   * @param close releases what `sync` holds, once the store is closed.
   * @param dataVersion SQLite's `PRAGMA data_version`: changes when another connection commits.
   */
  constructor(
    sync: () => Promise<void>,
    close: () => void = () => {},
    dataVersion: (() => number) | null = null,
  ) {
    this.#sync = sync;
    this.#close = close;
    this.#dataVersion = dataVersion;
  }

  /**
   * After the last commit: waits for the syncs in flight, then releases the file. A failed fsync was
   * already reported to every write and read it concerned; closing does not report it again.
   */
  async close(): Promise<void> {
    await this.settled()?.catch(() => {});
    this.#close();
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

  /**
   * For a read: null when everything it may have seen is durable (the common case: no await), else a
   * promise that resolves once it is. Counts another connection's commit (see `#otherCommits`) as one
   * of ours to sync.
   */
  settled(): Promise<void> | null {
    if (this.#failure) return Promise.reject(this.#failure);
    this.#otherCommits();
    return this.written();
  }

  /**
   * For a write just committed: null when every commit of ours so far is durable, else a promise that
   * resolves once it is. Other connections' commits need no check here: the fsync covers the whole WAL.
   */
  written(): Promise<void> | null {
    if (this.#failure) return Promise.reject(this.#failure);
    return this.#committed <= this.#synced ? null : this.durable(this.#committed);
  }

  /**
   * Reads SQLite's `data_version`, which changes when another connection commits. A change since the
   * last look counts as a commit to sync: a read may have seen those commits, which their writer may not
   * have synced yet. (It costs a read transaction, like a small query, so only reads pay it.)
   */
  #otherCommits(): void {
    if (this.#dataVersion === null) return;
    const version = this.#dataVersion();
    if (version !== this.#seenVersion) {
      this.#committed++;
      this.#seenVersion = version;
    }
  }

  /**
   * Null when no fsync is running, else a promise that resolves once the running one has ended (failed
   * or not). Only that one: reads that keep asking for more fsyncs must not hold a writer back for good.
   */
  syncing(): Promise<void> | null {
    return this.#current;
  }

  #kick(): void {
    if (this.#running) return;
    this.#running = true;
    void this.#loop();
  }

  async #loop(): Promise<void> {
    while (this.#waiters.length > 0 && this.#failure === null) {
      const target = this.#committed;
      const sync = this.#sync();
      this.#current = sync.then(
        () => {},
        () => {},
      );
      try {
        await sync;
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
    this.#current = null;
    this.#running = false;
  }
}

/**
 * fsyncs `<database>-wal` through a descriptor opened at the first sync and kept (one thread-pool call
 * per sync; with `inline`, none: see below). It stays the file SQLite writes: SQLite deletes or replaces the WAL only when the last
 * connection closes, and ours is open (every connection holds the WAL's shared "dead man switch" lock).
 * The path is the database file's real path, symbolic links resolved, as SQLite names its WAL. The first
 * time, the folder is synced too, so that the WAL file's own directory entry is durable (as SQLite does
 * when it first syncs a file it created). A WAL that is not there fails the sync (and so the store):
 * after a commit in WAL mode it exists, so its absence means we would be syncing the wrong file.
 *
 * `inline`: the fsync runs on the calling thread, which waits for it (the returned promise is settled
 * when `sync()` returns). For the store thread (store-thread.ts), which has nothing else to do meanwhile:
 * a commit's answers then leave as soon as the disk has it, without a trip through the thread pool and
 * back through the event loop. Paired runs of the allow-path benchmark measured +9 to +12% throughput
 * and -6 to -8% CPU per request against the thread-pool fsync (docs/benchmarks.md). Never on an event
 * loop that serves requests: it would stop them all for the length of every fsync.
 */
export function walFileSync(
  databasePath: string,
  options: { inline?: boolean } = {},
): { sync: () => Promise<void>; close: () => void } {
  const database = realpathSync(databasePath);
  const walPath = `${database}-wal`;
  const open = options.inline ? async (path: string) => openSync(path, 'r') : openFile;
  const flush = options.inline ? async (fd: number) => fsyncSync(fd) : fsyncFile;
  let fd: number | null = null;
  let dirSynced = false;
  return {
    async sync() {
      fd ??= await open(walPath);
      await flush(fd);
      if (!dirSynced) {
        const dir = await open(dirname(database));
        try {
          await flush(dir);
        } finally {
          closeSync(dir);
        }
        dirSynced = true;
      }
    },
    close() {
      if (fd !== null) closeSync(fd);
      fd = null;
    },
  };
}

function openFile(path: string): Promise<number> {
  return new Promise((resolve, reject) =>
    openAsync(path, 'r', (err, fd) => (err ? reject(err) : resolve(fd))),
  );
}

function fsyncFile(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fsync(fd, (err) => (err ? reject(err) : resolve())));
}
