/**
 * A webhook endpoint on loopback that records every POST and checks its signature with the reference
 * `standardwebhooks` library, as a receiver would. `answers` scripts the status codes it replies with
 * (then 200 once they run out).
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

export interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  /** null when the signature verified, else the library's complaint. */
  verifyError: string | null;
  /** The parsed body. */
  event: any;
}

/** A fresh Standard Webhooks secret: never a literal in the repository. */
export function newSecret(bytes = 32): string {
  return `whsec_${randomBytes(bytes).toString('base64')}`;
}

export class WebhookReceiver {
  readonly secret: string;
  readonly received: Received[] = [];
  /** Status codes for the next requests, in order. */
  answers: number[] = [];
  /** A `Retry-After` value sent with every 429 and 503 answer, when set. */
  retryAfter: string | null = null;
  readonly #server: Server;

  private constructor(server: Server, secret: string) {
    this.#server = server;
    this.secret = secret;
  }

  static async start(secret = newSecret()): Promise<WebhookReceiver> {
    const server = createServer();
    const receiver = new WebhookReceiver(server, secret);
    server.on('request', (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        receiver.received.push({
          headers: req.headers,
          body,
          verifyError: verify(receiver.secret, body, req.headers),
          event: JSON.parse(body),
        });
        res.statusCode = receiver.answers.shift() ?? 200;
        if (receiver.retryAfter !== null && (res.statusCode === 429 || res.statusCode === 503)) {
          res.setHeader('retry-after', receiver.retryAfter);
        }
        res.end('ok');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return receiver;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/hooks`;
  }

  /** The types of the events received, in order. */
  get types(): string[] {
    return this.received.map((r) => r.event.type as string);
  }

  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

/** Verifies one delivery with the reference library; returns null when it verifies. */
export function verify(secret: string, body: string, headers: IncomingHttpHeaders): string | null {
  const h: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) if (typeof v === 'string') h[k] = v;
  try {
    new Webhook(secret).verify(body, h);
    return null;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}
