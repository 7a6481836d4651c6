import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kysely, sql, type Transaction } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GroupCommitter } from './group-commit.js';
import type { Database } from './schema.js';
import { ImmediateSqliteDialect } from './sqlite/immediate-dialect.js';
import { openSqliteDatabase } from './sqlite/sqlite-database.js';

describe('GroupCommitter', () => {
  let dir: string;
  let db: Kysely<Database>;
  let commits: number;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'countersign-group-'));
    commits = 0;
    db = new Kysely<Database>({
      dialect: new ImmediateSqliteDialect({
        database: openSqliteDatabase(join(dir, 'group.db')),
        onCommit: () => commits++,
      }),
    });
    await sql`create table t (k text primary key)`.execute(db);
  });

  afterEach(async () => {
    await db.destroy();
    await rm(dir, { recursive: true, force: true });
  });

  /** A write inserting `k` (a taken key fails), counting how many times it ran. */
  const runs = new Map<string, number>();
  const insert = (k: string) => async (trx: Transaction<Database>) => {
    runs.set(k, (runs.get(k) ?? 0) + 1);
    await sql`insert into t (k) values (${k})`.execute(trx);
    return k;
  };
  const keys = async () =>
    (await sql<{ k: string }>`select k from t order by k`.execute(db)).rows.map((r) => r.k);

  it('commits writes sent together in one transaction, each run once, with no savepoint', async () => {
    runs.clear();
    const committer = new GroupCommitter(db);
    const values = await Promise.all(['a', 'b', 'c', 'd'].map((k) => committer.run(insert(k))));
    expect(values).toEqual(['a', 'b', 'c', 'd']);
    expect(commits).toBe(1);
    expect([...runs.values()]).toEqual([1, 1, 1, 1]);
    expect(await keys()).toEqual(['a', 'b', 'c', 'd']);
  });

  it('when one write fails, rejects it alone and commits the others, in one transaction', async () => {
    await sql`insert into t (k) values ('taken')`.execute(db);
    commits = 0;
    runs.clear();
    const committer = new GroupCommitter(db);
    const outcomes = await Promise.allSettled(['a', 'taken', 'b', 'c'].map((k) => committer.run(insert(k))));
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    expect((outcomes[1] as PromiseRejectedResult).reason).toBeInstanceOf(Error);
    expect(await keys()).toEqual(['a', 'b', 'c', 'taken']);
    // The first attempt, all together, was rolled back; the second ran each write in a savepoint.
    expect(commits).toBe(1);
    expect(runs.get('a')).toBe(2);
    expect(runs.get('taken')).toBe(2);
    expect(runs.get('c')).toBe(1);
  });

  it('rejects a write alone in its batch with its own error, run once', async () => {
    await sql`insert into t (k) values ('taken')`.execute(db);
    runs.clear();
    const committer = new GroupCommitter(db);
    await expect(committer.run(insert('taken'))).rejects.toThrow(/UNIQUE/);
    expect(runs.get('taken')).toBe(1);
    expect(await keys()).toEqual(['taken']);
  });

  it('rejects every write of the batch when the step before COMMIT fails, and writes none', async () => {
    const committer = new GroupCommitter(db, null, null, async () => {
      throw new Error('tree growth out of step');
    });
    const outcomes = await Promise.allSettled(['a', 'b'].map((k) => committer.run(insert(k))));
    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected']);
    expect(await keys()).toEqual([]);
  });
});
