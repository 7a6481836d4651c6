/**
 * A fake of Microsoft's side of a Teams bot on loopback, speaking the real wire formats:
 * - the Bot Framework OpenID metadata (`/v1/.well-known/openidconfiguration`) and its key set (`/v1/keys`),
 *   with an RS256 key generated at start and endorsed for `msteams`; `token()` signs channel-to-bot tokens
 *   with it, as the Bot Connector does;
 * - the Entra token endpoint (`/botframework.com/oauth2/v2.0/token`): the client-credentials grant, which
 *   checks the app id, the secret and the scope;
 * - the Bot Connector REST API under `/connector` (the service URL): it records every activity posted,
 *   replied and updated, checks the bearer token, and answers members lookups.
 * `down()` refuses connections until `up()`, on the same port.
 */
import { LoopbackServer } from './loopback-server.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';

export const BOT_ISSUER = 'https://api.botframework.com';

/** One call to the Bot Connector, as recorded. */
export interface ConnectorCall {
  op: 'send' | 'reply' | 'update' | 'member';
  conversationId: string;
  activityId?: string;
  memberId?: string;
  body?: any;
  authorization: string | undefined;
}

export interface FakeTeamsOptions {
  appId: string;
  appPassword: string;
}

export interface TokenOptions {
  issuer?: string;
  audience?: string;
  /** Seconds from now; negative for a token that has expired. */
  expiresIn?: number;
  notBefore?: number;
  /** The `serviceurl` claim; the fake's service URL by default, null for none. */
  serviceUrl?: string | null;
  /** Sign with a key the key set does not have: under a kid it does not list, or under the real kid. */
  unknownKey?: 'new-kid' | 'same-kid';
}

interface Key {
  kid: string;
  privateKey: CryptoKey;
  jwk: JWK;
}

export class FakeTeams {
  readonly calls: ConnectorCall[] = [];
  /** Every form the token endpoint received (secrets included: tests check them, never log them). */
  readonly tokenRequests: Record<string, string>[] = [];
  /** Teams user id (`29:…`) → the member the Connector knows. */
  readonly members = new Map<string, Record<string, string>>();
  /** How many of the next Bot Connector calls answer 429 with `Retry-After: 1`, as Teams throttles. */
  throttle = 0;
  /** When set, the key set endpoint answers 503 (keys unavailable). */
  keysDown = false;
  readonly #o: FakeTeamsOptions;
  readonly #issued = new Set<string>();
  readonly #activities = new Map<string, any>();
  readonly #server = new LoopbackServer((req, res, raw) => this.#route(req, res, raw));
  #seq = 0;
  #key!: Key;
  #strangers!: Record<'new-kid' | 'same-kid', Key>;

  private constructor(options: FakeTeamsOptions) {
    this.#o = options;
  }

