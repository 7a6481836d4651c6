/**
 * PostgreSQL (and SQLite) databases for tests.
 *
 * - The server comes from COUNTERSIGN_TEST_PG_URL (default postgres://postgres@127.0.0.1:5432/test).
 * - When it is unreachable, PostgreSQL suites are skipped with a warning, unless COUNTERSIGN_REQUIRE_PG=1,
 *   in which case they fail (CI sets it).
 * - Every database a test gets is its own schema (`cs_test_<time>_<random>`), dropped by `cleanup()`,
 *   so test files can run in parallel processes against the one `test` database. Schemas that a killed
 *   run left behind are dropped an hour later.
 *
 * Usage, one suite body for every backend:
 *
 *   for (const backend of storeBackends()) {
 *     describe.skipIf(backend.skip)(`gateway on ${backend.name}`, () => {
 *       let db: TestDatabase;
 *       beforeEach(async () => { db = await backend.fresh(); });
 *       afterEach(async () => { await db.cleanup(); });
 *       it('…', async () => { const store = await db.open(); … });
 *     });
 *   }
 *
 * or `describePostgres('name', () => { … })` with `createTestSchema()` for PostgreSQL-only suites.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { beforeAll, describe } from 'vitest';
import { openStore, type OpenStoreOptions } from '../../src/store/open-store.js';
import type { SpawnStoreThread } from '../../src/store/sqlite/threaded-store.js';
import type { Store } from '../../src/store/store.js';
import { tsWorker } from './ts-worker.js';

export const PG_URL = process.env.COUNTERSIGN_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const PG_REQUIRED = process.env.COUNTERSIGN_REQUIRE_PG === '1';

/** The URL without its password, for messages. */
const PG_URL_SHOWN = PG_URL.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');

async function probe(): Promise<string | null> {
  const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 3_000 });
  // A connection that fails after connect() still emits 'error'; the probe reports it through the await.
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('select 1');
    return null;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  } finally {
    await client.end().catch(() => {});
  }
}

const unreachableReason = await probe();

/** True when the PostgreSQL server answered. */
export const pgAvailable = unreachableReason === null;
/** True when PostgreSQL suites should be skipped: unreachable and not required. */
export const skipPostgres = !pgAvailable && !PG_REQUIRED;

if (skipPostgres) {
  console.warn(
    `PostgreSQL not reachable at ${PG_URL_SHOWN} (${unreachableReason}): skipping PostgreSQL suites ` +
      `(set COUNTERSIGN_REQUIRE_PG=1 to fail instead)`,
  );
}

/** Throws the clear reason when PostgreSQL is needed but unreachable. */
export function assertPostgres(): void {
  if (unreachableReason !== null) {
    throw new Error(
      `PostgreSQL is required (COUNTERSIGN_REQUIRE_PG=1) but not reachable at ${PG_URL_SHOWN}: ${unreachableReason}`,
    );
  }
}

/** A PostgreSQL-only suite: skipped (visibly) when the server is unreachable, failed when it is required. */
export function describePostgres(name: string, body: () => void): void {
  describe.skipIf(skipPostgres)(name, () => {
    beforeAll(assertPostgres);
    body();
  });
}

export interface TestSchema {
  readonly url: string;
  /** A fresh `cs_test_<time>_<random>` schema; pass it as `openStore(url, { schema })`. */
  readonly schema: string;
  /** Drops the schema and everything in it. Close stores using it first. */
  readonly drop: () => Promise<void>;
}

async function withClient<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 5_000 });
  client.on('error', () => {});
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Schemas older than this are left over from a killed run: nobody is still testing in them. */
const STALE_SCHEMA_MS = 60 * 60_000;
let staleSwept: Promise<void> | undefined;

/** Drops leftovers of killed runs once per process; the creation time is in the name (base 36 ms). */
async function sweepStaleSchemas(): Promise<void> {
  await withClient(async (c) => {
    const { rows } = await c.query<{ nspname: string }>(
      `select nspname from pg_namespace where nspname like 'cs\\_test\\_%'`,
    );
    for (const { nspname } of rows) {
      const created = parseInt(nspname.split('_')[2] ?? '', 36);
      if (Number.isFinite(created) && Date.now() - created > STALE_SCHEMA_MS) {
        await c.query(`drop schema if exists "${nspname}" cascade`);
      }
    }
  });
}

