/**
 * A fake of Slack's Web API on loopback, for the real `@slack/web-api` client: it records every call and
 * answers in Slack's wire format (`{ok: true, channel, ts}`…). It also records what is posted to
 * `response_url`s under `/response/…`. `down()` refuses connections until `up()`, on the same port.
 */
import { LoopbackServer } from './loopback-server.js';
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface SlackCall {
  method: string;
  args: Record<string, any>;
}

/** A message as the fake workspace keeps it (for conversations.history). */
export interface FakeMessage {
  channel: string;
  ts: string;
  text: string;
  blocks?: unknown;
  metadata?: { event_type: string; event_payload: Record<string, unknown> };
  thread_ts?: string;
}

export class FakeSlack {
  readonly calls: SlackCall[] = [];
  readonly responses: { path: string; body: any }[] = [];
  /** Slack user id → profile email, for users.info and users.lookupByEmail. */
  readonly emails = new Map<string, string>();
  /** Channel name → id, for conversations.list and for posts by name. */
  readonly channels = new Map<string, string>([['prod-approvals', 'C0PROD']]);
  /** Every message posted, by channel id, oldest first. */
  readonly messages: FakeMessage[] = [];
  /**
   * When set, the next chat.postMessage is recorded (the message exists in Slack) but its HTTP answer is
   * never sent: the connection is cut, as when Slack or the network fails after accepting a post.
   */
  dropNextPostAnswer = false;
  /** Method → Retry-After seconds: the next call of that method answers 429 (Slack's rate limit). */
  readonly rateLimitNext = new Map<string, number>();
  readonly #server = new LoopbackServer((req, res, raw) => this.#handle(req, res, raw));
  #ts = 0;

  private constructor() {}

  static async start(): Promise<FakeSlack> {
    const fake = new FakeSlack();
    await fake.up();
    return fake;
  }

  get apiUrl(): string {
    return `${this.#server.origin}/api/`;
  }

  responseUrl(name: string): string {
    return `${this.#server.origin}/response/${name}`;
  }

  callsOf(method: string): SlackCall[] {
    return this.calls.filter((c) => c.method === method);
  }

  up(): Promise<void> {
    return this.#server.up();
  }

  down(): Promise<void> {
    return this.#server.down();
  }

  #handle(req: IncomingMessage, res: ServerResponse, raw: string): void {
    const url = req.url ?? '';
    if (url.startsWith('/response/')) {
      this.responses.push({ path: url, body: JSON.parse(raw) });
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      return;
    }
    const method = url.replace(/^\/api\//, '').split('?')[0] ?? '';
    const args = parseArgs(raw, String(req.headers['content-type'] ?? ''));
    this.calls.push({ method, args: { ...args, token: req.headers.authorization } });
    const limited = this.rateLimitNext.get(method);
    if (limited !== undefined) {
      this.rateLimitNext.delete(method);
      res.writeHead(429, { 'retry-after': String(limited), 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok: false, error: 'ratelimited' }));
      return;
    }
    const answer = this.#answer(method, args);
    if (method === 'chat.postMessage' && this.dropNextPostAnswer) {
      this.dropNextPostAnswer = false;
      req.socket.destroy();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
    res.end(JSON.stringify(answer));
  }

  #channelId(channel: string): string | null {
    return dmOrId(channel) ?? this.channels.get(channel.replace(/^#/, '')) ?? null;
  }

  /** Messages carrying Countersign metadata for this request (optionally to one target). */
  posted(requestId: string, target?: string): FakeMessage[] {
    return this.messages.filter(
      (m) =>
        m.metadata?.event_payload.request_id === requestId &&
        (target === undefined || m.metadata.event_payload.target === target),
    );
  }

  #answer(method: string, args: Record<string, any>): Record<string, unknown> {
    switch (method) {
      case 'chat.postMessage': {
        const channel = this.#channelId(String(args.channel));
        if (channel === null) return { ok: false, error: 'channel_not_found' };
        const ts = `${Math.floor(Date.now() / 1000)}.${String(++this.#ts).padStart(6, '0')}`;
        this.messages.push({
          channel,
          ts,
          text: args.text,
          ...(args.blocks === undefined ? {} : { blocks: args.blocks }),
          ...(args.metadata === undefined ? {} : { metadata: args.metadata }),
          ...(args.thread_ts === undefined ? {} : { thread_ts: args.thread_ts }),
        });
        return { ok: true, channel, ts, message: { ts, text: args.text } };
      }
      case 'conversations.history': {
        const oldest = Number(args.oldest ?? 0);
        const all = this.messages
          .filter((m) => m.channel === args.channel && Number(m.ts) > oldest)
          .reverse() // newest first, as Slack answers
          .map((m) => ({
            type: 'message',
            ts: m.ts,
            text: m.text,
            // Slack includes metadata only when asked to.
            ...(m.metadata && String(args.include_all_metadata) === 'true' ? { metadata: m.metadata } : {}),
          }));
        return { ok: true, messages: all, has_more: false, response_metadata: { next_cursor: '' } };
      }
      case 'conversations.list':
        return {
          ok: true,
          channels: [...this.channels].map(([name, id]) => ({ id, name, is_channel: true })),
          response_metadata: { next_cursor: '' },
        };
      case 'conversations.open': {
        const user = String(args.users ?? '');
        return /^[UW][A-Z0-9]+$/.test(user)
          ? { ok: true, channel: { id: `D${user.slice(1)}` } }
          : { ok: false, error: 'user_not_found' };
      }
      case 'users.lookupByEmail': {
        const hit = [...this.emails].find(([, e]) => e === String(args.email));
        return hit === undefined
          ? { ok: false, error: 'users_not_found' }
          : { ok: true, user: { id: hit[0], profile: { email: hit[1] } } };
      }
      case 'chat.update':
        return { ok: true, channel: args.channel, ts: args.ts, text: args.text };
      case 'users.info': {
        const email = this.emails.get(String(args.user));
        return email === undefined
          ? { ok: false, error: 'user_not_found' }
          : { ok: true, user: { id: args.user, name: 'someone', profile: { email } } };
      }
      case 'views.open':
        return { ok: true, view: { id: 'V0DENY', ...args.view } };
      default:
        return { ok: false, error: 'unknown_method' };
    }
  }
}

/** What chat.postMessage posted to a channel, by name (`#x`), id, or user id (their DM). */
function dmOrId(channel: string): string | null {
  if (/^[CGD][A-Z0-9]+$/.test(channel)) return channel;
  if (/^[UW][A-Z0-9]+$/.test(channel)) return `D${channel.slice(1)}`;
  return null;
}

/** The client sends JSON or form bodies; in forms, nested arguments (blocks, view) are JSON strings. */
function parseArgs(raw: string, contentType: string): Record<string, any> {
  if (raw === '') return {};
  if (contentType.includes('json')) return JSON.parse(raw);
  const out: Record<string, any> = {};
  for (const [k, v] of new URLSearchParams(raw)) {
    try {
      out[k] = k === 'blocks' || k === 'view' || k === 'metadata' ? JSON.parse(v) : v;
    } catch {
      out[k] = v;
    }
  }
  return out;
}
