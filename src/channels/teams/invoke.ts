import type { Logger } from 'pino';
import { CountersignError } from '../../core/errors.js';
import { assertMayReview } from '../../core/separation-of-duties.js';
import type { ActionRequest, Principal, Verdict } from '../../core/types.js';
import { toView } from '../../gateway/view.js';
import { requestLink } from '../channel.js';
import type { ConversationRef } from './bot-connector.js';
import { ADAPTIVE_CARD, APPROVE_VERB, buildTeamsCard, DENY_VERB } from './card.js';
import type { TeamsPeople } from './people.js';

/** The invoke `name` of an `Action.Execute` click (Universal Actions). */
export const ADAPTIVE_CARD_ACTION = 'adaptiveCard/action';
const MESSAGE = 'application/vnd.microsoft.activity.message';

/** The body answering an `adaptiveCard/action` invoke: a refreshed card, or a message to the clicker. */
export interface InvokeResponse {
  statusCode: 200;
  type: typeof ADAPTIVE_CARD | typeof MESSAGE;
  value: unknown;
}

export interface InvokeDeps {
  people: TeamsPeople;
  /** Reads a request (masked, as stored), or null. */
  load: (id: string) => Promise<ActionRequest | null>;
  /** Applies a review through the gateway, with channel `teams` (all its checks apply). */
  review: (p: Principal, id: string, verdict: Verdict, comment: string | null) => Promise<ActionRequest>;
  logger: Logger;
  /** `public_url`: cards and step-up answers link to the request under it. */
  publicUrl: string | null;
}

/**
 * Handles one verified activity. An `adaptiveCard/action` invoke with verb `approve` or `deny` becomes a
 * review; the answer is the refreshed card, or — when the review is refused — a message that only the
 * clicker sees, and nothing changes. Other activities are not ours: undefined (an empty 200).
 *
 * `conv` is where the members API may be asked who clicked (null when the activity's service URL is not
 * one the bot may send its token to).
 */
export async function handleTeamsActivity(
  activity: Record<string, unknown>,
  conv: ConversationRef | null,
  deps: InvokeDeps,
): Promise<InvokeResponse | undefined> {
  if (activity.type !== 'invoke' || activity.name !== ADAPTIVE_CARD_ACTION) {
    // Installing the app or adding the bot to a team sends one of these: its conversation id and service
    // URL are what channels.teams.conversations needs, so they are logged (neither is a secret).
    const c = (activity.conversation ?? {}) as { id?: unknown; conversationType?: unknown };
    deps.logger.info(
      {
        activityType: activity.type,
        conversationId: c.id,
        conversationType: c.conversationType,
        serviceUrl: activity.serviceUrl,
      },
      'Teams activity (not a card action): nothing to do',
    );
    return undefined;
  }
  const value = (activity.value ?? {}) as { action?: { verb?: unknown; data?: unknown } };
  const verb = value.action?.verb;
  const data = (value.action?.data ?? {}) as { requestId?: unknown; comment?: unknown };
  if ((verb !== APPROVE_VERB && verb !== DENY_VERB) || typeof data.requestId !== 'string') {
    return message('Countersign does not know this action.');
  }
  const comment =
    typeof data.comment === 'string' && data.comment.trim() !== ''
      ? data.comment.trim().slice(0, 2000)
      : null;
  const who = await identify(activity.from, conv, deps);
  if (typeof who === 'string') return message(who);
  const req = await deps.load(data.requestId);
  if (req === null) return message(refusalText(new CountersignError('NOT_FOUND', 'no such request')));
  if (req.approval?.stepUp && req.status === 'pending') return message(stepUpText(req.id, deps.publicUrl));
  try {
    if (verb === DENY_VERB && comment === null) {
      // Say why this person may not review at all before asking them for a reason.
      assertMayReview(req, who);
      return message('Give a reason for the denial in the comment box, then press Deny again.');
    }
    await deps.review(who, req.id, verb === APPROVE_VERB ? 'approve' : 'deny', comment);
  } catch (err) {
    if (!(err instanceof CountersignError)) throw err;
    return message(refusalText(err));
  }
  const now = (await deps.load(req.id)) ?? req;
  return { statusCode: 200, type: ADAPTIVE_CARD, value: buildTeamsCard(toView(now), deps.publicUrl) };
}

/** The person behind the Teams user, or the explanation of why there is none. */
async function identify(
  from: unknown,
  conv: ConversationRef | null,
  deps: InvokeDeps,
): Promise<Principal | string> {
  const f = (from ?? {}) as { id?: unknown; name?: unknown; aadObjectId?: unknown };
  if (typeof f.id !== 'string' || f.id === '') return 'Teams did not say who you are.';
  const user = {
    id: f.id,
    name: typeof f.name === 'string' ? f.name : '',
    aadObjectId: typeof f.aadObjectId === 'string' && f.aadObjectId !== '' ? f.aadObjectId : null,
  };
  const principal = await deps.people.principal(user, conv);
  if (principal === null) {
    return (
      `Countersign cannot tell who you are: the Teams account ${user.aadObjectId ?? user.id} has no email it ` +
      'can read. Ask an admin to map your Entra object id in channels.teams.users. Nothing was changed.'
    );
  }
  return principal;
}

function message(text: string): InvokeResponse {
  return { statusCode: 200, type: MESSAGE, value: text };
}

function refusalText(err: CountersignError): string {
  const why: Record<string, string> = {
    SELF_APPROVAL_FORBIDDEN:
      'You cannot review this request: you asked for it, own the agent that asked, or it acts for you.',
    // The gateway's own words say why (who the approvers are; that agents never review).
    NOT_AN_APPROVER: `${err.message.charAt(0).toUpperCase()}${err.message.slice(1)}.`,
    ALREADY_REVIEWED: 'You have already reviewed this request.',
    ALREADY_DECIDED: `This request is already settled: ${err.message}.`,
    NOT_FOUND: 'This request does not exist.',
  };
  return `${why[err.code] ?? err.message} Nothing was changed.`;
}

function stepUpText(id: string, publicUrl: string | null): string {
  const link = requestLink(publicUrl, id);
  return (
    'This request needs a step-up approval: clicks in Teams do not count for it. Approve it on the web or ' +
    `API (countersign approve ${id}, or POST /v1/requests/${id}/approve)` +
    (link === null ? '.' : `: ${link}`) +
    ' Nothing was changed.'
  );
}
