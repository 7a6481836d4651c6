import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { ReplayGuard, verifySlackSignature } from '../channels/slack/signature.js';
import type { Clock } from '../core/clock.js';
import { CountersignError } from '../core/errors.js';

export interface SlackRouteDeps {
  signingSecret: string;
  clock: Clock;
  logger: Logger;
  /** Handles a verified interaction payload; returns the body to answer Slack with (undefined: empty 200). */
  handle: (payload: unknown) => Promise<unknown>;
}

/**
 * `POST /integrations/slack/interactions`: Slack's interactivity callback (form-encoded `payload=`).
 * Nothing is read from the body before its signature and timestamp verify; a failure is 401 and changes
 * nothing. Registered as its own Fastify plugin, so its raw-body form parser applies to this route only.
 */
export function slackRoutes(deps: SlackRouteDeps) {
  const replays = new ReplayGuard();
  return async (app: FastifyInstance): Promise<void> => {
    app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) =>
      done(null, body),
    );
    app.post('/integrations/slack/interactions', async (req, reply) => {
      const raw = typeof req.body === 'string' ? req.body : '';
      const header = (name: string) => {
        const v = req.headers[name];
        return typeof v === 'string' ? v : undefined;
      };
      const timestamp = header('x-slack-request-timestamp');
      const signature = header('x-slack-signature');
      const nowS = Math.floor(deps.clock.now().getTime() / 1000);
      const failure = verifySlackSignature(deps.signingSecret, { timestamp, signature }, raw, nowS);
      if (failure !== null || !replays.firstSeen(signature as string, Number(timestamp), nowS)) {
        deps.logger.warn({ check: failure ?? 'replayed' }, 'refused a Slack callback');
        throw new CountersignError(
          'UNAUTHENTICATED',
          `the Slack request did not verify (${failure ?? 'replayed'})`,
        );
      }
      const text = new URLSearchParams(raw).get('payload');
      let payload: unknown;
      try {
        payload = JSON.parse(text ?? '');
      } catch {
        throw new CountersignError('INVALID_REQUEST', 'expected a form field payload holding JSON');
      }
      const answer = await deps.handle(payload);
      if (answer === undefined) return reply.code(200).send();
      return reply.code(200).send(answer);
    });
  };
}
