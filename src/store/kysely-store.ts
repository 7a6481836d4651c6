/**
 * The Store contract implemented once over Kysely. The backends differ only in what `KyselyStoreBackend`
 * supplies: how a writing transaction excludes other writers of the audit log, and where the schema lives.
 */
import { sql } from 'kysely';
import type { CompiledQuery, Kysely, QueryResult, Transaction } from 'kysely';
import { CountersignError, INVALID_API_KEY } from '../core/errors.js';
import { GroupCommitter, type Durability } from './group-commit.js';
import { auditNodeKey } from './audit-node-key.js';
import { prepareQuery, prepareRows } from './prepared-query.js';
import { leafHash, nodeHash } from '../audit/hash.js';
import type { ActionRequest, AuditEvent, AuditEventInput, Grant } from '../core/types.js';
import { migrateToLatest } from './migrations/index.js';
import {
  apiKeyToRow,
  auditEventToRow,
  auditRowLeafText,
  grantToRow,
  newRequestRow,
  requestToRow,
  rowToApiKey,
  rowToPayload,
  rowToAuditEvent,
  rowToGrant,
  rowToRequest,
} from './rows.js';
import type { AuditEventsTable, Database } from './schema.js';
import { GrantUnavailable, isApiKeyLive, isPayloadToSeal, VersionConflict } from './store.js';
import type {
  ApiKeyRecord,
  EncryptedPayload,
  InsertRequestOptions,
  NewDelivery,
  OutboxDelivery,
  PayloadToSeal,
  RequestFilter,
  ChannelMessageRecord,
  Store,
  StoredCheckpoint,
} from './store.js';
import { deliveryToRow, rowToDelivery } from './outbox-rows.js';

export interface KyselyStoreBackend {
  readonly kind: Store['kind'];
  readonly db: Kysely<Database>;
  /**
   * Called in a writing transaction right before it reads max(seq): after it returns, no other
   * transaction may append audit events until this one ends, so seq is contiguous and in commit order.
   */
  lockAuditLog(trx: Transaction<Database>): Promise<void>;
  /** Runs before the migrations (e.g. creates the PostgreSQL schema); returns the schema to migrate in. */
  prepareMigration(): Promise<string | undefined>;
  /** Batch concurrent writes into one transaction (see group-commit.ts); for SQLite's single connection. */
  readonly groupCommit?: boolean;
  /**
   * When COMMIT does not sync by itself (SQLite WAL with the fsync in the thread pool, sqlite/wal-sync.ts):
   * writes are answered after `settled()`, and so are reads, so that nobody sees what is not yet durable.
   */
  readonly durability?: Durability & {
    afterCommit(): number;
    /** For reads: null when all they may have seen is durable, else a promise that resolves once it is. */
    settled(): Promise<void> | null;
    close(): Promise<void>;
  };
  /**
   * Runs a compiled query at once on the connection a transaction holds, without Kysely's per-query
   * machinery (connection provider, plugins, result freezing): SQLite's synchronous driver. Used only
   * inside write transactions, whose connection is ours until they end.
   */
  readonly runInTransaction?: (query: CompiledQuery) => QueryResult<unknown>;
  /**
   * Reads audit tree nodes (the rows among `keys` that exist; see audit-node-key.ts) in one statement,
   * for proofs; when absent, a query built with Kysely does it. PostgreSQL's runs one named statement
   * whatever the number of nodes, so each connection parses and plans it once.
   */
  readAuditNodes?(keys: readonly number[]): Promise<{ pos: number | string; hash: string }[]>;
  /** Seals a `PayloadToSeal` given to insertRequest; absent, such a payload is refused. */
  readonly sealPayload?: (requestId: string, payload: PayloadToSeal) => EncryptedPayload;
}

/** Count results are bigint strings on PostgreSQL and numbers on SQLite. */
function toCount(value: string | number | bigint | undefined): number {
  return Number(value ?? 0);
}

const REQUEST_COLUMNS = [
  'id',
  'status',
  'requester_id',
  'idempotency_key',
  'expires_at',
  'created_at',
  'version',
  'doc',
  'payload_key_id',
  'payload_iv',
  'payload_ciphertext',
  'payload_tag',
  'payload_sha256',
] as const;
const AUDIT_COLUMNS = ['seq', 'at', 'type', 'request_id', 'actor', 'data'] as const;
const TREE_COLUMNS = ['pos', 'hash'] as const;

