import type { RequestView } from '../../gateway/view.js';
import { requestLink } from '../channel.js';

/** A Block Kit block; loose on purpose, Slack validates the shape. */
export type Block = Record<string, unknown>;

export interface SlackMessage {
  /** The notification and screen-reader fallback. */
  text: string;
  blocks: Block[];
}

export const APPROVE_ACTION = 'countersign.approve';
export const DENY_ACTION = 'countersign.deny';
export const DENY_MODAL = 'countersign.deny_reason';

const PREVIEW_CHARS = 1_500;
const STATUS_LABEL: Record<RequestView['status'], string> = {
  pending: ':hourglass_flowing_sand: Approval needed',
  approved: ':white_check_mark: Approved',
  denied: ':no_entry: Denied',
  expired: ':alarm_clock: Expired',
  cancelled: ':heavy_multiplication_x: Cancelled',
};

/** Slack mrkdwn control characters, escaped as Slack documents (text from requests is never markup). */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** The action id of a button: the verb and the request id, so the click names what it is about. */
export function actionId(verb: typeof APPROVE_ACTION | typeof DENY_ACTION, requestId: string): string {
  return `${verb}:${requestId}`;
}

/** Parses an action id back; null when it is not one of ours. */
export function parseActionId(id: string): { verb: 'approve' | 'deny'; requestId: string } | null {
  const m = /^countersign\.(approve|deny):(\S{1,200})$/.exec(id);
  return m ? { verb: m[1] as 'approve' | 'deny', requestId: m[2] as string } : null;
}

/**
 * The approval message for a request as every route shows it (masked: invariant 8). Pending requests get
 * Approve and Deny buttons; settled ones show the outcome and who decided, with no buttons.
 */
export function buildSlackMessage(view: RequestView, publicUrl: string | null = null): SlackMessage {
  const e = escapeMrkdwn;
  const requester =
    `${e(view.requester.name)} (${view.requester.kind})` +
    (view.requester.owner ? `, owned by ${e(view.requester.owner)}` : '');
  const onBehalfOf = view.onBehalfOf
    ? `${e(view.onBehalfOf.email)}${view.onBehalfOf.verified ? ' (verified)' : ' (unverified)'}`
    : '—';
  const blocks: Block[] = [
    {
      type: 'header',
      text: {
        type: 'plain_text',
        text: `${STATUS_LABEL[view.status]}: ${view.action}`.slice(0, 150),
        emoji: true,
      },
    },
    {
      type: 'section',
      fields: [
        mrkdwn(`*Action*\n\`${e(view.action)}\``),
        mrkdwn(`*Resource*\n\`${e(view.resource)}\``),
        mrkdwn(`*Environment*\n${e(view.environment)}`),
        mrkdwn(`*Requester*\n${requester}`),
        mrkdwn(`*On behalf of*\n${onBehalfOf}`),
        mrkdwn(`*Request*\n\`${e(view.id)}\``),
      ],
    },
    { type: 'section', text: mrkdwn(`*Reason*\n${view.reason ? e(view.reason) : '—'}`) },
    { type: 'section', text: mrkdwn(`*Parameters* (masked)\n\`\`\`${e(preview(view.parameters))}\`\`\``) },
  ];
  const types = [...new Set(view.dlp.findings.map((f) => f.type))].sort();
  if (types.length > 0) {
    blocks.push({
      type: 'section',
      text: mrkdwn(`*Sensitive data found (masked)*\n${types.map((t) => `\`${e(t)}\``).join(', ')}`),
    });
  }
  blocks.push({
    type: 'section',
    text: mrkdwn(`*Policy*: rule \`${e(view.policy.rule ?? 'defaults')}\`\n${e(view.policy.explanation)}`),
  });
  const a = view.approval;
  if (a) {
    const approvers = new Set(
      a.reviews.filter((r) => r.verdict === 'approve').map((r) => r.reviewer.email ?? r.reviewer.id),
    );
    const deadline = Math.floor(Date.parse(a.expiresAt) / 1000);
    blocks.push({
      type: 'context',
      elements: [
        mrkdwn(
          `Approvals: *${approvers.size} of ${a.quorum}* · Approvers: ${e(a.approvers.join(', '))} · ` +
            `Deadline: <!date^${deadline}^{date_short_pretty} {time}|${a.expiresAt}>` +
            (a.stepUp ? ' · Step-up: approve on the web or API' : ''),
        ),
      ],
    });
    for (const r of a.reviews) {
      const who = e(r.reviewer.name + (r.reviewer.email ? ` <${r.reviewer.email}>` : ''));
      const verb = r.verdict === 'approve' ? ':white_check_mark: approved' : ':no_entry: denied';
      blocks.push({
        type: 'context',
        elements: [mrkdwn(`${who} ${verb} via ${r.channel}${r.comment ? `: “${e(r.comment)}”` : ''}`)],
      });
    }
  }
  const link = requestLink(publicUrl, view.id);
  if (link !== null) {
    blocks.push({ type: 'context', elements: [mrkdwn(`<${link}|Open request \`${e(view.id)}\`>`)] });
  }
  if (view.status === 'pending') {
    blocks.push({
      type: 'actions',
      block_id: 'countersign.review',
      elements: [
        button('Approve', actionId(APPROVE_ACTION, view.id), view.id, 'primary'),
        button('Deny', actionId(DENY_ACTION, view.id), view.id, 'danger'),
      ],
    });
  } else {
    const by = view.decidedBy ? ` by ${e(view.decidedBy)}` : '';
    blocks.push({
      type: 'section',
      text: mrkdwn(`*Outcome*: ${view.status}${by}${view.decidedAt ? ` at ${view.decidedAt}` : ''}`),
    });
  }
  const text = `${STATUS_LABEL[view.status]}: ${view.action} on ${view.resource} (${view.environment}) requested by ${view.requester.name}`;
  return { text, blocks };
}

/** The direct message that tells the person behind a request how it ended. */
export function buildOutcomeText(view: RequestView, publicUrl: string | null = null): string {
  const e = escapeMrkdwn;
  const by = view.decidedBy && view.status !== 'expired' ? ` by ${e(view.decidedBy)}` : '';
  const link = requestLink(publicUrl, view.id);
  const comment = view.approval?.reviews.find((r) => r.verdict === 'deny')?.comment;
  return (
    `${STATUS_LABEL[view.status]}: \`${e(view.action)}\` on \`${e(view.resource)}\` (${e(view.environment)}), ` +
    `requested by ${e(view.requester.name)}, is *${view.status}*${by}.` +
    (comment ? ` Reason: “${e(comment)}”.` : '') +
    ` Request \`${e(view.id)}\`` +
    (link === null ? '.' : ` · <${link}|open it>`)
  );
}

function mrkdwn(text: string): Block {
  return { type: 'mrkdwn', text };
}

function button(text: string, id: string, value: string, style: 'primary' | 'danger'): Block {
  return { type: 'button', text: { type: 'plain_text', text }, action_id: id, value, style };
}

function preview(parameters: unknown): string {
  const json = JSON.stringify(parameters, null, 2) ?? 'null';
  return json.length > PREVIEW_CHARS ? `${json.slice(0, PREVIEW_CHARS)}\n… (truncated)` : json;
}
