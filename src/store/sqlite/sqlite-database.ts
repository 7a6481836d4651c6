import Database from 'better-sqlite3';

/** How long a write waits for another process's write lock before failing with SQLITE_BUSY. */
export const SQLITE_BUSY_TIMEOUT_MS = 5_000;

/**
 * Opens a better-sqlite3 database configured for the store: WAL (readers never block the writer),
 * synchronous=FULL (a commit survives power loss, not just a process crash; the store relaxes it to NORMAL
 * when it syncs the WAL itself, see wal-sync.ts), a busy timeout for other processes (e.g. the CLI)
 * holding the write lock, enforced foreign keys (off by default in SQLite), and temporary storage in
 * memory.
 */
export function openSqliteDatabase(path: string): Database.Database {
  const db = new Database(path);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma(`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
    db.pragma('foreign_keys = ON');
    // Temporary storage in memory: each write of a group commit runs in a savepoint, whose undo journal
    // (a copy of every page it touches) would otherwise go through a temporary file, a write() per page.
    // Nothing in it outlives its transaction, so durability does not depend on it.
    db.pragma('temp_store = MEMORY');
  } catch (err) {
    db.close();
    throw err;
  }
  cacheStatements(db);
  return db;
}

const MAX_CACHED_STATEMENTS = 256;

/**
 * Kysely's SQLite driver prepares every query anew; preparing costs more than running a small query.
 * Statements are reusable (and SQLite re-prepares them itself after a schema change), so keep them by SQL.
 */
function cacheStatements(db: Database.Database): void {
  const prepare = db.prepare.bind(db);
  const cache = new Map<string, Database.Statement>();
  db.prepare = ((source: string) => {
    let stmt = cache.get(source);
    if (stmt === undefined) {
      stmt = prepare(source);
      if (cache.size < MAX_CACHED_STATEMENTS) cache.set(source, stmt);
    }
    return stmt;
  }) as typeof db.prepare;
}
