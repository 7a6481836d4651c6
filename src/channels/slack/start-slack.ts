import { resolveSecret } from '../../audit/secret-ref.js';
import type { SlackConfig } from '../../config/config.js';
import { slackRoutes } from '../../server/slack-routes.js';
import type { ChannelDeps, ChannelModule } from '../channel.js';
import { responder } from './response-url.js';
import { handleSlackInteraction } from './interactions.js';
import { SlackPeople } from './people.js';
import { createSlackApi } from './slack-api.js';
import { SlackChannel } from './slack-channel.js';

/** Starts the Slack channel: resolves its secrets (a missing one stops the start) and binds its callback. */
export async function startSlack(config: SlackConfig, deps: ChannelDeps): Promise<ChannelModule> {
  const { store, clock, logger } = deps;
  const botToken = await resolveSecret(config.botToken, 'channels.slack.bot_token');
  const signingSecret = await resolveSecret(config.signingSecret, 'channels.slack.signing_secret');
  const api = createSlackApi(botToken, config.apiUrl);
  const people = new SlackPeople(api, config.users, store, clock);
  const respond = responder(config.apiUrl);
  return {
    channel: new SlackChannel(api, {
      store,
      clock,
      logger,
      publicUrl: deps.publicUrl,
      dmApprovers: config.dmApprovers,
      users: config.users,
    }),
    routes: (gateway) =>
      slackRoutes({
        signingSecret,
        clock,
        logger,
        handle: (payload) =>
          handleSlackInteraction(payload, {
            api,
            people,
            logger,
            publicUrl: deps.publicUrl,
            load: (id) => store.getRequest(id),
            review: (p, id, verdict, comment) => gateway.review(p, id, verdict, comment, 'slack'),
            respond,
          }),
      }),
  };
}
