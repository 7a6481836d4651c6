/**
 * An HTTP server on 127.0.0.1 that can go down and come back on the same port, for the fakes of the
 * platforms channels talk to (Slack, Teams): `down()` refuses connections (and cuts open ones) until `up()`.
 * The handler gets each request with its whole body read.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

export class LoopbackServer {
  readonly #handle: Handler;
  #server: Server | null = null;
  #port = 0;

  constructor(handle: Handler) {
    this.#handle = handle;
  }

  /** `http://127.0.0.1:PORT` (the port stays the same across down and up). */
  get origin(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  async up(): Promise<void> {
    if (this.#server?.listening) return;
    const server = createServer((req, res) => {
      void readBody(req).then((body) => this.#handle(req, res, body));
    });
    await new Promise<void>((resolve) => server.listen(this.#port, '127.0.0.1', resolve));
    this.#port = (server.address() as AddressInfo).port;
    this.#server = server;
  }

  async down(): Promise<void> {
    const server = this.#server;
    if (server === null) return;
    this.#server = null;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
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
