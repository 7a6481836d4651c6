import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { KyselyStore } from '../kysely-store.js';
import type { Database } from '../schema.js';
import type { Store } from '../store.js';

export interface PostgresStoreOptions {
  /** `postgres://…` or `postgresql://…`. */
  url: string;
  /** Schema to use instead of the server's default search_path (created if missing); for test isolation. */
  schema?: string;
  /** Pool size; default 10. */
  maxConnections?: number;
  /** How long to wait for a connection before failing; default 5 s, so an unreachable server fails fast. */
  connectionTimeoutMs?: number;
}

/** First key of the two-key advisory lock that serializes audit appends (second key: the schema). */
const AUDIT_LOCK_KEY = 0x0c5a_0d17;

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** A store on a PostgreSQL pool. Not migrated yet: call `migrate()` (openStore does). */
export function createPostgresStore(options: PostgresStoreOptions): Store {
  const { schema } = options;
  if (schema !== undefined && !SCHEMA_NAME.test(schema)) {
    throw new Error(`invalid PostgreSQL schema name "${schema}": use lower-case letters, digits and _`);
  }
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.maxConnections ?? 10,
    connectionTimeoutMillis: options.connectionTimeoutMs ?? 5_000,
    // A startup parameter, so every connection has it before its first query.
    ...(schema === undefined ? {} : { options: `-c search_path=${schema}` }),
  });
  // An idle client that loses its server emits 'error' on the pool; unhandled, that would crash the
  // process. The pool drops that client, and the next query that needs one reports the failure.
  pool.on('error', () => {});
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });

  return new KyselyStore({
    kind: 'postgres',
    db,
    // Held until commit or rollback. Taken last in every transaction (after its row locks), so it
    // cannot deadlock with them; a sequence instead would leave gaps on rollback and commit out of order.
    lockAuditLog: async (trx) => {
      await sql`select pg_advisory_xact_lock(${sql.lit(AUDIT_LOCK_KEY)}, hashtext(current_schema()))`.execute(
        trx,
      );
    },
    // Proofs read O(log n) nodes: one named statement for any number of them (the keys unnested and
    // joined on the primary key), parsed and planned once per connection instead of once per proof.
    readAuditNodes: async (keys) => {
      const { rows } = await pool.query<{ pos: string; hash: string }>({
        name: 'countersign_audit_nodes',
        text: 'select n.pos, n.hash from unnest($1::bigint[]) as k(pos) join audit_nodes n on n.pos = k.pos',
        values: [keys],
      });
      return rows;
    },
    prepareMigration: async () => {
      if (schema !== undefined) await createSchemaIfMissing(db, schema);
      const result = await sql<{ schema: string | null }>`select current_schema() as schema`.execute(db);
      const current = result.rows[0]?.schema;
      if (current === null || current === undefined)
        throw new Error('PostgreSQL search_path names no existing schema');
      return current;
    },
  });
}

async function createSchemaIfMissing(db: Kysely<Database>, schema: string): Promise<void> {
  try {
    await sql`create schema if not exists ${sql.id(schema)}`.execute(db);
  } catch (err) {
    // IF NOT EXISTS still races with a concurrent CREATE SCHEMA (unique violation on pg_namespace).
    const exists = await sql`select 1 from pg_namespace where nspname = ${schema}`.execute(db);
    if (exists.rows.length === 0) throw err;
  }
}
