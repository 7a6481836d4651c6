import { sql, SqliteAdapter, type Kysely, type Migration } from 'kysely';

const OPS = ['insert', 'update', 'delete'] as const;

/**
 * A counter of changes to `api_keys`, kept by triggers, so that whatever changes a key — this process,
 * the CLI on its own connection, an operator's SQL — moves it in the same transaction. A reader that
 * keeps keys in memory reads this one row per request instead of the key's row, and drops what it
 * keeps when the number moves (see sqlite/threaded-store.ts): revocation still counts at the next call.
 */
export const apiKeyChanges: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('api_key_changes')
      .addColumn('id', 'integer', (c) => c.primaryKey())
      .addColumn('n', 'bigint', (c) => c.notNull())
      .execute();
    await sql`insert into api_key_changes (id, n) values (1, 0)`.execute(db);
    if (db.getExecutor().adapter instanceof SqliteAdapter) {
      for (const op of OPS) {
        await sql
          .raw(
            `create trigger api_keys_${op}_counted after ${op} on api_keys ` +
              `begin update api_key_changes set n = n + 1 where id = 1; end`,
          )
          .execute(db);
      }
    } else {
      await sql`create function api_key_changes_count() returns trigger language plpgsql as $$
        begin update api_key_changes set n = n + 1 where id = 1; return null; end $$`.execute(db);
      await sql`create trigger api_keys_counted after insert or update or delete on api_keys
        for each statement execute function api_key_changes_count()`.execute(db);
    }
  },

  async down(db: Kysely<unknown>): Promise<void> {
    if (db.getExecutor().adapter instanceof SqliteAdapter) {
      for (const op of OPS) await sql.raw(`drop trigger api_keys_${op}_counted`).execute(db);
    } else {
      await sql`drop trigger api_keys_counted on api_keys`.execute(db);
      await sql`drop function api_key_changes_count()`.execute(db);
    }
    await db.schema.dropTable('api_key_changes').execute();
  },
};
