/**
 * The evidence summary an auditor reads (`countersign audit report`): built only from audit events up to
 * a signed checkpoint, so every line of it can be traced to events that checkpoint commits to.
 */
import type { AuditRecord } from './event.js';

export interface EvidenceReport {
  checkpoint: { origin: string; size: number; root: string };
  window: { since: string | null; until: string };
  events: number;
  /**
   * Requests submitted in the window, and their outcomes: by the type of the event that settled them, or
   * by the `status` of a `request.submitted` event for a request decided on submission.
   */
  requests: { submitted: number; outcomes: Record<string, number> };
  approvals: { requestId: string; at: string; approvers: unknown[]; decidedBy: unknown }[];
  /** Reviews refused for separation of duties (`review.refused` events): `type` is the error code. */
  refusals: { requestId: string | null; at: string; type: string; actor: string }[];
  expiries: { requestId: string | null; at: string; expiresAt: unknown }[];
  keyChanges: { type: string; at: string; actor: string; key: unknown }[];
  policyChanges: { type: string; at: string; actor: string; data: Record<string, unknown> }[];
  reveals: { requestId: string | null; at: string; by: string; reason: unknown }[];
}

const OUTCOMES = new Set(['request.approved', 'request.denied', 'request.expired', 'request.cancelled']);

export function buildEvidenceReport(
  records: AuditRecord[],
  checkpoint: EvidenceReport['checkpoint'],
  since: Date | null,
  until: Date,
): EvidenceReport {
  const inWindow = records.filter((r) => {
    const t = Date.parse(r.at);
    return (since === null || t >= since.getTime()) && t <= until.getTime();
  });
  const who = (r: AuditRecord) => r.actor.personId ?? r.actor.id;
  const report: EvidenceReport = {
    checkpoint,
    window: { since: since?.toISOString() ?? null, until: until.toISOString() },
    events: inWindow.length,
    requests: { submitted: 0, outcomes: {} },
    approvals: [],
    refusals: [],
    expiries: [],
    keyChanges: [],
    policyChanges: [],
    reveals: [],
  };
  for (const r of inWindow) {
    if (r.type === 'request.submitted') report.requests.submitted++;
    // The outcome is its own event when it came later (a review, a timeout, a cancel), and part of the
    // `request.submitted` event when the request was decided on submission (by policy or by a grant:
    // `data.status` approved or denied, with `data.decidedBy`). Logs from before that carried a separate
    // `request.approved` / `request.denied` event instead, and no `data.status`: both count once.
    const decidedOnSubmit =
      r.type === 'request.submitted' && (r.data.status === 'approved' || r.data.status === 'denied')
        ? r.data.status
        : null;
    if (OUTCOMES.has(r.type) || decidedOnSubmit !== null) {
      const outcome = decidedOnSubmit ?? r.type.slice('request.'.length);
      report.requests.outcomes[outcome] = (report.requests.outcomes[outcome] ?? 0) + 1;
    }
    if (r.type === 'request.approved' || decidedOnSubmit === 'approved') {
      report.approvals.push({
        requestId: r.requestId ?? '',
        at: r.at,
        approvers: Array.isArray(r.data.approvers) ? r.data.approvers : [],
        decidedBy: r.data.decidedBy ?? null,
      });
    }
    if (r.type === 'review.refused') {
      const code = typeof r.data.code === 'string' ? r.data.code : 'refused';
      report.refusals.push({ requestId: r.requestId, at: r.at, type: code, actor: who(r) });
    }
    if (r.type === 'request.expired') {
      report.expiries.push({ requestId: r.requestId, at: r.at, expiresAt: r.data.expiresAt ?? null });
    }
    if (r.type.startsWith('key.')) {
      report.keyChanges.push({ type: r.type, at: r.at, actor: who(r), key: r.data.id ?? null });
    }
    if (r.type.startsWith('policy.')) {
      report.policyChanges.push({ type: r.type, at: r.at, actor: who(r), data: r.data });
    }
    if (r.type === 'request.revealed') {
      report.reveals.push({ requestId: r.requestId, at: r.at, by: who(r), reason: r.data.reason ?? null });
    }
  }
  return report;
}

export function reportMarkdown(r: EvidenceReport): string {
  const lines: string[] = [];
  const cell = (v: unknown) =>
    (typeof v === 'string' ? v : JSON.stringify(v)).replace(/\|/g, '\\|').replace(/\n/g, ' ');
  const section = (title: string, header: string[], rows: unknown[][], none: string) => {
    lines.push('', `## ${title}`, '');
    if (rows.length === 0) {
      lines.push(none);
      return;
    }
    lines.push(`| ${header.join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`);
    for (const row of rows) lines.push(`| ${row.map(cell).join(' | ')} |`);
  };
  lines.push(
    '# Countersign audit evidence report',
    '',
    `- Built from checkpoint: origin \`${r.checkpoint.origin}\`, tree size ${r.checkpoint.size}, root \`${r.checkpoint.root}\``,
    `- Window: ${r.window.since ?? 'the beginning of the log'} to ${r.window.until}`,
    `- Events in the window: ${r.events}`,
  );
  section(
    'Requests by outcome',
    ['submitted', ...Object.keys(r.requests.outcomes)],
    [[r.requests.submitted, ...Object.values(r.requests.outcomes)]],
    '',
  );
  section(
    'Approvals and their approvers',
    ['request', 'at', 'approvers', 'decided by'],
    r.approvals.map((a) => [a.requestId, a.at, a.approvers.join(', '), a.decidedBy]),
    'No approvals in the window.',
  );
  section(
    'Separation-of-duties refusals',
    ['request', 'at', 'refused with', 'who tried'],
    r.refusals.map((x) => [x.requestId, x.at, x.type, x.actor]),
    'None in the window.',
  );
  section(
    'Expiries',
    ['request', 'at', 'deadline'],
    r.expiries.map((x) => [x.requestId, x.at, x.expiresAt]),
    'No request expired in the window.',
  );
  section(
    'Policy changes',
    ['event', 'at', 'who'],
    r.policyChanges.map((x) => [x.type, x.at, x.actor]),
    'No policy change events in the window.',
  );
  section(
    'Key changes',
    ['event', 'at', 'who', 'key'],
    r.keyChanges.map((x) => [x.type, x.at, x.actor, x.key]),
    'No key changes in the window.',
  );
  section(
    'Payload reveals',
    ['request', 'at', 'by', 'reason'],
    r.reveals.map((x) => [x.requestId, x.at, x.by, x.reason]),
    'No payload was revealed in the window.',
  );
  return `${lines.join('\n')}\n`;
}
