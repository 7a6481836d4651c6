import { LogLevel, WebClient } from '@slack/web-api';
import type { Block } from './message.js';

/**
 * The part of Slack's Web API the channel uses, so that the rest of it does not depend on the client
 * library. `createSlackApi` implements it with the official `@slack/web-api` WebClient.
 */
export interface SlackApi {
  postMessage(args: {
    channel: string;
    text: string;
    blocks: Block[];
  }): Promise<{ channel: string; ts: string }>;
  update(args: { channel: string; ts: string; text: string; blocks: Block[] }): Promise<void>;
  /** The profile email of a user (`users.info`; needs `users:read.email`), or null when it has none. */
  userEmail(userId: string): Promise<string | null>;
  openView(triggerId: string, view: Record<string, unknown>): Promise<void>;
}

export function createSlackApi(botToken: string, apiUrl: string): SlackApi {
  const client = new WebClient(botToken, {
    slackApiUrl: apiUrl,
    // The outbox retries with its own backoff; a client-side retry loop would hold a delivery for minutes.
    retryConfig: { retries: 0 },
    rejectRateLimitedCalls: true,
    timeout: 10_000,
    logLevel: LogLevel.ERROR,
  });
  return {
    async postMessage({ channel, text, blocks }) {
      const res = await client.chat.postMessage({ channel, text, blocks: blocks as never });
      if (typeof res.channel !== 'string' || typeof res.ts !== 'string') {
        throw new Error('chat.postMessage answered without channel and ts');
      }
      return { channel: res.channel, ts: res.ts };
    },
    async update({ channel, ts, text, blocks }) {
      await client.chat.update({ channel, ts, text, blocks: blocks as never });
    },
    async userEmail(userId) {
      const res = await client.users.info({ user: userId });
      const email = res.user?.profile?.email;
      return typeof email === 'string' && email.includes('@') ? email.trim().toLowerCase() : null;
    },
    async openView(triggerId, view) {
      await client.views.open({ trigger_id: triggerId, view: view as never });
    },
  };
}
