import { describe, expect, it } from 'vitest';
import type { AuditRecord } from './event.js';
import { buildEvidenceReport } from './evidence-report.js';

const agent: AuditRecord['actor'] = { id: 'ak_1', kind: 'agent', personId: null, channel: 'api' };
const bob: AuditRecord['actor'] = { id: 'ak_2', kind: 'human', personId: 'bob@example.com', channel: 'api' };
let seq = 0;
const rec = (type: string, requestId: string, actor: AuditRecord['actor'], data = {}): AuditRecord => ({
  seq: ++seq,
  at: '2026-01-05T10:00:00.000Z',
  type,
  requestId,
  actor,
  data,
});
const checkpoint = { origin: 'test/audit', size: 0, root: '' };
const until = new Date('2026-01-06T00:00:00.000Z');

describe('evidence report', () => {
  it('counts a request decided on submission once, from its one request.submitted event', () => {
    const records = [
      rec('request.submitted', 'req_a', agent, { status: 'approved', decidedBy: 'policy' }),
      rec('request.submitted', 'req_b', agent, { status: 'denied', decidedBy: 'policy' }),
      rec('request.submitted', 'req_c', agent, { status: 'approved', decidedBy: 'grant_1' }),
      rec('request.submitted', 'req_d', agent, { status: 'pending', decidedBy: null }),
      rec('request.approved', 'req_d', bob, { approvers: ['bob@example.com'], decidedBy: 'bob@example.com' }),
      rec('request.submitted', 'req_e', agent, { status: 'pending', decidedBy: null }),
    ];
    const r = buildEvidenceReport(records, checkpoint, null, until);
    expect(r.requests).toEqual({ submitted: 5, outcomes: { approved: 3, denied: 1 } });
    expect(r.approvals.map((a) => [a.requestId, a.approvers, a.decidedBy])).toEqual([
      ['req_a', [], 'policy'],
      ['req_c', [], 'grant_1'],
      ['req_d', ['bob@example.com'], 'bob@example.com'],
    ]);
  });

  it('still reads logs written with a separate outcome event for auto-decided requests', () => {
    const records = [
      rec('request.submitted', 'req_a', agent, { effect: 'allow' }),
      rec(
        'request.approved',
        'req_a',
        { id: 'policy', kind: 'system', personId: null, channel: 'system' },
        { decidedBy: 'policy' },
      ),
      rec('request.submitted', 'req_b', agent, { effect: 'deny' }),
      rec(
        'request.denied',
        'req_b',
        { id: 'policy', kind: 'system', personId: null, channel: 'system' },
        { decidedBy: 'policy' },
      ),
    ];
    const r = buildEvidenceReport(records, checkpoint, null, until);
    expect(r.requests).toEqual({ submitted: 2, outcomes: { approved: 1, denied: 1 } });
    expect(r.approvals).toHaveLength(1);
  });
});
