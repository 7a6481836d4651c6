/** `channels.webhooks` from the YAML config to a started channel, and the secrets that stop a start. */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startChannels } from '../../src/channels/start-channels.js';
import { loadConfig } from '../../src/config/config.js';
import { systemClock } from '../../src/core/clock.js';
import { createLogger } from '../../src/logger.js';
import { DELIVERY_KINDS } from '../../src/store/store.js';
import { startHarness } from '../helpers/gateway-harness.js';
import { freshSqliteDatabase, type TestDatabase } from '../helpers/postgres.js';
import { newSecret } from './webhooks-receiver.js';

const logger = createLogger('silent');

describe('channels.webhooks config', () => {
  let dir: string;
  let db: TestDatabase;
  let env: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'countersign-webhooks-'));
    db = await freshSqliteDatabase();
    env = `CS_TEST_WH_${randomBytes(6).toString('hex').toUpperCase()}`;
  });
  afterEach(async () => {
    delete process.env[env];
    await db.cleanup();
    await rm(dir, { recursive: true, force: true });
  });

  async function configWith(opsSecretFile: string): Promise<string> {
    await writeFile(join(dir, 'ops.secret'), `${opsSecretFile}\n`);
    const file = join(dir, 'countersign.yaml');
    await writeFile(
      file,
      `channels:
  webhooks:
    - name: ops
      url: https://hooks.example.com/countersign
      secret: file:ops.secret
    - name: audit
      url: https://audit.example.com/in
      secret: env:${env}
      events: [request.decided, request.expired]
`,
    );
    return file;
  }

  async function start(file: string) {
    const config = await loadConfig(file);
    const store = await db.open();
    try {
      return await startChannels(config.channels, { store, clock: systemClock, logger, publicUrl: null });
    } catch (err) {
      await store.close();
      throw err;
    }
  }

  it('parses the list, defaulting events to all of them, and starts with valid secrets', async () => {
    process.env[env] = newSecret();
    const config = await loadConfig(await configWith(newSecret()));
    expect(config.channels?.webhooks?.map((w) => [w.name, w.events])).toEqual([
      ['ops', [...DELIVERY_KINDS]],
      ['audit', ['request.decided', 'request.expired']],
    ]);
    expect(config.channels?.webhooks?.[0]?.secret).toBe(`file:${join(dir, 'ops.secret')}`);
    const running = await start(await configWith(newSecret()));
    expect(running?.worker.channelNames).toEqual(new Set(['webhook']));
    await running?.stop();
  });

  it('stops the start on a malformed secret, naming the setting and not the value', async () => {
    process.env[env] = newSecret();
    const short = newSecret(12);
    const err = await start(await configWith(short)).catch((e: unknown) => e as Error);
    expect((err as Error).message).toBe(
      'channels.webhooks[ops].secret: the secret decodes to 12 bytes; Standard Webhooks needs 24 to 64 random bytes',
    );
    expect((err as Error).message).not.toContain(short.slice(6));
  });

  it('stops the start when a secret reference does not resolve', async () => {
    const err = await start(await configWith(newSecret())).catch((e: unknown) => e as Error);
    expect((err as Error).message).toBe(
      `channels.webhooks[audit].secret: environment variable ${env} is not set`,
    );
  });

  it('stops the gateway start on a secret that is not Standard Webhooks base64', async () => {
    const secret = 'whsec_this-is-not!base64';
    await expect(
      startHarness(db, 'version: 1\ndefaults:\n  effect: allow\n', {
        channels: {
          webhooks: [{ name: 'ops', url: 'http://127.0.0.1:9/', secret, events: [...DELIVERY_KINDS] }],
        },
      }),
    ).rejects.toThrow(/^channels\.webhooks\[ops\]\.secret: not a Standard Webhooks secret; expected whsec_/);
  });
});
