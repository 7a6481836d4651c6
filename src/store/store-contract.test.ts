/**
 * The Store contract, one body run against every backend (SQLite on a real file, PostgreSQL in a schema
 * of its own). The concurrency tests try to break the guarantees written on the `Store` interface.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { storeBackends } from '../../test/helpers/postgres.js';
import type { TestDatabase } from '../../test/helpers/postgres.js';
import type { ActionRequest, AuditEventInput, Grant } from '../core/types.js';
import { GrantUnavailable, VersionConflict } from './store.js';
import type { ApiKeyRecord, Store } from './store.js';

const T0 = '2026-01-01T00:00:00.000Z';
const at = (minutes: number): string => new Date(Date.parse(T0) + minutes * 60_000).toISOString();

let counter = 0;
const nextId = (prefix: string): string => `${prefix}_${++counter}`;

function makeRequest(overrides: Partial<ActionRequest> = {}): ActionRequest {
  return {
    id: nextId('req'),
    status: 'pending',
    action: 'service.restart',
    resource: 'k8s://prod/deploy/api',
    environment: 'production',
    parameters: { replicas: 3, nested: { list: [1, 'two', null] } },
    reason: 'rollout stuck',
    context: { pipeline: 'deploy#42' },
    requester: {
      id: 'agent:deploy-bot',
      kind: 'agent',
      name: 'deploy-bot',
      email: null,
      owner: 'alice@example.com',
      groups: [],
      personId: null,
    },
    onBehalfOf: null,
    digest: 'sha256:00',
    policy: { version: 'sha256:11', rule: 'prod-restarts', effect: 'require_approval', explanation: 'prod' },
    approval: {
      approvers: ['group:sre'],
      quorum: 1,
      require: [],
      timeoutMs: 30 * 60_000,
      onTimeout: 'deny',
      grant: null,
      stepUp: false,
      expiresAt: at(30),
      reviews: [],
    },
    mask: [],
    notify: [],
    dlp: { findings: [], classes: [], externalDestination: false },
    createdAt: T0,
    decidedAt: null,
    decidedBy: null,
    idempotencyKey: null,
    version: 1,
    ...overrides,
  };
}

function event(
  type: string,
  requestId: string | null = null,
  data: Record<string, unknown> = {},
): AuditEventInput {
  return {
    type,
    at: T0,
    requestId,
    actor: { id: 'system', kind: 'system', personId: null, channel: 'system' },
    data,
  };
}

function makeGrant(request: ActionRequest, overrides: Partial<Grant> = {}): Grant {
  return {
    id: nextId('grant'),
    requestId: request.id,
    requesterId: request.requester.id,
    action: request.action,
    resource: request.resource,
    environment: request.environment,
    uses: 3,
    used: 0,
    expiresAt: at(60),
    createdAt: T0,
    ...overrides,
  };
}

function makeApiKey(overrides: Partial<ApiKeyRecord> = {}): ApiKeyRecord {
  return {
    id: nextId('key'),
    tokenHash: 'ab'.repeat(32),
    name: 'deploy-bot',
    kind: 'agent',
    email: null,
    groups: ['ci'],
    roles: [],
    owner: 'alice@example.com',
    createdAt: T0,
    expiresAt: null,
    revokedAt: null,
    ...overrides,
  };
}

/** Approves `req` (version n -> n+1), optionally opening a grant. */
function approved(req: ActionRequest): ActionRequest {
  return {
    ...req,
    status: 'approved',
    decidedAt: at(1),
    decidedBy: 'bob@example.com',
    version: req.version + 1,
  };
}

async function allEvents(store: Store) {
  return store.listAuditEvents(0, 100_000);
}

/** Stores an approved request with a live grant of `uses`, returning the grant. */
async function storeGrant(store: Store, uses: number, expiresAt = at(60)): Promise<Grant> {
  const origin = makeRequest();
  await store.insertRequest(origin, [event('request.created', origin.id)]);
  const grant = makeGrant(origin, { uses, expiresAt });
  await store.updateRequest(approved(origin), [event('request.approved', origin.id)], grant);
  return grant;
}

