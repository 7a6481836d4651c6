/**
 * A fake of Slack's Web API on loopback, for the real `@slack/web-api` client: it records every call and
 * answers in Slack's wire format (`{ok: true, channel, ts}`…). It also records what is posted to
 * `response_url`s under `/response/…`. `down()` refuses connections until `up()`, on the same port.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SlackCall {
  method: string;
  args: Record<string, any>;
}

export class FakeSlack {
  readonly calls: SlackCall[] = [];
  readonly responses: { path: string; body: any }[] = [];
  /** Slack user id → profile email, for users.info. */
  readonly emails = new Map<string, string>();
  #server: Server;
  #port = 0;
  #ts = 0;

  private constructor() {
    this.#server = this.#create();
  }

  static async start(): Promise<FakeSlack> {
    const fake = new FakeSlack();
    await fake.up();
    return fake;
  }

  get apiUrl(): string {
    return `http://127.0.0.1:${this.#port}/api/`;
  }

  responseUrl(name: string): string {
    return `http://127.0.0.1:${this.#port}/response/${name}`;
  }

  callsOf(method: string): SlackCall[] {
    return this.calls.filter((c) => c.method === method);
  }

  async up(): Promise<void> {
    if (this.#server.listening) return;
    this.#server = this.#create();
    await new Promise<void>((resolve) => this.#server.listen(this.#port, '127.0.0.1', resolve));
    this.#port = (this.#server.address() as AddressInfo).port;
  }

  async down(): Promise<void> {
    const server = this.#server;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  #create(): Server {
    return createServer((req, res) => {
      void readBody(req).then((raw) => {
        const url = req.url ?? '';
        if (url.startsWith('/response/')) {
          this.responses.push({ path: url, body: JSON.parse(raw) });
          res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
          return;
        }
        const method = url.replace(/^\/api\//, '').split('?')[0] ?? '';
        const args = parseArgs(raw, String(req.headers['content-type'] ?? ''));
        this.calls.push({ method, args: { ...args, token: req.headers.authorization } });
        res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
        res.end(JSON.stringify(this.#answer(method, args)));
      });
    });
  }

  #answer(method: string, args: Record<string, any>): Record<string, unknown> {
    switch (method) {
      case 'chat.postMessage': {
        const ts = `1700000000.${String(++this.#ts).padStart(6, '0')}`;
        return { ok: true, channel: 'C0PROD', ts, message: { ts, text: args.text } };
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

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** The client sends JSON or form bodies; in forms, nested arguments (blocks, view) are JSON strings. */
function parseArgs(raw: string, contentType: string): Record<string, any> {
  if (raw === '') return {};
  if (contentType.includes('json')) return JSON.parse(raw);
  const out: Record<string, any> = {};
  for (const [k, v] of new URLSearchParams(raw)) {
    try {
      out[k] = k === 'blocks' || k === 'view' ? JSON.parse(v) : v;
    } catch {
      out[k] = v;
    }
  }
  return out;
}
