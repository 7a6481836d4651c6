import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload } from 'jose';
import type { Logger } from 'pino';
import type { Clock } from '../../core/clock.js';
import { call, HTTP_TIMEOUT_MS } from './http.js';

/** Bot Framework allows five minutes of clock skew between the Connector and the bot. */
export const CLOCK_TOLERANCE_S = 300;
/** How long the OpenID metadata (which names the key set) is reused before it is fetched again. */
const METADATA_TTL_MS = 24 * 60 * 60_000;

export interface BotAuthOptions {
  /** The bot's Microsoft App ID: the audience every token must carry. */
  appId: string;
  /** The issuer every token must carry (`https://api.botframework.com`). */
  issuer: string;
  /** The OpenID metadata whose `jwks_uri` holds the signing keys. */
  openidMetadataUrl: string;
  clock: Clock;
  logger: Logger;
}

/** What a verified token says about its caller. */
export interface VerifiedCaller {
  /** The token's `serviceurl` claim (the Connector the activity came from), when it has one. */
  serviceUrl: string | null;
  /** The channels the signing key is endorsed for (`msteams` …), when the key set lists them. */
  endorsements: string[] | null;
}

/** Why a token was refused: which check failed, named for the log and the 401. */
export class BotAuthError extends Error {
  override readonly name = 'BotAuthError';
  readonly check: string;

  constructor(check: string, options?: { cause?: unknown }) {
    super(`the Bot Framework token did not verify (${check})`, options);
    this.check = check;
  }
}

/**
 * Verifies the `Authorization: Bearer <JWT>` the Bot Connector sends with every activity, as Bot Framework
 * specifies for the channel-to-bot direction: an RS256 signature by a key from the key set the OpenID
 * metadata names, issuer, audience = the bot's App ID, and expiry with five minutes of skew. The metadata is
 * cached for a day (and reused if a refresh fails); the key set is cached and refetched for unknown keys
 * by jose.
 */
export class BotFrameworkAuth {
  readonly #o: BotAuthOptions;
  #metadata: { jwksUri: string; until: number } | null = null;
  #keys: { uri: string; set: ReturnType<typeof createRemoteJWKSet> } | null = null;

  constructor(options: BotAuthOptions) {
    this.#o = options;
  }

  async verify(authorization: string | undefined): Promise<VerifiedCaller> {
    const m = /^Bearer ([A-Za-z0-9_.-]{1,8192})$/.exec(authorization ?? '');
    if (m === null) throw new BotAuthError(authorization ? 'malformed Authorization header' : 'no token');
    const keys = await this.#keySet();
    let payload: JWTPayload;
    let kid: string | undefined;
    try {
      const verified = await jwtVerify(m[1] as string, keys, {
        issuer: this.#o.issuer,
        audience: this.#o.appId,
        algorithms: ['RS256'],
        clockTolerance: CLOCK_TOLERANCE_S,
        currentDate: this.#o.clock.now(),
        requiredClaims: ['exp'],
      });
      payload = verified.payload;
      kid = verified.protectedHeader.kid;
    } catch (err) {
      throw new BotAuthError(checkOf(err), { cause: err });
    }
    const serviceUrl = typeof payload.serviceurl === 'string' ? payload.serviceurl : null;
    const jwk = keys.jwks()?.keys.find((k) => k.kid === kid) as { endorsements?: unknown } | undefined;
    const endorsements = Array.isArray(jwk?.endorsements)
      ? jwk.endorsements.filter((e): e is string => typeof e === 'string')
      : null;
    return { serviceUrl, endorsements };
  }

  /** The key set named by the (cached) OpenID metadata. */
  async #keySet(): Promise<ReturnType<typeof createRemoteJWKSet>> {
    const jwksUri = await this.#jwksUri();
    if (this.#keys?.uri !== jwksUri) {
      let url: URL;
      try {
        url = new URL(jwksUri);
      } catch (err) {
        throw new BotAuthError('the OpenID metadata has no valid jwks_uri', { cause: err });
      }
      this.#keys = { uri: jwksUri, set: createRemoteJWKSet(url, { timeoutDuration: HTTP_TIMEOUT_MS }) };
    }
    return this.#keys.set;
  }

  async #jwksUri(): Promise<string> {
    const now = this.#o.clock.now().getTime();
    if (this.#metadata && now < this.#metadata.until) return this.#metadata.jwksUri;
    try {
      const res = await call('OpenID metadata', this.#o.openidMetadataUrl, {
        headers: { accept: 'application/json' },
      });
      const body = (await res.json()) as { jwks_uri?: unknown };
      if (typeof body.jwks_uri !== 'string') throw new Error('the OpenID metadata has no jwks_uri');
      this.#metadata = { jwksUri: body.jwks_uri, until: now + METADATA_TTL_MS };
      return body.jwks_uri;
    } catch (err) {
      if (this.#metadata) {
        this.#o.logger.warn(
          { err },
          'could not refresh the Bot Framework OpenID metadata; using the last one',
        );
        return this.#metadata.jwksUri;
      }
      this.#o.logger.error({ err }, 'could not read the Bot Framework OpenID metadata');
      throw new BotAuthError('the OpenID metadata is unavailable', { cause: err });
    }
  }
}

/** The failed check, from jose's stable error codes. */
function checkOf(err: unknown): string {
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === 'iss') return 'wrong issuer';
    if (err.claim === 'aud') return 'wrong audience';
    if (err.claim === 'nbf') return 'not yet valid';
    return `claim ${err.claim}: ${err.reason}`;
  }
  if (err instanceof errors.JWTExpired) return 'expired';
  if (err instanceof errors.JWKSNoMatchingKey) return 'signed by an unknown key';
  if (err instanceof errors.JWSSignatureVerificationFailed) return 'bad signature';
  if (err instanceof errors.JOSEAlgNotAllowed) return 'algorithm not allowed';
  if (err instanceof errors.JWKSTimeout || err instanceof errors.JWKSInvalid) return 'key set unavailable';
  // jose's generic error here is the key set answering something other than 200 with JSON.
  if (err instanceof errors.JOSEError && err.code === 'ERR_JOSE_GENERIC') return 'key set unavailable';
  if (err instanceof errors.JOSEError) return `malformed token (${err.code})`;
  // Not jose's own: the key set could not be fetched.
  return 'key set unavailable';
}
