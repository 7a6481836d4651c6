/** The example gateway config in examples/ stays valid as the config schema changes. */
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';

it('loads examples/countersign.yaml, with every secret left as a reference', async () => {
  const file = fileURLToPath(new URL('../../examples/countersign.yaml', import.meta.url));
  const config = await loadConfig(file, {});
  expect(config.policy).toBe(fileURLToPath(new URL('../../examples/policy.yaml', import.meta.url)));
  expect(config.publicUrl).toBe('https://countersign.example.com');
  expect(config.channels?.slack?.botToken).toBe('env:SLACK_BOT_TOKEN');
  expect(config.channels?.teams?.appPassword).toBe('env:TEAMS_APP_PASSWORD');
  expect(config.channels?.webhooks?.[0]?.secret).toBe('env:SIEM_WEBHOOK_SECRET');
});
