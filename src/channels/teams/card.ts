import type { RequestView } from '../../gateway/view.js';
import { requestLink } from '../channel.js';

/** An Adaptive Card element or the card itself; loose on purpose, Teams validates the shape. */
export type CardElement = Record<string, unknown>;

export const ADAPTIVE_CARD = 'application/vnd.microsoft.card.adaptive';
export const APPROVE_VERB = 'approve';
export const DENY_VERB = 'deny';
/** The id of the card's text input: Teams sends its value as `action.data.comment`. */
export const COMMENT_INPUT = 'comment';

const PREVIEW_CHARS = 1_500;
const TEXT_CHARS = 2_000;
const STATUS_LABEL: Record<RequestView['status'], string> = {
  pending: '⏳ Approval needed',
  approved: '✅ Approved',
  denied: '⛔ Denied',
  expired: '⏰ Expired',
  cancelled: '✖️ Cancelled',
};

/**
 * The approval card for a request as every route shows it (masked: invariant 8), an Adaptive Card 1.5.
 * Pending requests get a comment box and Approve / Deny (`Action.Execute`, verbs `approve` and `deny`, data
 * `{requestId}`); settled ones show the outcome and who decided, with no actions.
 *
 * Text that comes from a request is only ever put in `TextRun`s, which Adaptive Cards never read as
 * Markdown, so a reason cannot turn into a link or formatting; `TextBlock`s hold only our own words.
 */
export function buildTeamsCard(view: RequestView, publicUrl: string | null = null): CardElement {
  const requester =
    `${view.requester.name} (${view.requester.kind})` +
    (view.requester.owner ? `, owned by ${view.requester.owner}` : '');
  const onBehalfOf = view.onBehalfOf
    ? `${view.onBehalfOf.email}${view.onBehalfOf.verified ? ' (verified)' : ' (unverified)'}`
    : '—';
  const body: CardElement[] = [
    {
      type: 'RichTextBlock',
      inlines: [run(`${STATUS_LABEL[view.status]}: ${view.action}`, { weight: 'Bolder', size: 'Large' })],
    },
    fact('Action', view.action, true),
    fact('Resource', view.resource, true),
    fact('Environment', view.environment),
    fact('Requester', requester),
    fact('On behalf of', onBehalfOf),
    fact('Request', view.id, true),
    fact('Reason', view.reason ?? '—'),
    heading('Parameters (masked)'),
    { type: 'RichTextBlock', inlines: [run(preview(view.parameters), { fontType: 'Monospace' })] },
  ];
  const types = [...new Set(view.dlp.findings.map((f) => f.type))].sort();
  if (types.length > 0) body.push(fact('Sensitive data found (masked)', types.join(', ')));
  body.push(fact('Policy', `rule ${view.policy.rule ?? 'defaults'}`), {
    type: 'RichTextBlock',
    spacing: 'None',
    inlines: [run(view.policy.explanation, { isSubtle: true })],
  });
  const a = view.approval;
  if (a) {
    const approvers = new Set(
      a.reviews.filter((r) => r.verdict === 'approve').map((r) => r.reviewer.email ?? r.reviewer.id),
    );
    body.push(
      fact('Approvals', `${approvers.size} of ${a.quorum}`),
      fact('Approvers', a.approvers.join(', ')),
      // DATE() and TIME() show the deadline in each reader's time zone; the text is ours (a stored timestamp).
      {
        type: 'TextBlock',
        text: `**Deadline:** {{DATE(${rfc3339(a.expiresAt)}, SHORT)}} {{TIME(${rfc3339(a.expiresAt)})}}`,
        wrap: true,
        spacing: 'None',
      },
    );
    if (a.stepUp) body.push(note('Step-up: approve on the web or API; clicks in Teams do not count.'));
    for (const r of a.reviews) {
      const who = r.reviewer.name + (r.reviewer.email ? ` <${r.reviewer.email}>` : '');
      const verb = r.verdict === 'approve' ? '✅ approved' : '⛔ denied';
      body.push({
        type: 'RichTextBlock',
        separator: r === a.reviews[0],
        inlines: [run(`${who} ${verb} via ${r.channel}${r.comment ? `: “${r.comment}”` : ''}`)],
      });
    }
  }
  const link = requestLink(publicUrl, view.id);
  if (link !== null) {
    // The link is ours (public_url and the encoded id); brackets are escaped so Markdown keeps it whole.
    const safe = link.replace(/\(/g, '%28').replace(/\)/g, '%29');
    body.push({ type: 'TextBlock', text: `[Open request](${safe})`, wrap: true, isSubtle: true });
  }
  const card: CardElement = {
    type: 'AdaptiveCard',
    $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
    version: '1.5',
    fallbackText: summary(view),
    msteams: { width: 'Full' },
    body,
  };
  if (view.status === 'pending') {
    body.push({
      type: 'Input.Text',
      id: COMMENT_INPUT,
      label: 'Comment (required to deny)',
      placeholder: 'Why you approve or deny',
      isMultiline: true,
      maxLength: TEXT_CHARS,
    });
    card.actions = [
      execute('Approve', APPROVE_VERB, view.id, 'positive'),
      execute('Deny', DENY_VERB, view.id, 'destructive'),
    ];
  } else {
    const by = view.decidedBy ? ` by ${view.decidedBy}` : '';
    body.push(fact('Outcome', `${view.status}${by}${view.decidedAt ? ` at ${view.decidedAt}` : ''}`));
  }
  return card;
}

