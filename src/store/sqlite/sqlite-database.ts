import Database from 'better-sqlite3';

/** How long a write waits for another process's write lock before failing with SQLITE_BUSY. */
export const SQLITE_BUSY_TIMEOUT_MS = 5_000;

/**
 * Opens a better-sqlite3 database configured for the store: WAL (readers never block the writer),
 * synchronous=FULL (a commit survives power loss, not just a process crash), a busy timeout for other
 * processes (e.g. the CLI) holding the write lock, and enforced foreign keys (off by default in SQLite).
 */
export function openSqliteDatabase(path: string): Database.Database {
  const db = new Database(path);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma(`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
    db.pragma('foreign_keys = ON');
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}
