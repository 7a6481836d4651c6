import pg from 'pg';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { createTestSchema, describePostgres, PG_URL } from '../../../test/helpers/postgres.js';
import type { TestSchema } from '../../../test/helpers/postgres.js';
import { openStore } from '../open-store.js';
import type { Store } from '../store.js';
import { createPostgresStore } from './postgres-store.js';

describePostgres('PostgreSQL store', () => {
  let schema: TestSchema;
  const stores: Store[] = [];

  beforeEach(async () => {
    schema = await createTestSchema();
  });
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()));
    await schema.drop();
  });

  it('migrates safely when several instances start at once', async () => {
    // A schema that does not exist yet: openStore creates it.
    const fresh = `${schema.schema}_new`;
    const opened = await Promise.all([1, 2, 3].map(() => openStore(PG_URL, { schema: fresh })));
    stores.push(...opened);
    for (const s of opened) expect(await s.countAuditEvents()).toBe(0);
    await Promise.all(stores.splice(0).map((s) => s.close()));
    await dropSchema(fresh);
  });

  it('keeps its tables in its own schema', async () => {
    stores.push(await openStore(schema.url, { schema: schema.schema }));
    const client = new pg.Client({ connectionString: PG_URL });
    await client.connect();
    try {
      const { rows } = await client.query<{ table_name: string }>(
        `select table_name from information_schema.tables where table_schema = $1 order by table_name`,
        [schema.schema],
      );
      expect(rows.map((r) => r.table_name)).toEqual(
        expect.arrayContaining(['api_keys', 'audit_events', 'grants', 'kysely_migration', 'requests']),
      );
    } finally {
      await client.end();
    }
  });

  it('refuses a schema name that is not a plain identifier', () => {
    expect(() => createPostgresStore({ url: PG_URL, schema: 'x; drop table y' })).toThrow(
      /invalid PostgreSQL schema/,
    );
  });
});

async function dropSchema(name: string): Promise<void> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    await client.query(`drop schema if exists "${name}" cascade`);
  } finally {
    await client.end();
  }
}
