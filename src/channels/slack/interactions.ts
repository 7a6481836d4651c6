import type { Logger } from 'pino';
import { CountersignError } from '../../core/errors.js';
import { assertMayReview } from '../../core/separation-of-duties.js';
import type { ActionRequest, Principal, Verdict } from '../../core/types.js';
import { DENY_MODAL, escapeMrkdwn, parseActionId } from './message.js';
import type { SlackPeople } from './people.js';
import type { SlackApi } from './slack-api.js';
import { requestLink } from '../channel.js';

export interface InteractionDeps {
  api: SlackApi;
  people: SlackPeople;
  /** Reads a request (masked, as stored), or null. */
  load: (id: string) => Promise<ActionRequest | null>;
  /** Applies a review through the gateway, with channel `slack` (all its checks apply). */
  review: (p: Principal, id: string, verdict: Verdict, comment: string | null) => Promise<ActionRequest>;
  /** Posts to a payload's `response_url` (an ephemeral answer to the clicking user). */
  respond: (responseUrl: string, body: Record<string, unknown>) => Promise<void>;
  logger: Logger;
  /** `public_url`: a step-up answer links to the request under it. */
  publicUrl: string | null;
}

interface SlackUser {
  id?: unknown;
  username?: unknown;
  name?: unknown;
}

/**
 * Handles one verified interaction payload (`block_actions` from the buttons, `view_submission` from the
 * deny modal) and returns the HTTP body to answer Slack with (undefined: an empty 200). A refused review
 * changes nothing and is explained to the user alone.
 */
export async function handleSlackInteraction(payload: unknown, deps: InteractionDeps): Promise<unknown> {
  const p = (payload ?? {}) as Record<string, unknown>;
  if (p.type === 'block_actions') return blockAction(p, deps);
  if (p.type === 'view_submission') return viewSubmission(p, deps);
  return undefined; // other interaction types are not ours to handle
}

async function blockAction(p: Record<string, unknown>, deps: InteractionDeps): Promise<undefined> {
  const action = (Array.isArray(p.actions) ? (p.actions[0] as Record<string, unknown>) : undefined) ?? {};
  const parsed = typeof action.action_id === 'string' ? parseActionId(action.action_id) : null;
  const responseUrl = typeof p.response_url === 'string' ? p.response_url : null;
  if (parsed === null) return undefined;
  const tell = async (text: string) => {
    if (responseUrl === null) return;
    await deps
      .respond(responseUrl, { response_type: 'ephemeral', replace_original: false, text })
      .catch((err: unknown) => deps.logger.warn({ err }, 'could not answer a Slack user on response_url'));
  };
  const who = await identify(p.user as SlackUser | undefined, deps);
  if (typeof who === 'string') return void (await tell(who));
  const req = await deps.load(parsed.requestId);
  if (req === null) return void (await tell(`Request ${parsed.requestId} does not exist.`));
  if (req.approval?.stepUp && req.status === 'pending') {
    return void (await tell(stepUpText(req.id, deps.publicUrl)));
  }
  if (parsed.verb === 'deny') {
    try {
      assertMayReview(req, who);
    } catch (err) {
      return void (await tell(refusalText(err)));
    }
    const triggerId = typeof p.trigger_id === 'string' ? p.trigger_id : null;
    if (triggerId === null) return void (await tell('Slack sent no trigger id; try again.'));
    await deps.api.openView(triggerId, denyModal(req));
    return undefined;
  }
  try {
    await deps.review(who, req.id, 'approve', null);
  } catch (err) {
    if (!(err instanceof CountersignError)) throw err;
    await tell(refusalText(err));
  }
  return undefined;
}

async function viewSubmission(p: Record<string, unknown>, deps: InteractionDeps): Promise<unknown> {
  const view = (p.view ?? {}) as Record<string, unknown>;
  if (view.callback_id !== DENY_MODAL) return undefined;
  const id = typeof view.private_metadata === 'string' ? view.private_metadata : '';
  const state = view.state as { values?: Record<string, Record<string, { value?: unknown }>> } | undefined;
  const reason = state?.values?.reason?.reason?.value;
  const comment = typeof reason === 'string' && reason.trim() !== '' ? reason.trim() : null;
  const errors = (text: string) => ({ response_action: 'errors', errors: { reason: text.slice(0, 150) } });
  const who = await identify(p.user as SlackUser | undefined, deps);
  if (typeof who === 'string') return errors(who);
  if (comment === null) return errors('Give a reason for the denial.');
  try {
    await deps.review(who, id, 'deny', comment);
  } catch (err) {
    if (!(err instanceof CountersignError)) throw err;
    return errors(refusalText(err));
  }
  return { response_action: 'clear' };
}

/** The person behind the Slack user, or the explanation of why there is none. */
async function identify(user: SlackUser | undefined, deps: InteractionDeps): Promise<Principal | string> {
  const id = typeof user?.id === 'string' ? user.id : null;
  if (id === null) return 'Slack did not say who you are.';
  const name =
    typeof user?.name === 'string' ? user.name : typeof user?.username === 'string' ? user.username : '';
  const principal = await deps.people.principal(id, name);
  if (principal === null) {
    return (
      `Countersign cannot tell who you are: your Slack account (${id}) has no email it can read. ` +
      'Ask an admin to map your Slack user id in channels.slack.users.'
    );
  }
  return principal;
}

function refusalText(err: unknown): string {
  if (!(err instanceof CountersignError)) return 'Your review could not be recorded.';
  const why: Record<string, string> = {
    SELF_APPROVAL_FORBIDDEN:
      'You cannot review this request: you asked for it, own the agent that asked, or it acts for you.',
    NOT_AN_APPROVER: `You are not an approver of this request. ${err.message}`,
    ALREADY_REVIEWED: 'You have already reviewed this request.',
    ALREADY_DECIDED: `This request is already settled. ${err.message}`,
    NOT_FOUND: 'This request does not exist.',
  };
  return `${why[err.code] ?? err.message} Nothing was changed.`;
}

function stepUpText(id: string, publicUrl: string | null): string {
  const link = requestLink(publicUrl, id);
  return (
    `This request needs a step-up approval: Slack clicks do not count for it. Approve it on the web or API ` +
    `(\`countersign approve ${escapeMrkdwn(id)}\`, or \`POST /v1/requests/${escapeMrkdwn(id)}/approve\`)` +
    (link === null ? '.' : `: <${link}|open the request>.`)
  );
}

function denyModal(req: ActionRequest): Record<string, unknown> {
  return {
    type: 'modal',
    callback_id: DENY_MODAL,
    private_metadata: req.id,
    title: { type: 'plain_text', text: 'Deny request' },
    submit: { type: 'plain_text', text: 'Deny' },
    close: { type: 'plain_text', text: 'Cancel' },
    blocks: [
      {
        type: 'section',
        text: {
          type: 'mrkdwn',
          text: `Deny \`${escapeMrkdwn(req.action)}\` on \`${escapeMrkdwn(req.resource)}\`?`,
        },
      },
      {
        type: 'input',
        block_id: 'reason',
        label: { type: 'plain_text', text: 'Reason' },
        element: { type: 'plain_text_input', action_id: 'reason', multiline: true, max_length: 2000 },
      },
    ],
  };
}
