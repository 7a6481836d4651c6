import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import type { ActivePayloadKey } from '../../audit/payload-crypto.js';
import { rowToApiKey } from '../rows.js';
import type { ApiKeysTable } from '../schema.js';
import type { ActionRequest, AuditEvent, AuditEventInput, Grant } from '../../core/types.js';
import type {
  ApiKeyRecord,
  ChannelMessageRecord,
  EncryptedPayload,
  InsertRequestOptions,
  NewDelivery,
  OutboxDelivery,
  RequestFilter,
  Store,
  StoredCheckpoint,
} from '../store.js';
import {
  postInOne,
  receiveError,
  receiveResult,
  sendArgs,
  type Call,
  type Reply,
  type StoreMethod,
  type StoreThreadData,
} from './thread-protocol.js';

/** Starts a store thread running store-thread.js (or, in tests, its TypeScript source). */
export type SpawnStoreThread = (data: StoreThreadData) => Worker;

const STORE_THREAD_URL = new URL('./store-thread.js', import.meta.url);

/**
 * Calls sent at once when this many are waiting, without waiting for the end of the turn. Under load the
 * HTTP server reads dozens of requests in one turn; sending their writes only at its end would leave
 * the store thread idle while this one parses them, then this one idle while the store thread commits.
 * Chunks of a few calls keep both busy, and still cost one message per several calls.
 */
const SEND_AT = 8;

/**
 * Starts the compiled store thread; null where this module runs from its TypeScript sources (under
 * vitest), which a worker thread of Node 20 cannot load: tests pass a spawner of their own.
 */
export function compiledStoreThread(): SpawnStoreThread | null {
  if (!existsSync(fileURLToPath(STORE_THREAD_URL))) return null;
  return (data) => new Worker(STORE_THREAD_URL, { workerData: data });
}

/** Keys kept in memory at most; past that the map starts over (deployments have tens, not thousands). */
const MAX_KEPT_KEYS = 10_000;

interface KeyStatements {
  byId: Database.Statement<[string], ApiKeysTable>;
  /** `api_key_changes.n`: moves, by trigger, in every transaction that changes `api_keys`. */
  changes: Database.Statement<[], unknown>;
}

/** A kept key is handed to every request that uses it: none of them may change it for the others. */
function frozenKey(key: ApiKeyRecord): ApiKeyRecord {
  Object.freeze(key.groups);
  Object.freeze(key.roles);
  return Object.freeze(key);
}

interface Pending {
  method: StoreMethod;
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
}

/**
 * A SQLite store whose connection lives on a thread of its own (store-thread.ts), so that SQLite's
 * synchronous work — statements, COMMIT, WAL checkpoints — runs beside the event loop instead of in it.
 * The gateway's HTTP work and its store work then use two cores.
 *
 * It keeps every guarantee of the Store contract, because the store on the thread is the ordinary
 * one: calls run there in the order they are made here, and a call resolves when the store there has
 * resolved it (for a write: committed and fsynced). Calls made in one turn of this event loop travel in
 * one message, which is also what lets the thread group-commit them together.
 *
 * One read stays on this thread: `getApiKey`, which every authenticated HTTP request makes first. It
 * runs on a read-only connection of this thread's own, synchronously, so the request does not wait for
 * a trip to the store thread and back behind a group commit. Keys once read are kept in memory, valid
 * while `api_key_changes.n` stays where it was: triggers move it in every transaction that changes
 * `api_keys`, from any connection (migration 0005). Each call reads that one row (in WAL mode a read
 * sees every committed change), so a revocation made a moment ago by the CLI or by the store thread
 * counts at the next call. It is the one read that does not wait for the fsync of what it saw (see
 * `Store.getApiKey`).
 *
 * If the thread dies, every call in flight and every later call rejects (the gateway answers 503
 * UNAVAILABLE): nothing is reported written that the thread did not report written.
 */
export class ThreadedSqliteStore implements Store {
  readonly kind = 'sqlite' as const;
  /** With a payload key, the thread seals payloads (`PayloadToSeal`) itself, off the event loop. */
  readonly sealsPayloads: boolean;
  readonly #worker: Worker;
  readonly #path: string;
  #keyReads: KeyStatements | null = null;
  /** Keys read so far, valid while `api_key_changes.n` is `#keysAt` (see `getApiKey`). */
  readonly #keys = new Map<string, ApiKeyRecord>();
  #keysAt: unknown = null;
  #reader: Database.Database | null = null;
  readonly #pending = new Map<number, Pending>();
  readonly #exited: Promise<void>;
  #queue: Call[] = [];
  #flushing = false;
  #nextId = 1;
  #stopped: Error | null = null;
  #closing: Promise<void> | null = null;

