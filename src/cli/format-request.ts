import type { ActionRequestView } from '../client/index.js';
import { relativeTime } from './output.js';

/** A request as a person reads it at a glance. */
export function formatRequest(r: ActionRequestView, now = Date.now()): string {
  const lines = [
    `${r.id}  ${r.status.toUpperCase()}`,
    `  action:    ${r.action}${r.resource ? ` on ${r.resource}` : ''}${r.environment ? ` (${r.environment})` : ''}`,
    `  requester: ${r.requester.name} (${r.requester.kind}${r.requester.owner ? `, owned by ${r.requester.owner}` : ''})${
      r.onBehalfOf ? ` for ${r.onBehalfOf.email}${r.onBehalfOf.verified ? '' : ' (unverified)'}` : ''
    }`,
  ];
  if (r.reason) lines.push(`  reason:    ${r.reason}`);
  lines.push(`  policy:    ${r.policy.explanation}`);
  const a = r.approval;
  if (a) {
    const approvals = new Set(
      a.reviews.filter((v) => v.verdict === 'approve').map((v) => v.reviewer.email ?? v.reviewer.id),
    );
    const groups = a.require.map((q) => `${q.count} from ${q.group}`).join(', ');
    lines.push(
      `  approval:  ${approvals.size}/${a.quorum} from ${a.approvers.join(', ')}${groups ? ` (at least ${groups})` : ''}` +
        (r.status === 'pending' ? `; expires ${relativeTime(a.expiresAt, now)}` : ''),
    );
    for (const v of a.reviews) {
      lines.push(
        `    ${v.verdict === 'approve' ? '✔' : '✘'} ${v.reviewer.email ?? v.reviewer.name} via ${v.channel}${v.comment ? `: ${v.comment}` : ''}`,
      );
    }
  }
  if (r.decidedBy) lines.push(`  decided:   by ${r.decidedBy} at ${r.decidedAt ?? ''}`);
  lines.push(`  digest:    ${r.digest}`);
  return lines.join('\n');
}