// The queries on pending requests are served by partial indexes (`where status = 'pending'`,
// migrations 0001 and 0007); test/store/pending-queries.test.ts checks SQLite's plans for them.
/** `listDue`'s query: pending requests whose deadline has passed, soonest first. */
export function listDueQuery(db: Kysely<Database>, now: string, limit: number) {
  return db
    .selectFrom('requests')
    .select(['doc', 'version'])
    .where('status', '=', 'pending')
    .where('expires_at', '<=', now)
    .orderBy('expires_at')
    .orderBy('id')
    .limit(limit);
}

/** `nextDeadline`'s query: the soonest deadline of a pending request. */
export function nextDeadlineQuery(db: Kysely<Database>) {
  return db
    .selectFrom('requests')
    .select((eb) => eb.fn.min('expires_at').as('deadline'))
    .where('status', '=', 'pending');
}

/** `listRequests`'s query. */
export function listRequestsQuery(db: Kysely<Database>, filter: RequestFilter) {
  let query = db.selectFrom('requests').select(['doc', 'version']);
  if (filter.status !== undefined) query = query.where('status', '=', filter.status);
  if (filter.requesterId !== undefined) query = query.where('requester_id', '=', filter.requesterId);
  if (filter.createdFrom !== undefined) query = query.where('created_at', '>=', filter.createdFrom);
  if (filter.createdBefore !== undefined) query = query.where('created_at', '<', filter.createdBefore);
  query = query.orderBy('created_at', 'desc').orderBy('id', 'desc');
  if (filter.limit !== undefined) query = query.limit(filter.limit);
  return query;
}

/** The queries of the hot paths (authenticate, submit, review), compiled once per store. */
function hotQueries(db: Kysely<Database>) {
  return {
    apiKeyById: prepareQuery(['id'], (s) => db.selectFrom('api_keys').selectAll().where('id', '=', s.id)),
    // What a write's key check reads: only what `isApiKeyLive` looks at (no groups or roles to parse).
    apiKeyLiveness: prepareQuery(['id'], (s) =>
      db.selectFrom('api_keys').select(['revoked_at', 'expires_at']).where('id', '=', s.id),
    ),
    requestById: prepareQuery(['id'], (s) =>
      db.selectFrom('requests').select(['doc', 'version']).where('id', '=', s.id),
    ),
    insertRequest: prepareQuery(REQUEST_COLUMNS, (s) =>
      db
        .insertInto('requests')
        .values(s)
        .onConflict((oc) =>
          oc
            .columns(['requester_id', 'idempotency_key'])
            .where('idempotency_key', 'is not', null)
            .doNothing(),
        ),
    ),
    // Compare-and-set: concurrent writers queue on the row lock, and each re-checks `version` after
    // the winner commits, so exactly one of them updates a row.
    casRequest: prepareQuery(['id', 'expected', 'status', 'expires_at', 'version', 'doc'], (s) =>
      db
        .updateTable('requests')
        .set({ status: s.status, expires_at: s.expires_at, version: s.version, doc: s.doc })
        .where('id', '=', s.id)
        .where('version', '=', s.expected),
    ),
    maxSeq: prepareQuery([], () => db.selectFrom('audit_events').select((eb) => eb.fn.max('seq').as('seq'))),
    treeNode: prepareQuery(['pos'], (s) =>
      db.selectFrom('audit_nodes').select('hash').where('pos', '=', s.pos),
    ),
    requestPayload: prepareQuery(['id'], (s) =>
      db
        .selectFrom('requests')
        .select(['payload_key_id', 'payload_iv', 'payload_ciphertext', 'payload_tag', 'payload_sha256'])
        .where('id', '=', s.id),
    ),
  };
}

