/**
 * The audit tree kept in the store, on every backend: after any number of appends (one event or several
 * per transaction, also concurrently) the root the store's nodes give equals MTH computed from the leaves.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { leafBytes, toRecord } from '../../src/audit/event.js';
import { leafHash } from '../../src/audit/hash.js';
import { rootAt, verifyConsistency, verifyInclusion } from '../../src/audit/proofs.js';
import { proveConsistency, proveInclusion, storeSubtreeSource } from '../../src/audit/tree-store.js';
import type { AuditEventInput } from '../../src/core/types.js';
import type { Store } from '../../src/store/store.js';
import { storeBackends, type TestDatabase } from '../helpers/postgres.js';
import { apiKeyRecord } from '../helpers/records.js';
import { referenceRoot, rootFromNodes } from './reference-tree.js';

function event(n: number): AuditEventInput {
  return {
    type: 'test.event',
    at: new Date(Date.UTC(2026, 0, 1, 0, 0, n)).toISOString(),
    requestId: null,
    actor: { id: 'system', kind: 'system', personId: null, channel: 'system' },
    // Key order and a unicode string: the leaf is the JCS form, whatever order the object was built in.
    data: { z: n, a: 'ünïcode €', nested: { b: [1, 2.5, null], a: true } },
  };
}

async function leafHashesOf(store: Store): Promise<Buffer[]> {
  const events = await store.listAuditEvents(0, 1_000_000);
  return events.map((e) => leafHash(leafBytes(toRecord(e))));
}

for (const backend of storeBackends()) {
  describe.skipIf(backend.skip)(`audit tree in the store: ${backend.name}`, () => {
    let db: TestDatabase;
    let store: Store;

    beforeEach(async () => {
      db = await backend.fresh();
      store = await db.open();
    });
    afterEach(async () => {
      await db.cleanup();
    });

    it('is empty at first, and its root at every size equals MTH of the leaves', async () => {
      expect(await store.auditTreeSize()).toBe(0);
      const sizes: number[] = [];
      let n = 0;
      // Batches of 1, 2 and 3 events per transaction exercise the in-transaction sibling lookups.
      for (const batch of [1, 1, 2, 3, 1, 3, 2, 1, 1, 3, 2, 2, 1, 3, 1, 1, 2]) {
        await store.appendAuditEvents(Array.from({ length: batch }, () => event(n++)));
        sizes.push(n);
      }
      expect(await store.auditTreeSize()).toBe(n);
      const leaves = await leafHashesOf(store);
      for (let size = 1; size <= n; size++) {
        const root = await rootFromNodes(size, (l, i) => store.auditNode(l, i));
        expect(root.toString('hex'), `size ${size}`).toBe(
          referenceRoot(leaves.slice(0, size)).toString('hex'),
        );
      }
    });

    it('stays gap-free and correct under concurrent appends', async () => {
      await Promise.all(Array.from({ length: 40 }, (_, i) => store.appendAuditEvents([event(i), event(i)])));
      const events = await store.listAuditEvents(0, 1000);
      expect(events.map((e) => e.seq)).toEqual(Array.from({ length: 80 }, (_, i) => i + 1));
      const root = await rootFromNodes(80, (l, i) => store.auditNode(l, i));
      expect(root).toEqual(referenceRoot(await leafHashesOf(store)));
    });

    it('adds the leaves of the writes that committed, and only those, when writes in one commit fail', async () => {
      const key = (id: string) => apiKeyRecord(id, { owner: 'o@example.com' });
      await store.createApiKey(key('ak_taken'), event(0));
      // Sent together, so that on SQLite they share group commits: every third fails (a taken key id),
      // between writes that append two events each.
      const results = await Promise.allSettled(
        Array.from({ length: 30 }, (_, i) =>
          i % 3 === 0
            ? store.createApiKey(key('ak_taken'), event(i))
            : store.appendAuditEvents([event(i), event(i)]),
        ),
      );
      expect(results.filter((r) => r.status === 'rejected')).toHaveLength(10);
      const events = await store.listAuditEvents(0, 1000);
      expect(events.map((e) => e.seq)).toEqual(Array.from({ length: 41 }, (_, i) => i + 1));
      expect(await store.auditTreeSize()).toBe(41);
      const root = await rootFromNodes(41, (l, i) => store.auditNode(l, i));
      expect(root).toEqual(referenceRoot(await leafHashesOf(store)));
    });

    it('serves inclusion and consistency proofs that verify against MTH of the leaves', async () => {
      const n = 37;
      for (let i = 0; i < n; i += 4) {
        await store.appendAuditEvents(Array.from({ length: Math.min(4, n - i) }, (_, j) => event(i + j)));
      }
      const leaves = await leafHashesOf(store);
      const src = storeSubtreeSource(store);
      for (const size of [1, 2, 3, 7, 8, 16, 17, 31, 32, 37]) {
        const root = referenceRoot(leaves.slice(0, size));
        expect(await rootAt(size, src)).toEqual(root);
        for (let index = 0; index < size; index++) {
          const proof = await proveInclusion(store, index, size);
          expect(verifyInclusion(leaves[index] as Buffer, index, size, proof, root), `${index}/${size}`).toBe(
            true,
          );
        }
        for (const from of [1, 2, 5, 8, size]) {
          if (from > size) continue;
          const proof = await proveConsistency(store, from, size);
          const fromRoot = referenceRoot(leaves.slice(0, from));
          expect(verifyConsistency(from, size, proof, fromRoot, root), `${from}->${size}`).toBe(true);
        }
      }
      await expect(proveInclusion(store, 37, 37)).rejects.toMatchObject({ code: 'INVALID_REQUEST' });
      await expect(proveInclusion(store, 0, 38)).rejects.toMatchObject({ code: 'INVALID_REQUEST' });
      await expect(proveConsistency(store, 0, 5)).rejects.toMatchObject({ code: 'INVALID_REQUEST' });
      await expect(proveConsistency(store, 6, 5)).rejects.toMatchObject({ code: 'INVALID_REQUEST' });
    });

    it('reads each proof in one query, the tree size check included', async () => {
      for (let i = 0; i < 37; i += 4) {
        await store.appendAuditEvents(Array.from({ length: Math.min(4, 37 - i) }, (_, j) => event(i + j)));
      }
      const calls = { auditNodes: 0, auditTreeSize: 0 };
      const counted = new Proxy(store, {
        get(target, name) {
          const value = Reflect.get(target, name) as unknown;
          if (typeof value !== 'function') return value;
          return (...args: unknown[]) => {
            if (name === 'auditNodes' || name === 'auditTreeSize') calls[name]++;
            return (value as (...a: unknown[]) => unknown).apply(target, args);
          };
        },
      });
      await proveInclusion(counted, 5, 37);
      await proveConsistency(counted, 9, 37);
      await proveConsistency(counted, 37, 37);
      await proveInclusion(counted, 36, 37);
      expect(calls).toEqual({ auditNodes: 4, auditTreeSize: 0 });
      // Beyond the tree: the failed read is followed by the size read, and the range error wins.
      await expect(proveInclusion(counted, 36, 38)).rejects.toMatchObject({
        code: 'INVALID_REQUEST',
        message: 'size (38) is beyond the current tree size (37)',
      });
      await expect(proveConsistency(counted, 37, 40)).rejects.toMatchObject({
        code: 'INVALID_REQUEST',
        message: 'to (40) is beyond the current tree size (37)',
      });
      expect(calls).toEqual({ auditNodes: 6, auditTreeSize: 2 });
    });

    it('refuses a node of an incomplete subtree', async () => {
      await store.appendAuditEvents([event(1), event(2), event(3)]);
      await expect(store.auditNode(0, 3)).rejects.toThrow(/no complete subtree/);
      await expect(store.auditNode(2, 0)).rejects.toThrow(/no complete subtree/);
      expect(await store.auditNode(1, 0)).toHaveLength(32);
      await expect(
        store.auditNodes([
          [1, 0],
          [0, 3],
        ]),
      ).rejects.toThrow(/no complete subtree/);
      const [a, b] = await store.auditNodes([
        [0, 2],
        [1, 0],
      ]);
      expect(a).toEqual(await store.auditNode(0, 2));
      expect(b).toEqual(await store.auditNode(1, 0));
    });

    it('keeps checkpoints by size, the first one for a size winning', async () => {
      expect(await store.latestCheckpoint()).toBeNull();
      const root = Buffer.alloc(32, 7);
      await store.saveCheckpoint({ size: 3, root, note: 'three', createdAt: '2026-01-01T00:00:00.000Z' });
      await store.saveCheckpoint({ size: 3, root, note: 'again', createdAt: '2026-01-01T00:00:01.000Z' });
      await store.saveCheckpoint({ size: 9, root, note: 'nine', createdAt: '2026-01-01T00:00:02.000Z' });
      expect((await store.getCheckpoint(3))?.note).toBe('three');
      expect(await store.latestCheckpoint()).toEqual({
        size: 9,
        root,
        note: 'nine',
        createdAt: '2026-01-01T00:00:02.000Z',
      });
      expect(await store.getCheckpoint(4)).toBeNull();
    });
  });
}
