import { CompiledQuery, SqliteDialect, SqliteDriver } from 'kysely';
import type { DatabaseConnection, Driver, SqliteDialectConfig } from 'kysely';

export interface ImmediateSqliteDialectConfig extends SqliteDialectConfig {
  /** Called right after each successful COMMIT, while the transaction still holds the connection. */
  onCommit?: () => void;
}

/**
 * Kysely's SQLite driver, except that transactions start with BEGIN IMMEDIATE. A plain (deferred) BEGIN
 * takes the write lock only at the first write; if another process wrote in between, SQLite cannot
 * upgrade the read and fails with SQLITE_BUSY at once, ignoring busy_timeout. Every transaction the
 * store opens writes, so it takes the write lock up front, where busy_timeout applies.
 *
 * Within one process, the driver's connection mutex already keeps concurrent async transactions from
 * interleaving on the single connection (the contract suite checks it).
 */
class ImmediateSqliteDriver extends SqliteDriver {
  readonly #onCommit: (() => void) | undefined;

  constructor(config: ImmediateSqliteDialectConfig) {
    super(config);
    this.#onCommit = config.onCommit;
  }

  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }

  override async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('commit'));
    this.#onCommit?.();
  }
}

export class ImmediateSqliteDialect extends SqliteDialect {
  readonly #config: ImmediateSqliteDialectConfig;

  constructor(config: ImmediateSqliteDialectConfig) {
    super(config);
    this.#config = config;
  }

  override createDriver(): Driver {
    return new ImmediateSqliteDriver(this.#config);
  }
}
