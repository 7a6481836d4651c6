import type { Kysely, Migration } from 'kysely';

/**
 * The transactional outbox (channel deliveries written in the same transaction as the state change
 * they announce) and the Slack messages posted for each request, so that later updates edit them in place.
 */
export const outbox: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('outbox')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('channel', 'text', (c) => c.notNull())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('request_id', 'text', (c) => c.notNull())
      .addColumn('idempotency_key', 'text', (c) => c.notNull().unique())
      .addColumn('payload', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('attempts', 'integer', (c) => c.notNull())
      .addColumn('next_attempt_at', 'text', (c) => c.notNull())
      .addColumn('last_error', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .execute();
    // The worker's poll only ever looks at pending deliveries that are due.
    await db.schema.createIndex('outbox_due').on('outbox').columns(['status', 'next_attempt_at']).execute();
    await db.schema
      .createTable('slack_messages')
      .addColumn('request_id', 'text', (c) => c.notNull())
      // The notify target as the policy names it (`#prod-approvals`): what a retry checks before posting.
      .addColumn('target', 'text', (c) => c.notNull())
      // The channel id Slack answered with: chat.update needs it, not the name.
      .addColumn('channel', 'text', (c) => c.notNull())
      .addColumn('ts', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('slack_messages_pk', ['request_id', 'target'])
      .execute();
  },

  async down(db: Kysely<unknown>): Promise<void> {
    for (const table of ['slack_messages', 'outbox']) await db.schema.dropTable(table).execute();
  },
};