  static async start(options: FakeTeamsOptions): Promise<FakeTeams> {
    const fake = new FakeTeams(options);
    fake.#key = await makeKey('fake-bf-key-1');
    fake.#strangers = {
      'new-kid': await makeKey('fake-bf-key-2'),
      'same-kid': await makeKey('fake-bf-key-1'),
    };
    await fake.up();
    return fake;
  }

  get base(): string {
    return this.#server.origin;
  }

  get openidMetadataUrl(): string {
    return `${this.base}/v1/.well-known/openidconfiguration`;
  }

  get tokenUrl(): string {
    return `${this.base}/botframework.com/oauth2/v2.0/token`;
  }

  /** The service URL as Teams sends it in activities (with its trailing slash). */
  get serviceUrl(): string {
    return `${this.base}/connector/`;
  }

  callsOf(op: ConnectorCall['op']): ConnectorCall[] {
    return this.calls.filter((c) => c.op === op);
  }

  /** The card of an activity as it is now (after updates). */
  activity(id: string): any {
    return this.#activities.get(id);
  }

  /** A channel-to-bot token, as the Bot Connector signs one for an activity. */
  async token(opts: TokenOptions = {}): Promise<string> {
    const key = opts.unknownKey ? this.#strangers[opts.unknownKey] : this.#key;
    const now = Math.floor(Date.now() / 1000);
    const serviceUrl = opts.serviceUrl === undefined ? this.serviceUrl : opts.serviceUrl;
    return new SignJWT(serviceUrl === null ? {} : { serviceurl: serviceUrl })
      .setProtectedHeader({ alg: 'RS256', kid: key.kid, typ: 'JWT', x5t: key.kid })
      .setIssuer(opts.issuer ?? BOT_ISSUER)
      .setAudience(opts.audience ?? this.#o.appId)
      .setIssuedAt(now - 5)
      .setNotBefore(now + (opts.notBefore ?? -5))
      .setExpirationTime(now + (opts.expiresIn ?? 3600))
      .sign(key.privateKey);
  }

  up(): Promise<void> {
    return this.#server.up();
  }

  down(): Promise<void> {
    return this.#server.down();
  }

  #route(req: IncomingMessage, res: ServerResponse, raw: string): void {
    const url = new URL(req.url ?? '/', this.base);
    const path = url.pathname;
    if (req.method === 'GET' && path === '/v1/.well-known/openidconfiguration') {
      return json(res, 200, {
        issuer: BOT_ISSUER,
        authorization_endpoint: 'https://invalid.botframework.com',
        jwks_uri: `${this.base}/v1/keys`,
        id_token_signing_alg_values_supported: ['RS256'],
        token_endpoint_auth_methods_supported: ['private_key_jwt'],
      });
    }
    if (req.method === 'GET' && path === '/v1/keys') {
      if (this.keysDown) return json(res, 503, { error: { code: 'ServiceUnavailable' } });
      return json(res, 200, { keys: [{ ...this.#key.jwk, endorsements: ['msteams', 'webchat'] }] });
    }
    if (req.method === 'POST' && path === '/botframework.com/oauth2/v2.0/token') {
      return this.#tokenEndpoint(req, res, raw);
    }
    const m = /^\/connector\/v3\/conversations\/([^/]+)\/(activities|members)(?:\/([^/]+))?$/.exec(path);
    if (m === null) return json(res, 404, { error: { code: 'NotFound', message: 'no such route' } });
    const authorization = req.headers.authorization;
    const bearer = authorization?.replace(/^Bearer /, '') ?? '';
    if (!this.#issued.has(bearer)) {
      return json(res, 401, { message: 'Authorization has been denied for this request.' });
    }
    if (this.throttle > 0) {
      this.throttle--;
      res.setHeader('retry-after', '1');
      return json(res, 429, { error: { code: 'TooManyRequests', message: 'Too many requests' } });
    }
    const conversationId = decodeURIComponent(m[1] as string);
    const sub = m[3] === undefined ? undefined : decodeURIComponent(m[3]);
    if (m[2] === 'members') {
      this.calls.push({ op: 'member', conversationId, memberId: sub, authorization });
      const member = sub === undefined ? undefined : this.members.get(sub);
      if (member === undefined) {
        return json(res, 404, {
          error: { code: 'MemberNotFoundInConversation', message: 'Member not found' },
        });
      }
      return json(res, 200, member);
    }
    const body = raw === '' ? undefined : JSON.parse(raw);
    if (req.method === 'POST' && sub === undefined) {
      const id = this.#nextId();
      this.calls.push({ op: 'send', conversationId, body, authorization });
      this.#activities.set(id, body);
      return json(res, 201, { id });
    }
    if (req.method === 'POST' && sub !== undefined) {
      if (!this.#activities.has(sub)) return json(res, 404, { error: { code: 'ActivityNotFound' } });
      const id = this.#nextId();
      this.calls.push({ op: 'reply', conversationId, activityId: sub, body, authorization });
      this.#activities.set(id, body);
      return json(res, 201, { id });
    }
    if (req.method === 'PUT' && sub !== undefined) {
      if (!this.#activities.has(sub)) return json(res, 404, { error: { code: 'ActivityNotFound' } });
      this.calls.push({ op: 'update', conversationId, activityId: sub, body, authorization });
      this.#activities.set(sub, body);
      return json(res, 200, { id: sub });
    }
    return json(res, 405, { error: { code: 'MethodNotAllowed' } });
  }

  #tokenEndpoint(req: IncomingMessage, res: ServerResponse, raw: string): void {
    const form = Object.fromEntries(new URLSearchParams(raw));
    this.tokenRequests.push(form);
    const ok =
      String(req.headers['content-type']).startsWith('application/x-www-form-urlencoded') &&
      form.grant_type === 'client_credentials' &&
      form.client_id === this.#o.appId &&
      form.client_secret === this.#o.appPassword &&
      form.scope === 'https://api.botframework.com/.default';
    if (!ok) {
      return json(res, 401, {
        error: 'invalid_client',
        error_description: 'AADSTS7000215: Invalid client secret provided.',
      });
    }
    const token = `fake-bot-token-${++this.#seq}`;
    this.#issued.add(token);
    return json(res, 200, {
      token_type: 'Bearer',
      expires_in: 3599,
      ext_expires_in: 3599,
      access_token: token,
    });
  }

  #nextId(): string {
    return `1700000000${String(++this.#seq).padStart(3, '0')}`;
  }
}

async function makeKey(kid: string): Promise<Key> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid, kty: 'RSA', use: 'sig', alg: 'RS256' };
  return { kid, privateKey, jwk };
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(body));
}
