import { sql, type Kysely, type Migration } from 'kysely';

/**
 * One table for the messages every channel posted per request and target (Slack's channel and ts, a
 * Teams activity id…), so that later updates edit them in place and a retry never posts twice. The
 * Slack-only table of 0003 is folded into it.
 */
export const channelMessages: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('channel_messages')
      .addColumn('channel', 'text', (c) => c.notNull())
      .addColumn('request_id', 'text', (c) => c.notNull())
      // The target as the channel knows it (`#prod-approvals`, `ops`, `dm:bob@example.com`).
      .addColumn('target', 'text', (c) => c.notNull())
      // JSON: whatever the channel needs to find the message again (Slack: {channel, ts}).
      .addColumn('ref', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('channel_messages_pk', ['channel', 'request_id', 'target'])
      .execute();
    // Slack channel ids and timestamps are [A-Z0-9.]: plain concatenation builds valid JSON on both engines.
    await sql`INSERT INTO channel_messages (channel, request_id, target, ref)
      SELECT 'slack', request_id, target, '{"channel":"' || channel || '","ts":"' || ts || '"}'
      FROM slack_messages`.execute(db);
    await db.schema.dropTable('slack_messages').execute();
  },

  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('slack_messages')
      .addColumn('request_id', 'text', (c) => c.notNull())
      .addColumn('target', 'text', (c) => c.notNull())
      .addColumn('channel', 'text', (c) => c.notNull())
      .addColumn('ts', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('slack_messages_pk', ['request_id', 'target'])
      .execute();
    await db.schema.dropTable('channel_messages').execute();
  },
};