/** The message that tells the person behind a request how it ended (plain text, a reply to the card). */
export function buildOutcomeText(view: RequestView, person: string, publicUrl: string | null = null): string {
  const by = view.decidedBy && view.status !== 'expired' ? ` by ${view.decidedBy}` : '';
  const link = requestLink(publicUrl, view.id);
  const comment = view.approval?.reviews.find((r) => r.verdict === 'deny')?.comment;
  return (
    `${person}: ${STATUS_LABEL[view.status]}: ${view.action} on ${view.resource} (${view.environment}), ` +
    `requested by ${view.requester.name}, is ${view.status}${by}.` +
    (comment ? ` Reason: “${clip(comment)}”.` : '') +
    ` Request ${view.id}` +
    (link === null ? '.' : `: ${link}`)
  );
}

/** The card as the attachment of a message activity. */
export function cardAttachment(card: CardElement): { contentType: string; content: CardElement } {
  return { contentType: ADAPTIVE_CARD, content: card };
}

function summary(view: RequestView): string {
  return `${STATUS_LABEL[view.status]}: ${view.action} on ${view.resource} (${view.environment}) requested by ${view.requester.name}`;
}

function run(text: string, style: Record<string, unknown> = {}): CardElement {
  return { type: 'TextRun', text: clip(text), ...style };
}

/** A labelled value: the label ours, the value plain text. */
function fact(label: string, value: string, mono = false): CardElement {
  return {
    type: 'RichTextBlock',
    spacing: 'None',
    inlines: [run(`${label}: `, { weight: 'Bolder' }), run(value, mono ? { fontType: 'Monospace' } : {})],
  };
}

function heading(text: string): CardElement {
  return { type: 'TextBlock', text, weight: 'Bolder', wrap: true, spacing: 'Medium' };
}

function note(text: string): CardElement {
  return { type: 'TextBlock', text, wrap: true, isSubtle: true, color: 'Warning' };
}

function execute(title: string, verb: string, requestId: string, style: string): CardElement {
  return { type: 'Action.Execute', title, verb, data: { requestId }, style, associatedInputs: 'auto' };
}

function clip(text: string): string {
  return text.length > TEXT_CHARS ? `${text.slice(0, TEXT_CHARS)}… (truncated)` : text;
}

function preview(parameters: unknown): string {
  const json = JSON.stringify(parameters, null, 2) ?? 'null';
  return json.length > PREVIEW_CHARS ? `${json.slice(0, PREVIEW_CHARS)}\n… (truncated)` : json;
}

/** `2026-01-01T00:00:00.000Z` → `2026-01-01T00:00:00Z`, the strict form DATE() and TIME() accept. */
function rfc3339(iso: string): string {
  return iso.replace(/\.\d+Z$/, 'Z');
}
