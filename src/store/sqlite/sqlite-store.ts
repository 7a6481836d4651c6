import { Kysely } from 'kysely';
import { sealPrepared, type ActivePayloadKey } from '../../audit/payload-crypto.js';
import { KyselyStore } from '../kysely-store.js';
import type { Database } from '../schema.js';
import type { Store } from '../store.js';
import { ImmediateSqliteDialect } from './immediate-dialect.js';
import { openSqliteDatabase } from './sqlite-database.js';
import { walFileSync, WalSync } from './wal-sync.js';

/**
 * A store on one SQLite file (or `:memory:`). Not migrated yet: call `migrate()` (openStore does).
 *
 * Open one store per file per process: better-sqlite3 is synchronous, so a second connection in the
 * same process waiting on the first one's write lock would block the event loop the first one needs.
 *
 * With `payloadKey`, it seals the payloads it is given to seal (`PayloadToSeal`) itself. With
 * `inlineFsync`, the WAL's fsync runs on the calling thread (only for a thread that serves nothing else:
 * the store thread; see `walFileSync`).
 *
 * On a file in WAL mode, commits are made durable by `WalSync` (an fsync of the WAL, in the thread pool
 * or inline, before any write is reported done or any read answered) instead of by `synchronous=FULL` on the event
 * loop; see wal-sync.ts.
 */
export function createSqliteStore(
  path: string,
  options: { payloadKey?: ActivePayloadKey; inlineFsync?: boolean } = {},
): Store {
  const database = openSqliteDatabase(path);
  let wal: WalSync | null = null;
  if (!database.memory && database.pragma('journal_mode', { simple: true }) === 'wal') {
    const file = walFileSync(database.name, { inline: options.inlineFsync === true });
    // Its own SQL text, so that no other caller shares this cached statement (pluck mode is per statement).
    const dataVersion = database.prepare('PRAGMA main.data_version').pluck();
    wal = new WalSync(file.sync, file.close, () => dataVersion.get() as number);
    database.pragma('synchronous = NORMAL');
  }
  const syncer = wal;
  const key = options.payloadKey;
  const db = new Kysely<Database>({
    dialect: new ImmediateSqliteDialect({
      database,
      ...(syncer ? { onCommit: () => void syncer.afterCommit() } : {}),
    }),
  });
  return new KyselyStore({
    kind: 'sqlite',
    db,
    // BEGIN IMMEDIATE already made this transaction the only writer.
    lockAuditLog: async () => {},
    prepareMigration: async () => undefined,
    groupCommit: true,
    ...(syncer ? { durability: syncer } : {}),
    ...(key ? { sealPayload: (requestId, p) => sealPrepared(key, requestId, p) } : {}),
    // What Kysely's SQLite connection does for a query, minus the layers around it.
    runInTransaction: (query) => {
      const stmt = database.prepare(query.sql);
      const parameters = query.parameters as unknown[];
      if (stmt.reader) return { rows: stmt.all(parameters) };
      const { changes, lastInsertRowid } = stmt.run(parameters);
      return { numAffectedRows: BigInt(changes), insertId: BigInt(lastInsertRowid), rows: [] };
    },
  });
}
