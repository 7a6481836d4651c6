import { describe, expect, it } from 'vitest';
import { canonicalLeafText, leafBytes, toRecord } from './event.js';
import { auditEventToRow, auditRowLeafText, rowToAuditEvent } from '../store/rows.js';
import type { AuditEventInput } from '../core/types.js';

const actor: AuditEventInput['actor'] = { id: 'ak_1', kind: 'agent', personId: null, channel: 'api' };

const events: AuditEventInput[] = [
  { type: 'request.submitted', at: '2026-12-07T03:00:00.000Z', requestId: 'req_1', actor, data: {} },
  {
    type: 'key.created',
    at: '2026-12-07T03:00:00.001Z',
    requestId: null,
    actor: { id: 'system', kind: 'system', personId: null, channel: 'system' },
    data: { z: 1, a: [3, { y: null, b: 'é' }], ü: true, '\u{1F600}': -0, n: 1e21, s: 'line\n"q"\u2028' },
  },
  {
    type: 'request.reviewed',
    at: '2026-12-07T03:00:00.002Z',
    requestId: 'req_ü\u0000',
    actor,
    data: { skipped: undefined, nested: { deep: [[[]]], when: 0.1 + 0.2 } },
  },
];

describe('canonicalLeafText', () => {
  it('is the JCS form of the record the row reads back as', () => {
    events.forEach((event, i) => {
      const row = auditEventToRow(i + 1, event);
      expect(auditRowLeafText(row)).toBe(leafBytes(toRecord(rowToAuditEvent(row))).toString('utf8'));
    });
  });

  it('refuses a seq that is not a safe integer', () => {
    const row = auditEventToRow(2 ** 53, events[0]!);
    expect(() =>
      canonicalLeafText({ ...row, requestId: null, actorJcs: row.actor, dataJcs: row.data }),
    ).toThrow(/safe integer/);
  });
});
