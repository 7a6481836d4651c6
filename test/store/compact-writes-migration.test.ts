/**
 * Migration 0006 on a database written before it, on SQLite and PostgreSQL: request payloads move from
 * `request_payloads` into the request's row and the audit tree from `audit_tree` to `audit_nodes`, and
 * both read back the same afterwards (the tree's root at every size, each payload byte for byte).
 */
import { randomBytes } from 'node:crypto';
import { Kysely, Migrator, PostgresDialect, type Migration } from 'kysely';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { leafBytes, toRecord } from '../../src/audit/event.js';
import { leafHash } from '../../src/audit/hash.js';
import { rootAt } from '../../src/audit/proofs.js';
import { storeSubtreeSource } from '../../src/audit/tree-store.js';
import { initial } from '../../src/store/migrations/0001-initial.js';
import { auditTree } from '../../src/store/migrations/0002-audit-tree.js';
import { outbox } from '../../src/store/migrations/0003-outbox.js';
import { channelMessages } from '../../src/store/migrations/0004-channel-messages.js';
import { apiKeyChanges } from '../../src/store/migrations/0005-api-key-changes.js';
import { MIGRATIONS } from '../../src/store/migrations/index.js';
import { auditEventToRow } from '../../src/store/rows.js';
import { ImmediateSqliteDialect } from '../../src/store/sqlite/immediate-dialect.js';
import { openSqliteDatabase } from '../../src/store/sqlite/sqlite-database.js';
import { storeBackends, type TestDatabase } from '../helpers/postgres.js';
import { referenceRoot } from '../audit/reference-tree.js';

const BEFORE_0002: Record<string, Migration> = { '0001-initial': initial };
const BEFORE_0006: Record<string, Migration> = {
  ...BEFORE_0002,
  '0002-audit-tree': auditTree,
  '0003-outbox': outbox,
  '0004-channel-messages': channelMessages,
  '0005-api-key-changes': apiKeyChanges,
};

/** The database as an older version left it: a Kysely without our schema's types (they are newer). */
function oldConnection(db: TestDatabase): Kysely<Record<string, Record<string, unknown>>> {
  if (db.schema === undefined) {
    return new Kysely({
      dialect: new ImmediateSqliteDialect({ database: openSqliteDatabase(db.url.slice('sqlite:'.length)) }),
    });
  }
  const pool = new pg.Pool({ connectionString: db.url, options: `-c search_path=${db.schema}`, max: 1 });
  return new Kysely({ dialect: new PostgresDialect({ pool }) });
}

async function migrateTo(
  old: Kysely<Record<string, Record<string, unknown>>>,
  db: TestDatabase,
  migrations: Record<string, Migration>,
): Promise<void> {
  const migrator = new Migrator({
    db: old,
    provider: { getMigrations: async () => migrations },
    ...(db.schema === undefined ? {} : { migrationTableSchema: db.schema }),
  });
  const { error } = await migrator.migrateToLatest();
  expect(error).toBeUndefined();
}

const payloadOf = (i: number) => ({
  keyId: `k${i % 2}`,
  iv: randomBytes(12),
  ciphertext: randomBytes(20 + i),
  tag: randomBytes(16),
  sha256: randomBytes(32).toString('hex'),
});

