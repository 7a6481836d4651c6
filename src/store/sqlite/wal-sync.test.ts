import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import BetterSqlite from 'better-sqlite3';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kysely } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { apiKeyRecord, systemEvent } from '../../../test/helpers/records.js';
import type { AuditEventInput } from '../../core/types.js';
import { KyselyStore } from '../kysely-store.js';
import type { Database } from '../schema.js';
import type { ApiKeyRecord } from '../store.js';
import { ImmediateSqliteDialect } from './immediate-dialect.js';
import { openSqliteDatabase } from './sqlite-database.js';
import { createSqliteStore } from './sqlite-store.js';
import { walFileSync, WalSync } from './wal-sync.js';

/** An fsync the test releases by hand, counting how often it was started. */
function manualSync() {
  const started: { release: () => void; fail: (err: Error) => void }[] = [];
  const sync = () => new Promise<void>((resolve, reject) => started.push({ release: resolve, fail: reject }));
  return { sync, started };
}

const tick = () => new Promise<void>((r) => setImmediate(r));

/** Whether a promise has settled after the pending callbacks ran. */
async function settledYet(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  p.then(
    () => (done = true),
    () => (done = true),
  );
  for (let i = 0; i < 5; i++) await tick();
  return done;
}

describe('WalSync', () => {
  it('resolves a commit only after an fsync that started after it', async () => {
    const { sync, started } = manualSync();
    const wal = new WalSync(sync);
    expect(wal.settled()).toBeNull();
    const first = wal.durable(wal.afterCommit());
    expect(started).toHaveLength(1);
    // A commit made while that fsync runs is not covered by it.
    const second = wal.durable(wal.afterCommit());
    started[0]?.release();
    expect(await settledYet(first)).toBe(true);
    expect(await settledYet(second)).toBe(false);
    expect(started).toHaveLength(2);
    started[1]?.release();
    expect(await settledYet(second)).toBe(true);
    expect(wal.settled()).toBeNull();
  });

  it('runs one fsync at a time, covering every commit before it', async () => {
    const { sync, started } = manualSync();
    const wal = new WalSync(sync);
    const waits = [1, 2, 3].map(() => wal.durable(wal.afterCommit()));
    expect(started).toHaveLength(1);
    started[0]?.release();
    // The first fsync started after commit 1 only; commits 2 and 3 share the next one.
    await tick();
    expect(started).toHaveLength(2);
    started[1]?.release();
    await Promise.all(waits);
    expect(started).toHaveLength(2);
  });

  it('tells when the running fsync ends, not when every fsync asked for meanwhile has', async () => {
    const { sync, started } = manualSync();
    const wal = new WalSync(sync);
    expect(wal.syncing()).toBeNull();
    const first = wal.durable(wal.afterCommit());
    const running = wal.syncing();
    expect(running).not.toBeNull();
    // Another commit asks for a second fsync while the first runs...
    const second = wal.durable(wal.afterCommit());
    expect(await settledYet(running as Promise<void>)).toBe(false);
    started[0]?.release();
    await first;
    // ...and the first one's end is reported while the second runs: a writer waiting on `syncing()`
    // is not held back by fsyncs that others keep asking for.
    expect(started).toHaveLength(2);
    expect(await settledYet(running as Promise<void>)).toBe(true);
    expect(wal.syncing()).not.toBeNull();
    started[1]?.fail(new Error('EIO'));
    await expect(second).rejects.toThrow(/fsync/);
    expect(wal.syncing()).toBeNull();
  });

  it('fails every pending and later wait once an fsync failed, for good', async () => {
    const { sync, started } = manualSync();
    const wal = new WalSync(sync);
    const pending = wal.durable(wal.afterCommit());
    started[0]?.fail(new Error('EIO'));
    await expect(pending).rejects.toThrow(/fsync of the SQLite WAL failed/);
    wal.afterCommit();
    await expect(wal.settled()).rejects.toThrow(/fsync/);
    await expect(wal.durable(1)).rejects.toThrow(/fsync/);
    expect(started).toHaveLength(1);
  });
});

