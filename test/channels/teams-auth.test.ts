/**
 * The two Microsoft-facing pieces on their own, against the fake on loopback with a fake clock: the bot's
 * client-credentials token (cached until shortly before it expires) and the verification of incoming
 * Bot Framework tokens.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BotAuthError, BotFrameworkAuth } from '../../src/channels/teams/bot-auth.js';
import { BotToken } from '../../src/channels/teams/bot-token.js';
import { FakeClock } from '../../src/core/clock.js';
import { createLogger } from '../../src/logger.js';
import { BOT_ISSUER, FakeTeams } from './fake-teams.js';

const APP_ID = '0d6c1f3e-9a2b-4c5d-8e7f-1a2b3c4d5e6f';
const APP_PASSWORD = `test-${randomUUID()}`;

let fake: FakeTeams;
beforeAll(async () => {
  fake = await FakeTeams.start({ appId: APP_ID, appPassword: APP_PASSWORD });
});
afterAll(async () => {
  await fake.down();
});

describe('BotToken', () => {
  it('asks once, shares the answer, and asks again five minutes before it expires', async () => {
    const clock = new FakeClock(new Date());
    const token = new BotToken({ tokenUrl: fake.tokenUrl, appId: APP_ID, appPassword: APP_PASSWORD, clock });
    const before = fake.tokenRequests.length;
    const [a, b] = await Promise.all([token.get(), token.get()]);
    expect(a).toMatch(/^fake-bot-token-/);
    expect(b).toBe(a);
    clock.advance((3599 - 301) * 1000);
    expect(await token.get()).toBe(a);
    clock.advance(2_000);
    const c = await token.get();
    expect(c).not.toBe(a);
    token.invalidate();
    expect(await token.get()).not.toBe(c);
    expect(fake.tokenRequests.length - before).toBe(3);
  });

  it('fails, naming the OAuth error and not the secret, when the credentials are wrong', async () => {
    const token = new BotToken({
      tokenUrl: fake.tokenUrl,
      appId: APP_ID,
      appPassword: 'not-the-password',
      clock: new FakeClock(),
    });
    const err = (await token.get().catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toBe('token request answered 401: invalid_client');
    expect(err.message).not.toContain('not-the-password');
  });
});

describe('BotFrameworkAuth', () => {
  const auth = (clock = new FakeClock(new Date())) =>
    new BotFrameworkAuth({
      appId: APP_ID,
      issuer: BOT_ISSUER,
      openidMetadataUrl: fake.openidMetadataUrl,
      clock,
      logger: createLogger('silent'),
    });
  const check = (p: Promise<unknown>) =>
    p.then(
      () => 'verified',
      (err: unknown) => (err instanceof BotAuthError ? err.check : `unexpected: ${String(err)}`),
    );

  it('verifies a token the Connector signed, with its serviceurl claim and key endorsements', async () => {
    const caller = await auth().verify(`Bearer ${await fake.token()}`);
    expect(caller).toEqual({ serviceUrl: fake.serviceUrl, endorsements: ['msteams', 'webchat'] });
  });

  it('names the check that failed', async () => {
    const a = auth();
    expect(await check(a.verify(undefined))).toBe('no token');
    expect(await check(a.verify('Basic eA=='))).toBe('malformed Authorization header');
    expect(await check(a.verify('Bearer abc'))).toMatch(/^malformed token/);
    expect(await check(a.verify(`Bearer ${await fake.token({ issuer: 'https://evil' })}`))).toBe(
      'wrong issuer',
    );
    expect(await check(a.verify(`Bearer ${await fake.token({ audience: 'other' })}`))).toBe('wrong audience');
    expect(await check(a.verify(`Bearer ${await fake.token({ unknownKey: 'new-kid' })}`))).toBe(
      'signed by an unknown key',
    );
    expect(await check(a.verify(`Bearer ${await fake.token({ unknownKey: 'same-kid' })}`))).toBe(
      'bad signature',
    );
  });

  it('allows five minutes of clock skew, and no more', async () => {
    const clock = new FakeClock(new Date());
    const a = auth(clock);
    const token = `Bearer ${await fake.token({ expiresIn: 60 })}`;
    clock.advance((60 + 299) * 1000);
    expect(await check(a.verify(token))).toBe('verified');
    clock.advance(2_000);
    expect(await check(a.verify(token))).toBe('expired');
  });

  it('refuses everything while the key set cannot be read', async () => {
    fake.keysDown = true;
    try {
      expect(await check(auth().verify(`Bearer ${await fake.token()}`))).toBe('key set unavailable');
    } finally {
      fake.keysDown = false;
    }
  });

  it('refuses everything while the OpenID metadata cannot be read', async () => {
    const a = new BotFrameworkAuth({
      appId: APP_ID,
      issuer: BOT_ISSUER,
      openidMetadataUrl: `${fake.base}/no-such-metadata`,
      clock: new FakeClock(),
      logger: createLogger('silent'),
    });
    expect(await check(a.verify(`Bearer ${await fake.token()}`))).toBe('the OpenID metadata is unavailable');
  });
});