  constructor(path: string, spawn: SpawnStoreThread, options: { payloadKey?: ActivePayloadKey } = {}) {
    this.#path = path;
    const key = options.payloadKey;
    this.sealsPayloads = key !== undefined;
    // The key is copied to the thread, as an exact copy: a Buffer's clone would carry its whole backing
    // memory, often Node's shared pool (see thread-protocol.ts). It never reaches the database.
    this.#worker = spawn(
      key === undefined ? { path } : { path, payloadKey: { id: key.id, key: new Uint8Array(key.key) } },
    );
    // An idle store does not keep the process alive; one with calls in flight does (see #call).
    this.#worker.unref();
    this.#worker.on('message', (replies: Reply[]) => this.#answer(replies));
    this.#worker.on('error', (err: Error) =>
      this.#stop(new Error(`the SQLite store thread failed: ${err.message}`, { cause: err })),
    );
    this.#exited = new Promise((resolve) => {
      this.#worker.once('exit', (code: number) => {
        this.#stop(
          this.#closing
            ? new Error('the store is closed')
            : new Error(`the SQLite store thread stopped unexpectedly (exit code ${code})`),
        );
        resolve();
      });
    });
  }

  #call<T>(method: StoreMethod, args: unknown[]): Promise<T> {
    if (this.#stopped) return Promise.reject(this.#stopped);
    return new Promise<T>((resolve, reject) => {
      const id = this.#nextId++;
      if (this.#pending.size === 0) this.#worker.ref();
      this.#pending.set(id, { method, resolve: resolve as (value: unknown) => void, reject });
      this.#queue.push({ id, method, args: sendArgs(method, args) });
      if (this.#queue.length >= SEND_AT) this.#flush();
      else if (!this.#flushing) {
        this.#flushing = true;
        // After this turn's I/O callbacks: the calls of every request read off the sockets meanwhile go
        // in the same message.
        setImmediate(this.#flushLater);
      }
    });
  }

  readonly #flush = (): void => {
    const calls = this.#queue;
    this.#queue = [];
    if (calls.length === 0 || this.#stopped) return;
    postInOne(
      (batch) => this.#worker.postMessage(batch),
      calls,
      (call, err) => this.#settle(call.id)?.reject(err),
    );
  };

  readonly #flushLater = (): void => {
    this.#flushing = false;
    this.#flush();
  };

  #settle(id: number): Pending | undefined {
    const pending = this.#pending.get(id);
    this.#pending.delete(id);
    if (this.#pending.size === 0) this.#worker.unref();
    return pending;
  }

  #answer(replies: Reply[]): void {
    for (const r of replies) {
      const pending = this.#settle(r.id);
      if (pending === undefined) continue;
      if (r.ok) pending.resolve(receiveResult(pending.method, r.value));
      else pending.reject(receiveError(r.error));
    }
  }

  #stop(err: Error): void {
    this.#stopped ??= err;
    const stopped = this.#stopped;
    for (const id of [...this.#pending.keys()]) this.#settle(id)?.reject(stopped);
    this.#queue = [];
  }

  /** Closes the database on its thread (after the writes in flight are durable) and ends the thread. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      if (this.#stopped) return;
      try {
        await this.#call('close', []);
      } catch (err) {
        await this.#worker.terminate();
        throw err;
      }
      // The answered call left the worker unreferenced; without this, a process with nothing else to do
      // would end before the thread's exit event, and this promise would never settle.
      this.#worker.ref();
      await this.#exited;
    })().finally(() => {
      this.#reader?.close();
      this.#reader = null;
    });
    return this.#closing;
  }

  migrate(): Promise<void> {
    return this.#call('migrate', []);
  }
  ping(): Promise<void> {
    return this.#call('ping', []);
  }
  createApiKey(key: ApiKeyRecord, event: AuditEventInput): Promise<void> {
    return this.#call('createApiKey', [key, event]);
  }
  getApiKey(id: string): Promise<ApiKeyRecord | null> {
    if (this.#stopped) return Promise.reject(this.#stopped);
    try {
      const { byId, changes } = this.#keyStatements();
      // One row's read instead of the key's: what is kept stays valid while no key has changed since.
      const n = changes.get();
      // Without its row (deleted by hand) the counter no longer moves: keep nothing, read every time.
      const keep = n !== undefined;
      if (n !== this.#keysAt || !keep) {
        this.#keys.clear();
        this.#keysAt = n;
      }
      let key = this.#keys.get(id);
      if (key === undefined) {
        const row = byId.get(id);
        // Unknown ids are not kept: a caller sending made-up ones must not fill this thread's memory.
        if (row === undefined) return Promise.resolve(null);
        key = frozenKey(rowToApiKey(row));
        if (this.#keys.size >= MAX_KEPT_KEYS) this.#keys.clear();
        if (keep) this.#keys.set(id, key);
      }
      return Promise.resolve(key);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }

  /**
   * The key as `getApiKey` last kept it, without reading `api_key_changes` first: no database read at
   * all. Kept keys are dropped when a `getApiKey` call sees a key change, so this misses only changes
   * made since the last such call; the callers it is for check the key again as they write.
   */
  recentApiKey(id: string): ApiKeyRecord | null {
    return this.#stopped ? null : (this.#keys.get(id) ?? null);
  }

  /** Opened at the first use, after the store thread has created and migrated the database. */
  #keyStatements(): KeyStatements {
    if (this.#keyReads === null) {
      // A reader in WAL mode waits for no writer; the timeout only covers SQLite's rare recovery locks,
      // and is short because this connection blocks the event loop while it waits.
      const reader = new Database(this.#path, { readonly: true, fileMustExist: true, timeout: 1_000 });
      try {
        this.#keyReads = {
          byId: reader.prepare<[string], ApiKeysTable>('select * from api_keys where id = ?'),
          changes: reader.prepare<[], unknown>('select n from api_key_changes where id = 1').pluck(),
        };
      } catch (err) {
        reader.close();
        throw err;
      }
      this.#reader = reader;
    }
    return this.#keyReads;
  }
  listApiKeys(): Promise<ApiKeyRecord[]> {
    return this.#call('listApiKeys', []);
  }
  countApiKeys(): Promise<number> {
    return this.#call('countApiKeys', []);
  }
  revokeApiKey(id: string, at: string, event: AuditEventInput): Promise<boolean> {
    return this.#call('revokeApiKey', [id, at, event]);
  }
  insertRequest(
    req: ActionRequest,
    events: AuditEventInput[],
    options?: InsertRequestOptions,
  ): Promise<{ request: ActionRequest; created: boolean }> {
    const answer = this.#call<{ request: ActionRequest | null; created: boolean }>(
      'insertRequest',
      options === undefined ? [req, events] : [req, events, options],
    );
    // The thread sends back only what the caller does not have (see thread-protocol.ts).
    return answer.then(({ request, created }) => ({ request: request ?? req, created }));
  }
  getRequest(id: string): Promise<ActionRequest | null> {
    return this.#call('getRequest', [id]);
  }
  findByIdempotencyKey(requesterId: string, key: string): Promise<ActionRequest | null> {
    return this.#call('findByIdempotencyKey', [requesterId, key]);
  }
  listRequests(filter: RequestFilter): Promise<ActionRequest[]> {
    return this.#call('listRequests', [filter]);
  }
  updateRequest(
    next: ActionRequest,
    events: AuditEventInput[],
    grant?: Grant,
    deliveries?: NewDelivery[],
  ): Promise<void> {
    return this.#call('updateRequest', [next, events, grant, deliveries]);
  }
  listDue(now: string, limit: number): Promise<ActionRequest[]> {
    return this.#call('listDue', [now, limit]);
  }
  nextDeadline(): Promise<string | null> {
    return this.#call('nextDeadline', []);
  }
  findGrants(q: Parameters<Store['findGrants']>[0]): Promise<Grant[]> {
    return this.#call('findGrants', [q]);
  }
  getGrant(id: string): Promise<Grant | null> {
    return this.#call('getGrant', [id]);
  }
  listAuditEvents(after: number, limit: number): Promise<AuditEvent[]> {
    return this.#call('listAuditEvents', [after, limit]);
  }
  countAuditEvents(): Promise<number> {
    return this.#call('countAuditEvents', []);
  }
  appendAuditEvents(events: AuditEventInput[]): Promise<void> {
    return this.#call('appendAuditEvents', [events]);
  }
  auditTreeSize(): Promise<number> {
    return this.#call('auditTreeSize', []);
  }
  auditNode(level: number, idx: number): Promise<Buffer> {
    return this.#call('auditNode', [level, idx]);
  }
  auditNodes(positions: readonly (readonly [number, number])[]): Promise<Buffer[]> {
    return this.#call('auditNodes', [positions]);
  }
  saveCheckpoint(checkpoint: StoredCheckpoint): Promise<void> {
    return this.#call('saveCheckpoint', [checkpoint]);
  }
  latestCheckpoint(): Promise<StoredCheckpoint | null> {
    return this.#call('latestCheckpoint', []);
  }
  getCheckpoint(size: number): Promise<StoredCheckpoint | null> {
    return this.#call('getCheckpoint', [size]);
  }
  getRequestPayload(requestId: string): Promise<EncryptedPayload | null> {
    return this.#call('getRequestPayload', [requestId]);
  }
  claimDueDeliveries(now: string, limit: number, leaseMs: number): Promise<OutboxDelivery[]> {
    return this.#call('claimDueDeliveries', [now, limit, leaseMs]);
  }
  markDelivered(id: string, at: string): Promise<void> {
    return this.#call('markDelivered', [id, at]);
  }
  markFailed(id: string, error: string, nextAttemptAt: string | null, at: string): Promise<void> {
    return this.#call('markFailed', [id, error, nextAttemptAt, at]);
  }
  listDeliveries(requestId: string): Promise<OutboxDelivery[]> {
    return this.#call('listDeliveries', [requestId]);
  }
  saveChannelMessage(message: ChannelMessageRecord): Promise<void> {
    return this.#call('saveChannelMessage', [message]);
  }
  getChannelMessage(
    channel: string,
    requestId: string,
    target: string,
  ): Promise<ChannelMessageRecord | null> {
    return this.#call('getChannelMessage', [channel, requestId, target]);
  }
}
