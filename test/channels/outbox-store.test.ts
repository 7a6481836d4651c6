/**
 * The outbox part of the Store contract, one body for SQLite and PostgreSQL: deliveries commit with the
 * state change or not at all, and each due delivery is claimed by exactly one worker.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Store } from '../../src/store/store.js';
import { VersionConflict } from '../../src/store/store.js';
import { storeBackends, type TestDatabase } from '../helpers/postgres.js';
import { at, delivery, event, makeRequest, T0 } from './fixtures.js';

for (const backend of storeBackends({ inProcessSqlite: true })) {
  describe.skipIf(backend.skip)(`Store outbox contract: ${backend.label}`, () => {
    let db: TestDatabase | undefined;
    let store: Store;

    beforeEach(async () => {
      db = await backend.fresh();
      store = await db.open();
    });
    afterEach(async () => {
      await db?.cleanup();
      db = undefined;
    });

    it('writes deliveries with the request insert, and none for an idempotent replay', async () => {
      const req = makeRequest({ idempotencyKey: 'k1' });
      const d = delivery(req.id);
      await store.insertRequest(req, [event('request.submitted', req.id)], { deliveries: [d] });
      const again = makeRequest({ idempotencyKey: 'k1' });
      const replay = await store.insertRequest(again, [event('request.submitted', again.id)], {
        deliveries: [delivery(again.id)],
      });
      expect(replay.created).toBe(false);
      const stored = await store.listDeliveries(req.id);
      expect(stored).toEqual([
        { ...d, status: 'pending', attempts: 0, nextAttemptAt: T0, lastError: null, updatedAt: T0 },
      ]);
      expect(await store.listDeliveries(again.id)).toEqual([]);
    });

    it('writes deliveries with an update, and nothing when the compare-and-set loses', async () => {
      const req = makeRequest();
      await store.insertRequest(req, [event('request.submitted', req.id)]);
      const next = { ...req, version: 2 };
      await store.updateRequest(next, [event('request.reviewed', req.id)], undefined, [
        delivery(req.id, { kind: 'request.reviewed' }),
      ]);
      await expect(
        store.updateRequest(next, [event('request.reviewed', req.id)], undefined, [
          delivery(req.id, { kind: 'request.reviewed' }),
        ]),
      ).rejects.toBeInstanceOf(VersionConflict);
      expect((await store.listDeliveries(req.id)).map((d) => d.kind)).toEqual(['request.reviewed']);
      // Still backward compatible: no deliveries argument at all.
      await store.updateRequest({ ...req, version: 3 }, [event('request.reviewed', req.id)]);
    });

    it('skips a delivery whose idempotency key exists already', async () => {
      const req = makeRequest();
      await store.insertRequest(req, [], { deliveries: [delivery(req.id, { idempotencyKey: 'same' })] });
      await store.updateRequest({ ...req, version: 2 }, [], undefined, [
        delivery(req.id, { idempotencyKey: 'same', kind: 'request.decided' }),
      ]);
      expect((await store.listDeliveries(req.id)).map((d) => d.kind)).toEqual(['request.created']);
    });

    it('claims due deliveries under a lease, then marks them sent, retried or dead', async () => {
      const req = makeRequest();
      const [a, b, later] = [
        delivery(req.id),
        delivery(req.id, { kind: 'request.reviewed', createdAt: at(1) }),
        delivery(req.id, { kind: 'request.decided', createdAt: at(60_000) }),
      ];
      await store.insertRequest(req, [], { deliveries: [a, b, later] });
      const claimed = await store.claimDueDeliveries(at(10), 10, 30_000);
      expect(claimed.map((d) => d.id)).toEqual([a?.id, b?.id]);
      expect(claimed[0]).toMatchObject({ attempts: 1, nextAttemptAt: at(30_010) });
      // Leased: nobody else gets them until the lease runs out.
      expect(await store.claimDueDeliveries(at(20), 10, 30_000)).toEqual([]);

      await store.markDelivered(a.id, at(30));
      await store.markFailed(b.id, 'slack is down', at(5_000), at(30));
      const due = await store.claimDueDeliveries(at(5_000), 10, 30_000);
      expect(due.map((d) => [d.id, d.attempts, d.lastError])).toEqual([[b?.id, 2, 'slack is down']]);
      await store.markFailed(b.id, 'still down', null, at(5_001));

      const byId = new Map((await store.listDeliveries(req.id)).map((d) => [d.id, d]));
      expect(byId.get(a.id)?.status).toBe('sent');
      expect(byId.get(b.id)).toMatchObject({ status: 'dead', lastError: 'still down' });
      expect(byId.get(later.id)?.status).toBe('pending');
      // Final states are never claimed again, even after any lease.
      expect((await store.claimDueDeliveries(at(120_000), 10, 1)).map((d) => d.id)).toEqual([later?.id]);
    });

    it('hands each due delivery to exactly one of many concurrent claimers', async () => {
      const req = makeRequest();
      const all = Array.from({ length: 20 }, (_, i) =>
        delivery(req.id, { idempotencyKey: `k${i}`, createdAt: at(i) }),
      );
      await store.insertRequest(req, [], { deliveries: all });
      // Separate connections on PostgreSQL; one connection (serialized writes) on SQLite.
      const others = backend.name === 'postgres' ? [await db!.open(), await db!.open()] : [store, store];
      const ids: string[] = [];
      for (let round = 0; round < 20 && ids.length < 20; round++) {
        const claims = await Promise.all(
          [store, ...others, store, ...others].map((s) => s.claimDueDeliveries(at(1_000), 7, 60_000)),
        );
        ids.push(...claims.flat().map((d) => d.id));
      }
      expect(ids.length).toBe(20);
      expect(new Set(ids).size).toBe(20);
    });

    it('remembers the message a channel posted for each request and target, first one wins', async () => {
      const req = makeRequest();
      await store.insertRequest(req, []);
      await store.saveChannelMessage({
        channel: 'slack',
        requestId: req.id,
        target: '#ops',
        ref: { channel: 'C1', ts: '1.1' },
      });
      await store.saveChannelMessage({
        channel: 'slack',
        requestId: req.id,
        target: '#ops',
        ref: { channel: 'C1', ts: '2.2' },
      });
      expect(await store.getChannelMessage('slack', req.id, '#ops')).toEqual({
        channel: 'slack',
        requestId: req.id,
        target: '#ops',
        ref: { channel: 'C1', ts: '1.1' },
      });
      expect(await store.getChannelMessage('slack', req.id, '#other')).toBeNull();
      expect(await store.getChannelMessage('teams', req.id, '#ops')).toBeNull();
    });
  });
}
