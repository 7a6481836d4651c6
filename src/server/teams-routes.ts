import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { BotAuthError, type BotFrameworkAuth, type VerifiedCaller } from '../channels/teams/bot-auth.js';
import type { ConversationRef } from '../channels/teams/bot-connector.js';
import { CountersignError } from '../core/errors.js';

/** Activities are small; a card action is a few kilobytes. */
export const TEAMS_BODY_LIMIT = 256 * 1024;

export interface TeamsRouteDeps {
  auth: Pick<BotFrameworkAuth, 'verify'>;
  /** Service URLs of the configured conversations: the bot may send its token there. */
  knownServiceUrls: ReadonlySet<string>;
  logger: Logger;
  /**
   * Handles a verified activity; returns the body to answer with (undefined: an empty 200). `conv` is where
   * the members API may be asked about the sender, or null when the bot should not send its token there.
   */
  handle: (activity: Record<string, unknown>, conv: ConversationRef | null) => Promise<unknown>;
}

/**
 * `POST /integrations/teams/messages`: the bot's messaging endpoint, where the Bot Connector posts
 * activities (card clicks arrive as `invoke` activities). The Bot Framework token is verified before the
 * body is read; then the token's `serviceurl` must be the activity's and its signing key endorsed for the
 * activity's channel. Any failure is 401 and changes nothing.
 */
export function teamsRoutes(deps: TeamsRouteDeps) {
  const callers = new WeakMap<FastifyRequest, VerifiedCaller>();
  const refuse = (check: string): never => {
    deps.logger.warn({ check }, 'refused a Teams callback');
    throw new CountersignError('UNAUTHENTICATED', `the Bot Framework token did not verify (${check})`);
  };
  return async (app: FastifyInstance): Promise<void> => {
    app.post(
      '/integrations/teams/messages',
      {
        bodyLimit: TEAMS_BODY_LIMIT,
        onRequest: async (req) => {
          try {
            callers.set(req, await deps.auth.verify(req.headers.authorization));
          } catch (err) {
            if (err instanceof BotAuthError) refuse(err.check);
            throw err;
          }
        },
      },
      async (req, reply) => {
        const caller = callers.get(req);
        if (caller === undefined) return refuse('no token');
        const activity = req.body;
        if (activity === null || typeof activity !== 'object' || Array.isArray(activity)) {
          throw new CountersignError('INVALID_REQUEST', 'expected a Bot Framework activity (a JSON object)');
        }
        const a = activity as Record<string, unknown>;
        const serviceUrl = typeof a.serviceUrl === 'string' ? trimSlash(a.serviceUrl) : null;
        if (caller.serviceUrl !== null && trimSlash(caller.serviceUrl) !== serviceUrl) {
          refuse('serviceurl claim does not match the activity');
        }
        if (caller.endorsements !== null && !caller.endorsements.includes(String(a.channelId))) {
          refuse('the signing key is not endorsed for the activity channel');
        }
        const conversationId = (a.conversation as { id?: unknown } | undefined)?.id;
        const trusted =
          serviceUrl !== null && (caller.serviceUrl !== null || deps.knownServiceUrls.has(serviceUrl));
        const conv =
          trusted && typeof conversationId === 'string' && conversationId !== ''
            ? { serviceUrl, conversationId }
            : null;
        const answer = await deps.handle(a, conv);
        if (answer === undefined) return reply.code(200).send();
        return reply.code(200).send(answer);
      },
    );
  };
}

function trimSlash(url: string): string {
  return url.replace(/\/+$/, '');
}
