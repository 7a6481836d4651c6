/** Upgrading a database written before the audit tree existed: migration 0002 builds the tree of its events. */
import { Kysely, Migrator } from 'kysely';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { leafBytes, toRecord } from '../../src/audit/event.js';
import { leafHash } from '../../src/audit/hash.js';
import { rootAt } from '../../src/audit/proofs.js';
import { storeSubtreeSource } from '../../src/audit/tree-store.js';
import { initial } from '../../src/store/migrations/0001-initial.js';
import { auditEventToRow } from '../../src/store/rows.js';
import type { Database } from '../../src/store/schema.js';
import { ImmediateSqliteDialect } from '../../src/store/sqlite/immediate-dialect.js';
import { openSqliteDatabase } from '../../src/store/sqlite/sqlite-database.js';
import { freshSqliteDatabase, type TestDatabase } from '../helpers/postgres.js';
import { referenceRoot } from './reference-tree.js';

let db: TestDatabase;
beforeEach(async () => {
  db = await freshSqliteDatabase();
});
afterEach(async () => {
  await db.cleanup();
});

it('builds the tree of events written before migration 0002, then keeps growing it', async () => {
  const file = db.url.slice('sqlite:'.length);
  const old = new Kysely<Database>({
    dialect: new ImmediateSqliteDialect({ database: openSqliteDatabase(file) }),
  });
  const migrator = new Migrator({
    db: old,
    provider: { getMigrations: async () => ({ '0001-initial': initial }) },
  });
  expect((await migrator.migrateToLatest()).error).toBeUndefined();
  const n = 2_345; // more than one backfill page, and not a power of two
  for (let start = 1; start <= n; start += 500) {
    const rows = [];
    for (let seq = start; seq < Math.min(start + 500, n + 1); seq++) {
      rows.push(
        auditEventToRow(seq, {
          type: 'legacy.event',
          at: '2025-12-31T00:00:00.000Z',
          requestId: null,
          actor: { id: 'system', kind: 'system', personId: null, channel: 'system' },
          data: { seq, note: 'written before the tree' },
        }),
      );
    }
    await old.insertInto('audit_events').values(rows).execute();
  }
  await old.destroy();

  const store = await db.open();
  expect(await store.auditTreeSize()).toBe(n);
  await store.appendAuditEvents([
    {
      type: 'new.event',
      at: '2026-01-01T00:00:00.000Z',
      requestId: null,
      actor: { id: 'system', kind: 'system', personId: null, channel: 'system' },
      data: {},
    },
  ]);
  const leaves = (await store.listAuditEvents(0, 10_000)).map((e) => leafHash(leafBytes(toRecord(e))));
  expect(await rootAt(n + 1, storeSubtreeSource(store))).toEqual(referenceRoot(leaves));
  expect(await rootAt(n, storeSubtreeSource(store))).toEqual(referenceRoot(leaves.slice(0, n)));
});
