import { Kysely } from 'kysely';
import { KyselyStore } from '../kysely-store.js';
import type { Database } from '../schema.js';
import type { Store } from '../store.js';
import { ImmediateSqliteDialect } from './immediate-dialect.js';
import { openSqliteDatabase } from './sqlite-database.js';

/**
 * A store on one SQLite file (or `:memory:`). Not migrated yet: call `migrate()` (openStore does).
 *
 * Open one store per file per process: better-sqlite3 is synchronous, so a second connection in the
 * same process waiting on the first one's write lock would block the event loop the first one needs.
 */
export function createSqliteStore(path: string): Store {
  const database = openSqliteDatabase(path);
  const db = new Kysely<Database>({ dialect: new ImmediateSqliteDialect({ database }) });
  return new KyselyStore({
    kind: 'sqlite',
    db,
    // BEGIN IMMEDIATE already made this transaction the only writer.
    lockAuditLog: async () => {},
    prepareMigration: async () => undefined,
    groupCommit: true,
  });
}
