import { parseRetryAfter, RetryLaterError } from '../channel.js';

/** Every call to Microsoft (token, Bot Connector, OpenID metadata) gives up after this long. */
export const HTTP_TIMEOUT_MS = 10_000;

/** A call to a Microsoft endpoint that failed: no answer, or an answer that is not 2xx. */
export class TeamsHttpError extends Error {
  override readonly name = 'TeamsHttpError';
  /** The HTTP status, or null when no answer came (refused, reset, timed out). */
  readonly status: number | null;

  constructor(message: string, status: number | null, options?: { cause?: unknown }) {
    super(message, options);
    this.status = status;
  }
}

/**
 * `fetch` with a timeout, throwing `TeamsHttpError` on no answer or a non-2xx one (`RetryLaterError` when a
 * 429 or 503 says when to retry). `what` names the call in
 * the error (never a credential: callers pass the method and path, not headers or bodies).
 */
export async function call(
  what: string,
  url: string,
  init: RequestInit,
  timeoutMs = HTTP_TIMEOUT_MS,
): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(url, { ...init, redirect: 'error', signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    const cause = (err as { cause?: { code?: unknown } }).cause;
    const why =
      typeof cause?.code === 'string' ? cause.code : err instanceof Error ? err.message : String(err);
    throw new TeamsHttpError(`${what} failed: ${why}`, null, { cause: err });
  }
  if (!res.ok) {
    // The body of an error answer is Microsoft's error object (code and message), never a secret of ours.
    const detail = await errorDetail(res);
    const message = `${what} answered ${res.status}${detail ? `: ${detail}` : ''}`;
    // Teams throttles bots (429) and says when to come back; the outbox then waits at least that long.
    // An HTTP-date hint is relative to real time, so it is read against the wall clock.
    const after =
      res.status === 429 || res.status === 503
        ? parseRetryAfter(res.headers.get('retry-after'), new Date())
        : null;
    if (after !== null) throw new RetryLaterError(message, after);
    throw new TeamsHttpError(message, res.status);
  }
  return res;
}

async function errorDetail(res: Response): Promise<string> {
  try {
    const body = (await res.json()) as Record<string, unknown>;
    const err = body.error;
    if (typeof err === 'string') return err; // OAuth: {"error": "invalid_client", …}
    if (err && typeof err === 'object') {
      const { code, message } = err as { code?: unknown; message?: unknown };
      return [code, message]
        .filter((x) => typeof x === 'string')
        .join(' ')
        .slice(0, 200);
    }
  } catch {
    // not JSON
  }
  return '';
}
