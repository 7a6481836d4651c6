/**
 * Migration 0005: `api_key_changes.n` moves in every transaction that changes `api_keys`, whoever makes
 * it — the store, or plain SQL on a connection of its own — on SQLite and PostgreSQL alike. The store
 * thread's key cache (sqlite/threaded-store.ts) is only as fresh as this counter.
 */
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { storeBackends, type TestDatabase } from '../../../test/helpers/postgres.js';
import { apiKeyRecord, systemEvent, TEST_AT } from '../../../test/helpers/records.js';

const AT = TEST_AT;
const event = systemEvent;
const key = (id: string) => apiKeyRecord(id, { owner: 'alice@example.com' });

/** Runs one statement on a connection of its own, as another process would. */
async function sqlOutside(db: TestDatabase, text: string): Promise<unknown[]> {
  if (db.schema === undefined) {
    const conn = new Database(db.url.slice('sqlite:'.length));
    try {
      const stmt = conn.prepare(text);
      return stmt.reader ? stmt.all() : (stmt.run(), []);
    } finally {
      conn.close();
    }
  }
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    await client.query(`set search_path to "${db.schema}"`);
    return (await client.query(text)).rows;
  } finally {
    await client.end();
  }
}

const changes = async (db: TestDatabase): Promise<number> => {
  const [row] = (await sqlOutside(db, 'select n from api_key_changes where id = 1')) as { n: unknown }[];
  return Number(row?.n);
};

for (const backend of storeBackends()) {
  describe.skipIf(backend.skip)(`api_key_changes on ${backend.label}`, () => {
    let db: TestDatabase;
    beforeEach(async () => {
      db = await backend.fresh();
    });
    afterEach(async () => {
      await db.cleanup();
    });

    it('counts every change to api_keys, made by the store or by plain SQL elsewhere', async () => {
      const store = await db.open();
      const start = await changes(db);
      await store.createApiKey(key('ak_1'), event('key.created'));
      const created = await changes(db);
      expect(created).toBeGreaterThan(start);
      await store.revokeApiKey('ak_1', AT, event('key.revoked'));
      const revoked = await changes(db);
      expect(revoked).toBeGreaterThan(created);
      await sqlOutside(db, `update api_keys set name = 'renamed' where id = 'ak_1'`);
      const renamed = await changes(db);
      expect(renamed).toBeGreaterThan(revoked);
      await sqlOutside(db, `delete from api_keys where id = 'ak_1'`);
      expect(await changes(db)).toBeGreaterThan(renamed);
      // Other tables do not move it.
      const before = await changes(db);
      await store.appendAuditEvents([event('something.else')]);
      expect(await changes(db)).toBe(before);
    });
  });
}