/** Creates an empty schema of its own (`cs_test_<time>_<random>`) for one test or suite. */
export async function createTestSchema(): Promise<TestSchema> {
  assertPostgres();
  staleSwept ??= sweepStaleSchemas().catch(() => {});
  await staleSwept;
  const schema = `cs_test_${Date.now().toString(36)}_${randomBytes(5).toString('hex')}`;
  await withClient((c) => c.query(`create schema "${schema}"`));
  return {
    url: PG_URL,
    schema,
    drop: async () => {
      await withClient((c) => c.query(`drop schema if exists "${schema}" cascade`));
    },
  };
}

/** One empty database: a temporary SQLite file or a PostgreSQL schema. */
export interface TestDatabase {
  /** What to pass to `openStore(url, schema === undefined ? {} : { schema })`, e.g. to start a server on it. */
  readonly url: string;
  readonly schema: string | undefined;
  /** Opens a migrated store on this database; after `close()`, opening again simulates a restart. */
  readonly open: () => Promise<Store>;
  /** Closes every store `open()` returned and deletes the file or drops the schema. */
  readonly cleanup: () => Promise<void>;
}

export interface StoreBackend {
  readonly name: 'sqlite' | 'postgres';
  /** Names the variant in suite titles: SQLite runs on a store thread, as the server runs it, or in-process. */
  readonly label: string;
  /** Wrap suites in `describe.skipIf(backend.skip)`: true when PostgreSQL is unreachable and not required. */
  readonly skip: boolean;
  /** A new, empty database. Rejects with the reason when PostgreSQL is required but unreachable. */
  readonly fresh: () => Promise<TestDatabase>;
}

let startStoreThread: ReturnType<typeof tsWorker> | null = null;

/**
 * Starts the SQLite store thread from its TypeScript source (test/helpers/ts-worker.ts), as
 * `openStore(url, { thread: true })` starts the compiled one in the server.
 */
export const spawnStoreThread: SpawnStoreThread = (data) => {
  startStoreThread ??= tsWorker(new URL('../../src/store/sqlite/store-thread.ts', import.meta.url));
  return startStoreThread({ ...data });
};

function trackingDatabase(url: string, options: OpenStoreOptions, remove: () => Promise<void>): TestDatabase {
  const opened: Store[] = [];
  const schema = options.schema;
  return {
    url,
    schema,
    open: async () => {
      const store = await openStore(url, options);
      opened.push(store);
      return store;
    },
    cleanup: async () => {
      // close() twice is harmless for Kysely, so stores a test already closed are fine here.
      await Promise.all(opened.map((s) => s.close().catch(() => {})));
      await remove();
    },
  };
}

/**
 * A SQLite database on a real file in a fresh temporary directory, opened as the server opens it: with
 * its connection on a store thread (`inProcess` opens it on this thread, as the CLI does).
 */
export async function freshSqliteDatabase(opts: { inProcess?: boolean } = {}): Promise<TestDatabase> {
  const dir = await mkdtemp(join(tmpdir(), 'countersign-test-'));
  return trackingDatabase(
    `sqlite:${join(dir, 'countersign.db')}`,
    opts.inProcess ? {} : { thread: spawnStoreThread },
    () => rm(dir, { recursive: true, force: true }),
  );
}

/** A PostgreSQL database in a fresh schema of its own. */
export async function freshPostgresDatabase(): Promise<TestDatabase> {
  const { url, schema, drop } = await createTestSchema();
  return trackingDatabase(url, { schema }, drop);
}

/**
 * Every store backend: SQLite on a temporary file (on a store thread, as the server runs it), and
 * PostgreSQL (skipped when unreachable). `inProcessSqlite` adds SQLite on this thread, as the CLI runs it.
 */
export function storeBackends(opts: { inProcessSqlite?: boolean } = {}): StoreBackend[] {
  return [
    { name: 'sqlite', label: 'sqlite (store thread)', skip: false, fresh: () => freshSqliteDatabase() },
    ...(opts.inProcessSqlite
      ? [
          {
            name: 'sqlite' as const,
            label: 'sqlite (in-process)',
            skip: false,
            fresh: () => freshSqliteDatabase({ inProcess: true }),
          },
        ]
      : []),
    { name: 'postgres', label: 'postgres', skip: skipPostgres, fresh: freshPostgresDatabase },
  ];
}
