/**
 * The audit API on every backend, through the real gateway: who may read it, paging, checkpoints that
 * verify with the served key, proofs that verify against them, the audited payload reveal.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/core/digest.js';
import { verifyConsistency, verifyInclusion } from '../../src/audit/proofs.js';
import { startHarness, type Harness } from '../helpers/gateway-harness.js';
import { storeBackends, type TestDatabase } from '../helpers/postgres.js';
import { AUDIT_POLICY, leafHashOf, openCheckpoint } from './helpers.js';
import { referenceRoot } from './reference-tree.js';

const READ_ROUTES = [
  '/v1/audit/events',
  '/v1/audit/checkpoint',
  '/v1/audit/verifier-key',
  '/v1/audit/proof/inclusion?index=0&size=1',
  '/v1/audit/proof/consistency?from=1&to=1',
];

for (const backend of storeBackends()) {
  describe.skipIf(backend.skip)(`audit API: ${backend.name}`, () => {
    let db: TestDatabase;
    let h: Harness;
    let agent: string;
    let auditor: string;
    let admin: string;
    let alice: string;
    let requestId: string;
    const parameters = { table: 'customers', password: 'hunter2', nested: { z: 1, a: [true, null] } };

    beforeAll(async () => {
      db = await backend.fresh();
      h = await startHarness(db, AUDIT_POLICY);
      agent = await h.key({ kind: 'agent', name: 'bot', owner: 'dana@example.com' });
      auditor = await h.key({ email: 'audrey@example.com', roles: ['auditor'] });
      admin = await h.key({ email: 'root@example.com', roles: ['admin'] });
      alice = await h.key({ email: 'alice@example.com', groups: ['platform'] });
      const res = await h.submit(agent, {
        action: 'data.export',
        resource: 'db://crm',
        parameters,
        reason: 'quarterly report',
        context: { run: 42 },
      });
      requestId = res.body.id as string;
      await h.approve(alice, requestId, 'ok');
      for (let i = 0; i < 5; i++) await h.submit(agent, { action: 'read.thing', parameters: { i } });
    });
    afterAll(async () => {
      await h.stop();
      await db.cleanup();
    });

    it('needs the auditor or admin role to read the audit log', async () => {
      for (const url of READ_ROUTES) {
        for (const token of [agent, alice]) {
          const res = await h.call('GET', url, token);
          expect(res.status, url).toBe(403);
          expect(res.body.error.code).toBe('FORBIDDEN');
        }
        expect((await h.call('GET', url)).status, url).toBe(401);
      }
      expect((await h.call('POST', '/v1/audit/checkpoint', alice)).status).toBe(403);
      expect((await h.call('GET', '/v1/audit/events', auditor)).status).toBe(200);
      expect((await h.call('GET', '/v1/audit/events', admin)).status).toBe(200);
    });

    it('pages through the events in seq order, each exactly its stored record', async () => {
      const all = await h.store.listAuditEvents(0, 10_000);
      const seen: number[] = [];
      let after = 0;
      for (;;) {
        const res = await h.call('GET', `/v1/audit/events?after=${after}&limit=3`, auditor);
        expect(res.status).toBe(200);
        seen.push(...res.body.events.map((e: { seq: number }) => e.seq));
        if (res.body.next === null) break;
        after = res.body.next;
      }
      expect(seen.slice(0, all.length)).toEqual(all.map((e) => e.seq));
      const first = (await h.call('GET', '/v1/audit/events?limit=1', auditor)).body.events[0];
      expect(Object.keys(first).sort()).toEqual(['actor', 'at', 'data', 'requestId', 'seq', 'type']);
      for (const bad of ['limit=0', 'limit=10001', 'after=-1', 'after=x', 'other=1']) {
        const res = await h.call('GET', `/v1/audit/events?${bad}`, auditor);
        expect(res.status, bad).toBe(400);
        expect(res.body.error.code).toBe('INVALID_REQUEST');
      }
    });

    it('signs checkpoints on demand that verify with the served verifier key and match the events', async () => {
      const key = (await h.call('GET', '/v1/audit/verifier-key', auditor)).body as string;
      expect(key).toMatch(/^countersign\.test\/audit\+[0-9a-f]{8}\+/);
      const signed = await h.call('POST', '/v1/audit/checkpoint', auditor);
      expect(signed.status).toBe(200);
      expect(signed.headers['content-type']).toMatch(/^text\/plain/);
      const note = signed.body as string;
      const cp = openCheckpoint(note, key);
      expect(cp.origin).toBe('countersign.test/audit');
      const events = (await h.call('GET', `/v1/audit/events?limit=10000`, auditor)).body.events;
      expect(cp.size).toBe(events.length);
      expect(cp.root).toEqual(referenceRoot(events.map(leafHashOf)));
      expect((await h.call('GET', '/v1/audit/checkpoint', auditor)).body).toBe(note);
    });

    it('serves proofs that verify against signed checkpoints, and refuses ranges beyond the tree', async () => {
      const key = (await h.call('GET', '/v1/audit/verifier-key', auditor)).body as string;
      const old = openCheckpoint((await h.call('POST', '/v1/audit/checkpoint', auditor)).body, key);
      await h.submit(agent, { action: 'read.more' });
      const now = openCheckpoint((await h.call('POST', '/v1/audit/checkpoint', auditor)).body, key);
      expect(now.size).toBeGreaterThan(old.size);
      const events = (await h.call('GET', `/v1/audit/events?limit=10000`, auditor)).body.events;
      for (let index = 0; index < now.size; index++) {
        const res = await h.call('GET', `/v1/audit/proof/inclusion?index=${index}&size=${now.size}`, auditor);
        expect(res.status).toBe(200);
        expect(res.body).toMatchObject({ index, size: now.size });
        const proof = res.body.proof.map((p: string) => Buffer.from(p, 'base64'));
        expect(verifyInclusion(leafHashOf(events[index]), index, now.size, proof, now.root)).toBe(true);
      }
      const res = await h.call('GET', `/v1/audit/proof/consistency?from=${old.size}&to=${now.size}`, auditor);
      expect(res.body).toMatchObject({ from: old.size, to: now.size });
      const proof = res.body.proof.map((p: string) => Buffer.from(p, 'base64'));
      expect(verifyConsistency(old.size, now.size, proof, old.root, now.root)).toBe(true);

      const beyond = now.size + 100;
      for (const url of [
        `/v1/audit/proof/inclusion?index=${now.size}&size=${now.size}`,
        `/v1/audit/proof/inclusion?index=0&size=${beyond}`,
        `/v1/audit/proof/inclusion?index=0&size=0`,
        `/v1/audit/proof/inclusion?index=&size=1`,
        `/v1/audit/proof/inclusion?size=1`,
        `/v1/audit/proof/consistency?from=0&to=1`,
        `/v1/audit/proof/consistency?from=3&to=2`,
        `/v1/audit/proof/consistency?from=1&to=${beyond}`,
      ]) {
        const bad = await h.call('GET', url, auditor);
        expect(bad.status, url).toBe(400);
        expect(bad.body.error.code, url).toBe('INVALID_REQUEST');
        expect(bad.body.error.message, url).toMatch(/index|size|from|to/);
      }
    });

    it('stores the payload encrypted, hashes it into the event, and reveals it only to an auditor, audited', async () => {
      const submitted = (await h.store.listAuditEvents(0, 10_000)).find(
        (e) => e.requestId === requestId && e.type === 'request.submitted',
      );
      const payload = { parameters, reason: 'quarterly report', context: { run: 42 } };
      const sha = createHash('sha256').update(canonicalJson(payload)).digest('hex');
      expect(submitted?.data.payloadSha256).toBe(sha);
      const sealed = await h.store.getRequestPayload(requestId);
      expect(sealed?.sha256).toBe(sha);
      expect(sealed?.ciphertext.toString('utf8')).not.toContain('hunter2');

      for (const token of [admin, alice, agent]) {
        const res = await h.call('POST', `/v1/requests/${requestId}/reveal`, token, { reason: 'looking' });
        expect(res.status).toBe(403);
        expect(res.body.error.code).toBe('FORBIDDEN');
      }
      for (const body of [{}, { reason: '  ' }, { reason: 'x', extra: 1 }]) {
        const res = await h.call('POST', `/v1/requests/${requestId}/reveal`, auditor, body);
        expect(res.status).toBe(400);
        expect(res.body.error.code).toBe('INVALID_REQUEST');
      }
      const missing = await h.call('POST', '/v1/requests/req_nope/reveal', auditor, { reason: 'x' });
      expect(missing.status).toBe(404);
      expect(missing.body.error.code).toBe('NOT_FOUND');
      expect(await h.auditTypes(requestId)).not.toContain('request.revealed');

      const res = await h.call('POST', `/v1/requests/${requestId}/reveal`, auditor, { reason: 'incident 7' });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ requestId, payload, payloadSha256: sha });
      const revealed = (await h.store.listAuditEvents(0, 10_000)).filter(
        (e) => e.type === 'request.revealed',
      );
      expect(revealed).toHaveLength(1);
      expect(revealed[0]).toMatchObject({
        requestId,
        actor: { personId: 'audrey@example.com', channel: 'api' },
        data: { reason: 'incident 7', payloadSha256: sha },
      });
    });

    it('lists the audit routes in the OpenAPI document', async () => {
      const doc = (await h.call('GET', '/v1/openapi.json')).body;
      for (const path of [
        '/v1/audit/events',
        '/v1/audit/checkpoint',
        '/v1/audit/verifier-key',
        '/v1/audit/proof/inclusion',
        '/v1/audit/proof/consistency',
      ]) {
        expect(Object.keys(doc.paths)).toContain(path);
      }
    });
  });
}
