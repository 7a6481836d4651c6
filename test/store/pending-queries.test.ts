/**
 * The queries on pending requests use the partial indexes on pending requests (migrations 0001 and
 * 0007) on SQLite, not a scan of every request ever written: the inbox's pending list, the expiry sweep.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { Kysely, type Compilable } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { listDueQuery, listRequestsQuery, nextDeadlineQuery } from '../../src/store/kysely-store.js';
import { migrateToLatest } from '../../src/store/migrations/index.js';
import type { Database as Schema } from '../../src/store/schema.js';
import { ImmediateSqliteDialect } from '../../src/store/sqlite/immediate-dialect.js';
import { openSqliteDatabase } from '../../src/store/sqlite/sqlite-database.js';

describe('queries on pending requests (SQLite)', () => {
  let dir: string;
  let sqlite: Database.Database;
  let db: Kysely<Schema>;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'countersign-pending-'));
    sqlite = openSqliteDatabase(join(dir, 'countersign.db'));
    db = new Kysely<Schema>({ dialect: new ImmediateSqliteDialect({ database: sqlite }) });
    await migrateToLatest(db as Kysely<unknown>);
  });

  afterEach(async () => {
    await db.destroy();
    await rm(dir, { recursive: true, force: true });
  });

  /** SQLite's plan for a query, one line per step. */
  const plan = (query: Compilable): string => {
    const { sql, parameters } = query.compile();
    const rows = sqlite.prepare(`explain query plan ${sql}`).all(...(parameters as unknown[]));
    return (rows as { detail: string }[]).map((r) => r.detail).join('\n');
  };

  it('the inbox lists pending requests through requests_pending_created', () => {
    const p = plan(listRequestsQuery(db, { status: 'pending', limit: 1000 }));
    expect(p).toContain('requests_pending_created');
    expect(p).not.toMatch(/SCAN requests(?! USING)/);
  });

  it('the expiry sweep reads pending requests through requests_pending_deadline', () => {
    expect(plan(listDueQuery(db, '2026-01-01T00:00:00.000Z', 100))).toContain('requests_pending_deadline');
    expect(plan(nextDeadlineQuery(db))).toContain('requests_pending_deadline');
  });

  it('no index orders every request by status any more (allowed and denied ones skip the pending ones)', () => {
    const names = sqlite
      .prepare("select name from sqlite_master where type = 'index' and tbl_name = 'requests'")
      .all()
      .map((r) => (r as { name: string }).name);
    expect(names).not.toContain('requests_status_created');
    expect(names).toEqual(expect.arrayContaining(['requests_pending_created', 'requests_pending_deadline']));
  });
});
