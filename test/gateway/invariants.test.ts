/**
 * DESIGN.md's invariants, attacked through the HTTP API on every store backend.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../../src/core/clock.js';
import { startHarness, type Harness } from '../helpers/gateway-harness.js';
import { storeBackends, type TestDatabase } from '../helpers/postgres.js';

const POLICY = `
version: 1
defaults:
  effect: require_approval
  approval: { approvers: [group:platform], quorum: 1, timeout: 1h, on_timeout: deny }
rules:
  - name: prod-restarts
    when: action == "service.restart" && environment == "production"
    effect: require_approval
    approval: { approvers: [group:platform], quorum: 2, timeout: 30m, on_timeout: deny }
  - name: db-migrations
    when: action == "db.migrate"
    effect: require_approval
    approval:
      approvers: [group:sre, group:dba]
      quorum: 2
      require: [{ group: sre, count: 1 }, { group: dba, count: 1 }]
  - name: token-escalation
    when: action == "github.token.escalate"
    effect: require_approval
    approval: { approvers: [group:platform], quorum: 1, grant: { ttl: 1h, uses: 3 } }
  - name: quick-expiry
    when: action == "quick.thing"
    effect: require_approval
    approval: { approvers: [group:platform], quorum: 1, timeout: 1s }
  - name: reads-are-free
    when: action.startsWith("read.")
    effect: allow
  - name: breaks-at-runtime
    when: action == "data.export" && parameters.destination.startsWith("s3://public-")
    effect: allow
`;

const restart = {
  action: 'service.restart',
  resource: 'k8s://prod/deploy/api',
  environment: 'production',
  reason: 'fix',
};

for (const backend of storeBackends()) {
  describe.skipIf(backend.skip)(`invariants on ${backend.name}`, () => {
    let db: TestDatabase;
    let h: Harness;
    let agent: string;
    let alice: string;
    let bob: string;
    let dana: string;

    beforeEach(async () => {
      db = await backend.fresh();
      h = await startHarness(db, POLICY);
      agent = await h.key({ name: 'deploy-bot', kind: 'agent', owner: 'dana@example.com' });
      alice = await h.key({ email: 'alice@example.com', groups: ['platform', 'sre'] });
      bob = await h.key({ email: 'bob@example.com', groups: ['platform'] });
      dana = await h.key({ email: 'dana@example.com', groups: ['platform'] });
    });
    afterEach(async () => {
      await h.stop();
      await db.cleanup();
    });

    it('walks the happy path: pending, two distinct approvals, approved', async () => {
      const sub = await h.submit(agent, restart);
      expect(sub.status).toBe(201);
      expect(sub.body.status).toBe('pending');
      expect(sub.body.policy.rule).toBe('prod-restarts');
      expect(sub.body.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
      const id = sub.body.id as string;
      const first = await h.approve(alice, id);
      expect(first.status).toBe(200);
      expect(first.body.status).toBe('pending');
      const second = await h.approve(bob, id);
      expect(second.body.status).toBe('approved');
      expect(second.body.decidedBy).toBe('bob@example.com');
      expect(await h.auditTypes(id)).toEqual([
        'request.submitted',
        'request.reviewed',
        'request.reviewed',
        'request.approved',
      ]);
    });

    it('refuses self-approval by the requester, even an admin', async () => {
      const admin = await h.key({ email: 'root@example.com', groups: ['platform'], roles: ['admin'] });
      const sub = await h.submit(admin, restart);
      const r = await h.approve(admin, sub.body.id);
      expect(r.status).toBe(403);
      expect(r.body.error.code).toBe('SELF_APPROVAL_FORBIDDEN');
      expect((await h.call('GET', `/v1/requests/${sub.body.id}`, admin)).body.approval.reviews).toEqual([]);
    });

    it('refuses the owner of the requesting agent', async () => {
      const sub = await h.submit(agent, restart);
      const r = await h.approve(dana, sub.body.id);
      expect(r.status).toBe(403);
      expect(r.body.error.code).toBe('SELF_APPROVAL_FORBIDDEN');
      // The attempt changes no state, but it is evidence for auditors: one review.refused event.
      expect(await h.auditTypes(sub.body.id)).toEqual(['request.submitted', 'review.refused']);
      const [refused] = (await h.store.listAuditEvents(0, 100)).filter((e) => e.type === 'review.refused');
      expect(refused?.actor.personId).toBe('dana@example.com');
      expect(refused?.data).toEqual({ verdict: 'approve', code: 'SELF_APPROVAL_FORBIDDEN' });
      expect((await h.store.getRequest(sub.body.id))?.version).toBe(1);
    });

    it('refuses the onBehalfOf person, verified or not', async () => {
      const sub = await h.submit(agent, { ...restart, onBehalfOf: 'Bob@Example.com' });
      expect(sub.body.onBehalfOf).toEqual({ email: 'bob@example.com', verified: false });
      const r = await h.approve(bob, sub.body.id);
      expect(r.body.error.code).toBe('SELF_APPROVAL_FORBIDDEN');
    });

    it('refuses agents and services as reviewers, including the requesting agent itself', async () => {
      const sub = await h.submit(agent, restart);
      expect((await h.approve(agent, sub.body.id)).body.error.code).toBe('SELF_APPROVAL_FORBIDDEN');
      const other = await h.key({ kind: 'agent', owner: 'zed@example.com', groups: ['platform'] });
      const svc = await h.key({ kind: 'service', groups: ['platform'] });
      for (const t of [other, svc]) {
        const r = await h.approve(t, sub.body.id);
        expect(r.status).toBe(403);
        expect(r.body.error.code).toBe('NOT_AN_APPROVER');
      }
    });

    it('gives admins no bypass: an admin outside the approvers cannot approve', async () => {
      const admin = await h.key({ email: 'root@example.com', roles: ['admin'] });
      const sub = await h.submit(agent, restart);
      const r = await h.approve(admin, sub.body.id);
      expect(r.body.error.code).toBe('NOT_AN_APPROVER');
    });

    it('counts one person once, whatever key they use', async () => {
      const alice2 = await h.key({ email: 'ALICE@example.com', groups: ['platform'] });
      const sub = await h.submit(agent, restart);
      expect((await h.approve(alice, sub.body.id)).status).toBe(200);
      const again = await h.approve(alice2, sub.body.id);
      expect(again.status).toBe(409);
      expect(again.body.error.code).toBe('ALREADY_REVIEWED');
      expect((await h.call('GET', `/v1/requests/${sub.body.id}`, alice)).body.status).toBe('pending');
    });

    it('refuses a review after the request settled', async () => {
      const sub = await h.submit(agent, restart);
      await h.deny(alice, sub.body.id, 'not today');
      const late = await h.approve(bob, sub.body.id);
      expect(late.status).toBe(409);
      expect(late.body.error.code).toBe('ALREADY_DECIDED');
    });

    it('settles on one eligible deny', async () => {
      const sub = await h.submit(agent, restart);
      await h.approve(alice, sub.body.id);
      const d = await h.deny(bob, sub.body.id, 'risky');
      expect(d.body.status).toBe('denied');
      expect(d.body.decidedBy).toBe('bob@example.com');
    });

    it('ends 50 concurrent approve/deny calls in exactly one terminal state and one audit event for it', async () => {
      const sub = await h.submit(agent, { ...restart, action: 'deploy.thing', environment: 'staging' });
      const reviewers = await Promise.all(
        Array.from({ length: 50 }, (_, i) => h.key({ email: `r${i}@example.com`, groups: ['platform'] })),
      );
      const results = await Promise.all(
        reviewers.map((t, i) => (i % 2 === 0 ? h.approve(t, sub.body.id) : h.deny(t, sub.body.id))),
      );
      const ok = results.filter((r) => r.status === 200);
      expect(ok).toHaveLength(1);
      expect(results.filter((r) => r.status === 409 && r.body.error.code === 'ALREADY_DECIDED')).toHaveLength(
        49,
      );
      const types = await h.auditTypes(sub.body.id);
      expect(types.filter((t) => t === 'request.approved' || t === 'request.denied')).toHaveLength(1);
      expect(types.filter((t) => t === 'request.reviewed')).toHaveLength(1);
    });

    it('meets per-group minimums as a matching, not greedily', async () => {
      const ann = await h.key({ email: 'ann@example.com', groups: ['sre', 'dba'] });
      const sam = await h.key({ email: 'sam@example.com', groups: ['sre'] });
      const sub = await h.submit(agent, {
        action: 'db.migrate',
        resource: 'pg://prod',
        environment: 'production',
      });
      expect((await h.approve(ann, sub.body.id)).body.status).toBe('pending');
      expect((await h.approve(sam, sub.body.id)).body.status).toBe('approved');
    });

    it('does not meet a group minimum with two people from the same group', async () => {
      const sam = await h.key({ email: 'sam@example.com', groups: ['sre'] });
      const sub = await h.submit(agent, {
        action: 'db.migrate',
        resource: 'pg://prod',
        environment: 'production',
      });
      await h.approve(alice, sub.body.id); // alice: platform, sre
      expect((await h.approve(sam, sub.body.id)).body.status).toBe('pending');
    });

    it('lets only the requester cancel', async () => {
      const sub = await h.submit(agent, restart);
      const byOther = await h.call('POST', `/v1/requests/${sub.body.id}/cancel`, alice, {});
      expect(byOther.status).toBe(403);
      const mine = await h.call('POST', `/v1/requests/${sub.body.id}/cancel`, agent, {
        reason: 'not needed',
      });
      expect(mine.status).toBe(200);
      expect(mine.body.status).toBe('cancelled');
      expect((await h.approve(alice, sub.body.id)).body.error.code).toBe('ALREADY_DECIDED');
    });

    it('fails closed on a CEL runtime error: denied, with the reason', async () => {
      const r = await h.submit(agent, { action: 'data.export', resource: 's3://x', parameters: {} });
      expect(r.body.status).toBe('denied');
      expect(r.body.policy.rule).toBe('breaks-at-runtime');
      expect(r.body.policy.explanation).toMatch(/fail/i);
    });

    it('allows by policy and records decidedBy policy', async () => {
      const r = await h.submit(agent, { action: 'read.logs', resource: 'k8s://prod' });
      expect(r.body.status).toBe('approved');
      expect(r.body.decidedBy).toBe('policy');
      expect(r.body.approval).toBeNull();
    });

    it('returns the same request for a retried Idempotency-Key', async () => {
      const a = await h.submit(agent, restart, { 'idempotency-key': 'run-42' });
      const b = await h.submit(agent, restart, { 'idempotency-key': 'run-42' });
      expect(a.status).toBe(201);
      expect(b.status).toBe(200);
      expect(b.body.id).toBe(a.body.id);
    });

    it('never lets a grant be used more than `uses` times, under concurrency', async () => {
      const escalate = { action: 'github.token.escalate', resource: 'github://org/repo', environment: 'ci' };
      const first = await h.submit(agent, escalate);
      expect((await h.approve(alice, first.body.id)).body.status).toBe('approved');
      const results = await Promise.all(Array.from({ length: 20 }, () => h.submit(agent, escalate)));
      const byGrant = results.filter((r) => r.body.status === 'approved');
      expect(byGrant).toHaveLength(3);
      for (const r of byGrant) expect(r.body.decidedBy).toMatch(/^grant_/);
      expect(results.filter((r) => r.body.status === 'pending')).toHaveLength(17);
      // another resource is not covered
      const other = await h.submit(agent, { ...escalate, resource: 'github://org/other' });
      expect(other.body.status).toBe('pending');
    });

    it('wakes a waiting client as soon as the request is decided', async () => {
      const sub = await h.submit(agent, restart);
      const started = Date.now();
      const waiting = h.call('GET', `/v1/requests/${sub.body.id}/wait?timeout=30`, agent);
      await h.approve(alice, sub.body.id);
      await h.approve(bob, sub.body.id);
      const done = await waiting;
      expect(done.body.status).toBe('approved');
      // far below the 30 s timeout: the wait was woken, not timed out
      expect(Date.now() - started).toBeLessThan(10_000);
    });

    it('settles a pending request at its deadline and wakes waiters', async () => {
      const sub = await h.submit(agent, { action: 'quick.thing', resource: 'x' });
      const done = await h.call('GET', `/v1/requests/${sub.body.id}/wait?timeout=10`, agent);
      expect(done.body.status).toBe('expired');
      expect(done.body.decidedBy).toBe('timeout');
    });
  });

  describe.skipIf(backend.skip)(`restarts on ${backend.name}`, () => {
    it('expires across a restart: the deadline passes while the gateway is down', async () => {
      const db = await backend.fresh();
      const clock = new FakeClock('2026-03-01T10:00:00Z');
      try {
        let h = await startHarness(db, POLICY, { clock });
        const agent = await h.key({ kind: 'agent', owner: 'dana@example.com' });
        const sub = await h.submit(agent, restart);
        expect(sub.body.status).toBe('pending');
        await h.stop();
        clock.advance(31 * 60_000);
        h = await startHarness(db, POLICY, { clock });
        const after = await h.call('GET', `/v1/requests/${sub.body.id}`, agent);
        expect(after.body.status).toBe('expired');
        expect((await h.auditTypes(sub.body.id)).filter((t) => t === 'request.expired')).toHaveLength(1);
        await h.stop();
      } finally {
        await db.cleanup();
      }
    });
  });
}
