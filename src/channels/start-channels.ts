import type { Logger } from 'pino';
import { resolveSecret } from '../audit/secret-ref.js';
import type { ChannelsConfig } from '../config/config.js';
import type { Clock } from '../core/clock.js';
import type { ActionRequest } from '../core/types.js';
import type { Gateway, GatewayDeps } from '../gateway/gateway.js';
import type { Store } from '../store/store.js';
import type { Channel } from './channel.js';
import { OutboxWorker, type OutboxWorkerOptions } from './outbox-worker.js';
import { planDeliveries } from './routing.js';
import { handleSlackInteraction } from './slack/interactions.js';
import { SlackPeople } from './slack/people.js';
import { createSlackApi } from './slack/slack-api.js';
import { SlackChannel } from './slack/slack-channel.js';
import { slackRoutes } from '../server/slack-routes.js';
import type { FastifyInstance } from 'fastify';

export type OutboxTuning = Partial<
  Pick<OutboxWorkerOptions, 'pollMs' | 'leaseMs' | 'maxAttempts' | 'baseDelayMs' | 'maxDelayMs' | 'random'>
>;

export interface RunningChannels {
  worker: OutboxWorker;
  /** What the gateway needs to write deliveries with its state changes and nudge the worker. */
  gatewayDeps: Pick<GatewayDeps, 'deliveries' | 'onDeliveries'>;
  /** The channels' HTTP callbacks (Fastify plugins), bound to the gateway that applies reviews. */
  integrations(gateway: Gateway): ((app: FastifyInstance) => Promise<void>)[];
  stop(): Promise<void>;
}

/**
 * Starts the configured channels and the outbox worker that sends for them. Returns null when no channel
 * is configured: then the gateway writes no deliveries and serves no callbacks, exactly as before.
 * Secret references are resolved here, so a missing one stops the start.
 */
export async function startChannels(
  config: ChannelsConfig | undefined,
  deps: { store: Store; clock: Clock; logger: Logger; tuning?: OutboxTuning },
): Promise<RunningChannels | null> {
  const slack = config?.slack;
  if (slack === undefined) return null;
  const { store, clock, logger } = deps;
  const botToken = await resolveSecret(slack.botToken, 'channels.slack.bot_token');
  const signingSecret = await resolveSecret(slack.signingSecret, 'channels.slack.signing_secret');
  const api = createSlackApi(botToken, slack.apiUrl);
  const people = new SlackPeople(api, slack.users, store, clock);
  const channels: Channel[] = [new SlackChannel(api, store)];
  const worker = new OutboxWorker({ store, channels, clock, logger, ...deps.tuning });
  const names = worker.channelNames;
  worker.start();
  logger.info({ channels: [...names] }, 'channels ready');
  return {
    worker,
    gatewayDeps: {
      deliveries: (req: ActionRequest, kind) => planDeliveries(req, kind, names, clock.now()),
      onDeliveries: () => worker.nudge(),
    },
    integrations: (gateway) => [
      slackRoutes({
        signingSecret,
        clock,
        logger,
        handle: (payload) =>
          handleSlackInteraction(payload, {
            api,
            people,
            logger,
            load: (id) => store.getRequest(id),
            review: (p, id, verdict, comment) => gateway.review(p, id, verdict, comment, 'slack'),
            respond: postResponseUrl,
          }),
      }),
    ],
    stop: () => worker.stop(),
  };
}

/** Answers on a Slack `response_url` (JSON POST), giving up after a few seconds. */
async function postResponseUrl(url: string, body: Record<string, unknown>): Promise<void> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(3_000),
  });
  if (!res.ok) throw new Error(`response_url answered ${res.status}`);
}
