/**
 * When checkpoints are signed (every N events, every T when the log grew, at start after a restart),
 * and that the log stays gap-free and verifiable under many concurrent writers.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Checkpointer } from '../../src/audit/checkpointer.js';
import { generateSignerKey, signerFromPrivateKey } from '../../src/audit/note.js';
import { FakeClock } from '../../src/core/clock.js';
import type { AuditEventInput } from '../../src/core/types.js';
import { createLogger } from '../../src/logger.js';
import type { Store } from '../../src/store/store.js';
import { startHarness } from '../helpers/gateway-harness.js';
import { storeBackends, type TestDatabase } from '../helpers/postgres.js';
import { AUDIT_POLICY, leafHashOf, openCheckpoint } from './helpers.js';
import { referenceRoot } from './reference-tree.js';

/** The acceptance: 50 concurrent writers for 10 s, on each backend. */
const CONCURRENT_WRITERS = 50;
const WRITE_DURATION_MS = 10_000;

const ORIGIN = 'countersign.test/audit';

function event(n: number): AuditEventInput {
  return {
    type: 'test.event',
    at: '2026-01-01T00:00:00.000Z',
    requestId: null,
    actor: { id: 'system', kind: 'system', personId: null, channel: 'system' },
    data: { n },
  };
}

async function checkLog(store: Store, note: string, verifierKey: string): Promise<number> {
  const cp = openCheckpoint(note, verifierKey);
  const events = await store.listAuditEvents(0, 10_000_000);
  expect(events.map((e) => e.seq)).toEqual(Array.from({ length: events.length }, (_, i) => i + 1));
  expect(cp.size).toBe(events.length);
  expect(cp.root).toEqual(referenceRoot(events.map(leafHashOf)));
  return cp.size;
}

for (const backend of storeBackends()) {
  describe.skipIf(backend.skip)(`audit checkpoints: ${backend.name}`, () => {
    let db: TestDatabase;
    const signer = signerFromPrivateKey(generateSignerKey(ORIGIN));

    beforeEach(async () => {
      db = await backend.fresh();
    });
    afterEach(async () => {
      await db.cleanup();
    });

    it('signs after every N events, after T when the log grew, and never twice for one size', async () => {
      const store = await db.open();
      const clock = new FakeClock();
      const cp = new Checkpointer({
        store,
        signer,
        origin: ORIGIN,
        clock,
        logger: createLogger('silent'),
        everyEvents: 3,
        intervalMs: 60_000,
      });
      await cp.start();
      cp.stop();
      expect(await store.latestCheckpoint()).toBeNull();
      await store.appendAuditEvents([event(1), event(2)]);
      expect(await cp.tick()).toBeNull();
      await store.appendAuditEvents([event(3)]);
      expect((await cp.tick())?.size).toBe(3);
      await store.appendAuditEvents([event(4)]);
      expect(await cp.tick()).toBeNull();
      clock.advance(60_000);
      const timed = await cp.tick();
      expect(timed?.size).toBe(4);
      clock.advance(120_000);
      expect(await cp.tick()).toBeNull();
      const [a, b] = await Promise.all([cp.checkpoint(), cp.checkpoint()]);
      expect(a).toEqual(b);
      expect(a.note).toBe(timed?.note);
      await checkLog(store, a.note, signer.verifierKey);
    });

    it('covers every event after a restart in the middle of an interval', async () => {
      const audit = {
        signingKey: generateSignerKey(ORIGIN),
        checkpointIntervalMs: 3_600_000,
        checkpointEveryEvents: 1_000_000,
      };
      let h = await startHarness(db, AUDIT_POLICY, { audit });
      const agent = await h.key({ kind: 'agent', name: 'bot' });
      const auditor = await h.key({ email: 'audrey@example.com', roles: ['auditor'] });
      for (let i = 0; i < 3; i++) await h.submit(agent, { action: 'read.a' });
      const first = (await h.call('POST', '/v1/audit/checkpoint', auditor)).body as string;
      for (let i = 0; i < 4; i++) await h.submit(agent, { action: 'read.b' });
      const before = await h.store.auditTreeSize();
      expect((await h.store.latestCheckpoint())?.size).toBeLessThan(before);
      await h.stop();

      h = await startHarness(db, AUDIT_POLICY, { audit });
      try {
        const latest = await h.store.latestCheckpoint();
        expect(latest?.size).toBe(before);
        const key = (await h.call('GET', '/v1/audit/verifier-key', auditor)).body as string;
        expect(openCheckpoint(first, key).size).toBeLessThan(before);
        await checkLog(h.store, latest?.note ?? '', key);
      } finally {
        await h.stop();
      }
    });

    it(
      `keeps seq unique and contiguous under ${CONCURRENT_WRITERS} concurrent writers, and the final checkpoint verifies`,
      async () => {
        const h = await startHarness(db, AUDIT_POLICY, { audit: { checkpointEveryEvents: 250 } });
        try {
          const agent = await h.key({ kind: 'agent', name: 'bot' });
          const auditor = await h.key({ email: 'audrey@example.com', roles: ['auditor'] });
          const stopAt = Date.now() + WRITE_DURATION_MS;
          let failures = 0;
          await Promise.all(
            Array.from({ length: CONCURRENT_WRITERS }, async (_, w) => {
              for (let i = 0; Date.now() < stopAt; i++) {
                const action = i % 2 === 0 ? 'read.data' : 'deploy.run';
                const res = await h.submit(agent, { action, parameters: { w, i } });
                if (res.status !== 201) failures++;
              }
            }),
          );
          expect(failures).toBe(0);
          const note = (await h.call('POST', '/v1/audit/checkpoint', auditor)).body as string;
          const key = (await h.call('GET', '/v1/audit/verifier-key', auditor)).body as string;
          const size = await checkLog(h.store, note, key);
          expect(size).toBeGreaterThan(CONCURRENT_WRITERS * 2);
        } finally {
          await h.stop();
        }
      },
      WRITE_DURATION_MS + 60_000,
    );
  });
}
