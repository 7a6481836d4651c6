/** Data usage over the API and the CLI: counts, records and bytes per group, external flows called out. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { usageCommand } from '../../src/cli/commands/usage.js';
import type { Io } from '../../src/cli/output.js';
import { startHarness, type Harness } from '../helpers/gateway-harness.js';
import { storeBackends, type TestDatabase } from '../helpers/postgres.js';

const POLICY = `
version: 1
defaults:
  effect: allow
rules: []
`;

for (const backend of storeBackends()) {
  describe.skipIf(backend.skip)(`usage on ${backend.name}`, () => {
    let db: TestDatabase;
    let h: Harness;
    let auditor: string;
    let etl: string;

    beforeAll(async () => {
      db = await backend.fresh();
      h = await startHarness(db, POLICY, { listen: true, dlp: { trusted_destinations: ['s3://corp-*'] } });
      auditor = await h.key({ email: 'audit@example.com', roles: ['auditor'] });
      etl = await h.key({ kind: 'agent', name: 'etl-bot', owner: 'dana@example.com' });
      const support = await h.key({ kind: 'agent', name: 'support-bot', owner: 'sam@example.com' });
      const flow = (destination: string, records: number, bytes: number) => ({
        data: { source: 'pg://crm', destination, records, bytes },
      });
      await h.submit(etl, {
        action: 'data.export',
        parameters: { query: 'select email from users', sample: 'jane.roe@acme-corp.io' },
        context: flow('s3://corp-lake', 1000, 50_000),
      });
      await h.submit(etl, {
        action: 'data.export',
        parameters: { sample: 'card 4111 1111 1111 1111' },
        context: flow('https://dump.example.net/upload', 10, 800),
      });
      await h.submit(support, {
        action: 'ticket.read',
        context: { data: { classes: ['personal'], records: 1 } },
      });
    });
    afterAll(async () => {
      await h.stop();
      await db.cleanup();
    });

    it('reports by principal and class with external flows', async () => {
      const r = await h.call('GET', '/v1/usage?since=1h&by=principal,class', auditor);
      expect(r.status).toBe(200);
      expect(r.body.totals).toEqual({ requests: 3, records: 1011, bytes: 50_800, external: 1 });
      const row = (p: string, c: string) =>
        r.body.rows.find(
          (x: { group: Record<string, string> }) => x.group.principal === p && x.group.class === c,
        );
      expect(row('etl-bot', 'personal')).toMatchObject({ requests: 1, records: 1000, external: 0 });
      expect(row('etl-bot', 'financial')).toMatchObject({ requests: 1, records: 10, external: 1 });
      expect(row('support-bot', 'personal')).toMatchObject({ requests: 1 });
      expect(r.body.externalDestinations).toEqual([
        { destination: 'https://dump.example.net/upload', requests: 1 },
      ]);
    });

    it('needs the admin or auditor role and validates its query', async () => {
      expect((await h.call('GET', '/v1/usage', etl)).body.error.code).toBe('FORBIDDEN');
      expect((await h.call('GET', '/v1/usage?by=planet', auditor)).body.error.code).toBe('INVALID_REQUEST');
      expect((await h.call('GET', '/v1/usage?since=yesterday-ish', auditor)).body.error.code).toBe(
        'INVALID_REQUEST',
      );
      const none = await h.call('GET', '/v1/usage?since=2000-01-01&until=2000-01-02', auditor);
      expect(none.body.totals.requests).toBe(0);
    });

    it('prints a table for people and JSON for machines', async () => {
      let out = '';
      const io: Io = { isTTY: false, out: (t) => void (out += `${t}\n`), err: (t) => void (out += `${t}\n`) };
      expect(
        await usageCommand(
          { url: h.running.url, token: auditor, since: '1h', by: 'principal,destination' },
          io,
        ),
      ).toBe(0);
      expect(out).toMatch(/etl-bot\s+https:\/\/dump\.example\.net\/upload\s+1\s+10\s+800\s+1 ⚠/);
      expect(out).toContain('External destinations');
      out = '';
      expect(await usageCommand({ url: h.running.url, token: auditor, json: true }, io)).toBe(0);
      expect(JSON.parse(out).totals.requests).toBe(3);
      out = '';
      expect(await usageCommand({ url: h.running.url, token: auditor, by: 'galaxy' }, io)).toBe(2);
    });
  });
}
