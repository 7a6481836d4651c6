/**
 * `countersign audit export|checkpoint|verify|report` against a real gateway over HTTP, and the tampering
 * an auditor must catch: one byte changed, an event deleted, two swapped, the tail cut, another signer.
 */
import { canonicalJson } from '../../src/core/digest.js';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSignerKey, signNote, signerFromPrivateKey } from '../../src/audit/note.js';
import { auditCheckpoint, auditExport, auditReport, auditVerify } from '../../src/cli/commands/audit.js';
import type { Io } from '../../src/cli/output.js';
import { startHarness, type Harness } from '../helpers/gateway-harness.js';
import { storeBackends, type TestDatabase } from '../helpers/postgres.js';
import { AUDIT_POLICY } from './helpers.js';

function captureIo(): Io & { stdout: () => string; stderr: () => string } {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out: (t) => out.push(t),
    err: (t) => err.push(t),
    isTTY: false,
    stdout: () => out.join('\n'),
    stderr: () => err.join('\n'),
  };
}

for (const backend of storeBackends()) {
  describe.skipIf(backend.skip)(`audit CLI: ${backend.name}`, () => {
    let db: TestDatabase;
    let h: Harness;
    let dir: string;
    let flags: { url: string; token: string };
    let eventsFile: string;
    let noteFile: string;
    let key: string;
    let lines: string[];

    beforeAll(async () => {
      db = await backend.fresh();
      h = await startHarness(db, AUDIT_POLICY, { listen: true });
      dir = await mkdtemp(join(tmpdir(), 'countersign-audit-cli-'));
      const agent = await h.key({ kind: 'agent', name: 'bot', owner: 'dana@example.com' });
      const alice = await h.key({ email: 'alice@example.com', groups: ['platform'] });
      const dana = await h.key({ email: 'dana@example.com', groups: ['platform'] });
      flags = { url: h.running.url, token: await h.key({ email: 'audrey@example.com', roles: ['auditor'] }) };
      for (let i = 0; i < 4; i++) {
        const id = (await h.submit(agent, { action: 'deploy.run', parameters: { i } })).body.id as string;
        if (i % 2 === 0) await h.approve(alice, id, 'fine');
        else await h.deny(alice, id, 'no');
      }
      await h.submit(agent, { action: 'read.logs' });
      // The agent's owner tries to approve its request: refused, and on the record.
      const own = (await h.submit(agent, { action: 'deploy.run', parameters: { i: 9 } })).body.id as string;
      expect((await h.approve(dana, own)).body.error.code).toBe('SELF_APPROVAL_FORBIDDEN');

      const io = captureIo();
      expect(await auditCheckpoint(flags, io)).toBe(0);
      noteFile = join(dir, 'checkpoint.note');
      await writeFile(noteFile, `${io.stdout()}\n`);
      key = ((await h.call('GET', '/v1/audit/verifier-key', flags.token)).body as string).trim();
      eventsFile = join(dir, 'events.jsonl');
      const exp = captureIo();
      expect(await auditExport({ ...flags, out: eventsFile }, exp)).toBe(0);
      lines = (await readFile(eventsFile, 'utf8')).trimEnd().split('\n');
    });
    afterAll(async () => {
      await h.stop();
      await db.cleanup();
      await rm(dir, { recursive: true, force: true });
    });

    it('exports JSON Lines that are exactly the event objects, and CSV', async () => {
      const events = await h.store.listAuditEvents(0, 10_000);
      expect(lines).toHaveLength(events.length);
      expect(JSON.parse(lines[0] as string)).toEqual({ ...events[0] });
      // Each line is already the event's JCS form, so its bytes are the leaf.
      for (const line of lines) expect(line).toBe(canonicalJson(JSON.parse(line)));
      const csv = captureIo();
      expect(await auditExport({ ...flags, format: 'csv', since: '1h' }, csv)).toBe(0);
      const rows = csv.stdout().split('\n');
      expect(rows[0]).toBe('seq,at,type,requestId,actorId,actorKind,personId,channel,data');
      expect(rows).toHaveLength(events.length + 1);
      const none = captureIo();
      expect(await auditExport({ ...flags, until: '2000-01-01' }, none)).toBe(0);
      expect(none.stdout()).toBe('');
      expect(await auditExport({ ...flags, format: 'xml' }, captureIo())).toBe(2);
    });

    it('verifies a running server that has signed no checkpoint yet by asking it to sign one', async () => {
      const db2 = await backend.fresh();
      const fresh = await startHarness(db2, AUDIT_POLICY, { listen: true });
      try {
        const auditor = await fresh.key({ email: 'audrey@example.com', roles: ['auditor'] });
        expect((await fresh.call('GET', '/v1/audit/checkpoint', auditor)).status).toBe(404);
        const io = captureIo();
        expect(await auditVerify({ url: fresh.running.url, token: auditor }, io)).toBe(0);
        expect(io.stderr()).toContain('no checkpoint yet');
        expect(io.stdout()).toMatch(/^OK/);
      } finally {
        await fresh.stop();
        await db2.cleanup();
      }
    });

    it('verifies an untouched export offline, and the running server', async () => {
      const io = captureIo();
      expect(await auditVerify({ events: eventsFile, checkpoint: noteFile, key }, io)).toBe(0);
      expect(io.stdout()).toMatch(/^OK/);
      const live = captureIo();
      expect(await auditVerify({ ...flags }, live)).toBe(0);
      expect(live.stdout()).toMatch(/^OK/);
      const json = captureIo();
      expect(await auditVerify({ ...flags, json: true }, json)).toBe(0);
      expect(JSON.parse(json.stdout())).toMatchObject({ ok: true, nonCanonicalLines: 0 });
      const offline = captureIo();
      expect(await auditVerify({ events: eventsFile, checkpoint: noteFile, key, json: true }, offline)).toBe(
        0,
      );
      expect(JSON.parse(offline.stdout())).toMatchObject({ ok: true, nonCanonicalLines: 0 });
      // One encoding for the root everywhere: base64, as in the signed note.
      const cp = captureIo();
      expect(await auditCheckpoint({ ...flags, json: true }, cp)).toBe(0);
      const header = JSON.parse(cp.stdout()) as { root: string; note: string };
      expect(header.note.split('\n')[2]).toBe(header.root);
    });

    const tamperings: [string, (l: string[]) => string[], RegExp][] = [
      [
        'one byte of one event edited',
        (l) => {
          // The first event of a deploy request: one byte of its action changes.
          const at = l.findIndex((x) => x.includes('deploy.run'));
          return l.map((x, i) => (i === at ? x.replace('deploy.run', 'deplox.run') : x));
        },
        /root|event|seq \d+|line \d+/i,
      ],
      ['an event deleted', (l) => l.filter((_, i) => i !== 2), /sequence|seq|missing/i],
      ['two events swapped', (l) => [l[0], l[2], l[1], ...l.slice(3)] as string[], /sequence|seq|order/i],
      ['the tail truncated', (l) => l.slice(0, -2), /size|fewer|truncat/i],
    ];
    for (const [name, tamper, message] of tamperings) {
      it(`detects ${name}`, async () => {
        const file = join(dir, `${name.replace(/\W+/g, '-')}.jsonl`);
        await writeFile(file, `${tamper(lines).join('\n')}\n`);
        const io = captureIo();
        expect(await auditVerify({ events: file, checkpoint: noteFile, key }, io)).toBe(1);
        expect(io.stdout()).toMatch(/^INVALID/);
        expect(io.stdout()).toMatch(message);
      });
    }

    it('detects a checkpoint re-signed with another key', async () => {
      const note = await readFile(noteFile, 'utf8');
      const text = note.slice(0, note.indexOf('\n\n') + 1);
      const forged = signNote(text, [signerFromPrivateKey(generateSignerKey('countersign.test/audit'))]);
      const file = join(dir, 'forged.note');
      await writeFile(file, forged);
      const io = captureIo();
      expect(await auditVerify({ events: eventsFile, checkpoint: file, key }, io)).toBe(1);
      expect(io.stdout()).toMatch(/signature|key/i);
    });

    it('reports evidence from a fresh checkpoint: outcomes, approvers, refusals, key changes', async () => {
      const md = captureIo();
      expect(await auditReport({ ...flags, since: '1d' }, md)).toBe(0);
      const text = md.stdout();
      expect(text).toContain('Built from checkpoint: origin `countersign.test/audit`');
      expect(text).toContain('alice@example.com');
      expect(text).toMatch(/key\.created/);
      const json = captureIo();
      expect(await auditReport({ ...flags, format: 'json' }, json)).toBe(0);
      const report = JSON.parse(json.stdout());
      expect(report.requests.outcomes).toMatchObject({ approved: 3, denied: 2 });
      expect(
        report.approvals.filter((a: { approvers: string[] }) => a.approvers.includes('alice@example.com')),
      ).toHaveLength(2);
      expect(report.keyChanges.length).toBeGreaterThanOrEqual(3);
      expect(report.refusals).toEqual([
        expect.objectContaining({
          type: 'SELF_APPROVAL_FORBIDDEN',
          actor: expect.stringContaining('dana@example.com'),
        }),
      ]);
      expect(text).toMatch(/Separation-of-duties refusals[\s\S]*SELF_APPROVAL_FORBIDDEN/);
    });

    it('fails clearly without the auditor role', async () => {
      const io = captureIo();
      const token = await h.key({ email: 'eve@example.com' });
      expect(await auditCheckpoint({ url: flags.url, token }, io)).toBe(1);
      expect(io.stderr()).toMatch(/FORBIDDEN/);
    });
  });
}
