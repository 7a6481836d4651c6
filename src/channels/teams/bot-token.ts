import type { Clock } from '../../core/clock.js';
import { call, TeamsHttpError } from './http.js';

/** The scope of a token for the Bot Connector API. */
export const BOT_CONNECTOR_SCOPE = 'https://api.botframework.com/.default';

/** Refresh this long before the token runs out (or at half its life, when that is sooner). */
const REFRESH_MARGIN_MS = 5 * 60_000;

export interface BotTokenOptions {
  tokenUrl: string;
  appId: string;
  appPassword: string;
  clock: Clock;
}

/**
 * The bot's own access token for the Bot Connector API: the OAuth 2.0 client-credentials grant against
 * Entra ID, cached until shortly before it expires. Concurrent callers share one token request.
 */
export class BotToken {
  readonly #o: BotTokenOptions;
  #cached: { token: string; refreshAt: number } | null = null;
  #pending: Promise<string> | null = null;

  constructor(options: BotTokenOptions) {
    this.#o = options;
  }

  async get(): Promise<string> {
    const now = this.#o.clock.now().getTime();
    if (this.#cached && now < this.#cached.refreshAt) return this.#cached.token;
    this.#pending ??= this.#fetch().finally(() => {
      this.#pending = null;
    });
    return this.#pending;
  }

  /** Forgets the cached token (the Connector refused it: revoked, or the secret was rotated). */
  invalidate(): void {
    this.#cached = null;
  }

  async #fetch(): Promise<string> {
    const { tokenUrl, appId, appPassword, clock } = this.#o;
    const started = clock.now().getTime();
    const res = await call('token request', tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: appId,
        client_secret: appPassword,
        scope: BOT_CONNECTOR_SCOPE,
      }).toString(),
    });
    const body = (await res.json().catch(() => null)) as {
      access_token?: unknown;
      expires_in?: unknown;
    } | null;
    const token = body?.access_token;
    const expiresIn = Number(body?.expires_in);
    if (typeof token !== 'string' || token === '' || !Number.isFinite(expiresIn) || expiresIn <= 0) {
      throw new TeamsHttpError('token request answered without access_token and expires_in', res.status);
    }
    const lifeMs = expiresIn * 1000;
    this.#cached = { token, refreshAt: started + lifeMs - Math.min(REFRESH_MARGIN_MS, lifeMs / 2) };
    return token;
  }
}
