/** A start that fails half way (here: the port is taken) stops what it started and closes the store. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { defaultAuditConfig, type Config } from '../../src/config/config.js';
import { parseDlpConfig } from '../../src/dlp/config.js';
import { createLogger } from '../../src/logger.js';
import { startGateway } from '../../src/server/serve.js';
import { FakeSlack } from '../channels/fake-slack.js';
import { freshSqliteDatabase } from '../helpers/postgres.js';

it('closes the store and stops the outbox worker when listening fails', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'countersign-start-'));
  const policy = join(dir, 'policy.yaml');
  await writeFile(policy, 'version: 1\ndefaults: { effect: allow }\n');
  const fake = await FakeSlack.start();
  const db1 = await freshSqliteDatabase();
  const db2 = await freshSqliteDatabase();
  const config = (storage: string, port: number): Config => ({
    listen: { host: '127.0.0.1', port },
    storage,
    policy,
    policyIsExample: false,
    dataDir: dir,
    limits: { requestsPerMinute: 0, bodyBytes: 1024 * 1024 },
    logLevel: 'silent',
    file: null,
    audit: { ...defaultAuditConfig(), origin: 'countersign.test/audit' },
    dlp: parseDlpConfig(undefined),
    publicUrl: null,
    channels: {
      slack: {
        botToken: 'xoxb-test',
        signingSecret: 'test-signing-secret',
        apiUrl: fake.apiUrl,
        dmApprovers: false,
        users: {},
      },
    },
  });
  const first = await startGateway(config(db1.url, 0), createLogger('silent'));
  try {
    const port = Number(new URL(first.url).port);
    const store = await db2.open();
    await expect(startGateway(config(db2.url, port), createLogger('silent'), { store })).rejects.toThrow(
      /EADDRINUSE/,
    );
    // The half-started gateway closed its store: nothing is left open or running.
    await expect(store.getRequest('req_x')).rejects.toThrow();
  } finally {
    await first.close();
    await fake.down();
    await db1.cleanup();
    await db2.cleanup();
    await rm(dir, { recursive: true, force: true });
  }
});
