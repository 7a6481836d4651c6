import { ErrorCode, LogLevel, WebClient } from '@slack/web-api';
import { RetryLaterError } from '../channel.js';
import type { Block } from './message.js';

/** The `metadata.event_type` of every message Countersign posts; its payload names request and target. */
export const METADATA_EVENT = 'countersign_request';

export interface PostedMessage {
  channel: string;
  ts: string;
}

/**
 * The part of Slack's Web API the channel uses, so that the rest of it does not depend on the client
 * library. `createSlackApi` implements it with the official `@slack/web-api` WebClient.
 */
export interface SlackApi {
  /** Posts a message carrying `metadata` (`countersign_request`: request id and target). */
  postMessage(args: {
    channel: string;
    text: string;
    blocks?: Block[];
    threadTs?: string;
    metadata: { requestId: string; target: string };
  }): Promise<PostedMessage>;
  update(args: { channel: string; ts: string; text: string; blocks: Block[] }): Promise<void>;
  /**
   * The message Countersign posted for `requestId` and `target` in `channel` since `oldest` (seconds), read
   * back through `conversations.history` metadata; null when there is none.
   */
  findPosted(args: {
    channel: string;
    oldest: number;
    requestId: string;
    target: string;
  }): Promise<PostedMessage | null>;
  /** The id of a public or private channel the bot is in, by name (`conversations.list`); null if none. */
  channelIdByName(name: string): Promise<string | null>;
  /** The profile email of a user (`users.info`; needs `users:read.email`), or null when it has none. */
  userEmail(userId: string): Promise<string | null>;
  /** The user with this email (`users.lookupByEmail`), or null when the workspace has none. */
  userIdByEmail(email: string): Promise<string | null>;
  /** The id of the bot's direct-message conversation with a user (`conversations.open`). */
  openDm(userId: string): Promise<string>;
  openView(triggerId: string, view: Record<string, unknown>): Promise<void>;
}

const HISTORY_PAGES = 5;

export function createSlackApi(botToken: string, apiUrl: string): SlackApi {
  const api = slackApiOf(
    new WebClient(botToken, {
      slackApiUrl: apiUrl,
      // The outbox retries with its own backoff; a client-side retry loop would hold a delivery for minutes.
      retryConfig: { retries: 0 },
      rejectRateLimitedCalls: true,
      timeout: 10_000,
      logLevel: LogLevel.ERROR,
    }),
  );
  // Slack's rate limits say when to come back: the outbox honours that instead of its own backoff.
  const wrapped = {} as Record<string, unknown>;
  for (const [name, fn] of Object.entries(api) as [string, (...a: unknown[]) => Promise<unknown>][]) {
    wrapped[name] = (...args: unknown[]) =>
      fn(...args).catch((err: unknown) => {
        if (err instanceof Error && (err as { code?: unknown }).code === ErrorCode.RateLimitedError) {
          const seconds = (err as { retryAfter?: unknown }).retryAfter;
          throw new RetryLaterError(
            `Slack rate-limited ${name}`,
            typeof seconds === 'number' && seconds >= 0 ? seconds * 1000 : 60_000,
          );
        }
        throw err;
      });
  }
  return wrapped as unknown as SlackApi;
}

function slackApiOf(client: WebClient): SlackApi {
  return {
    async postMessage({ channel, text, blocks, threadTs, metadata }) {
      const res = await client.chat.postMessage({
        channel,
        text,
        ...(blocks === undefined ? {} : { blocks: blocks as never }),
        ...(threadTs === undefined ? {} : { thread_ts: threadTs }),
        metadata: {
          event_type: METADATA_EVENT,
          event_payload: { request_id: metadata.requestId, target: metadata.target },
        },
      });
      if (typeof res.channel !== 'string' || typeof res.ts !== 'string') {
        throw new Error('chat.postMessage answered without channel and ts');
      }
      return { channel: res.channel, ts: res.ts };
    },
    async update({ channel, ts, text, blocks }) {
      await client.chat.update({ channel, ts, text, blocks: blocks as never });
    },
    async findPosted({ channel, oldest, requestId, target }) {
      let cursor: string | undefined;
      for (let page = 0; page < HISTORY_PAGES; page++) {
        const res = await client.conversations.history({
          channel,
          oldest: String(oldest),
          include_all_metadata: true,
          limit: 200,
          ...(cursor === undefined ? {} : { cursor }),
        });
        for (const m of res.messages ?? []) {
          const p = m.metadata?.event_payload as Record<string, unknown> | undefined;
          if (
            m.metadata?.event_type === METADATA_EVENT &&
            p?.request_id === requestId &&
            p.target === target &&
            typeof m.ts === 'string'
          ) {
            return { channel, ts: m.ts };
          }
        }
        cursor = res.response_metadata?.next_cursor || undefined;
        if (cursor === undefined) break;
      }
      return null;
    },
    async channelIdByName(name) {
      let cursor: string | undefined;
      do {
        const res = await client.conversations.list({
          types: 'public_channel,private_channel',
          exclude_archived: true,
          limit: 1000,
          ...(cursor === undefined ? {} : { cursor }),
        });
        const hit = res.channels?.find((c) => c.name === name);
        if (hit?.id) return hit.id;
        cursor = res.response_metadata?.next_cursor || undefined;
      } while (cursor !== undefined);
      return null;
    },
    async userEmail(userId) {
      const res = await client.users.info({ user: userId });
      const email = res.user?.profile?.email;
      return typeof email === 'string' && email.includes('@') ? email.trim().toLowerCase() : null;
    },
    async userIdByEmail(email) {
      try {
        const res = await client.users.lookupByEmail({ email });
        return res.user?.id ?? null;
      } catch (err) {
        if ((err as { data?: { error?: string } }).data?.error === 'users_not_found') return null;
        throw err;
      }
    },
    async openDm(userId) {
      const res = await client.conversations.open({ users: userId });
      const id = res.channel?.id;
      if (typeof id !== 'string') throw new Error('conversations.open answered without a channel id');
      return id;
    },
    async openView(triggerId, view) {
      await client.views.open({ trigger_id: triggerId, view: view as never });
    },
  };
}