for (const backend of storeBackends({ inProcessSqlite: true })) {
  describe.skipIf(backend.skip)(`Store contract: ${backend.label}`, () => {
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

    it('reports its kind, answers ping, and migrates again harmlessly', async () => {
      expect(store.kind).toBe(backend.name);
      await store.ping();
      const req = makeRequest();
      await store.insertRequest(req, [event('request.created', req.id)]);
      await store.migrate();
      expect(await store.getRequest(req.id)).toEqual(req);
    });

    it('creates, reads, lists, counts and revokes API keys, auditing each change', async () => {
      const a = makeApiKey({
        roles: ['admin', 'auditor'],
        kind: 'human',
        email: 'a@example.com',
        owner: null,
      });
      const b = makeApiKey({ createdAt: at(1), expiresAt: at(60) });
      await store.createApiKey(a, event('key.created', null, { id: a.id }));
      await store.createApiKey(b, event('key.created', null, { id: b.id }));

      expect(await store.getApiKey(a.id)).toEqual(a);
      expect(await store.getApiKey('key_missing')).toBeNull();
      expect(await store.listApiKeys()).toEqual([a, b]);
      expect(await store.countApiKeys()).toBe(2);

      expect(await store.revokeApiKey(a.id, at(5), event('key.revoked', null, { id: a.id }))).toBe(true);
      expect(await store.revokeApiKey(a.id, at(6), event('key.revoked', null, { id: a.id }))).toBe(false);
      expect(await store.revokeApiKey('key_missing', at(6), event('key.revoked'))).toBe(false);
      expect((await store.getApiKey(a.id))?.revokedAt).toBe(at(5));

      const events = await allEvents(store);
      expect(events.map((e) => [e.seq, e.type])).toEqual([
        [1, 'key.created'],
        [2, 'key.created'],
        [3, 'key.revoked'],
      ]);
    });

    it('writes a request with liveKey only while that key is live, checked in the write itself', async () => {
      const live = makeApiKey();
      const revoked = makeApiKey();
      const expiring = makeApiKey({ expiresAt: at(10) });
      for (const k of [live, revoked, expiring]) await store.createApiKey(k, event('key.created'));
      await store.revokeApiKey(revoked.id, at(1), event('key.revoked'));
      const before = await store.countAuditEvents();

      const ok = makeRequest();
      const written = await store.insertRequest(ok, [event('request.created', ok.id)], {
        liveKey: { id: live.id, at: at(2) },
      });
      expect(written.created).toBe(true);
      expect(
        (
          await store.insertRequest(makeRequest(), [event('request.created')], {
            liveKey: { id: expiring.id, at: at(9) },
          })
        ).created,
      ).toBe(true);

      for (const liveKey of [
        { id: revoked.id, at: at(2) },
        { id: expiring.id, at: at(10) },
        { id: 'key_missing', at: at(2) },
      ]) {
        const req = makeRequest();
        const refused = store.insertRequest(req, [event('request.created', req.id)], { liveKey });
        await expect(refused, liveKey.id).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
        expect(await store.getRequest(req.id)).toBeNull();
      }
      // Two requests written, with one event each; the three refused wrote nothing.
      expect(await store.countAuditEvents()).toBe(before + 2);
    });

    it('refuses a duplicate API key id and writes no event for it', async () => {
      const a = makeApiKey();
      await store.createApiKey(a, event('key.created'));
      await expect(store.createApiKey({ ...a }, event('key.created'))).rejects.toThrow();
      expect(await store.countAuditEvents()).toBe(1);
    });

    it('round-trips a request and its audit events exactly', async () => {
      const req = makeRequest({ onBehalfOf: { email: 'frank@example.com', verified: false } });
      const ev = event('request.created', req.id, { digest: req.digest, n: 1, deep: { ok: true } });
      const result = await store.insertRequest(req, [ev]);
      expect(result).toEqual({ request: req, created: true });
      expect(await store.getRequest(req.id)).toEqual(req);
      expect(await store.getRequest('req_missing')).toBeNull();
      expect(await allEvents(store)).toEqual([{ ...ev, seq: 1 }]);
      expect(await store.countAuditEvents()).toBe(1);
    });

    it('lists requests by status and requester, newest first, with a limit', async () => {
      const r1 = makeRequest({ createdAt: at(1) });
      const r2 = makeRequest({ createdAt: at(2), status: 'approved' });
      const r3 = makeRequest({ createdAt: at(3), requester: { ...makeRequest().requester, id: 'svc:ci' } });
      for (const r of [r1, r2, r3]) await store.insertRequest(r, []);

      expect((await store.listRequests({})).map((r) => r.id)).toEqual([r3.id, r2.id, r1.id]);
      expect((await store.listRequests({ status: 'pending' })).map((r) => r.id)).toEqual([r3.id, r1.id]);
      expect((await store.listRequests({ requesterId: 'svc:ci' })).map((r) => r.id)).toEqual([r3.id]);
      expect((await store.listRequests({ status: 'pending', limit: 1 })).map((r) => r.id)).toEqual([r3.id]);
    });

    it('updates by compare-and-set on version', async () => {
      const req = makeRequest();
      await store.insertRequest(req, [event('request.created', req.id)]);
      const next = approved(req);
      await store.updateRequest(next, [event('request.approved', req.id)]);
      expect(await store.getRequest(req.id)).toEqual(next);

      // The same transition again is stale now.
      await expect(store.updateRequest(next, [event('request.approved', req.id)])).rejects.toBeInstanceOf(
        VersionConflict,
      );
      await expect(store.updateRequest(makeRequest({ version: 2 }), [])).rejects.toBeInstanceOf(
        VersionConflict,
      );
      expect(await store.countAuditEvents()).toBe(2);
    });

    it('lets exactly one of 50 concurrent updates with the same expected version win', async () => {
      const req = makeRequest();
      await store.insertRequest(req, [event('request.created', req.id)]);
      const outcomes = await Promise.allSettled(
        Array.from({ length: 50 }, (_, i) =>
          store.updateRequest({ ...approved(req), decidedBy: `reviewer-${i}` }, [
            event('request.approved', req.id, { i }),
          ]),
        ),
      );
      const won = outcomes.filter((o) => o.status === 'fulfilled');
      const lost = outcomes.filter((o) => o.status === 'rejected');
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(49);
      for (const o of lost) expect(o.reason).toBeInstanceOf(VersionConflict);

      const events = (await allEvents(store)).filter((e) => e.type === 'request.approved');
      expect(events).toHaveLength(1);
      const stored = await store.getRequest(req.id);
      expect(stored?.version).toBe(2);
      expect(stored?.decidedBy).toBe(`reviewer-${String(events[0]?.data.i)}`);
    });

    it('returns the stored request for a repeated idempotency key, per requester', async () => {
      const first = makeRequest({ idempotencyKey: 'k1' });
      await store.insertRequest(first, [event('request.created', first.id)]);
      const retry = makeRequest({ idempotencyKey: 'k1' });
      expect(await store.insertRequest(retry, [event('request.created', retry.id)])).toEqual({
        request: first,
        created: false,
      });
      expect(await store.getRequest(retry.id)).toBeNull();
      // A retry that reuses the request id too (a client replaying its exact call).
      expect(await store.insertRequest({ ...first }, [event('request.created', first.id)])).toEqual({
        request: first,
        created: false,
      });
      expect(await store.findByIdempotencyKey(first.requester.id, 'k1')).toEqual(first);
      expect(await store.findByIdempotencyKey(first.requester.id, 'k2')).toBeNull();

      const other = makeRequest({ idempotencyKey: 'k1', requester: { ...first.requester, id: 'svc:other' } });
      expect((await store.insertRequest(other, [])).created).toBe(true);
      // Requests without a key never collide.
      await store.insertRequest(makeRequest(), []);
      await store.insertRequest(makeRequest(), []);
      expect(await store.countAuditEvents()).toBe(1);
    });

    it('inserts one row when 20 callers race with the same idempotency key', async () => {
      const results = await Promise.all(
        Array.from({ length: 20 }, () => {
          const req = makeRequest({ idempotencyKey: 'race' });
          return store.insertRequest(req, [event('request.created', req.id)]);
        }),
      );
      expect(results.filter((r) => r.created)).toHaveLength(1);
      const ids = new Set(results.map((r) => r.request.id));
      expect(ids.size).toBe(1);
      expect(await store.listRequests({})).toHaveLength(1);
      expect(await store.countAuditEvents()).toBe(1);
    });

    it('opens a grant with an approval and finds it while it is live', async () => {
      const grant = await storeGrant(store, 2);
      expect(await store.getGrant(grant.id)).toEqual(grant);
      expect(await store.getGrant('grant_missing')).toBeNull();
      const q = {
        requesterId: grant.requesterId,
        action: grant.action,
        resource: grant.resource,
        environment: grant.environment,
        now: at(10),
      };
      expect(await store.findGrants(q)).toEqual([grant]);
      expect(await store.findGrants({ ...q, now: at(60) })).toEqual([]);
      expect(await store.findGrants({ ...q, resource: 'k8s://prod/deploy/web' })).toEqual([]);
      expect(await store.findGrants({ ...q, requesterId: 'svc:other' })).toEqual([]);

      for (let i = 0; i < 2; i++) {
        const req = makeRequest({ status: 'approved', decidedBy: grant.id, createdAt: at(5) });
        await store.insertRequest(req, [event('request.approved', req.id)], { consumeGrantId: grant.id });
      }
      expect((await store.getGrant(grant.id))?.used).toBe(2);
      expect(await store.findGrants(q)).toEqual([]);
    });

    it('inserts a grant together with a new request', async () => {
      const req = makeRequest({ status: 'approved' });
      const grant = makeGrant(req);
      await store.insertRequest(req, [event('request.approved', req.id)], { grant });
      expect(await store.getGrant(grant.id)).toEqual(grant);
    });

    it('lets exactly 3 of 20 concurrent inserts consume a grant of 3 uses', async () => {
      const grant = await storeGrant(store, 3);
      const eventsBefore = await store.countAuditEvents();
      const attempts = Array.from({ length: 20 }, () =>
        makeRequest({ status: 'approved', createdAt: at(5) }),
      );
      const outcomes = await Promise.allSettled(
        attempts.map((req) =>
          store.insertRequest(req, [event('request.approved', req.id)], { consumeGrantId: grant.id }),
        ),
      );
      expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(3);
      for (const o of outcomes)
        if (o.status === 'rejected') expect(o.reason).toBeInstanceOf(GrantUnavailable);
      expect((await store.getGrant(grant.id))?.used).toBe(3);
      expect(await store.listRequests({ status: 'approved' })).toHaveLength(3 + 1);
      expect(await store.countAuditEvents()).toBe(eventsBefore + 3);
    });

    it('rolls back the whole transaction, events included, when a grant is unavailable', async () => {
      const grant = await storeGrant(store, 1, at(10));
      const before = await allEvents(store);
      const late = makeRequest({ createdAt: at(10) }); // expiry is exclusive
      await expect(
        store.insertRequest(late, [event('request.approved', late.id)], { consumeGrantId: grant.id }),
      ).rejects.toBeInstanceOf(GrantUnavailable);
      const unknown = makeRequest();
      await expect(
        store.insertRequest(unknown, [event('request.approved', unknown.id)], {
          consumeGrantId: 'grant_missing',
        }),
      ).rejects.toBeInstanceOf(GrantUnavailable);

      expect(await store.getRequest(late.id)).toBeNull();
      expect(await store.getRequest(unknown.id)).toBeNull();
      expect((await store.getGrant(grant.id))?.used).toBe(0);
      expect(await allEvents(store)).toEqual(before);
    });

    it('keeps audit seq contiguous, in commit order, with no interleaving, under 20 concurrent writers', async () => {
      const writers = Array.from({ length: 20 }, () => makeRequest());
      await Promise.all(
        writers.map((req) =>
          store.insertRequest(
            req,
            Array.from({ length: 10 }, (_, i) => event('test.step', req.id, { i })),
          ),
        ),
      );
      const events = await allEvents(store);
      expect(events.map((e) => e.seq)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
      // Each transaction's events are one contiguous run, in the order it wrote them.
      for (let start = 0; start < 200; start += 10) {
        const run = events.slice(start, start + 10);
        expect(new Set(run.map((e) => e.requestId)).size).toBe(1);
        expect(run.map((e) => e.data.i)).toEqual(Array.from({ length: 10 }, (_, i) => i));
      }
      expect((await store.listAuditEvents(195, 3)).map((e) => e.seq)).toEqual([196, 197, 198]);
      expect(await store.listAuditEvents(200, 10)).toEqual([]);
    });

    it('lists due pending requests by deadline and reports the next deadline', async () => {
      expect(await store.nextDeadline()).toBeNull();
      const withDeadline = (minutes: number, status: ActionRequest['status'] = 'pending'): ActionRequest => {
        const base = makeRequest({ status });
        return { ...base, approval: base.approval && { ...base.approval, expiresAt: at(minutes) } };
      };
      const late = withDeadline(20);
      const early = withDeadline(10);
      const middle = withDeadline(15);
      const settled = withDeadline(5, 'denied');
      const noApproval = makeRequest({ status: 'approved', approval: null });
      for (const r of [late, early, middle, settled, noApproval]) await store.insertRequest(r, []);

      expect(await store.nextDeadline()).toBe(at(10));
      expect(await store.listDue(at(9), 10)).toEqual([]);
      expect((await store.listDue(at(15), 10)).map((r) => r.id)).toEqual([early.id, middle.id]);
      expect((await store.listDue(at(60), 2)).map((r) => r.id)).toEqual([early.id, middle.id]);

      await store.updateRequest({ ...early, status: 'expired', version: 2 }, [
        event('request.expired', early.id),
      ]);
      expect(await store.nextDeadline()).toBe(at(15));
      expect((await store.listDue(at(60), 10)).map((r) => r.id)).toEqual([middle.id, late.id]);
    });

    it('keeps everything across close and reopen', async () => {
      const key = makeApiKey();
      await store.createApiKey(key, event('key.created'));
      const req = makeRequest({ idempotencyKey: 'persist' });
      await store.insertRequest(req, [event('request.created', req.id)]);
      const grant = await storeGrant(store, 2);
      const events = await allEvents(store);
      await store.close();

      if (db === undefined) throw new Error('beforeEach opened no database');
      const reopened = await db.open();
      expect(await reopened.getApiKey(key.id)).toEqual(key);
      expect(await reopened.getRequest(req.id)).toEqual(req);
      expect(await reopened.findByIdempotencyKey(req.requester.id, 'persist')).toEqual(req);
      expect(await reopened.getGrant(grant.id)).toEqual(grant);
      expect(await reopened.nextDeadline()).toBe(at(30));
      expect(await allEvents(reopened)).toEqual(events);
      // seq continues where it left off.
      await reopened.insertRequest(makeRequest(), [event('request.created')]);
      expect((await allEvents(reopened)).at(-1)?.seq).toBe(events.length + 1);
    });
  });
}
