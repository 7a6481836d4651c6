import { createHmac, timingSafeEqual } from 'node:crypto';

/** Slack's window for `X-Slack-Request-Timestamp`: older (or further in the future) is refused. */
export const SLACK_TIMESTAMP_WINDOW_S = 5 * 60;

export type SignatureFailure =
  'missing-headers' | 'bad-timestamp' | 'stale-timestamp' | 'bad-signature' | 'replayed';

/** `v0=` + hex HMAC-SHA256(signing secret, `v0:{timestamp}:{raw body}`), as Slack computes it. */
export function slackSignature(signingSecret: string, timestamp: string, rawBody: string): string {
  return `v0=${createHmac('sha256', signingSecret).update(`v0:${timestamp}:${rawBody}`).digest('hex')}`;
}

/**
 * Checks a request from Slack ("Verifying requests from Slack"): the timestamp within five minutes of
 * `nowS`, then the v0 signature over the raw body, compared in constant time. Returns which check failed.
 */
export function verifySlackSignature(
  signingSecret: string,
  headers: { timestamp: string | undefined; signature: string | undefined },
  rawBody: string,
  nowS: number,
): SignatureFailure | null {
  const { timestamp, signature } = headers;
  if (timestamp === undefined || signature === undefined) return 'missing-headers';
  if (!/^\d{1,12}$/.test(timestamp)) return 'bad-timestamp';
  if (Math.abs(nowS - Number(timestamp)) > SLACK_TIMESTAMP_WINDOW_S) return 'stale-timestamp';
  const expected = Buffer.from(slackSignature(signingSecret, timestamp, rawBody));
  const given = Buffer.from(signature);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'bad-signature';
  return null;
}

/**
 * Remembers the signatures seen within the timestamp window, so that a captured request replayed inside
 * the window is refused (outside it, the timestamp check refuses it). In memory: after a restart a replay
 * could pass once, and then only reaches the same idempotent review checks (ALREADY_REVIEWED).
 */
export class ReplayGuard {
  readonly #seen = new Map<string, number>();

  /** True the first time a signature is seen; false for a replay. */
  firstSeen(signature: string, timestampS: number, nowS: number): boolean {
    for (const [sig, ts] of this.#seen) {
      if (nowS - ts > SLACK_TIMESTAMP_WINDOW_S * 2) this.#seen.delete(sig);
    }
    if (this.#seen.has(signature)) return false;
    this.#seen.set(signature, timestampS);
    return true;
  }
}
