import { resolveSecret } from '../../audit/secret-ref.js';
import type { WebhookConfig } from '../../config/config.js';
import type { ChannelDeps, ChannelModule } from '../channel.js';
import { WebhookChannel, type WebhookEndpoint } from './webhook-channel.js';
import { checkWebhookSecret } from './webhook-secret.js';

/**
 * Starts the webhook channel: resolves and checks every endpoint's secret first, so a missing or malformed
 * one stops the start (naming `channels.webhooks[NAME].secret`, never the value) instead of failing
 * every delivery later.
 */
export async function startWebhooks(
  config: readonly WebhookConfig[],
  deps: ChannelDeps,
): Promise<ChannelModule> {
  const endpoints: WebhookEndpoint[] = [];
  for (const w of config) {
    const setting = `channels.webhooks[${w.name}].secret`;
    const secret = checkWebhookSecret(await resolveSecret(w.secret, setting), setting);
    endpoints.push({ name: w.name, url: w.url, secret, events: w.events });
  }
  deps.logger.info({ webhooks: endpoints.map((e) => e.name) }, 'webhooks ready');
  return { channel: new WebhookChannel(endpoints, { clock: deps.clock, publicUrl: deps.publicUrl }) };
}
