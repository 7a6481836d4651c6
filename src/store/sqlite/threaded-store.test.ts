/**
 * What the store thread adds to the Store contract (which store-contract.test.ts checks on it like on
 * every backend): values cross the thread boundary intact, another process's changes count at once,
 * and a dead thread fails every call instead of hanging or reporting a write that did not happen.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { spawnStoreThread } from '../../../test/helpers/postgres.js';
import { apiKeyRecord, SYSTEM_ACTOR, systemEvent, TEST_AT } from '../../../test/helpers/records.js';
import { openPayload } from '../../audit/payload-crypto.js';
import { loadConfig } from '../../config/config.js';
import { systemClock } from '../../core/clock.js';
import { CountersignError } from '../../core/errors.js';
import { createApiKey } from '../../identity/api-keys.js';
import { createLogger } from '../../logger.js';
import { startGateway } from '../../server/serve.js';
import { openStore, type OpenStoreOptions } from '../open-store.js';
import type { ApiKeyRecord, Store } from '../store.js';
import { guardStore } from '../unavailable-guard.js';
import type { StoreThreadData } from './thread-protocol.js';
import { ThreadedSqliteStore } from './threaded-store.js';

const AT = TEST_AT;
const event = systemEvent;
const key = (id: string): ApiKeyRecord =>
  apiKeyRecord(id, { kind: 'human', email: `${id}@example.com`, groups: ['platform'] });

describe('SQLite store on its own thread', () => {
  let dir: string;
  const opened: Store[] = [];
  const open = async (thread: OpenStoreOptions['thread']) => {
    const store = await openStore(`sqlite:${join(dir, 'countersign.db')}`, { thread });
    opened.push(store);
    return store;
  };

  /** The gateway on `store` (not listening), with an agent key to submit with. */
  const gatewayOn = async (store: Store) => {
    const config = await loadConfig(null, {
      COUNTERSIGN_STORAGE: `sqlite:${join(dir, 'countersign.db')}`,
      COUNTERSIGN_DATA_DIR: dir,
      COUNTERSIGN_RATE_LIMIT: '0',
    });
    const running = await startGateway(config, createLogger('silent'), { store, listen: false });
    const agent = await createApiKey(
      running.store,
      systemClock,
      { name: 'bot', kind: 'agent', owner: 'alice@example.com' },
      SYSTEM_ACTOR,
    ).catch(async (err: unknown) => {
      await running.close();
      throw err;
    });
    return { running, agent };
  };

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'countersign-thread-'));
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close().catch(() => {})));
    await rm(dir, { recursive: true, force: true });
  });

  it('runs on a store thread and hands back Buffers as Buffers', async () => {
    const store = await open(spawnStoreThread);
    expect(store).toBeInstanceOf(ThreadedSqliteStore);
    await store.appendAuditEvents([event('a'), event('b'), event('c')]);
    const node = await store.auditNode(1, 0);
    expect(Buffer.isBuffer(node)).toBe(true);
    expect(node).toHaveLength(32);
    const nodes = await store.auditNodes([
      [0, 2],
      [1, 0],
    ]);
    expect(nodes.every((n) => Buffer.isBuffer(n))).toBe(true);
    expect(nodes[1]!.equals(node)).toBe(true);

    const root = Buffer.alloc(32, 7);
    await store.saveCheckpoint({ size: 3, root, note: 'note', createdAt: AT });
    const checkpoint = await store.latestCheckpoint();
    expect(Buffer.isBuffer(checkpoint?.root)).toBe(true);
    expect(checkpoint?.root.equals(root)).toBe(true);
  });

  it('answers the writes of one group commit in one message, as soon as they are durable', async () => {
    let replies = 0;
    const counting: typeof spawnStoreThread = (data) => {
      const worker = spawnStoreThread(data);
      worker.on('message', () => replies++);
      return worker;
    };
    const store = await open(counting);
    replies = 0;
    // Made in one turn: they cross in one message and share one commit.
    await Promise.all(Array.from({ length: 20 }, (_, i) => store.appendAuditEvents([event(`e${i}`)])));
    expect(replies).toBe(1);
  });

  it('sees a key revoked by another process (the CLI) at once', async () => {
    const server = await open(spawnStoreThread);
    await server.createApiKey(key('ak_1'), event('key.created'));
    expect((await server.getApiKey('ak_1'))?.revokedAt).toBeNull();

    // `countersign keys revoke` opens the same file on its own connection, in another process.
    const cli = await open(false);
    expect(await cli.revokeApiKey('ak_1', AT, event('key.revoked'))).toBe(true);
    await cli.close();

    expect((await server.getApiKey('ak_1'))?.revokedAt).toBe(AT);
  });

  it('refuses a submission whose key another process revoked, at the write, though the key check before it reads nothing', async () => {
    const store = await open(spawnStoreThread);
    const { running, agent } = await gatewayOn(store);
    try {
      const submit = (headers: Record<string, string> = {}) =>
        running.app.inject({
          method: 'POST',
          url: '/v1/actions',
          headers: { authorization: `Bearer ${agent.token}`, ...headers },
          payload: { action: 'read.logs', resource: 'k8s://prod/api', environment: 'production' },
        });
      expect((await submit()).statusCode).toBe(201);
      const events = await store.countAuditEvents();

      const cli = await open(false);
      expect(await cli.revokeApiKey(agent.record.id, AT, event('key.revoked'))).toBe(true);
      await cli.close();
      // What the check before the handler uses for a submission: the key as read before the revocation.
      expect(store.recentApiKey?.(agent.record.id)?.revokedAt).toBeNull();

      for (const headers of [{}, { 'idempotency-key': 'retry-1' }] as Record<string, string>[]) {
        const refused = await submit(headers);
        expect(refused.statusCode).toBe(401);
        expect(refused.json()).toMatchObject({ error: { code: 'UNAUTHENTICATED' } });
      }
      // Nothing was written for them: only the revocation's own event.
      expect(await store.countAuditEvents()).toBe(events + 1);
      expect(await store.listRequests({ requesterId: agent.record.id })).toHaveLength(1);
    } finally {
      await running.close();
    }
  });

  it('keeps keys it has read until any key changes, from any connection', async () => {
    const server = await open(spawnStoreThread);
    await server.createApiKey(key('ak_1'), event('key.created'));
    const first = await server.getApiKey('ak_1');
    // Kept: the same record, frozen, since every request that uses the key is handed it.
    expect(await server.getApiKey('ak_1')).toBe(first);
    expect(Object.isFrozen(first) && Object.isFrozen(first?.groups)).toBe(true);
    // An id nobody has yet is not kept as missing: once another connection creates it, it is found.
    expect(await server.getApiKey('ak_2')).toBeNull();
    const cli = await open(false);
    await cli.createApiKey(key('ak_2'), event('key.created'));
    expect((await server.getApiKey('ak_2'))?.name).toBe('ak_2');
    // A change to another key still drops what was kept (the counter covers the whole table).
    const again = await server.getApiKey('ak_1');
    expect(again).toEqual(first);
    expect(again).not.toBe(first);
    // Plain SQL counts too (triggers, not the store, move the counter).
    const raw = new Database(join(dir, 'countersign.db'));
    raw.prepare(`update api_keys set groups = '["sre"]' where id = 'ak_1'`).run();
    raw.close();
    expect((await server.getApiKey('ak_1'))?.groups).toEqual(['sre']);
  });

  it('keeps no key once the change counter is gone, so a revocation still counts at once', async () => {
    const server = await open(spawnStoreThread);
    await server.createApiKey(key('ak_1'), event('key.created'));
    const raw = new Database(join(dir, 'countersign.db'));
    raw.prepare('delete from api_key_changes').run();
    expect((await server.getApiKey('ak_1'))?.revokedAt).toBeNull();
    // The triggers now update no row: only reading the key itself can see this.
    raw.prepare(`update api_keys set revoked_at = '${AT}' where id = 'ak_1'`).run();
    raw.close();
    expect((await server.getApiKey('ak_1'))?.revokedAt).toBe(AT);
  });

  it('fails every call in flight and after, with UNAVAILABLE, when the thread dies', async () => {
    let worker: Worker | undefined;
    const store = guardStore(
      await open((data) => {
        worker = spawnStoreThread(data);
        return worker;
      }),
    );
    await store.createApiKey(key('ak_1'), event('key.created'));

    const inFlight = store.countAuditEvents();
    await worker!.terminate();
    await expect(inFlight).rejects.toBeInstanceOf(CountersignError);
    const later = store.appendAuditEvents([event('lost')]);
    await expect(later).rejects.toMatchObject({
      code: 'UNAVAILABLE',
      cause: { message: expect.stringMatching(/store thread stopped unexpectedly/) },
    });
    // Closing a store whose thread is gone is harmless.
    await store.close();
  });

  it('answers submissions 503 UNAVAILABLE, never an allow, once the store thread has died (invariant 6)', async () => {
    let worker: Worker | undefined;
    const store = await open((data) => {
      worker = spawnStoreThread(data);
      return worker;
    });
    const { running, agent } = await gatewayOn(store);
    try {
      const submit = () =>
        running.app.inject({
          method: 'POST',
          url: '/v1/actions',
          headers: { authorization: `Bearer ${agent.token}` },
          payload: { action: 'read.logs', resource: 'k8s://prod/api', environment: 'production' },
        });
      expect((await submit()).statusCode).toBe(201);

      await worker!.terminate();
      const refused = await submit();
      expect(refused.statusCode).toBe(503);
      expect(refused.json()).toMatchObject({ error: { code: 'UNAVAILABLE' } });
      expect((await running.app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(503);
    } finally {
      await running.close();
    }
  });

  it('seals payloads on the thread with the key it was given: what is stored opens to what was submitted', async () => {
    // A key from Node's Buffer pool, as small Buffers are: the thread must get its 32 bytes, not the pool.
    const payloadKey = { id: 'k-thread', key: Buffer.from(randomBytes(32)) };
    expect(payloadKey.key.buffer.byteLength).toBeGreaterThan(32);
    let sent: StoreThreadData | undefined;
    const store = await openStore(`sqlite:${join(dir, 'countersign.db')}`, {
      thread: (data) => {
        sent = data;
        return spawnStoreThread(data);
      },
      payloadKey,
    });
    expect(sent?.payloadKey?.key.buffer.byteLength).toBe(32);
    opened.push(store);
    expect(store.sealsPayloads).toBe(true);
    const { running, agent } = await gatewayOn(store);
    try {
      const submitted = {
        action: 'read.logs',
        resource: 'k8s://prod/api',
        environment: 'production',
        parameters: { lines: 100, note: 'ünïcode ✓' },
        reason: 'why not',
        context: { run: 7 },
      };
      const answer = await running.app.inject({
        method: 'POST',
        url: '/v1/actions',
        headers: { authorization: `Bearer ${agent.token}` },
        payload: submitted,
      });
      expect(answer.statusCode).toBe(201);
      const id = answer.json<{ id: string }>().id;
      const sealed = await store.getRequestPayload(id);
      expect(sealed?.keyId).toBe('k-thread');
      const keyring = { activeId: payloadKey.id, keys: new Map([[payloadKey.id, payloadKey.key]]) };
      expect(openPayload(keyring, id, sealed!)).toEqual({
        parameters: submitted.parameters,
        reason: submitted.reason,
        context: submitted.context,
      });
      // The event names the hash of exactly what was sealed.
      const events = await store.listAuditEvents(0, 100);
      const event = events.find((e) => e.requestId === id && e.type === 'request.submitted');
      expect(event?.data.payloadSha256).toBe(sealed?.sha256);
    } finally {
      await running.close();
    }
  });

  it('refuses a payload to seal when it was opened without a payload key', async () => {
    const store = await open(spawnStoreThread);
    expect(store.sealsPayloads).toBe(false);
    await expect(
      store.insertRequest({ id: 'req_x' } as never, [], { payload: { plaintext: '{}', sha256: 'x' } }),
    ).rejects.toThrow(/opened without a payload key/);
  });

  it('fails only the call that holds a value that cannot be sent, not the others sent with it', async () => {
    const store = await open(spawnStoreThread);
    const bad = { ...key('ak_bad'), name: (() => 'not data') as unknown as string };
    const [good, refused, other] = await Promise.allSettled([
      store.createApiKey(key('ak_1'), event('key.created')),
      store.createApiKey(bad, event('key.created')),
      store.countApiKeys(),
    ]);
    expect(good.status).toBe('fulfilled');
    expect(refused).toMatchObject({ status: 'rejected', reason: { name: 'DataCloneError' } });
    expect(other.status).toBe('fulfilled');
    expect(await store.getApiKey('ak_1')).not.toBeNull();
    expect(await store.getApiKey('ak_bad')).toBeNull();
  });

  it('says why when the database cannot be opened, and still closes', async () => {
    const store = new ThreadedSqliteStore(join(dir, 'missing', 'folder', 'x.db'), spawnStoreThread);
    await expect(store.migrate()).rejects.toThrow(/directory does not exist/);
    await expect(store.close()).resolves.toBeUndefined();
    await expect(store.ping()).rejects.toThrow(/closed/);
  });
});