export class KyselyStore implements Store {
  readonly kind: Store['kind'];
  readonly sealsPayloads: boolean;
  readonly #backend: KyselyStoreBackend;
  readonly #db: Kysely<Database>;
  readonly #q: ReturnType<typeof hotQueries>;
  /** Audit inserts compiled once per number of rows (a transition writes 1-3 events). */
  readonly #auditInserts = new Map<number, (flat: readonly unknown[]) => CompiledQuery>();
  /** Tree node inserts, likewise per number of rows (an append writes 2 nodes on average). */
  readonly #treeInserts = new Map<number, (flat: readonly unknown[]) => CompiledQuery>();
  /** Batched node reads, per number of nodes (a proof at 10M events asks ~50). */
  readonly #treeReads = new Map<number, (keys: readonly unknown[]) => CompiledQuery>();

  readonly #committer: GroupCommitter | null;
  /** Per transaction: audit rows appended, their leaves not yet in the tree (see #write). */
  readonly #treePending = new WeakMap<Transaction<Database>, AuditEventsTable[]>();

  constructor(backend: KyselyStoreBackend) {
    this.kind = backend.kind;
    this.sealsPayloads = backend.sealPayload !== undefined;
    this.#backend = backend;
    this.#db = backend.db;
    this.#q = hotQueries(backend.db);
    this.#committer = backend.groupCommit
      ? new GroupCommitter(backend.db, backend.durability ?? null, backend.runInTransaction ?? null, (trx) =>
          this.#growPendingTree(trx),
        )
      : null;
  }

