import { describe, expect, it } from 'vitest';
import { ReplayGuard, slackSignature, verifySlackSignature } from '../../src/channels/slack/signature.js';

// The worked example of Slack's "Verifying requests from Slack" documentation (a slash command body).
const SLACK_EXAMPLE = {
  secret: '8f742231b10e8888abcd99yyyzzz85a5',
  timestamp: '1531420618',
  body:
    'token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V' +
    '&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=' +
    '&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN' +
    '&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c',
  signature: 'v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503',
};

describe('Slack request signatures', () => {
  const { secret, timestamp, body, signature } = SLACK_EXAMPLE;
  const now = Number(timestamp) + 10;

  it("verifies Slack's own published example", () => {
    expect(slackSignature(secret, timestamp, body)).toBe(signature);
    expect(verifySlackSignature(secret, { timestamp, signature }, body, now)).toBeNull();
  });

  it('names the check that failed', () => {
    const v = (h: { timestamp?: string; signature?: string }, b = body, at = now) =>
      verifySlackSignature(secret, { timestamp: h.timestamp, signature: h.signature }, b, at);
    expect(v({ signature })).toBe('missing-headers');
    expect(v({ timestamp })).toBe('missing-headers');
    expect(v({ timestamp: '15314x0618', signature })).toBe('bad-timestamp');
    expect(v({ timestamp, signature }, body, Number(timestamp) + 301)).toBe('stale-timestamp');
    expect(v({ timestamp, signature }, body, Number(timestamp) - 301)).toBe('stale-timestamp');
    expect(v({ timestamp, signature }, body, Number(timestamp) + 300)).toBeNull();
    expect(v({ timestamp, signature }, `${body}&x=1`)).toBe('bad-signature');
    expect(v({ timestamp, signature: signature.replace('v0=a', 'v0=b') })).toBe('bad-signature');
    expect(v({ timestamp, signature: 'v0=short' })).toBe('bad-signature');
    expect(verifySlackSignature('another-secret', { timestamp, signature }, body, now)).toBe('bad-signature');
  });

  it('remembers signatures within the window to drop replays', () => {
    const guard = new ReplayGuard();
    expect(guard.firstSeen(signature, Number(timestamp), now)).toBe(true);
    expect(guard.firstSeen(signature, Number(timestamp), now + 200)).toBe(false);
    expect(guard.firstSeen('v0=other', Number(timestamp), now)).toBe(true);
  });
});