describe('SQLite store with the fsync off the event loop', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'countersign-walsync-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const key = (id: string): ApiKeyRecord => apiKeyRecord(id);
  const event: AuditEventInput = systemEvent('key.created');

  /** A store whose WAL fsync the test controls. */
  async function storeWithManualSync() {
    const { sync, started } = manualSync();
    const database = openSqliteDatabase(join(dir, 'db.sqlite'));
    const dataVersion = database.prepare('PRAGMA main.data_version').pluck();
    const wal = new WalSync(
      sync,
      () => {},
      () => dataVersion.get() as number,
    );
    database.pragma('synchronous = NORMAL');
    const commits = { n: 0 };
    const db = new Kysely<Database>({
      dialect: new ImmediateSqliteDialect({
        database,
        onCommit: () => {
          commits.n++;
          wal.afterCommit();
        },
      }),
    });
    const store = new KyselyStore({
      kind: 'sqlite',
      db,
      lockAuditLog: async () => {},
      prepareMigration: async () => undefined,
      groupCommit: true,
      durability: wal,
    });
    const migrated = store.migrate();
    // Migrating ends with an fsync of its own.
    for (let i = 0; i < 50 && started.length === 0; i++) await tick();
    started[0]?.release();
    await migrated;
    return { store, started, commits };
  }

  it('holds the next commit while an fsync runs, then commits every write that waited in one', async () => {
    const { store, started, commits } = await storeWithManualSync();
    const first = store.createApiKey(key('ak_1'), event);
    for (let i = 0; i < 50 && started.length < 2; i++) await tick();
    const before = commits.n;
    const later = [store.createApiKey(key('ak_2'), event), store.createApiKey(key('ak_3'), event)];
    // While the first write's fsync runs, the others wait uncommitted (so they can share a commit)...
    for (let i = 0; i < 10; i++) await tick();
    expect(commits.n).toBe(before);
    const other = new BetterSqlite(join(dir, 'db.sqlite'), { readonly: true });
    const count = () => other.prepare('select count(*) from api_keys').pluck().get();
    expect(count()).toBe(1);
    started[1]?.release();
    await first;
    // ...and commit together once it has returned: one commit, one fsync for both.
    for (let i = 0; i < 50 && started.length < 3; i++) await tick();
    expect(commits.n).toBe(before + 1);
    expect(count()).toBe(3);
    expect(await settledYet(Promise.all(later))).toBe(false);
    started[2]?.release();
    await Promise.all(later);
    expect(started).toHaveLength(3);
    other.close();
    await store.close();
  });

  it('answers neither a write nor a read of it before the fsync after its commit returns', async () => {
    const { store, started } = await storeWithManualSync();
    const write = store.createApiKey(key('ak_1'), event);
    // Committed (the row is in the WAL) but not yet synced: the write is not answered...
    for (let i = 0; i < 50 && started.length < 2; i++) await tick();
    expect(started).toHaveLength(2);
    expect(await settledYet(write)).toBe(false);
    // ...and nobody else is told about it either.
    const read = store.getApiKey('ak_1');
    expect(await settledYet(read)).toBe(false);
    started[1]?.release();
    await write;
    expect((await read)?.id).toBe('ak_1');
    // With nothing left to sync, reads are answered at once.
    expect((await store.getApiKey('ak_1'))?.id).toBe('ak_1');
    expect(started).toHaveLength(2);
    await store.close();
  });

  it("waits for an fsync before answering a read that may have seen another connection's commit", async () => {
    const { store, started } = await storeWithManualSync();
    expect(await store.getApiKey('ak_x')).toBeNull();
    const syncs = started.length;
    // Another process writes the database (committing without an fsync, as a peer with this scheme does).
    const other = new BetterSqlite(join(dir, 'db.sqlite'));
    other.pragma('synchronous = NORMAL');
    other
      .prepare(
        `insert into api_keys (id, token_hash, name, kind, email, groups, roles, owner, created_at)
         values ('ak_x', 'ab', 'x', 'agent', null, '[]', '[]', null, '2026-01-01T00:00:00.000Z')`,
      )
      .run();
    other.close();
    const read = store.getApiKey('ak_x');
    for (let i = 0; i < 50 && started.length === syncs; i++) await tick();
    expect(started).toHaveLength(syncs + 1);
    expect(await settledYet(read)).toBe(false);
    started[syncs]?.release();
    expect((await read)?.id).toBe('ak_x');
    await store.close();
  });

  it('reports a failed fsync as a failed write, and fails later calls', async () => {
    const { store, started } = await storeWithManualSync();
    const write = store.createApiKey(key('ak_2'), event);
    for (let i = 0; i < 50 && started.length < 2; i++) await tick();
    started[1]?.fail(Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' }));
    await expect(write).rejects.toThrow(/fsync/);
    await expect(store.getApiKey('ak_2')).rejects.toThrow(/fsync/);
    await expect(store.createApiKey(key('ak_3'), event)).rejects.toThrow(/fsync/);
    await store.close();
  });

  it('syncs the WAL of a file store before answering, with synchronous=NORMAL', async () => {
    const file = join(dir, 'real.sqlite');
    const store = createSqliteStore(file);
    await store.migrate();
    await Promise.all([1, 2, 3].map((i) => store.createApiKey(key(`ak_r${i}`), event)));
    expect(await store.listApiKeys()).toHaveLength(3);
    await store.close();
    // A WAL that is not there is an error, not "nothing to sync": it would mean syncing the wrong file.
    await writeFile(join(dir, 'none.sqlite'), '');
    const none = walFileSync(join(dir, 'none.sqlite'));
    await expect(none.sync()).rejects.toThrow(/ENOENT/);
    none.close();
  });

  it('inline: the fsync has returned before anything else runs; off the thread: not until a later turn', async () => {
    const file = join(dir, 'inline.sqlite');
    const store = createSqliteStore(file, { inlineFsync: true });
    await store.migrate();
    await store.createApiKey(key('ak_i'), event);
    expect((await store.getApiKey('ak_i'))?.id).toBe('ak_i');
    await store.close();
    // Microtasks only: no I/O callback (such as a thread-pool fsync's) can run between them.
    const settledWithinMicrotasks = async (inline: boolean) => {
      const wal = walFileSync(file, { inline });
      await writeFile(`${file}-wal`, 'frames');
      let done = false;
      const sync = wal.sync().then(() => (done = true));
      for (let i = 0; i < 20; i++) await Promise.resolve();
      const within = done;
      await sync;
      wal.close();
      return within;
    };
    expect(await settledWithinMicrotasks(true)).toBe(true);
    expect(await settledWithinMicrotasks(false)).toBe(false);
    // Inline too, a WAL that is not there fails the sync.
    await writeFile(join(dir, 'none-inline.sqlite'), '');
    const none = walFileSync(join(dir, 'none-inline.sqlite'), { inline: true });
    await expect(none.sync()).rejects.toThrow(/ENOENT/);
    none.close();
  });

  it('syncs the WAL beside the real file when the database path is a symbolic link', async () => {
    await mkdir(join(dir, 'real'));
    const real = join(dir, 'real', 'db.sqlite');
    await writeFile(real, '');
    await symlink(real, join(dir, 'link.sqlite'));
    const store = createSqliteStore(join(dir, 'link.sqlite'));
    await store.migrate();
    await store.createApiKey(key('ak_l'), event);
    expect((await store.getApiKey('ak_l'))?.id).toBe('ak_l');
    await store.close();
  });
});