  /** A hot-path query inside a write transaction (see `KyselyStoreBackend.runInTransaction`). */
  #exec<R>(trx: Transaction<Database>, query: CompiledQuery): QueryResult<R> | Promise<QueryResult<R>> {
    const run = this.#backend.runInTransaction;
    return run ? (run(query) as QueryResult<R>) : trx.executeQuery<R>(query);
  }

  /**
   * A read outside a write transaction: answered only once every commit it may have seen is durable
   * (a no-op unless the backend syncs after the fact; see `KyselyStoreBackend.durability`).
   */
  async #read<T>(result: Promise<T>): Promise<T> {
    const value = await result;
    const pending = this.#backend.durability?.settled();
    if (pending) await pending;
    return value;
  }

  #sealed(requestId: string, p: EncryptedPayload | PayloadToSeal | undefined): EncryptedPayload | undefined {
    if (p === undefined || !isPayloadToSeal(p)) return p;
    const seal = this.#backend.sealPayload;
    if (seal === undefined)
      throw new Error('this store was opened without a payload key, so it cannot seal a payload');
    return seal(requestId, p);
  }

  /**
   * Runs one atomic write: in its own transaction, or in a savepoint of a group commit. The Merkle tree
   * grows once per transaction, just before it commits, for every audit event its writes appended
   * (`#growPendingTree`): a group commit of 11 writes then reads the tree's left edge once and writes
   * its nodes in one statement, instead of 11 times each. Every write appends its events last, so a
   * write that fails has appended none; if one ever failed after appending, its rolled-back events
   * would no longer match the pending leaves, and the growth's check would fail the whole transaction.
   */
  #write<T>(work: (trx: Transaction<Database>) => Promise<T>): Promise<T> {
    if (this.#committer) return this.#committer.run(work);
    return this.#db.transaction().execute(async (trx) => {
      const result = await work(trx);
      await this.#growPendingTree(trx);
      return result;
    });
  }

  /** The audit rows a transaction appended whose leaves are not in the tree yet, in seq order. */
  #pendingLeaves(trx: Transaction<Database>): AuditEventsTable[] {
    let rows = this.#treePending.get(trx);
    if (rows === undefined) {
      rows = [];
      this.#treePending.set(trx, rows);
    }
    return rows;
  }

  /**
   * Adds the transaction's appended events to the tree. Fails (and so fails the transaction) unless
   * they are exactly the events after the tree's last leaf: gap-free, and the last of them the log's
   * last event. The tree never gets a leaf whose event is not in the same commit, nor misses one.
   */
  async #growPendingTree(trx: Transaction<Database>): Promise<void> {
    const rows = this.#treePending.get(trx);
    this.#treePending.delete(trx);
    if (rows === undefined || rows.length === 0) return;
    const last = await this.#exec<{ seq: number | string | null }>(trx, this.#q.maxSeq({}));
    const lastSeq = Number(last.rows[0]?.seq ?? 0);
    const gapFree = rows.every((row, i) => row.seq === (rows[0] as AuditEventsTable).seq + i);
    if (!gapFree || rows[rows.length - 1]?.seq !== lastSeq) {
      throw new Error(
        `audit tree growth out of step: events ${rows.map((r) => r.seq).join(',')} to add, the log ends at ${lastSeq}`,
      );
    }
    await this.#growTree(trx, rows);
  }

  async migrate(): Promise<void> {
    const schema = await this.#backend.prepareMigration();
    await migrateToLatest(this.#db as Kysely<unknown>, schema);
    // Migrations may run outside transactions (no COMMIT to count): make all of it durable now.
    const durability = this.#backend.durability;
    if (durability) {
      durability.afterCommit();
      await durability.settled();
    }
  }

  async close(): Promise<void> {
    // Writes already answered are synced; ones in flight get their fsync before the file is let go.
    await this.#backend.durability?.close();
    await this.#db.destroy();
  }

  async ping(): Promise<void> {
    await sql`select 1`.execute(this.#db);
  }

  async createApiKey(key: ApiKeyRecord, event: AuditEventInput): Promise<void> {
    await this.#write(async (trx) => {
      await trx.insertInto('api_keys').values(apiKeyToRow(key)).execute();
      await this.#appendAudit(trx, [event]);
    });
  }

  async getApiKey(id: string): Promise<ApiKeyRecord | null> {
    const { rows } = await this.#read(
      this.#db.executeQuery<Database['api_keys']>(this.#q.apiKeyById({ id })),
    );
    const row = rows[0];
    return row === undefined ? null : rowToApiKey(row);
  }

  async listApiKeys(): Promise<ApiKeyRecord[]> {
    const rows = await this.#read(
      this.#db.selectFrom('api_keys').selectAll().orderBy('created_at').orderBy('id').execute(),
    );
    return rows.map(rowToApiKey);
  }

  async countApiKeys(): Promise<number> {
    const row = await this.#read(
      this.#db
        .selectFrom('api_keys')
        .select((eb) => eb.fn.countAll().as('n'))
        .executeTakeFirst(),
    );
    return toCount(row?.n);
  }

  async revokeApiKey(id: string, at: string, event: AuditEventInput): Promise<boolean> {
    return this.#write(async (trx) => {
      const result = await trx
        .updateTable('api_keys')
        .set({ revoked_at: at })
        .where('id', '=', id)
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      if (result.numUpdatedRows === 0n) return false;
      await this.#appendAudit(trx, [event]);
      return true;
    });
  }

  async insertRequest(
    req: ActionRequest,
    events: AuditEventInput[],
    options: InsertRequestOptions = {},
  ): Promise<{ request: ActionRequest; created: boolean }> {
    // Sealed before the write is queued: on the store thread that overlaps the running fsync.
    const payload = this.#sealed(req.id, options.payload);
    const { liveKey } = options;
    return this.#write(async (trx) => {
      if (liveKey !== undefined) await this.#requireLiveKey(trx, liveKey);
      // Insert first: a duplicate idempotency key then changes nothing (no grant use, no event).
      // ON CONFLICT waits for a racing insert of the same key to commit, so the select below sees it.
      const row = newRequestRow(req, payload);
      const inserted = await this.#exec(trx, this.#q.insertRequest(row));
      if (inserted.numAffectedRows === 0n) {
        const existing = await this.#selectByIdempotencyKey(trx, req.requester.id, req.idempotencyKey ?? '');
        if (existing === null) throw new Error(`request insert conflicted but no request holds its key`);
        return { request: existing, created: false };
      }
      if (options.consumeGrantId !== undefined) {
        await this.#consumeGrant(trx, options.consumeGrantId, req.createdAt);
      }
      if (options.grant !== undefined) {
        await trx.insertInto('grants').values(grantToRow(options.grant)).execute();
      }
      await this.#insertDeliveries(trx, options.deliveries);
      await this.#appendAudit(trx, events);
      return { request: req, created: true };
    });
  }

  async getRequest(id: string): Promise<ActionRequest | null> {
    const { rows } = await this.#read(
      this.#db.executeQuery<{ doc: string; version: number }>(this.#q.requestById({ id })),
    );
    const row = rows[0];
    return row === undefined ? null : rowToRequest(row);
  }

  async findByIdempotencyKey(requesterId: string, key: string): Promise<ActionRequest | null> {
    return this.#read(this.#selectByIdempotencyKey(this.#db, requesterId, key));
  }

  async listRequests(filter: RequestFilter): Promise<ActionRequest[]> {
    const rows = await this.#read(listRequestsQuery(this.#db, filter).execute());
    return rows.map(rowToRequest);
  }

  async updateRequest(
    next: ActionRequest,
    events: AuditEventInput[],
    grant?: Grant,
    deliveries?: NewDelivery[],
  ): Promise<void> {
    const row = requestToRow(next);
    await this.#write(async (trx) => {
      const result = await this.#exec(
        trx,
        this.#q.casRequest({
          id: next.id,
          expected: next.version - 1,
          status: row.status,
          expires_at: row.expires_at,
          version: row.version,
          doc: row.doc,
        }),
      );
      if (result.numAffectedRows !== 1n) {
        throw new VersionConflict(`request ${next.id} is not at version ${next.version - 1}`);
      }
      if (grant !== undefined) await trx.insertInto('grants').values(grantToRow(grant)).execute();
      await this.#insertDeliveries(trx, deliveries);
      await this.#appendAudit(trx, events);
    });
  }

  async listDue(now: string, limit: number): Promise<ActionRequest[]> {
    const rows = await this.#read(listDueQuery(this.#db, now, limit).execute());
    return rows.map(rowToRequest);
  }

  async nextDeadline(): Promise<string | null> {
    const row = await this.#read(nextDeadlineQuery(this.#db).executeTakeFirst());
    return row?.deadline ?? null;
  }

  async findGrants(q: {
    requesterId: string;
    action: string;
    resource: string;
    environment: string;
    now: string;
  }): Promise<Grant[]> {
    const rows = await this.#read(
      this.#db
        .selectFrom('grants')
        .selectAll()
        .where('requester_id', '=', q.requesterId)
        .where('action', '=', q.action)
        .where('resource', '=', q.resource)
        .where('environment', '=', q.environment)
        .where('expires_at', '>', q.now)
        .where((eb) => eb('used', '<', eb.ref('uses')))
        .orderBy('expires_at')
        .orderBy('id')
        .execute(),
    );
    return rows.map(rowToGrant);
  }

  async getGrant(id: string): Promise<Grant | null> {
    const row = await this.#read(
      this.#db.selectFrom('grants').selectAll().where('id', '=', id).executeTakeFirst(),
    );
    return row === undefined ? null : rowToGrant(row);
  }

  async listAuditEvents(after: number, limit: number): Promise<AuditEvent[]> {
    const rows = await this.#read(
      this.#db
        .selectFrom('audit_events')
        .selectAll()
        .where('seq', '>', after)
        .orderBy('seq')
        .limit(limit)
        .execute(),
    );
    return rows.map(rowToAuditEvent);
  }

  async countAuditEvents(): Promise<number> {
    const row = await this.#read(
      this.#db
        .selectFrom('audit_events')
        .select((eb) => eb.fn.countAll().as('n'))
        .executeTakeFirst(),
    );
    return toCount(row?.n);
  }

  async appendAuditEvents(events: AuditEventInput[]): Promise<void> {
    await this.#write((trx) => this.#appendAudit(trx, events));
  }

  async auditTreeSize(): Promise<number> {
    const last = await this.#read(this.#db.executeQuery<{ seq: number | string | null }>(this.#q.maxSeq({})));
    return Number(last.rows[0]?.seq ?? 0);
  }

  async auditNode(level: number, idx: number): Promise<Buffer> {
    const hash = await this.#readNode(this.#db, level, idx);
    if (hash === null) throw new Error(`the audit tree has no complete subtree (${level}, ${idx})`);
    return hash;
  }

  async auditNodes(positions: readonly (readonly [number, number])[]): Promise<Buffer[]> {
    if (positions.length === 0) return [];
    const keys = positions.map(([level, idx]) => auditNodeKey(level, idx));
    // Through #read like auditTreeSize: proofs check the tree size with this read (tree-store.ts).
    const rows = await this.#read(this.#readAuditNodes(keys));
    const found = new Map(rows.map((r) => [Number(r.pos), r.hash]));
    return positions.map(([level, idx], i) => {
      const hash = found.get(keys[i] as number);
      if (hash === undefined) throw new Error(`the audit tree has no complete subtree (${level}, ${idx})`);
      return Buffer.from(hash, 'hex');
    });
  }

  async #readAuditNodes(keys: readonly number[]): Promise<{ pos: number | string; hash: string }[]> {
    if (this.#backend.readAuditNodes) return this.#backend.readAuditNodes(keys);
    const result = await this.#db.executeQuery<{ pos: number; hash: string }>(
      this.#treeRead(keys.length)(keys),
    );
    return result.rows;
  }

  /** Reads the nodes under `n` keys in one statement (the ones that exist). */
  #treeRead(n: number): (keys: readonly unknown[]) => CompiledQuery {
    let q = this.#treeReads.get(n);
    if (q === undefined) {
      q = prepareRows(n, ['pos'] as const, (rows) =>
        this.#db
          .selectFrom('audit_nodes')
          .select(['pos', 'hash'])
          .where(
            'pos',
            'in',
            rows.map((r) => r.pos),
          ),
      );
      if (n <= 128) this.#treeReads.set(n, q);
    }
    return q;
  }

  async saveCheckpoint(c: StoredCheckpoint): Promise<void> {
    await this.#write(async (trx) => {
      await trx
        .insertInto('audit_checkpoints')
        .values({ size: c.size, root: c.root.toString('hex'), note: c.note, created_at: c.createdAt })
        .onConflict((oc) => oc.column('size').doNothing())
        .execute();
    });
  }

  async latestCheckpoint(): Promise<StoredCheckpoint | null> {
    const row = await this.#read(
      this.#db
        .selectFrom('audit_checkpoints')
        .selectAll()
        .orderBy('size', 'desc')
        .limit(1)
        .executeTakeFirst(),
    );
    return row === undefined ? null : rowToCheckpoint(row);
  }

  async getCheckpoint(size: number): Promise<StoredCheckpoint | null> {
    const row = await this.#read(
      this.#db.selectFrom('audit_checkpoints').selectAll().where('size', '=', size).executeTakeFirst(),
    );
    return row === undefined ? null : rowToCheckpoint(row);
  }

  async getRequestPayload(requestId: string): Promise<EncryptedPayload | null> {
    const { rows } = await this.#read(
      this.#db.executeQuery<Parameters<typeof rowToPayload>[0]>(this.#q.requestPayload({ id: requestId })),
    );
    const row = rows[0];
    return row === undefined ? null : rowToPayload(row);
  }

  async claimDueDeliveries(now: string, limit: number, leaseMs: number): Promise<OutboxDelivery[]> {
    const leaseUntil = new Date(Date.parse(now) + leaseMs).toISOString();
    return this.#write(async (trx) => {
      const due = await trx
        .selectFrom('outbox')
        .selectAll()
        .where('status', '=', 'pending')
        .where('next_attempt_at', '<=', now)
        .orderBy('next_attempt_at')
        .orderBy('created_at')
        .orderBy('id')
        .limit(limit)
        .execute();
      const claimed: OutboxDelivery[] = [];
      for (const row of due) {
        // Compare-and-set on next_attempt_at: a concurrent claimer that read the same row waits on the
        // row lock (PostgreSQL) and then matches nothing, so each delivery goes to exactly one claimer.
        const result = await trx
          .updateTable('outbox')
          .set({ attempts: Number(row.attempts) + 1, next_attempt_at: leaseUntil, updated_at: now })
          .where('id', '=', row.id)
          .where('status', '=', 'pending')
          .where('next_attempt_at', '=', row.next_attempt_at)
          .executeTakeFirst();
        if (result.numUpdatedRows !== 1n) continue;
        claimed.push(
          rowToDelivery({
            ...row,
            attempts: Number(row.attempts) + 1,
            next_attempt_at: leaseUntil,
            updated_at: now,
          }),
        );
      }
      return claimed;
    });
  }

  async markDelivered(id: string, at: string): Promise<void> {
    await this.#write(async (trx) => {
      await trx
        .updateTable('outbox')
        .set({ status: 'sent', last_error: null, updated_at: at })
        .where('id', '=', id)
        .execute();
    });
  }

  async markFailed(id: string, error: string, nextAttemptAt: string | null, at: string): Promise<void> {
    await this.#write(async (trx) => {
      await trx
        .updateTable('outbox')
        .set({
          status: nextAttemptAt === null ? 'dead' : 'pending',
          ...(nextAttemptAt === null ? {} : { next_attempt_at: nextAttemptAt }),
          last_error: error.slice(0, 2000),
          updated_at: at,
        })
        .where('id', '=', id)
        .where('status', '=', 'pending')
        .execute();
    });
  }

  async listDeliveries(requestId: string): Promise<OutboxDelivery[]> {
    const rows = await this.#read(
      this.#db
        .selectFrom('outbox')
        .selectAll()
        .where('request_id', '=', requestId)
        .orderBy('created_at')
        .orderBy('id')
        .execute(),
    );
    return rows.map(rowToDelivery);
  }

  async saveChannelMessage(m: ChannelMessageRecord): Promise<void> {
    await this.#write(async (trx) => {
      await trx
        .insertInto('channel_messages')
        .values({
          channel: m.channel,
          request_id: m.requestId,
          target: m.target,
          ref: JSON.stringify(m.ref),
        })
        .onConflict((oc) => oc.columns(['channel', 'request_id', 'target']).doNothing())
        .execute();
    });
  }

  async getChannelMessage(
    channel: string,
    requestId: string,
    target: string,
  ): Promise<ChannelMessageRecord | null> {
    const row = await this.#read(
      this.#db
        .selectFrom('channel_messages')
        .selectAll()
        .where('channel', '=', channel)
        .where('request_id', '=', requestId)
        .where('target', '=', target)
        .executeTakeFirst(),
    );
    return row === undefined
      ? null
      : { channel, requestId, target, ref: JSON.parse(row.ref) as Record<string, string> };
  }

  async #insertDeliveries(trx: Transaction<Database>, deliveries: NewDelivery[] | undefined): Promise<void> {
    if (deliveries === undefined || deliveries.length === 0) return;
    await trx
      .insertInto('outbox')
      .values(deliveries.map(deliveryToRow))
      .onConflict((oc) => oc.column('idempotency_key').doNothing())
      .execute();
  }

  async #readNode(db: Kysely<Database>, level: number, idx: number): Promise<Buffer | null> {
    const { rows } = await db.executeQuery<{ hash: string }>(
      this.#q.treeNode({ pos: auditNodeKey(level, idx) }),
    );
    const row = rows[0];
    return row === undefined ? null : Buffer.from(row.hash, 'hex');
  }

  async #selectByIdempotencyKey(
    db: Kysely<Database>,
    requesterId: string,
    key: string,
  ): Promise<ActionRequest | null> {
    const row = await db
      .selectFrom('requests')
      .select(['doc', 'version'])
      .where('requester_id', '=', requesterId)
      .where('idempotency_key', '=', key)
      .executeTakeFirst();
    return row === undefined ? null : rowToRequest(row);
  }

  /** Throws UNAUTHENTICATED (the message authentication gives) unless the key is live at `at`. */
  async #requireLiveKey(trx: Transaction<Database>, key: { id: string; at: string }): Promise<void> {
    const { rows } = await this.#exec<Pick<Database['api_keys'], 'revoked_at' | 'expires_at'>>(
      trx,
      this.#q.apiKeyLiveness({ id: key.id }),
    );
    const row = rows[0];
    const state = row === undefined ? null : { revokedAt: row.revoked_at, expiresAt: row.expires_at };
    if (state === null || !isApiKeyLive(state, Date.parse(key.at)))
      throw new CountersignError('UNAUTHENTICATED', INVALID_API_KEY);
  }

  /** Takes one use; the WHERE makes it atomic, so concurrent consumers never exceed `uses`. */
  async #consumeGrant(trx: Transaction<Database>, grantId: string, now: string): Promise<void> {
    const result = await trx
      .updateTable('grants')
      .set((eb) => ({ used: eb('used', '+', 1) }))
      .where('id', '=', grantId)
      .where((eb) => eb('used', '<', eb.ref('uses')))
      .where('expires_at', '>', now)
      .executeTakeFirst();
    if (result.numUpdatedRows === 0n) {
      // Thrown inside the transaction, so the request insert rolls back with it.
      throw new GrantUnavailable(`grant ${grantId} has no uses or time left`);
    }
  }

  async #appendAudit(trx: Transaction<Database>, events: AuditEventInput[]): Promise<void> {
    if (events.length === 0) return;
    await this.#backend.lockAuditLog(trx);
    const last = await this.#exec<{ seq: number | string | null }>(trx, this.#q.maxSeq({}));
    const first = Number(last.rows[0]?.seq ?? 0) + 1;
    const rows = events.map((event, i) => auditEventToRow(first + i, event));
    const flat: unknown[] = [];
    for (const row of rows) for (const c of AUDIT_COLUMNS) flat.push(row[c]);
    await this.#exec(trx, this.#auditInsert(rows.length)(flat));
    // Their leaves join the tree just before the transaction commits (see #write).
    this.#pendingLeaves(trx).push(...rows);
  }

  /**
   * Adds each event's leaf to the Merkle tree and every perfect subtree it completes: climbing while the
   * node is a right child, parent = H(left sibling, node). Amortized two node writes per leaf, in one
   * insert; the left siblings (O(log n) at worst) in one read. The caller's audit lock keeps leaves gap-free.
   * The leaf is hashed from the row's canonical columns, so it is exactly what export serves.
   */
  async #growTree(trx: Transaction<Database>, rows: AuditEventsTable[]): Promise<void> {
    const firstLeaf = (rows[0]?.seq ?? 1) - 1;
    // Nodes by their key (audit-node-key.ts).
    const known = new Map<number, Buffer>();
    // The left siblings that precede this batch are known up front: read them in one round trip.
    const before: number[] = [];
    for (const row of rows) {
      for (let level = 0, idx = row.seq - 1; idx % 2 === 1; level++, idx = (idx - 1) / 2) {
        if ((idx - 1) * 2 ** level < firstLeaf) before.push(auditNodeKey(level, idx - 1));
      }
    }
    if (before.length > 0) {
      const { rows: found } = await this.#exec<{ pos: number | string; hash: string }>(
        trx,
        this.#treeRead(before.length)(before),
      );
      for (const r of found) known.set(Number(r.pos), Buffer.from(r.hash, 'hex'));
    }
    const nodes: unknown[] = [];
    const put = (key: number, hash: Buffer) => {
      known.set(key, hash);
      nodes.push(key, hash.toString('hex'));
    };
    for (const row of rows) {
      let hash = leafHash(Buffer.from(auditRowLeafText(row), 'utf8'));
      let level = 0;
      let idx = row.seq - 1;
      put(auditNodeKey(level, idx), hash);
      while (idx % 2 === 1) {
        const left = known.get(auditNodeKey(level, idx - 1));
        if (left === undefined) throw new Error(`the audit tree is missing node (${level}, ${idx - 1})`);
        hash = nodeHash(left, hash);
        level++;
        idx = (idx - 1) / 2;
        put(auditNodeKey(level, idx), hash);
      }
    }
    const per = TREE_COLUMNS.length;
    for (let i = 0; i < nodes.length; i += 64 * per) {
      const chunk = nodes.slice(i, i + 64 * per);
      await this.#exec(trx, this.#treeInsert(chunk.length / per)(chunk));
    }
  }

  #treeInsert(n: number): (flat: readonly unknown[]) => CompiledQuery {
    let q = this.#treeInserts.get(n);
    if (q === undefined) {
      q = prepareRows(n, TREE_COLUMNS, (rows) => this.#db.insertInto('audit_nodes').values(rows));
      // A group commit's nodes go in one statement of up to 64 rows (see #growTree).
      if (n <= 64) this.#treeInserts.set(n, q);
    }
    return q;
  }

  #auditInsert(n: number): (flat: readonly unknown[]) => CompiledQuery {
    let q = this.#auditInserts.get(n);
    if (q === undefined) {
      q = prepareRows(n, AUDIT_COLUMNS, (rows) => this.#db.insertInto('audit_events').values(rows));
      if (n <= 8) this.#auditInserts.set(n, q);
    }
    return q;
  }
}

function rowToCheckpoint(row: Database['audit_checkpoints']): StoredCheckpoint {
  return {
    size: Number(row.size),
    root: Buffer.from(row.root, 'hex'),
    note: row.note,
    createdAt: row.created_at,
  };
}
