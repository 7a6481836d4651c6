import { Kysely, SqliteDialect } from 'kysely';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { prepareRows } from './prepared-query.js';
import type { Database as Schema } from './schema.js';

const sqlite = new Database(':memory:');
const db = new Kysely<Schema>({ dialect: new SqliteDialect({ database: sqlite }) });
afterAll(() => db.destroy());

describe('prepareRows', () => {
  it('binds the flat values row after row, in column order', () => {
    const insert = prepareRows(2, ['pos', 'hash'] as const, (rows) =>
      db.insertInto('audit_nodes').values(rows),
    );
    const q = insert([256, 'aa', 321, 'bb']);
    expect(q.sql).toBe('insert into "audit_nodes" ("pos", "hash") values (?, ?), (?, ?)');
    expect(q.parameters).toEqual([256, 'aa', 321, 'bb']);
  });

  it('refuses a statement that binds its values in another order', () => {
    expect(() =>
      prepareRows(2, ['pos', 'hash'] as const, (rows) =>
        // Rows swapped: the flat array would bind row 1's values to row 0's placeholders.
        db.insertInto('audit_nodes').values([...rows].reverse()),
      ),
    ).toThrow(/row after row in column order/);
  });
});