for (const backend of storeBackends()) {
  describe.skipIf(backend.skip)(`migration 0006 on ${backend.name}`, () => {
    let db: TestDatabase;
    beforeEach(async () => {
      db = await backend.fresh();
    });
    afterEach(async () => {
      await db.cleanup();
    });

    it('moves payloads into request rows and the tree into audit_nodes, reading back the same', async () => {
      const old = oldConnection(db);
      await migrateTo(old, db, BEFORE_0002);
      const n = 1_037; // not a power of two: the tree has a ragged right edge
      const events: Record<string, unknown>[] = Array.from({ length: n }, (_, i) => ({
        ...auditEventToRow(i + 1, {
          type: 'legacy.event',
          at: '2026-01-01T00:00:00.000Z',
          requestId: null,
          actor: { id: 'system', kind: 'system', personId: null, channel: 'system' },
          data: { i, note: 'written before 0006' },
        }),
      }));
      for (let i = 0; i < n; i += 200)
        await old
          .insertInto('audit_events')
          .values(events.slice(i, i + 200))
          .execute();
      const requests = Array.from({ length: 5 }, (_, i) => ({
        id: `req_old_${i}`,
        status: 'approved',
        requester_id: 'ak_x',
        idempotency_key: null,
        expires_at: null,
        created_at: '2026-01-01T00:00:00.000Z',
        version: 1,
        doc: JSON.stringify({ id: `req_old_${i}`, status: 'approved' }),
      }));
      await old.insertInto('requests').values(requests).execute();
      // 0002 builds the old tree of those events; then requests 0-3 get a payload (4 has none).
      await migrateTo(old, db, BEFORE_0006);
      const payloads = [0, 1, 2, 3].map(payloadOf);
      await old
        .insertInto('request_payloads')
        .values(
          payloads.map((p, i) => ({
            request_id: `req_old_${i}`,
            key_id: p.keyId,
            iv: p.iv.toString('base64'),
            ciphertext: p.ciphertext.toString('base64'),
            tag: p.tag.toString('base64'),
            sha256: p.sha256,
          })),
        )
        .execute();
      await old.destroy();

      const store = await db.open();
      for (const [i, p] of payloads.entries())
        expect(await store.getRequestPayload(`req_old_${i}`)).toEqual(p);
      expect(await store.getRequestPayload('req_old_4')).toBeNull();
      expect(await store.getRequestPayload('req_none')).toBeNull();

      // The moved tree proves the old events, and keeps growing with new ones.
      await store.appendAuditEvents([
        {
          type: 'new.event',
          at: '2026-12-07T00:00:00.000Z',
          requestId: null,
          actor: { id: 'system', kind: 'system', personId: null, channel: 'system' },
          data: { after: 6 },
        },
      ]);
      const leaves = (await store.listAuditEvents(0, 10_000)).map((e) => leafHash(leafBytes(toRecord(e))));
      expect(leaves).toHaveLength(n + 1);
      for (const size of [1, 2, 3, 512, 1_000, n, n + 1]) {
        expect(await rootAt(size, storeSubtreeSource(store))).toEqual(referenceRoot(leaves.slice(0, size)));
      }
      const nodes = await store.auditNodes([
        [0, 0],
        [3, 100],
        [10, 0],
        [0, n],
      ]);
      await store.close();

      // And back down (through any later migration first): the old tables hold the same payloads and
      // nodes again.
      const back = oldConnection(db);
      const migrator = new Migrator({
        db: back,
        provider: { getMigrations: async () => ({ ...MIGRATIONS }) },
        ...(db.schema === undefined ? {} : { migrationTableSchema: db.schema }),
      });
      expect((await migrator.migrateTo('0005-api-key-changes')).error).toBeUndefined();
      const stored = await back.selectFrom('request_payloads').selectAll().orderBy('request_id').execute();
      expect(stored.map((r) => [r.request_id, r.key_id, r.ciphertext])).toEqual(
        payloads.map((p, i) => [`req_old_${i}`, p.keyId, p.ciphertext.toString('base64')]),
      );
      const node = async (level: number, idx: number) =>
        (
          await back
            .selectFrom('audit_tree')
            .select('hash')
            .where('level', '=', level)
            .where('idx', '=', idx)
            .executeTakeFirst()
        )?.hash;
      expect(await node(0, 0)).toBe(nodes[0]?.toString('hex'));
      expect(await node(3, 100)).toBe(nodes[1]?.toString('hex'));
      expect(await node(10, 0)).toBe(nodes[2]?.toString('hex'));
      expect(await node(0, n)).toBe(nodes[3]?.toString('hex'));
      await back.destroy();
    });
  });
}
