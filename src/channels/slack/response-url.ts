/** Where Slack's `response_url`s point; others are refused even inside a verified payload. */
const SLACK_HOOKS_ORIGIN = 'https://hooks.slack.com';

/**
 * Answers on a Slack `response_url` (JSON POST), giving up after a few seconds. Only Slack's hooks host,
 * or the origin of the configured `api_url` (a Slack-compatible proxy, or a fake in tests), is accepted:
 * the gateway never posts a message to an address a payload merely claims.
 */
export function responder(apiUrl: string) {
  const allowed = new Set([SLACK_HOOKS_ORIGIN, new URL(apiUrl).origin]);
  return async (url: string, body: Record<string, unknown>): Promise<void> => {
    let origin: string;
    try {
      origin = new URL(url).origin;
    } catch {
      throw new Error('response_url is not a URL');
    }
    if (!allowed.has(origin)) throw new Error(`response_url host ${origin} is not Slack's; not answered`);
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(3_000),
    });
    if (!res.ok) throw new Error(`response_url answered ${res.status}`);
  };
}
