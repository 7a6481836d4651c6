import type { FastifyInstance } from 'fastify';
import type { ChannelsConfig } from '../config/config.js';
import type { ActionRequest } from '../core/types.js';
import type { Gateway, GatewayDeps } from '../gateway/gateway.js';
import type { ChannelDeps, ChannelModule } from './channel.js';
import { OutboxWorker, type OutboxWorkerOptions } from './outbox-worker.js';
import { planDeliveries } from './routing.js';
import { startSlack } from './slack/start-slack.js';
import { startTeams } from './teams/start-teams.js';
import { startWebhooks } from './webhook/start-webhooks.js';

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
  deps: ChannelDeps & { tuning?: OutboxTuning },
): Promise<RunningChannels | null> {
  const modules: ChannelModule[] = [];
  if (config?.slack) modules.push(await startSlack(config.slack, deps));
  if (config?.teams) modules.push(await startTeams(config.teams, deps));
  if (config?.webhooks) modules.push(await startWebhooks(config.webhooks, deps));
  if (modules.length === 0) return null;
  const { store, clock, logger } = deps;
  const channels = modules.map((m) => m.channel);
  const byName = new Map(channels.map((c) => [c.name, c]));
  const worker = new OutboxWorker({ store, channels, clock, logger, ...deps.tuning });
  worker.start();
  logger.info({ channels: [...byName.keys()] }, 'channels ready');
  return {
    worker,
    gatewayDeps: {
      deliveries: (req: ActionRequest, kind) => planDeliveries(req, kind, byName, clock.now()),
      onDeliveries: () => worker.nudge(),
    },
    integrations: (gateway) => modules.flatMap((m) => (m.routes ? [m.routes(gateway)] : [])),
    stop: async () => {
      await worker.stop();
      for (const m of modules) await m.stop?.();
    },
  };
}
