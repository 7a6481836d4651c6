import { sql } from 'kysely';
import type { Kysely, Migration } from 'kysely';

/**
 * Written with Kysely's schema builder only, with types both dialects share (text, integer), so one
 * migration set serves SQLite and PostgreSQL. Timestamps are ISO-8601 UTC text, which sorts correctly.
 */
export const initial: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('api_keys')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('token_hash', 'text', (c) => c.notNull())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('email', 'text')
      .addColumn('groups', 'text', (c) => c.notNull())
      .addColumn('roles', 'text', (c) => c.notNull())
      .addColumn('owner', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('expires_at', 'text')
      .addColumn('revoked_at', 'text')
      .execute();

    await db.schema
      .createTable('requests')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('requester_id', 'text', (c) => c.notNull())
      .addColumn('idempotency_key', 'text')
      .addColumn('expires_at', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('version', 'integer', (c) => c.notNull())
      .addColumn('doc', 'text', (c) => c.notNull())
      .execute();
    // Partial, so that requests without a key never conflict; insertRequest's ON CONFLICT names it.
    await db.schema
      .createIndex('requests_idempotency')
      .on('requests')
      .columns(['requester_id', 'idempotency_key'])
      .unique()
      .where(sql.ref('idempotency_key'), 'is not', null)
      .execute();
    // The expiry sweep (listDue, nextDeadline) only ever looks at pending requests.
    await db.schema
      .createIndex('requests_pending_deadline')
      .on('requests')
      .column('expires_at')
      .where(sql.ref('status'), '=', 'pending')
      .execute();
    await db.schema
      .createIndex('requests_status_created')
      .on('requests')
      .columns(['status', 'created_at'])
      .execute();
    await db.schema
      .createIndex('requests_requester_created')
      .on('requests')
      .columns(['requester_id', 'created_at'])
      .execute();

    await db.schema
      .createTable('grants')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('request_id', 'text', (c) => c.notNull().references('requests.id'))
      .addColumn('requester_id', 'text', (c) => c.notNull())
      .addColumn('action', 'text', (c) => c.notNull())
      .addColumn('resource', 'text', (c) => c.notNull())
      .addColumn('environment', 'text', (c) => c.notNull())
      .addColumn('uses', 'integer', (c) => c.notNull())
      .addColumn('used', 'integer', (c) => c.notNull())
      .addColumn('expires_at', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addCheckConstraint('grants_used_within_uses', sql`used >= 0 and used <= uses`)
      .execute();
    await db.schema
      .createIndex('grants_lookup')
      .on('grants')
      .columns(['requester_id', 'action', 'resource', 'environment'])
      .execute();

    // seq is assigned by the store inside the writing transaction (never by a sequence, which would
    // leave gaps on rollback): the audit Merkle tree needs contiguous leaves in commit order.
    await db.schema
      .createTable('audit_events')
      .addColumn('seq', 'integer', (c) => c.primaryKey())
      .addColumn('at', 'text', (c) => c.notNull())
      .addColumn('type', 'text', (c) => c.notNull())
      .addColumn('request_id', 'text')
      .addColumn('actor', 'text', (c) => c.notNull())
      .addColumn('data', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('audit_events_request').on('audit_events').column('request_id').execute();
  },

  async down(db: Kysely<unknown>): Promise<void> {
    for (const table of ['audit_events', 'grants', 'requests', 'api_keys']) {
      await db.schema.dropTable(table).execute();
    }
  },
};
