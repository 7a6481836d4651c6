/** No secret in any log line: tokens, authorization headers and parameter values never reach the log. */
import { describe, expect, it } from 'vitest';
import { startHarness } from '../helpers/gateway-harness.js';
import { freshSqliteDatabase } from '../helpers/postgres.js';

const POLICY = `
version: 1
defaults:
  effect: require_approval
  approval: { approvers: [group:platform], quorum: 1, timeout: 1h }
rules: []
`;

describe('logs', () => {
  it('carry request ids and outcomes but no token, header or parameter value', async () => {
    const lines: string[] = [];
    const db = await freshSqliteDatabase();
    const h = await startHarness(db, POLICY, { logSink: (l) => lines.push(l) });
    try {
      const agent = await h.key({ kind: 'agent', owner: 'dana@example.com' });
      const alice = await h.key({ email: 'alice@example.com', groups: ['platform'] });
      const secret = 'AKIAIOSFODNN7EXAMPLE-very-secret-value';
      const sub = await h.submit(agent, {
        action: 'db.rotate',
        parameters: { password: secret },
        reason: 'rotate',
      });
      await h.approve(alice, sub.body.id as string, 'ok');
      await h.call('GET', '/v1/requests', 'cs_ak_0123456789abcdef_' + 'x'.repeat(43)); // a bad token is not logged either
      await h.submit(agent, { action: 'bad action' });
      const log = lines.join('');
      expect(log).toContain(sub.body.id);
      expect(log).toContain('request settled');
      for (const forbidden of [
        agent,
        alice,
        secret,
        agent.slice(-43),
        alice.slice(-43),
        'x'.repeat(43),
        'Bearer ',
      ]) {
        expect(log).not.toContain(forbidden);
      }
    } finally {
      await h.stop();
      await db.cleanup();
    }
  });
});
