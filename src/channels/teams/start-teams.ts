import { resolveSecret } from '../../audit/secret-ref.js';
import type { TeamsConfig } from '../../config/config.js';
import { teamsRoutes } from '../../server/teams-routes.js';
import type { ChannelDeps, ChannelModule } from '../channel.js';
import { BotFrameworkAuth } from './bot-auth.js';
import { createBotConnector } from './bot-connector.js';
import { BotToken } from './bot-token.js';
import { handleTeamsActivity } from './invoke.js';
import { TeamsPeople } from './people.js';
import { TeamsChannel } from './teams-channel.js';

/** Starts the Teams channel: resolves its secret (a missing one stops the start) and binds its endpoint. */
export async function startTeams(config: TeamsConfig, deps: ChannelDeps): Promise<ChannelModule> {
  const { store, clock, logger, publicUrl } = deps;
  const appPassword = await resolveSecret(config.appPassword, 'channels.teams.app_password');
  const token = new BotToken({ tokenUrl: config.tokenUrl, appId: config.appId, appPassword, clock });
  const connector = createBotConnector(token);
  const people = new TeamsPeople(connector, config.users, store, clock);
  const auth = new BotFrameworkAuth({
    appId: config.appId,
    issuer: config.issuer,
    openidMetadataUrl: config.openidMetadataUrl,
    clock,
    logger,
  });
  const knownServiceUrls = new Set(Object.values(config.conversations).map((c) => c.serviceUrl));
  return {
    channel: new TeamsChannel(connector, {
      store,
      logger,
      publicUrl,
      conversations: config.conversations,
    }),
    routes: (gateway) =>
      teamsRoutes({
        auth,
        knownServiceUrls,
        logger,
        handle: (activity, conv) =>
          handleTeamsActivity(activity, conv, {
            people,
            logger,
            publicUrl,
            load: (id) => store.getRequest(id),
            review: (p, id, verdict, comment) => gateway.review(p, id, verdict, comment, 'teams'),
          }),
      }),
  };
}
