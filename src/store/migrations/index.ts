import { Migrator } from 'kysely';
import type { Kysely, Migration, MigrationProvider } from 'kysely';
import { initial } from './0001-initial.js';
import { auditTree } from './0002-audit-tree.js';
import { outbox } from './0003-outbox.js';
import { channelMessages } from './0004-channel-messages.js';
import { apiKeyChanges } from './0005-api-key-changes.js';
import { compactWrites } from './0006-compact-writes.js';
import { pendingIndex } from './0007-pending-index.js';

/** Every migration, by name; names sort in the order they must run. Append, never edit. */
export const MIGRATIONS: Readonly<Record<string, Migration>> = {
  '0001-initial': initial,
  '0002-audit-tree': auditTree,
  '0003-outbox': outbox,
  '0004-channel-messages': channelMessages,
  '0005-api-key-changes': apiKeyChanges,
  '0006-compact-writes': compactWrites,
  '0007-pending-index': pendingIndex,
};

const provider: MigrationProvider = { getMigrations: async () => MIGRATIONS };

/**
 * Brings the schema up to date. Kysely's Migrator takes a lock (a PostgreSQL advisory lock; on SQLite
 * the single connection) so concurrent starts are safe. `migrationTableSchema` pins its bookkeeping
 * tables to our schema: without it, it would mistake another schema's tables for ours.
 */
export async function migrateToLatest(db: Kysely<unknown>, migrationTableSchema?: string): Promise<void> {
  const migrator = new Migrator({
    db,
    provider,
    ...(migrationTableSchema === undefined ? {} : { migrationTableSchema }),
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error !== undefined) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName;
    const which = failed === undefined ? '' : ` ${failed}`;
    throw new Error(`store migration${which} failed`, { cause: error });
  }
}
