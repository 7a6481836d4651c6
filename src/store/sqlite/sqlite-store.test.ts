import Database from 'better-sqlite3';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kysely, sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ImmediateSqliteDialect } from './immediate-dialect.js';
import { openSqliteDatabase, SQLITE_BUSY_TIMEOUT_MS } from './sqlite-database.js';

describe('SQLite connection', () => {
  let dir: string;
  let file: string;
  const opened: Database.Database[] = [];

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'countersign-sqlite-'));
    file = join(dir, 'db.sqlite');
  });
  afterEach(async () => {
    for (const d of opened.splice(0)) if (d.open) d.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('uses WAL, durable commits, a busy timeout, foreign keys and temporary storage in memory', () => {
    const db = openSqliteDatabase(file);
    opened.push(db);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('synchronous', { simple: true })).toBe(2); // FULL
    expect(db.pragma('busy_timeout', { simple: true })).toBe(SQLITE_BUSY_TIMEOUT_MS);
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(db.pragma('temp_store', { simple: true })).toBe(2); // MEMORY
  });

  it('never interleaves transactions of concurrent async callers on the one connection', async () => {
    const database = openSqliteDatabase(file);
    const db = new Kysely<{ t: { n: number } }>({ dialect: new ImmediateSqliteDialect({ database }) });
    await sql`create table t (n integer)`.execute(db);
    const log: string[] = [];
    const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

    await Promise.all(
      [1, 2, 3].map((n) =>
        db.transaction().execute(async (trx) => {
          log.push(`begin ${n}`);
          await tick();
          await trx.insertInto('t').values({ n }).execute();
          await tick();
          log.push(`end ${n}`);
        }),
      ),
    );
    await db.destroy();
    expect(log).toEqual(['begin 1', 'end 1', 'begin 2', 'end 2', 'begin 3', 'end 3']);
  });

  it('takes the write lock when a transaction begins, not at its first write', async () => {
    const database = openSqliteDatabase(file);
    const db = new Kysely<Record<string, never>>({ dialect: new ImmediateSqliteDialect({ database }) });
    const other = new Database(file);
    opened.push(other);
    other.pragma('busy_timeout = 0');

    await db.transaction().execute(async () => {
      // No statement has run in this transaction yet, and another connection still cannot write.
      expect(() => other.prepare('begin immediate').run()).toThrow(/locked|busy/i);
    });
    expect(() => other.prepare('begin immediate').run()).not.toThrow();
    other.prepare('rollback').run();
    await db.destroy();
  });
});
