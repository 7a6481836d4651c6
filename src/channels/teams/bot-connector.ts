import type { BotToken } from './bot-token.js';
import { call, TeamsHttpError } from './http.js';

/** Where a conversation lives: the Bot Connector service URL (no trailing slash) and the conversation id. */
export interface ConversationRef {
  serviceUrl: string;
  conversationId: string;
}

/** An outgoing activity, as far as Countersign sends them (messages with text or a card). */
export interface OutgoingActivity {
  type: 'message';
  id?: string;
  replyToId?: string;
  text?: string;
  textFormat?: 'plain' | 'markdown';
  attachments?: { contentType: string; content: unknown }[];
}

/** A conversation member as the Connector describes one (`TeamsChannelAccount`). */
export interface TeamsMember {
  id: string;
  name?: string;
  aadObjectId?: string;
  email?: string;
  userPrincipalName?: string;
}

/**
 * The part of the Bot Connector REST API (v3) the Teams channel uses, so that the rest of it does not
 * depend on how it is called. Every method throws on a failure (no answer, or a non-2xx one).
 */
export interface BotConnector {
  /** `POST /v3/conversations/{id}/activities`: a new activity; returns its id. */
  send(conv: ConversationRef, activity: OutgoingActivity): Promise<string>;
  /** `POST /v3/conversations/{id}/activities/{activityId}`: a reply to an activity; returns its id. */
  reply(conv: ConversationRef, replyToId: string, activity: OutgoingActivity): Promise<string>;
  /** `PUT /v3/conversations/{id}/activities/{activityId}`: replaces an activity the bot sent. */
  update(conv: ConversationRef, activityId: string, activity: OutgoingActivity): Promise<void>;
  /** `GET /v3/conversations/{id}/members/{memberId}`: one member, or null when the Connector has none. */
  member(conv: ConversationRef, memberId: string): Promise<TeamsMember | null>;
}

/** The Bot Connector over HTTP, authenticated with the bot's client-credentials token. */
export function createBotConnector(token: BotToken): BotConnector {
  const request = async (
    method: 'GET' | 'POST' | 'PUT',
    conv: ConversationRef,
    path: string,
    body?: unknown,
  ): Promise<Response> => {
    const base = conv.serviceUrl.replace(/\/+$/, '');
    const url = `${base}/v3/conversations/${encodeURIComponent(conv.conversationId)}${path}`;
    const bearer = await token.get();
    try {
      return await call(`Bot Connector ${method} ${url.slice(base.length)}`, url, {
        method,
        headers: {
          authorization: `Bearer ${bearer}`,
          accept: 'application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/json; charset=utf-8' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (err) {
      // A refused token is refreshed on the next attempt (the outbox retries what throws).
      if (err instanceof TeamsHttpError && (err.status === 401 || err.status === 403)) token.invalidate();
      throw err;
    }
  };
  const idOf = async (res: Response, what: string): Promise<string> => {
    const body = (await res.json().catch(() => null)) as { id?: unknown } | null;
    if (typeof body?.id !== 'string' || body.id === '') {
      throw new TeamsHttpError(`Bot Connector ${what} answered without an activity id`, res.status);
    }
    return body.id;
  };
  return {
    async send(conv, activity) {
      return idOf(await request('POST', conv, '/activities', activity), 'send');
    },
    async reply(conv, replyToId, activity) {
      const path = `/activities/${encodeURIComponent(replyToId)}`;
      return idOf(await request('POST', conv, path, { ...activity, replyToId }), 'reply');
    },
    async update(conv, activityId, activity) {
      const path = `/activities/${encodeURIComponent(activityId)}`;
      await request('PUT', conv, path, { ...activity, id: activityId });
    },
    async member(conv, memberId) {
      try {
        const res = await request('GET', conv, `/members/${encodeURIComponent(memberId)}`);
        const m = (await res.json()) as TeamsMember;
        return typeof m?.id === 'string' ? m : null;
      } catch (err) {
        if (err instanceof TeamsHttpError && err.status === 404) return null;
        throw err;
      }
    },
  };
}
