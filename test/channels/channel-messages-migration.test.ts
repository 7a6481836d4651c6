/** Upgrading a database with Slack messages from migration 0003: 0004 folds them into channel_messages. */
import { Kysely, Migrator, sql } from 'kysely';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { initial } from '../../src/store/migrations/0001-initial.js';
import { auditTree } from '../../src/store/migrations/0002-audit-tree.js';
import { outbox } from '../../src/store/migrations/0003-outbox.js';
import { ImmediateSqliteDialect } from '../../src/store/sqlite/immediate-dialect.js';
import { openSqliteDatabase } from '../../src/store/sqlite/sqlite-database.js';
import { freshSqliteDatabase, type TestDatabase } from '../helpers/postgres.js';

let db: TestDatabase;
beforeEach(async () => {
  db = await freshSqliteDatabase();
});
afterEach(async () => {
  await db.cleanup();
});

it('keeps every Slack message posted before 0004, so later updates still edit them', async () => {
  const old = new Kysely<unknown>({
    dialect: new ImmediateSqliteDialect({ database: openSqliteDatabase(db.url.slice('sqlite:'.length)) }),
  });
  const migrator = new Migrator({
    db: old,
    provider: {
      getMigrations: async () => ({
        '0001-initial': initial,
        '0002-audit-tree': auditTree,
        '0003-outbox': outbox,
      }),
    },
  });
  expect((await migrator.migrateToLatest()).error).toBeUndefined();
  await sql`INSERT INTO slack_messages (request_id, target, channel, ts) VALUES
    ('req_1', '#prod-approvals', 'C0PROD', '1700000000.000001'),
    ('req_2', 'C0OTHER', 'C0OTHER', '1700000000.000002')`.execute(old);
  await old.destroy();

  const store = await db.open();
  expect(await store.getChannelMessage('slack', 'req_1', '#prod-approvals')).toEqual({
    channel: 'slack',
    requestId: 'req_1',
    target: '#prod-approvals',
    ref: { channel: 'C0PROD', ts: '1700000000.000001' },
  });
  expect((await store.getChannelMessage('slack', 'req_2', 'C0OTHER'))?.ref).toEqual({
    channel: 'C0OTHER',
    ts: '1700000000.000002',
  });
  expect(await store.getChannelMessage('teams', 'req_1', '#prod-approvals')).toBeNull();
});
